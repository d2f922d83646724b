'use strict';
/**
 * The client over @forge/api's real invokeRemote. Only Forge's runtime hook (`__forge_fetch__`)
 * is replaced: it forwards to a loopback HTTP server that answers the backend's contract.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const { invokeRemote, ProxyRequestError } = require('@forge/api');
const { createBackendClient, REMOTE_KEY } = require('../src/client');
const errors = require('../src/errors');
const { startLoopbackBackend } = require('./helpers/loopback-backend');
const { CLOUD_ID, proposal } = require('./helpers/factories');

let backend;

test.before(async () => {
  backend = await startLoopbackBackend();
  global.__forge_fetch__ = (...args) => backend.forgeFetch(...args);
});
test.after(async () => {
  delete global.__forge_fetch__;
  await backend.close();
});
test.beforeEach(() => {
  backend.states = {};
  backend.override = null;
  backend.requests.length = 0;
});

const client = () => createBackendClient({ invokeRemote });

test('the client uses the manifest remote key', () => {
  assert.equal(REMOTE_KEY, 'clinisight');
  assert.throws(() => createBackendClient({}), /needs an invokeRemote function/);
});

test('agentState returns the agent’s state from the envelope, {} when it has none', async () => {
  backend.states[CLOUD_ID] = { TaskSmith: { proposals: [proposal()] } };
  const state = await client().agentState(CLOUD_ID, 'TaskSmith');
  assert.equal(state.proposals[0].proposalId, 'CARE-12-0123456789abcdef');
  assert.deepEqual(await client().agentState(CLOUD_ID, 'CareTrack'), {});
  backend.override = { status: 404, body: { detail: "unknown agent 'CareTrack'; known: TaskSmith" } };
  await assert.rejects(client().agentState(CLOUD_ID, 'CareTrack'), errors.NotSupportedError);
  backend.override = null;
  const [req] = backend.requests;
  assert.equal(req.method, 'GET');
  assert.equal(req.path, `/v1/tenants/${CLOUD_ID}/agents/TaskSmith/state`);
  assert.equal(req.headers.accept, 'application/json');
});

test('approveProposal posts JSON and surfaces a second approval as a conflict', async () => {
  backend.states[CLOUD_ID] = { TaskSmith: { proposals: [proposal()] } };
  const answer = await client().approveProposal(CLOUD_ID, 'CARE-12-0123456789abcdef');
  assert.deepEqual(answer, { proposalId: 'CARE-12-0123456789abcdef', status: 'approved' });
  assert.equal(backend.requests[0].headers['content-type'], 'application/json');
  assert.deepEqual(backend.requests[0].body, {});
  await assert.rejects(client().approveProposal(CLOUD_ID, 'CARE-12-0123456789abcdef'), errors.ConflictError);
  await assert.rejects(client().approveProposal(CLOUD_ID, 'CARE-99-ffff'), errors.NotFoundError);
});

test('a backend answering 5xx is "unavailable"', async () => {
  backend.override = { status: 503, body: { detail: 'replicas draining' } };
  await assert.rejects(client().agentState(CLOUD_ID, 'TaskSmith'), (err) => {
    assert.ok(err instanceof errors.BackendUnavailableError);
    assert.equal(err.status, 503);
    assert.match(err.message, /answered 503: replicas draining/);
    return true;
  });
});

test('a backend that rejects the token is "unauthorized"', async () => {
  backend.override = { status: 401, body: { detail: 'token audience mismatch' } };
  await assert.rejects(client().health(), errors.BackendAuthError);
});

test('a route the backend does not have yet is "not supported"', async () => {
  await assert.rejects(client().send({ name: 'x', method: 'POST', path: '/v1/nowhere', body: {}, notFound: 'missing' }), errors.NotSupportedError);
});

test('an unreachable backend is "unavailable", with the cause kept', async () => {
  const saved = global.__forge_fetch__;
  // Port 9 on loopback: nothing listens, the connection is refused.
  global.__forge_fetch__ = (t, path, init) => fetch(`http://127.0.0.1:9${path}`, init);
  try {
    await assert.rejects(client().health(), (err) => {
      assert.ok(err instanceof errors.BackendUnavailableError);
      assert.ok(err.cause, 'the transport error is kept as the cause');
      return true;
    });
  } finally {
    global.__forge_fetch__ = saved;
  }
});

test("Forge's own proxy errors are translated to \"unavailable\"", async () => {
  const failing = createBackendClient({
    invokeRemote: async () => {
      throw new ProxyRequestError(504, 'REMOTE_TIMEOUT');
    },
  });
  await assert.rejects(failing.agentState(CLOUD_ID, 'TaskSmith'), (err) => {
    assert.equal(err.kind, 'unavailable');
    assert.equal(err.status, 504);
    assert.ok(err.cause instanceof ProxyRequestError);
    return true;
  });
});

test('invalid input fails before any request is sent', async () => {
  await assert.rejects(client().ask(CLOUD_ID, { question: '' }), errors.InvalidRequestError);
  assert.equal(backend.requests.length, 0);
});
