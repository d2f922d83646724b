'use strict';
/**
 * Resolvers through the real @forge/resolver dispatch and the real @forge/api invokeRemote; the
 * Forge runtime's `__forge_fetch__` hook forwards to a loopback backend.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const Resolver = require('@forge/resolver').default;
const { invokeRemote } = require('@forge/api');
const { createBackendClient } = require('../src/client');
const { defineResolvers, tenantFromContext } = require('../src/resolvers');
const { startLoopbackBackend } = require('./helpers/loopback-backend');
const { CLOUD_ID, SITE_URL, proposal, finding, issuePanelContext, macroContext } = require('./helpers/factories');

let backend;
let handler;
const logged = [];

test.before(async () => {
  backend = await startLoopbackBackend();
  global.__forge_fetch__ = (...args) => backend.forgeFetch(...args);
  const resolver = defineResolvers(new Resolver(), createBackendClient({ invokeRemote }), { log: (m) => logged.push(m) });
  handler = resolver.getDefinitions();
});
test.after(async () => {
  delete global.__forge_fetch__;
  await backend.close();
});
test.beforeEach(() => {
  backend.states = {};
  backend.agents = ['TaskSmith', 'CareTrack', 'DealFlow', 'RoadmapSmith', 'MindMesh'];
  backend.override = null;
  backend.requests.length = 0;
  backend.ask = () => ({ answer: '', passages: [] });
  logged.length = 0;
});

/** What the Forge runtime does when the bridge invokes a resolver function. */
const call = (functionKey, payload, context) => handler({ call: { functionKey, payload }, context });

test('tenantFromContext takes the cloudId, else the site in installContext', () => {
  assert.equal(tenantFromContext({ cloudId: CLOUD_ID }), CLOUD_ID);
  assert.equal(tenantFromContext({ installContext: `ari:cloud:jira::site/${CLOUD_ID}` }), CLOUD_ID);
  assert.throws(() => tenantFromContext({}), /names no site/);
});

test('getIssuePanel returns only this epic’s proposals and this issue’s findings', async () => {
  backend.states[CLOUD_ID] = {
    TaskSmith: {
      proposals: [
        proposal({ proposalId: 'CARE-12-old', status: 'superseded', createdAt: '2026-11-01T00:00:00+00:00' }),
        proposal(),
        proposal({ epicKey: 'CARE-99', proposalId: 'CARE-99-x' }),
      ],
    },
    CareTrack: {
      findings: [
        finding({ findingId: 'f-low', severity: 'low', title: 'Stalled for 6 days' }),
        finding(),
        finding({ findingId: 'f-other', issueKey: 'CARE-13' }),
        finding({ findingId: 'f-done', status: 'resolved' }),
      ],
    },
  };
  const res = await call('getIssuePanel', {}, issuePanelContext());
  assert.equal(res.ok, true);
  const { taskSmith, careTrack, issueKey, issueType } = res.data;
  assert.equal(issueKey, 'CARE-12');
  assert.equal(issueType, 'Epic');
  assert.deepEqual(taskSmith.proposals.map((p) => [p.proposalId, p.status]), [
    ['CARE-12-0123456789abcdef', 'proposed'],
    ['CARE-12-old', 'superseded'],
  ]);
  const open = taskSmith.proposals[0];
  assert.deepEqual(open.subtasks.map((s) => s.order), [1, 2, 3]);
  assert.equal(open.totalStoryPoints, 13);
  assert.deepEqual(careTrack.findings.map((f) => f.findingId), ['f-1', 'f-low']);
  const paths = backend.requests.map((r) => r.path).sort();
  assert.deepEqual(paths, [
    `/v1/tenants/${CLOUD_ID}/agents/CareTrack/state`,
    `/v1/tenants/${CLOUD_ID}/agents/TaskSmith/state`,
  ]);
});

test('the tenant comes from Forge’s context, never from the payload', async () => {
  await call('getIssuePanel', { tenant: 'someone-else', issueKey: 'OTHER-1' }, issuePanelContext());
  for (const r of backend.requests) assert.ok(r.path.startsWith(`/v1/tenants/${CLOUD_ID}/`), r.path);
});

test('an agent with no state yet gives an empty section, not an error', async () => {
  const res = await call('getIssuePanel', {}, issuePanelContext());
  assert.deepEqual(res.data.taskSmith, { ok: true, proposals: [] });
  assert.deepEqual(res.data.careTrack, { ok: true, findings: [] });
});

test('an agent the backend does not run yet is "not supported" in its section only', async () => {
  backend.agents = ['TaskSmith'];
  backend.states[CLOUD_ID] = { TaskSmith: { proposals: [proposal()] } };
  const res = await call('getIssuePanel', {}, issuePanelContext());
  assert.equal(res.data.taskSmith.proposals.length, 1);
  assert.equal(res.data.careTrack.ok, false);
  assert.equal(res.data.careTrack.error.kind, 'not_supported');
  assert.match(res.data.careTrack.error.detail, /unknown agent 'CareTrack'/);
});

test('one failing section does not hide the other', async () => {
  backend.states[CLOUD_ID] = { CareTrack: { findings: [finding()] } };
  const real = backend.forgeFetch;
  global.__forge_fetch__ = (t, path, init) =>
    path.includes('/TaskSmith/') ? Promise.reject(new TypeError('fetch failed')) : real(t, path, init);
  try {
    const res = await call('getIssuePanel', {}, issuePanelContext());
    assert.equal(res.ok, true);
    assert.equal(res.data.taskSmith.ok, false);
    assert.equal(res.data.taskSmith.error.kind, 'unavailable');
    assert.equal(res.data.careTrack.ok, true);
    assert.equal(res.data.careTrack.findings.length, 1);
  } finally {
    global.__forge_fetch__ = (...args) => backend.forgeFetch(...args);
  }
});

test('approveProposal approves over the tenant-scoped route', async () => {
  backend.states[CLOUD_ID] = { TaskSmith: { proposals: [proposal()] } };
  const res = await call('approveProposal', { proposalId: 'CARE-12-0123456789abcdef' }, issuePanelContext());
  assert.deepEqual(res, {
    ok: true,
    data: { proposalId: 'CARE-12-0123456789abcdef', result: { proposalId: 'CARE-12-0123456789abcdef', status: 'approved' } },
  });
  assert.equal(backend.requests[0].path, `/v1/tenants/${CLOUD_ID}/agents/TaskSmith/proposals/CARE-12-0123456789abcdef/approve`);
});

test('errors come back as data the UI can word, and are logged', async () => {
  const res = await call('approveProposal', { proposalId: 'CARE-12-gone' }, issuePanelContext());
  assert.equal(res.ok, false);
  assert.equal(res.error.kind, 'not_found');
  assert.equal(res.error.status, 404);
  assert.match(logged[0], /resolver approveProposal failed: kind=not_found status=404/);
  const bad = await call('approveProposal', { proposalId: '../../x' }, issuePanelContext());
  assert.equal(bad.error.kind, 'invalid_request');
  assert.equal(backend.requests.length, 1, 'the invalid id never reached the backend');
});

test('recheckIssue runs CareTrack for the panel’s issue', async () => {
  const res = await call('recheckIssue', {}, issuePanelContext({ key: 'CARE-7', type: 'Task' }));
  assert.equal(res.ok, true);
  const [req] = backend.requests;
  assert.equal(req.path, `/v1/tenants/${CLOUD_ID}/agents/CareTrack/run`);
  assert.deepEqual(req.body, { issueKey: 'CARE-7' });
});

test('askMindMesh scopes to the macro’s space on request and makes page links absolute', async () => {
  backend.ask = (tenant, body) => ({
    answer: `Answer for ${tenant} in ${body.space || 'all'}`,
    passages: [
      { text: 'Minimum necessary...', pageId: 838205441, title: 'PHI policy', url: '/wiki/spaces/CLIN/pages/838205441', version: 3, score: 0.91 },
      { text: 'Elsewhere', pageId: '2', title: '', url: 'javascript:alert(1)', version: 1, score: 0.2 },
    ],
  });
  const res = await call('askMindMesh', { question: ' PHI? ', thisSpaceOnly: true }, macroContext());
  assert.equal(res.ok, true);
  assert.deepEqual(backend.requests[0].body, { question: 'PHI?', k: 5, space: 'CLIN' });
  assert.equal(res.data.answer, `Answer for ${CLOUD_ID} in CLIN`);
  assert.equal(res.data.space, 'CLIN');
  assert.deepEqual(res.data.passages[0], {
    text: 'Minimum necessary...',
    title: 'PHI policy',
    pageId: '838205441',
    url: `${SITE_URL}/wiki/spaces/CLIN/pages/838205441`,
    version: 3,
    score: 0.91,
  });
  assert.equal(res.data.passages[1].url, null, 'a non-https link is dropped');
  assert.equal(res.data.passages[1].title, 'Page 2');

  await call('askMindMesh', { question: 'PHI?', thisSpaceOnly: false }, macroContext());
  assert.deepEqual(backend.requests[1].body, { question: 'PHI?', k: 5 });
});

test('askMindMesh reports "not indexed" when the backend says so', async () => {
  backend.ask = () => ({ status: 409, body: { detail: 'tenant has no index yet (not indexed)' } });
  const res = await call('askMindMesh', { question: 'q' }, macroContext());
  assert.equal(res.ok, false);
  assert.equal(res.error.kind, 'not_indexed');
});

test('src/index.js wires the same resolvers to @forge/resolver and @forge/api', async () => {
  const { handler: production } = require('../src/index');
  backend.states[CLOUD_ID] = { TaskSmith: { proposals: [proposal()] } };
  const res = await production({ call: { functionKey: 'getIssuePanel', payload: {} }, context: issuePanelContext() });
  assert.equal(res.ok, true);
  assert.equal(res.data.taskSmith.proposals.length, 1);
  await assert.rejects(
    production({ call: { functionKey: 'noSuchFunction', payload: {} }, context: issuePanelContext() }),
    /Resolver has no definition for 'noSuchFunction'/,
  );
});
