'use strict';
/** The MindMesh macro rendered by @forge/react's real reconciler, with the host bridge replaced. */

const test = require('node:test');
const assert = require('node:assert/strict');
const { installForgeHost, render, waitFor, byTestId, byType, textOf, fire, act } = require('./helpers/forge-host');
const { CLOUD_ID, proposal, macroContext } = require('./helpers/factories');

const host = installForgeHost(); // before anything loads @forge/react or @forge/bridge
const { h, makeCall } = require('../src/frontend/common');
const { MindMeshSearch } = require('../src/frontend/mindmesh-search/MindMeshSearch');

function script(answer) {
  const calls = [];
  const call = async (functionKey, payload) => {
    calls.push({ functionKey, payload });
    return typeof answer === 'function' ? answer(payload) : answer;
  };
  return { call, calls };
}

/** Types into the Textfield as UI Kit delivers it: a serialised event with target.value. */
async function type(root, value) {
  await fire(byTestId(root, 'mindmesh-question'), 'onChange', { type: 'change', target: { value } });
}

const answered = {
  ok: true,
  data: {
    answer: 'Use synthetic data; never copy production PHI into test systems.',
    space: 'CLIN',
    producedBy: 'offline',
    passages: [
      { text: 'Test data must be synthetic. '.repeat(20), title: 'PHI in test data', pageId: '11', url: 'https://clinic.atlassian.net/wiki/spaces/CLIN/pages/11', version: 4, score: 0.9 },
      { text: 'Audit every access.', title: 'Audit policy', pageId: '12', url: null, version: 1, score: 0.5 },
    ],
  },
};

test('Ask is disabled until there is a question', async () => {
  const { call, calls } = script(answered);
  const root = await render(host, h(MindMeshSearch, { spaceKey: 'CLIN', call }));
  assert.equal(byTestId(root, 'mindmesh-ask').props.isDisabled, true);
  await type(root, '   ');
  assert.equal(byTestId(root, 'mindmesh-ask').props.isDisabled, true);
  await type(root, 'How do we handle PHI in test data?');
  assert.equal(byTestId(root, 'mindmesh-ask').props.isDisabled, false);
  assert.equal(calls.length, 0);
});

test('an answer is shown with its sources, linked when the page has a URL', async () => {
  const { call, calls } = script(answered);
  const root = await render(host, h(MindMeshSearch, { spaceKey: 'CLIN', call }));
  await type(root, '  How do we handle PHI in test data? ');
  await fire(byTestId(root, 'mindmesh-ask'));
  const answer = await waitFor(() => byTestId(root, 'mindmesh-answer'), { what: 'answer' });
  assert.deepEqual(calls, [
    { functionKey: 'askMindMesh', payload: { question: 'How do we handle PHI in test data?', thisSpaceOnly: true } },
  ]);
  assert.match(textOf(answer), /^Use synthetic data; never copy production PHI/);
  const links = byType(answer, 'Link');
  assert.equal(links.length, 1);
  assert.equal(links[0].props.href, 'https://clinic.atlassian.net/wiki/spaces/CLIN/pages/11');
  assert.equal(links[0].props.openNewTab, true);
  assert.equal(textOf(links[0]), 'PHI in test data');
  const first = textOf(byTestId(answer, 'passage-0'));
  assert.ok(first.length < 320 && first.endsWith('…'), 'long passages are cut to an excerpt');
  assert.match(textOf(byTestId(answer, 'passage-1')), /^Audit policy Audit every access\.$/);
});

test('unticking "Only space" searches the whole site', async () => {
  const { call, calls } = script(answered);
  const root = await render(host, h(MindMeshSearch, { spaceKey: 'CLIN', call }));
  const box = byTestId(root, 'mindmesh-this-space');
  assert.equal(box.props.label, 'Only space CLIN');
  assert.equal(box.props.isChecked, true);
  await fire(box, 'onChange', { type: 'change', target: { checked: false } });
  await type(root, 'retention');
  await fire(byTestId(root, 'mindmesh-ask'));
  await waitFor(() => calls.length === 1);
  assert.equal(calls[0].payload.thisSpaceOnly, false);
});

test('no passages: says nothing matched and that the pages may not be indexed yet', async () => {
  const { call } = script({ ok: true, data: { answer: '', passages: [], space: 'CLIN', producedBy: null } });
  const root = await render(host, h(MindMeshSearch, { spaceKey: 'CLIN', call }));
  await type(root, 'holiday rota');
  await fire(byTestId(root, 'mindmesh-ask'));
  const empty = await waitFor(() => byTestId(root, 'mindmesh-empty'), { what: 'empty answer' });
  assert.match(textOf(empty), /found nothing in space CLIN .* may not be indexed yet/);
});

test('not indexed: an information message, not an error', async () => {
  const { call } = script({ ok: false, error: { kind: 'not_indexed', status: 409, detail: 'not indexed' } });
  const root = await render(host, h(MindMeshSearch, { spaceKey: 'CLIN', call }));
  await type(root, 'q');
  await fire(byTestId(root, 'mindmesh-ask'));
  const notice = await waitFor(() => byTestId(root, 'mindmesh-error'), { what: 'notice' });
  assert.equal(notice.props.appearance, 'information');
  assert.equal(notice.props.title, 'This knowledge is not indexed yet');
});

test('a bridge failure (Forge timeout) reads as "not reachable", and Try again asks again', async () => {
  let attempts = 0;
  const call = makeCall(async () => {
    attempts += 1;
    if (attempts === 1) throw new Error('Resolver timed out after 25s');
    return answered;
  });
  const root = await render(host, h(MindMeshSearch, { spaceKey: null, call }));
  assert.equal(byTestId(root, 'mindmesh-this-space'), null, 'no space, no space checkbox');
  await type(root, 'q');
  await fire(byTestId(root, 'mindmesh-ask'));
  const notice = await waitFor(() => byTestId(root, 'mindmesh-error'), { what: 'notice' });
  assert.equal(notice.props.title, 'Clinisight is not reachable right now');
  await fire(byTestId(root, 'mindmesh-error-retry'));
  await waitFor(() => byTestId(root, 'mindmesh-answer'), { what: 'answer after retry' });
  assert.equal(attempts, 2);
});

test('the real entry point asks through the bridge, resolvers and @forge/api', async () => {
  const { startLoopbackBackend } = require('./helpers/loopback-backend');
  const backend = await startLoopbackBackend();
  global.__forge_fetch__ = (...args) => backend.forgeFetch(...args);
  try {
    backend.states[CLOUD_ID] = { TaskSmith: { proposals: [proposal()] } };
    backend.ask = (tenant, body) => ({
      answer: `From ${body.space}`,
      passages: [{ text: 'x', pageId: 1, title: 'Runbook', url: '/wiki/x', version: 1, score: 1 }],
    });
    const { handler } = require('../src/index');
    host.context = macroContext();
    host.invoke = (functionKey, payload) => handler({ call: { functionKey, payload }, context: host.context });
    const before = host.docs.length;
    await act(async () => {
      require('../src/frontend/mindmesh-search/index.js');
    });
    assert.ok(host.docs.length > before);
    const root = host.docs[host.docs.length - 1];
    await waitFor(() => byTestId(root, 'mindmesh-question'), { what: 'form' });
    await type(root, 'where is the runbook?');
    await fire(byTestId(root, 'mindmesh-ask'));
    const answer = await waitFor(() => byTestId(root, 'mindmesh-answer'), { what: 'answer over HTTP' });
    assert.match(textOf(answer), /^From CLIN/);
    assert.equal(byType(answer, 'Link')[0].props.href, 'https://clinic.atlassian.net/wiki/x');
    const ask = backend.requests.find((r) => r.path === `/v1/tenants/${CLOUD_ID}/ask`);
    assert.deepEqual(ask.body, { question: 'where is the runbook?', k: 5, space: 'CLIN' });
  } finally {
    delete global.__forge_fetch__;
    await backend.close();
  }
});
