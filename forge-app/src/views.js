'use strict';
/**
 * What the UI shows, cut from agent states: only the epic's proposals and the issue's findings
 * cross the bridge, never the tenant's whole state. Pure functions; tolerant of extra keys.
 */

const STATUS_RANK = { proposed: 0, approved: 1, superseded: 2 };
const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

function asList(value) {
  return Array.isArray(value) ? value : [];
}

function text(value, fallback = '') {
  return typeof value === 'string' ? value : fallback;
}

function shapeSubtask(s) {
  return {
    title: text(s.title, '(untitled)'),
    description: text(s.description),
    acceptanceCriteria: asList(s.acceptanceCriteria).filter((c) => typeof c === 'string'),
    storyPoints: Number.isFinite(s.storyPoints) ? s.storyPoints : null,
    labels: asList(s.labels).filter((l) => typeof l === 'string'),
    order: Number.isFinite(s.order) ? s.order : 0,
  };
}

/**
 * TaskSmith's proposals for one epic: the open proposal first, then approved ones, superseded
 * last; newest first within each; subtasks in their planned order.
 */
function proposalsForEpic(state, epicKey) {
  return asList(state && state.proposals)
    .filter((p) => p && p.epicKey === epicKey)
    .map((p) => {
      const subtasks = asList(p.subtasks).map(shapeSubtask).sort((a, b) => a.order - b.order);
      return {
        proposalId: text(p.proposalId),
        epicKey: p.epicKey,
        status: text(p.status, 'proposed').toLowerCase(),
        subtasks,
        totalStoryPoints: subtasks.reduce((n, s) => n + (s.storyPoints || 0), 0),
        rationale: text(p.rationale),
        producedBy: text(p.producedBy),
        fallbackReason: text(p.fallbackReason) || null,
        createdAt: text(p.createdAt) || null,
      };
    })
    .sort(
      (a, b) =>
        (STATUS_RANK[a.status] ?? 3) - (STATUS_RANK[b.status] ?? 3) ||
        String(b.createdAt).localeCompare(String(a.createdAt)),
    );
}

/** CareTrack's findings about one issue, most severe first; resolved ones left out. */
function findingsForIssue(state, issueKey) {
  return asList(state && state.findings)
    .filter((f) => f && (f.issueKey === issueKey || (f.issue && f.issue.key === issueKey)))
    .filter((f) => text(f.status).toLowerCase() !== 'resolved')
    .map((f, i) => {
      const severity = text(f.severity, 'info').toLowerCase();
      return {
        findingId: text(f.findingId) || text(f.id) || `finding-${i + 1}`,
        severity: severity in SEVERITY_RANK ? severity : 'info',
        title: text(f.title) || text(f.rule) || text(f.kind) || 'Finding',
        message: text(f.message) || text(f.summary) || text(f.description),
        detectedAt: text(f.detectedAt) || text(f.createdAt) || null,
        producedBy: text(f.producedBy),
      };
    })
    .sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
}

module.exports = { proposalsForEpic, findingsForIssue };
