'use strict';
/**
 * The Jira issue panel: TaskSmith's proposed subtasks for an epic (with Approve) and CareTrack's
 * open findings for the issue. `call(functionKey, payload)` is the only way out (see
 * ../common makeCall); `App` in ./index.js supplies the real bridge.
 */

const React = require('react');
const {
  Stack,
  Inline,
  Heading,
  Text,
  Lozenge,
  Button,
  LoadingButton,
  SectionMessage,
  List,
  ListItem,
  Spinner,
} = require('@forge/react');
const { h, ErrorNotice } = require('../common');

const { useState, useEffect, useCallback } = React;

const STATUS_LOZENGE = { proposed: 'new', approved: 'success', superseded: 'removed' };
const SEVERITY_LOZENGE = {
  critical: 'removed',
  high: 'removed',
  medium: 'moved',
  low: 'default',
  info: 'default',
};

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

function Subtask({ subtask }) {
  const points = subtask.storyPoints == null ? '' : ` · ${plural(subtask.storyPoints, 'point')}`;
  return h(
    ListItem,
    null,
    h(
      Stack,
      { space: 'space.050' },
      h(Text, { weight: 'bold' }, `${subtask.title}${points}`),
      subtask.description ? h(Text, null, subtask.description) : null,
      subtask.acceptanceCriteria.length
        ? h(
            List,
            { type: 'unordered' },
            subtask.acceptanceCriteria.map((c, i) => h(ListItem, { key: i }, h(Text, null, c))),
          )
        : null,
    ),
  );
}

function Proposal({ proposal, call, onChanged }) {
  const [approval, setApproval] = useState({ status: 'idle' });
  const approve = useCallback(async () => {
    setApproval({ status: 'working' });
    const res = await call('approveProposal', { proposalId: proposal.proposalId });
    if (res.ok) {
      setApproval({ status: 'done' });
      onChanged();
    } else {
      setApproval({ status: 'failed', error: res.error });
      if (res.error.kind === 'conflict' || res.error.kind === 'not_found') onChanged();
    }
  }, [call, proposal.proposalId, onChanged]);

  const id = `proposal-${proposal.proposalId}`;
  const summary =
    `${plural(proposal.subtasks.length, 'subtask')} · ${plural(proposal.totalStoryPoints, 'story point')}` +
    (proposal.producedBy ? ` · planned by ${proposal.producedBy}` : '');
  return h(
    Stack,
    { space: 'space.100', testId: id },
    h(
      Inline,
      { space: 'space.100', alignBlock: 'center', spread: 'space-between' },
      h(
        Inline,
        { space: 'space.100', alignBlock: 'center' },
        h(Lozenge, { appearance: STATUS_LOZENGE[proposal.status] || 'default' }, proposal.status),
        h(Text, null, summary),
      ),
      proposal.status === 'proposed' && approval.status !== 'done'
        ? h(
            LoadingButton,
            { appearance: 'primary', isLoading: approval.status === 'working', onClick: approve, testId: `${id}-approve` },
            'Approve and create subtasks',
          )
        : null,
    ),
    approval.status === 'done'
      ? h(
          SectionMessage,
          { appearance: 'success', title: 'Approved', testId: `${id}-approved` },
          h(Text, null, `TaskSmith will create ${plural(proposal.subtasks.length, 'subtask')} under ${proposal.epicKey}.`),
        )
      : null,
    approval.status === 'failed' ? h(ErrorNotice, { error: approval.error, testId: `${id}-error` }) : null,
    proposal.rationale ? h(Text, { color: 'color.text.subtle' }, proposal.rationale) : null,
    h(
      List,
      { type: 'ordered' },
      proposal.subtasks.map((s, i) => h(Subtask, { key: `${i}-${s.title}`, subtask: s })),
    ),
  );
}

function TaskSmithSection({ issueKey, section, call, reload }) {
  if (!section.ok) {
    return h(ErrorNotice, { error: section.error, onRetry: reload, testId: 'tasksmith-error' });
  }
  const current = section.proposals.filter((p) => p.status !== 'superseded');
  const superseded = section.proposals.length - current.length;
  if (current.length === 0) {
    return h(
      Text,
      { testId: 'tasksmith-empty' },
      `TaskSmith has no proposal for ${issueKey} yet. It proposes subtasks a few seconds after an ` +
        'epic is created or its description changes.',
    );
  }
  return h(
    Stack,
    { space: 'space.200' },
    current.map((p) => h(Proposal, { key: p.proposalId, proposal: p, call, onChanged: reload })),
    superseded
      ? h(Text, { color: 'color.text.subtle' }, `${plural(superseded, 'earlier proposal was', 'earlier proposals were')} replaced after the epic changed.`)
      : null,
  );
}

function CareTrackSection({ issueKey, section, call, reload }) {
  const [recheck, setRecheck] = useState({ status: 'idle' });
  const runRecheck = useCallback(async () => {
    setRecheck({ status: 'working' });
    const res = await call('recheckIssue', { issueKey });
    setRecheck(res.ok ? { status: 'done' } : { status: 'failed', error: res.error });
    if (res.ok) reload();
  }, [call, issueKey, reload]);

  const button = h(
    LoadingButton,
    { isLoading: recheck.status === 'working', onClick: runRecheck, testId: 'caretrack-recheck' },
    'Check now',
  );
  const feedback =
    recheck.status === 'failed' ? h(ErrorNotice, { error: recheck.error, testId: 'caretrack-recheck-error' }) : null;

  if (!section.ok) {
    return h(ErrorNotice, { error: section.error, onRetry: reload, testId: 'caretrack-error' });
  }
  if (section.findings.length === 0) {
    return h(
      Stack,
      { space: 'space.100' },
      h(Text, { testId: 'caretrack-empty' }, `CareTrack has no open findings for ${issueKey}.`),
      feedback,
      button,
    );
  }
  return h(
    Stack,
    { space: 'space.100', testId: 'caretrack-findings' },
    section.findings.map((f) =>
      h(
        Stack,
        { key: f.findingId, space: 'space.050', testId: `finding-${f.findingId}` },
        h(
          Inline,
          { space: 'space.100', alignBlock: 'center' },
          h(Lozenge, { appearance: SEVERITY_LOZENGE[f.severity], isBold: f.severity === 'critical' }, f.severity),
          h(Text, { weight: 'bold' }, f.title),
        ),
        f.message ? h(Text, null, f.message) : null,
      ),
    ),
    feedback,
    button,
  );
}

/** The whole panel for one issue. */
function IssuePanel({ issueKey, issueType, call }) {
  const [state, setState] = useState({ status: 'loading' });
  const load = useCallback(async () => {
    // A refresh keeps what is on screen until the answer arrives.
    setState((s) => (s.status === 'ready' ? s : { status: 'loading' }));
    const res = await call('getIssuePanel', { issueKey, issueType });
    setState(res.ok ? { status: 'ready', data: res.data } : { status: 'failed', error: res.error });
  }, [call, issueKey, issueType]);

  useEffect(() => {
    load();
  }, [load]);

  if (state.status === 'loading') {
    return h(Inline, { space: 'space.100', alignBlock: 'center' }, h(Spinner, { label: 'Loading' }), h(Text, null, 'Asking Clinisight…'));
  }
  if (state.status === 'failed') {
    return h(ErrorNotice, { error: state.error, onRetry: load, testId: 'panel-error' });
  }
  const { data } = state;
  // TaskSmith proposes for epics only: on other issues its section shows only if it has
  // something to say (a proposal, or an error).
  const showTaskSmith =
    (data.issueType || issueType) === 'Epic' || !data.taskSmith.ok || data.taskSmith.proposals.length > 0;
  return h(
    Stack,
    { space: 'space.300' },
    showTaskSmith
      ? h(
          Stack,
          { space: 'space.100', testId: 'tasksmith' },
          h(Heading, { size: 'small' }, 'Subtasks proposed by TaskSmith'),
          h(TaskSmithSection, { issueKey, section: data.taskSmith, call, reload: load }),
        )
      : null,
    h(
      Stack,
      { space: 'space.100' },
      h(Heading, { size: 'small' }, 'CareTrack findings'),
      h(CareTrackSection, { issueKey, section: data.careTrack, call, reload: load }),
    ),
    h(Inline, { alignInline: 'end' }, h(Button, { appearance: 'subtle', onClick: load, testId: 'panel-refresh' }, 'Refresh')),
  );
}

module.exports = { IssuePanel };
