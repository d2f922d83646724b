'use strict';
/**
 * The issue panel rendered by @forge/react's real reconciler, with the host page's bridge
 * replaced (helpers/forge-host). The component tests script `call`; the last test runs the
 * real entry point, bridge, resolvers and @forge/api against a loopback backend.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const { installForgeHost, render, waitFor, byTestId, byType, textOf, fire } = require('./helpers/forge-host');
const { CLOUD_ID, proposal, finding, issuePanelContext } = require('./helpers/factories');

const host = installForgeHost(); // before anything loads @forge/react or @forge/bridge
const { h } = require('../src/frontend/common');
const { IssuePanel } = require('../src/frontend/issue-panel/IssuePanel');
const { proposalsForEpic, findingsForIssue } = require('../src/views');

/** A scripted resolver: answers by function key, records every call. */
function script(answers) {
  const calls = [];
  const call = async (functionKey, payload) => {
    calls.push({ functionKey, payload });
    const answer = answers[functionKey];
    if (!answer) throw new Error(`unscripted call ${functionKey}`);
    return typeof answer === 'function' ? answer(payload, calls) : answer;
  };
  return { call, calls };
}

function panelData({ proposals = [], findings = [], issueType = 'Epic', issueKey = 'CARE-12' } = {}) {
  return {
    ok: true,
    data: {
      issueKey,
      issueType,
      taskSmith: { ok: true, proposals: proposalsForEpic({ proposals }, issueKey) },
      careTrack: { ok: true, findings: findingsForIssue({ findings }, issueKey) },
    },
  };
}

const down = { ok: false, error: { kind: 'unavailable', status: 503, detail: 'x' } };

test('shows a proposal with its subtasks, points and an Approve button', async () => {
  const { call } = script({ getIssuePanel: panelData({ proposals: [proposal()] }) });
  const root = await render(host, h(IssuePanel, { issueKey: 'CARE-12', issueType: 'Epic', call }));
  const card = await waitFor(() => byTestId(root, 'proposal-CARE-12-0123456789abcdef'), { what: 'proposal' });
  const text = textOf(card);
  assert.match(text, /proposed 3 subtasks · 13 story points · planned by offline/);
  assert.ok(text.indexOf('Subtask 1') < text.indexOf('Subtask 2'), 'subtasks in planned order');
  assert.match(text, /Subtask 1 · 3 points/);
  assert.match(text, /Part 1 is done/);
  const approve = byTestId(card, 'proposal-CARE-12-0123456789abcdef-approve');
  assert.equal(approve.type, 'LoadingButton');
  assert.equal(textOf(approve), 'Approve and create subtasks');
});

test('Approve calls the resolver, confirms, and reloads the panel', async () => {
  let approved = false;
  const { call, calls } = script({
    getIssuePanel: () => panelData({ proposals: [proposal({ status: approved ? 'approved' : 'proposed' })] }),
    approveProposal: () => {
      approved = true;
      return { ok: true, data: { proposalId: 'CARE-12-0123456789abcdef', result: { status: 'approved' } } };
    },
  });
  const root = await render(host, h(IssuePanel, { issueKey: 'CARE-12', issueType: 'Epic', call }));
  const button = await waitFor(() => byTestId(root, 'proposal-CARE-12-0123456789abcdef-approve'), { what: 'approve' });
  await fire(button);
  await waitFor(() => calls.filter((c) => c.functionKey === 'getIssuePanel').length === 2, { what: 'reload' });
  assert.deepEqual(calls[1], { functionKey: 'approveProposal', payload: { proposalId: 'CARE-12-0123456789abcdef' } });
  await waitFor(() => !byTestId(root, 'proposal-CARE-12-0123456789abcdef-approve'), { what: 'button gone' });
  assert.match(textOf(root), /approved 3 subtasks/);
});

test('an approval the backend cannot do yet is explained, not hidden', async () => {
  const { call } = script({
    getIssuePanel: panelData({ proposals: [proposal()] }),
    approveProposal: { ok: false, error: { kind: 'not_supported', status: 404, detail: 'Not Found' } },
  });
  const root = await render(host, h(IssuePanel, { issueKey: 'CARE-12', issueType: 'Epic', call }));
  await fire(await waitFor(() => byTestId(root, 'proposal-CARE-12-0123456789abcdef-approve')));
  const notice = await waitFor(() => byTestId(root, 'proposal-CARE-12-0123456789abcdef-error'), { what: 'error notice' });
  assert.equal(notice.type, 'SectionMessage');
  assert.equal(notice.props.title, 'Not available yet');
  assert.match(textOf(notice), /does not offer this yet/);
});

test('backend down: the whole panel says so and Try again recovers', async () => {
  let up = false;
  const { call } = script({ getIssuePanel: () => (up ? panelData({ proposals: [proposal()] }) : down) });
  const root = await render(host, h(IssuePanel, { issueKey: 'CARE-12', issueType: 'Epic', call }));
  const notice = await waitFor(() => byTestId(root, 'panel-error'), { what: 'panel error' });
  assert.equal(notice.props.appearance, 'warning');
  assert.equal(notice.props.title, 'Clinisight is not reachable right now');
  assert.match(textOf(notice), /Nothing is lost/);
  up = true;
  await fire(byTestId(root, 'panel-error-retry'));
  await waitFor(() => byTestId(root, 'proposal-CARE-12-0123456789abcdef'), { what: 'recovered panel' });
  assert.equal(byTestId(root, 'panel-error'), null);
});

test('an epic without proposals says when TaskSmith will propose', async () => {
  const { call } = script({ getIssuePanel: panelData() });
  const root = await render(host, h(IssuePanel, { issueKey: 'CARE-12', issueType: 'Epic', call }));
  const empty = await waitFor(() => byTestId(root, 'tasksmith-empty'), { what: 'empty state' });
  assert.match(textOf(empty), /TaskSmith has no proposal for CARE-12 yet/);
  assert.match(textOf(byTestId(root, 'caretrack-empty')), /no open findings for CARE-12/);
});

test('on a non-epic the TaskSmith section is left out; findings are listed by severity', async () => {
  const { call } = script({
    getIssuePanel: panelData({
      issueKey: 'CARE-7',
      issueType: 'Task',
      findings: [
        finding({ findingId: 'f-low', issueKey: 'CARE-7', severity: 'low', title: 'Stalled for 6 days' }),
        finding({ findingId: 'f-crit', issueKey: 'CARE-7', severity: 'critical', title: 'SLA breached' }),
      ],
    }),
  });
  const root = await render(host, h(IssuePanel, { issueKey: 'CARE-7', issueType: 'Task', call }));
  const list = await waitFor(() => byTestId(root, 'caretrack-findings'), { what: 'findings' });
  assert.equal(byTestId(root, 'tasksmith'), null);
  const lozenges = byType(list, 'Lozenge').map((l) => [textOf(l), l.props.appearance]);
  assert.deepEqual(lozenges, [
    ['critical', 'removed'],
    ['low', 'default'],
  ]);
  assert.match(textOf(byTestId(list, 'finding-f-crit')), /SLA breached/);
});

test('one section failing leaves the other visible, with its own retry', async () => {
  const { call } = script({
    getIssuePanel: {
      ok: true,
      data: {
        issueKey: 'CARE-12',
        issueType: 'Epic',
        taskSmith: { ok: false, error: { kind: 'unauthorized', status: 401 } },
        careTrack: { ok: true, findings: findingsForIssue({ findings: [finding()] }, 'CARE-12') },
      },
    },
  });
  const root = await render(host, h(IssuePanel, { issueKey: 'CARE-12', issueType: 'Epic', call }));
  const err = await waitFor(() => byTestId(root, 'tasksmith-error'), { what: 'section error' });
  assert.equal(err.props.title, 'Clinisight did not accept this app');
  assert.ok(byTestId(root, 'tasksmith-error-retry'));
  assert.ok(byTestId(root, 'finding-f-1'));
});

test('a CareTrack the backend does not run yet reads "Not available yet"', async () => {
  const { call } = script({
    getIssuePanel: {
      ok: true,
      data: {
        issueKey: 'CARE-12',
        issueType: 'Epic',
        taskSmith: { ok: true, proposals: proposalsForEpic({ proposals: [proposal()] }, 'CARE-12') },
        careTrack: { ok: false, error: { kind: 'not_supported', status: 404, detail: "unknown agent 'CareTrack'" } },
      },
    },
  });
  const root = await render(host, h(IssuePanel, { issueKey: 'CARE-12', issueType: 'Epic', call }));
  const notice = await waitFor(() => byTestId(root, 'caretrack-error'), { what: 'caretrack notice' });
  assert.equal(notice.props.appearance, 'information');
  assert.equal(notice.props.title, 'Not available yet');
  assert.ok(byTestId(root, 'proposal-CARE-12-0123456789abcdef'), 'TaskSmith still shows');
});

test('Check now asks CareTrack to run for this issue', async () => {
  const { call, calls } = script({
    getIssuePanel: panelData({ issueKey: 'CARE-7', issueType: 'Task' }),
    recheckIssue: { ok: true, data: { issueKey: 'CARE-7', result: {} } },
  });
  const root = await render(host, h(IssuePanel, { issueKey: 'CARE-7', issueType: 'Task', call }));
  await fire(await waitFor(() => byTestId(root, 'caretrack-recheck')));
  await waitFor(() => calls.filter((c) => c.functionKey === 'getIssuePanel').length === 2, { what: 'reload' });
  assert.deepEqual(calls[1], { functionKey: 'recheckIssue', payload: { issueKey: 'CARE-7' } });
});

test('the real entry point, bridge, resolvers and @forge/api work together', async () => {
  const Resolver = require('@forge/resolver').default;
  const { startLoopbackBackend } = require('./helpers/loopback-backend');
  const backend = await startLoopbackBackend();
  global.__forge_fetch__ = (...args) => backend.forgeFetch(...args);
  try {
    backend.states[CLOUD_ID] = { TaskSmith: { proposals: [proposal()] }, CareTrack: { findings: [finding()] } };
    const { handler } = require('../src/index');
    // What Forge does for a UI Kit app: the page's context, and invoke routed to the function.
    host.context = issuePanelContext();
    host.invoke = (functionKey, payload) => handler({ call: { functionKey, payload }, context: host.context });
    assert.ok(Resolver);

    const before = host.docs.length;
    await require('./helpers/forge-host').act(async () => {
      require('../src/frontend/issue-panel/index.js');
    });
    const root = host.docs[host.docs.length - 1];
    assert.ok(host.docs.length > before, 'the entry point rendered');
    const approve = await waitFor(() => byTestId(root, 'proposal-CARE-12-0123456789abcdef-approve'), { what: 'proposal over HTTP' });
    assert.ok(byTestId(root, 'finding-f-1'));
    await fire(approve);
    await waitFor(() => byTestId(root, 'proposal-CARE-12-0123456789abcdef-approved'), { what: 'approval' });
    assert.equal(backend.states[CLOUD_ID].TaskSmith.proposals[0].status, 'approved');
    assert.ok(
      backend.requests.some((r) => r.method === 'POST' && r.path.endsWith('/proposals/CARE-12-0123456789abcdef/approve')),
    );
    assert.deepEqual(host.errors, []);
  } finally {
    delete global.__forge_fetch__;
    await backend.close();
  }
});
