'use strict';
/** Agent states and Forge contexts shaped like the backend's and Forge's own. */

const CLOUD_ID = 'd0d52620-3203-4cfa-8db5-f2587155f0dd';
const SITE_URL = 'https://clinic.atlassian.net';

function subtask(order, overrides = {}) {
  return {
    title: `Subtask ${order}`,
    description: `Do part ${order}`,
    acceptanceCriteria: [`Part ${order} is done`, `Part ${order} is tested`],
    storyPoints: order === 1 ? 3 : 5,
    labels: ['clinisight'],
    order,
    ...overrides,
  };
}

/** A TaskSmith proposal as agents/tasksmith.py stores it (camelCase aliases). */
function proposal(overrides = {}) {
  const epicKey = overrides.epicKey || 'CARE-12';
  return {
    proposalId: `${epicKey}-0123456789abcdef`,
    epicKey,
    epicId: '10012',
    eventId: 'h-abc',
    contentHash: '0123456789abcdef',
    status: 'proposed',
    subtasks: [subtask(2), subtask(1), subtask(3)],
    rationale: 'Requirements first, then build, tests and rollout.',
    producedBy: 'offline',
    fallbackReason: null,
    createdAt: '2026-11-20T10:00:00+00:00',
    ...overrides,
  };
}

function finding(overrides = {}) {
  return {
    findingId: 'f-1',
    issueKey: 'CARE-12',
    rule: 'phi_without_compliance_review',
    title: 'PHI work without a compliance review',
    severity: 'high',
    message: 'The issue is labelled phi but has no linked compliance review.',
    detectedAt: '2026-11-21T09:00:00+00:00',
    producedBy: 'offline',
    ...overrides,
  };
}

/** The resolver context Forge passes for the Jira issue panel. */
function issuePanelContext({ key = 'CARE-12', type = 'Epic', cloudId = CLOUD_ID } = {}) {
  return {
    cloudId,
    siteUrl: SITE_URL,
    localId: 'local-1',
    moduleKey: 'clinisight-issue-panel',
    extension: { type: 'jira:issuePanel', issue: { key, id: '10012', type, typeId: '10000' }, project: { key: 'CARE' } },
  };
}

/** The resolver context Forge passes for the Confluence macro. */
function macroContext({ spaceKey = 'CLIN', cloudId = CLOUD_ID } = {}) {
  return {
    cloudId,
    siteUrl: SITE_URL,
    localId: 'local-2',
    moduleKey: 'mindmesh-search',
    extension: { type: 'macro', content: { id: '5341185' }, space: { key: spaceKey, id: '65538' } },
  };
}

module.exports = { CLOUD_ID, SITE_URL, subtask, proposal, finding, issuePanelContext, macroContext };
