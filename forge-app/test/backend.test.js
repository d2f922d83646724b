'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const backend = require('../src/backend');
const errors = require('../src/errors');

const T = 'd0d52620-3203-4cfa-8db5-f2587155f0dd';

test('forgeEvent posts the event unchanged to /v1/forge/events', () => {
  const event = { eventType: 'avi:jira:created:issue', issue: { id: '1', key: 'CARE-1', fields: { summary: 's' } } };
  const req = backend.forgeEvent(event);
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/v1/forge/events');
  assert.deepEqual(req.body, event);
});

test('forgeEvent refuses what is not a Forge event', () => {
  assert.throws(() => backend.forgeEvent(null), errors.InvalidRequestError);
  assert.throws(() => backend.forgeEvent([]), /must be a JSON object/);
  assert.throws(() => backend.forgeEvent({ issue: {} }), /'eventType' must be a non-empty string/);
});

test('agentState builds the tenant-scoped state path; a 404 means the agent is not there yet', () => {
  const req = backend.agentState(T, 'TaskSmith');
  assert.deepEqual(req, {
    name: 'agentState',
    method: 'GET',
    path: `/v1/tenants/${T}/agents/TaskSmith/state`,
    notFound: 'unsupported',
  });
  // What serve/ingress.py answers for an agent it does not run.
  const err = backend.errorForResponse(req, 404, { detail: "unknown agent 'CareTrack'; known: TaskSmith" });
  assert.ok(err instanceof errors.NotSupportedError);
});

test('agentStateData unwraps the state envelope and tolerates a bare state', () => {
  const data = { proposals: [] };
  assert.equal(backend.agentStateData({ tenant: T, agent: 'TaskSmith', version: 3, updatedAt: null, data }), data);
  assert.equal(backend.agentStateData(data), data);
  assert.deepEqual(backend.agentStateData(null), {});
});

test('tenant and agent are checked before they become path segments', () => {
  assert.throws(() => backend.agentState('../x', 'TaskSmith'), /Invalid tenant "..\/x": must match/);
  assert.throws(() => backend.agentState('', 'TaskSmith'), errors.InvalidRequestError);
  assert.throws(() => backend.agentState(T, 'Eve'), /Invalid agent "Eve": must be one of TaskSmith, CareTrack/);
});

test('approveProposal encodes the proposal id and posts an empty object', () => {
  const req = backend.approveProposal(T, 'CARE-12-0123abcd');
  assert.equal(req.method, 'POST');
  assert.equal(req.path, `/v1/tenants/${T}/agents/TaskSmith/proposals/CARE-12-0123abcd/approve`);
  assert.deepEqual(req.body, {});
  assert.throws(() => backend.approveProposal(T, 'a/b'), /Invalid proposal id "a\/b"/);
  assert.throws(() => backend.approveProposal(T, undefined), errors.InvalidRequestError);
});

test('runAgent posts the input to the agent run route', () => {
  const req = backend.runAgent(T, 'CareTrack', { issueKey: 'CARE-1' });
  assert.equal(req.path, `/v1/tenants/${T}/agents/CareTrack/run`);
  assert.deepEqual(req.body, { issueKey: 'CARE-1' });
  assert.throws(() => backend.runAgent(T, 'CareTrack', 'x'), /must be a JSON object/);
});

test('ask trims the question, defaults k and only sends space when given', () => {
  const req = backend.ask(T, { question: '  What is our PHI policy?  ' });
  assert.equal(req.path, `/v1/tenants/${T}/ask`);
  assert.deepEqual(req.body, { question: 'What is our PHI policy?', k: backend.DEFAULT_K });
  assert.deepEqual(backend.ask(T, { question: 'q', space: 'CLIN', k: 3 }).body, { question: 'q', k: 3, space: 'CLIN' });
});

test('ask rejects empty, oversized and malformed queries with the rule in the message', () => {
  assert.throws(() => backend.ask(T, { question: '   ' }), /must be a non-empty string/);
  const long = 'x'.repeat(backend.MAX_QUESTION_CHARS + 1);
  assert.throws(() => backend.ask(T, { question: long }), /2001 characters, at most 2000/);
  assert.throws(() => backend.ask(T, { question: 'q', k: 0 }), /Invalid k 0: must be an integer from 1 to 20/);
  assert.throws(() => backend.ask(T, { question: 'q', space: 7 }), /Invalid space 7/);
});

test('toInvokeRemoteOptions serialises the body and sets JSON headers', () => {
  const opts = backend.toInvokeRemoteOptions(backend.ask(T, { question: 'q' }));
  assert.equal(opts.path, `/v1/tenants/${T}/ask`);
  assert.equal(opts.method, 'POST');
  assert.equal(opts.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(opts.body), { question: 'q', k: 5 });
  const get = backend.toInvokeRemoteOptions(backend.health());
  assert.equal(get.body, undefined);
  assert.equal(get.headers['content-type'], undefined);
});

test('toFetchRequest joins the base URL and adds the bearer token the way Forge does', () => {
  const { url, init } = backend.toFetchRequest('http://127.0.0.1:8000/', backend.health(), { token: 'FIT' });
  assert.equal(url, 'http://127.0.0.1:8000/healthz');
  assert.equal(init.method, 'GET');
  assert.equal(init.headers.authorization, 'Bearer FIT');
  const unsigned = backend.toFetchRequest('http://h', backend.health());
  assert.equal(unsigned.init.headers.authorization, undefined);
});

test('parseBody never throws', () => {
  assert.equal(backend.parseBody(''), null);
  assert.deepEqual(backend.parseBody('{"a":1}'), { a: 1 });
  assert.deepEqual(backend.parseBody('<html>502</html>'), { raw: '<html>502</html>' });
});

test('errorForResponse maps statuses to the error hierarchy', () => {
  const approve = backend.approveProposal(T, 'P-1');
  const ask = backend.ask(T, { question: 'q' });
  const cases = [
    [approve, 200, {}, null],
    [approve, 202, {}, null],
    [approve, 401, { detail: 'bad token' }, errors.BackendAuthError],
    [approve, 403, {}, errors.BackendAuthError],
    [approve, 404, { detail: 'unknown proposal P-1' }, errors.NotFoundError],
    [approve, 404, { detail: 'Not Found' }, errors.NotSupportedError],
    [approve, 405, { detail: 'Method Not Allowed' }, errors.NotSupportedError],
    [approve, 501, {}, errors.NotSupportedError],
    [approve, 409, { detail: 'already approved' }, errors.ConflictError],
    [approve, 422, { detail: [{ msg: 'bad' }] }, errors.RejectedError],
    [approve, 429, {}, errors.BackendUnavailableError],
    [approve, 503, { raw: 'upstream' }, errors.BackendUnavailableError],
    [ask, 404, { detail: 'Not Found' }, errors.NotSupportedError],
    [ask, 409, { detail: 'tenant has no index yet: not indexed' }, errors.NotIndexedError],
    [ask, 404, { code: 'not_indexed', detail: 'space CLIN' }, errors.NotIndexedError],
  ];
  for (const [req, status, body, expected] of cases) {
    const err = backend.errorForResponse(req, status, body);
    if (expected === null) assert.equal(err, null, `${status} should be a success`);
    else assert.ok(err instanceof expected, `${status} ${JSON.stringify(body)} -> ${err && err.name}, wanted ${expected.name}`);
  }
  const err = backend.errorForResponse(approve, 503, { detail: 'draining' });
  assert.equal(err.status, 503);
  assert.equal(err.kind, 'unavailable');
  assert.match(err.message, /^POST \/v1\/tenants\/.+\/approve answered 503: draining$/);
});
