'use strict';
/**
 * A small HTTP server on 127.0.0.1 that answers the Clinisight backend routes the app calls, with
 * state a test sets. It is a test double of the Python backend's contract, not of our own code:
 * requests go over real HTTP, and every one is recorded for assertions.
 *
 * `forgeFetch` plays Forge's runtime hook `global.__forge_fetch__`, which @forge/api's
 * invokeRemote calls with `({ type: 'frc', remote }, path, init)`: it sends the call to this
 * server and, as Forge does, adds a bearer FIT.
 */

const http = require('node:http');

const TEST_FIT = 'test-forge-invocation-token';

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

async function startLoopbackBackend() {
  const backend = {
    /** states[tenant][agent] -> agent state object */
    states: {},
    /** (tenant, body) -> ask answer, or { status, body } to answer with an error */
    ask: () => ({ answer: '', passages: [] }),
    /** The agents this backend runs; state for any other is a 404, as serve/ingress.py does. */
    agents: ['TaskSmith', 'CareTrack', 'DealFlow', 'RoadmapSmith', 'MindMesh'],
    /** When set, every route answers with it: e.g. { status: 503, body: {detail: 'down'} }. */
    override: null,
    requests: [],
    url: null,
  };

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      let body = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = { unparsable: raw };
      }
      backend.requests.push({ method: req.method, path: req.url, headers: req.headers, body });
      if (req.headers.authorization !== `Bearer ${TEST_FIT}`) return json(res, 401, { detail: 'bad token' });
      if (backend.override) return json(res, backend.override.status, backend.override.body);
      route(req.method, req.url, body, res);
    });
  });

  function route(method, url, body, res) {
    let m;
    if (method === 'GET' && url === '/healthz') return json(res, 200, { status: 'ok' });
    if ((m = /^\/v1\/tenants\/([^/]+)\/agents\/([^/]+)\/state$/.exec(url)) && method === 'GET') {
      // serve/ingress.py get_state: an envelope; an agent with no state yet has empty data.
      const tenant = decodeURIComponent(m[1]);
      if (!backend.agents.includes(m[2])) {
        return json(res, 404, { detail: `unknown agent '${m[2]}'; known: ${backend.agents.join(', ')}` });
      }
      const state = (backend.states[tenant] || {})[m[2]];
      return json(res, 200, { tenant, agent: m[2], version: state ? 1 : 0, updatedAt: null, data: state || {} });
    }
    if ((m = /^\/v1\/tenants\/([^/]+)\/agents\/TaskSmith\/proposals\/([^/]+)\/approve$/.exec(url)) && method === 'POST') {
      const tenant = decodeURIComponent(m[1]);
      const id = decodeURIComponent(m[2]);
      const proposals = ((backend.states[tenant] || {}).TaskSmith || {}).proposals || [];
      const p = proposals.find((x) => x.proposalId === id);
      if (!p) return json(res, 404, { detail: `unknown proposal ${id}` });
      if (p.status === 'approved') return json(res, 409, { detail: `proposal ${id} is already approved` });
      p.status = 'approved';
      return json(res, 200, { proposalId: id, status: 'approved' });
    }
    if ((m = /^\/v1\/tenants\/([^/]+)\/agents\/([^/]+)\/run$/.exec(url)) && method === 'POST') {
      return json(res, 202, { agent: m[2], status: 'accepted' });
    }
    if ((m = /^\/v1\/tenants\/([^/]+)\/ask$/.exec(url)) && method === 'POST') {
      const answer = backend.ask(decodeURIComponent(m[1]), body);
      if (answer && answer.status) return json(res, answer.status, answer.body);
      return json(res, 200, answer);
    }
    return json(res, 404, { detail: 'Not Found' }); // what Starlette says for an unknown route
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.url = `http://127.0.0.1:${server.address().port}`;

  backend.forgeFetch = async (target, path, init) => {
    if (!target || target.type !== 'frc' || target.remote !== 'clinisight') {
      throw new Error(`unexpected Forge fetch target ${JSON.stringify(target)}`);
    }
    const headers = { ...(init.headers || {}), authorization: `Bearer ${TEST_FIT}` };
    return fetch(`${backend.url}${path}`, { ...init, headers });
  };

  backend.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    });
  return backend;
}

module.exports = { startLoopbackBackend, TEST_FIT };
