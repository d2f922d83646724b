'use strict';
/**
 * The Clinisight backend's HTTP contract, as pure functions: each builder returns a request
 * description `{ name, method, path, body?, notFound }` and does no I/O. `notFound` says what a
 * 404 means for that call: 'unsupported' (the backend has no such route or agent yet) or
 * 'missing' (the route exists; the thing asked for does not).
 *
 * The same descriptions are sent two ways: through Forge (`toInvokeRemoteOptions`, used by the
 * resolvers; Forge adds the FIT itself) and straight over HTTP (`toFetchRequest`, used by the
 * end-to-end test against a running backend, which supplies the bearer token).
 * `errorForResponse` reads an answer back; both transports share it.
 */

const {
  InvalidRequestError,
  BackendUnavailableError,
  BackendAuthError,
  NotFoundError,
  NotSupportedError,
  NotIndexedError,
  ConflictError,
  RejectedError,
} = require('./errors');

const AGENTS = Object.freeze(['TaskSmith', 'CareTrack', 'DealFlow', 'RoadmapSmith', 'MindMesh']);

// The backend's rule for tenant ids (config/settings.py TENANT_RE); checked here too so a bad
// context never becomes a path segment.
const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const PROPOSAL_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}$/;
const MAX_QUESTION_CHARS = 2000;
const MAX_K = 20;
const DEFAULT_K = 5;

function checkTenant(tenant) {
  if (typeof tenant !== 'string' || !TENANT_RE.test(tenant)) {
    throw new InvalidRequestError(
      `Invalid tenant ${JSON.stringify(tenant)}: must match ${TENANT_RE} (the site's cloudId)`,
    );
  }
  return tenant;
}

function checkAgent(agent) {
  if (!AGENTS.includes(agent)) {
    throw new InvalidRequestError(
      `Invalid agent ${JSON.stringify(agent)}: must be one of ${AGENTS.join(', ')}`,
    );
  }
  return agent;
}

function tenantPath(tenant) {
  return `/v1/tenants/${encodeURIComponent(checkTenant(tenant))}`;
}

/** POST /v1/forge/events: a Forge product event, exactly as Forge delivers it. */
function forgeEvent(event) {
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidRequestError('Invalid Forge event: must be a JSON object');
  }
  if (typeof event.eventType !== 'string' || !event.eventType) {
    throw new InvalidRequestError("Invalid Forge event: 'eventType' must be a non-empty string");
  }
  return { name: 'forgeEvent', method: 'POST', path: '/v1/forge/events', body: event, notFound: 'unsupported' };
}

/**
 * GET /v1/tenants/{tenant}/agents/{agent}/state. The answer is an envelope
 * `{tenant, agent, version, updatedAt, data}` (empty `data` when the agent has no state yet);
 * `agentStateData` takes the agent's own state out. A 404 means the backend does not run that
 * agent (yet), e.g. "unknown agent 'CareTrack'".
 */
function agentState(tenant, agent) {
  return {
    name: 'agentState',
    method: 'GET',
    path: `${tenantPath(tenant)}/agents/${checkAgent(agent)}/state`,
    notFound: 'unsupported',
  };
}

/** The agent's state from a state answer: the envelope's `data`, or the answer itself. */
function agentStateData(body) {
  if (!body || typeof body !== 'object') return {};
  const enveloped = 'agent' in body && body.data && typeof body.data === 'object';
  return enveloped ? body.data : body;
}

/** POST /v1/tenants/{tenant}/agents/TaskSmith/proposals/{proposalId}/approve */
function approveProposal(tenant, proposalId) {
  if (typeof proposalId !== 'string' || !PROPOSAL_ID_RE.test(proposalId)) {
    throw new InvalidRequestError(
      `Invalid proposal id ${JSON.stringify(proposalId)}: must match ${PROPOSAL_ID_RE}`,
    );
  }
  return {
    name: 'approveProposal',
    method: 'POST',
    path: `${tenantPath(tenant)}/agents/TaskSmith/proposals/${encodeURIComponent(proposalId)}/approve`,
    body: {},
    notFound: 'missing',
  };
}

/** POST /v1/tenants/{tenant}/agents/{agent}/run with the agent's input (e.g. {issueKey}). */
function runAgent(tenant, agent, input = {}) {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidRequestError('Invalid agent input: must be a JSON object');
  }
  return {
    name: 'runAgent',
    method: 'POST',
    path: `${tenantPath(tenant)}/agents/${checkAgent(agent)}/run`,
    body: input,
    notFound: 'unsupported',
  };
}

/** POST /v1/tenants/{tenant}/ask {question, space?, k} -> {answer, passages[]} */
function ask(tenant, { question, space, k = DEFAULT_K } = {}) {
  const q = typeof question === 'string' ? question.trim() : '';
  if (!q) {
    throw new InvalidRequestError('Invalid question: must be a non-empty string');
  }
  if (q.length > MAX_QUESTION_CHARS) {
    throw new InvalidRequestError(
      `Invalid question: ${q.length} characters, at most ${MAX_QUESTION_CHARS} are allowed`,
    );
  }
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new InvalidRequestError(`Invalid k ${JSON.stringify(k)}: must be an integer from 1 to ${MAX_K}`);
  }
  const body = { question: q, k };
  if (space !== undefined && space !== null && space !== '') {
    if (typeof space !== 'string') {
      throw new InvalidRequestError(`Invalid space ${JSON.stringify(space)}: must be a space key`);
    }
    body.space = space;
  }
  return { name: 'ask', method: 'POST', path: `${tenantPath(tenant)}/ask`, body, notFound: 'unsupported' };
}

/** GET /healthz */
function health() {
  return { name: 'health', method: 'GET', path: '/healthz', notFound: 'unsupported' };
}

function headersFor(request) {
  const headers = { accept: 'application/json' };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  return headers;
}

/** Options for `invokeRemote(remoteKey, options)` from @forge/api. */
function toInvokeRemoteOptions(request) {
  const options = { path: request.path, method: request.method, headers: headersFor(request) };
  if (request.body !== undefined) options.body = JSON.stringify(request.body);
  return options;
}

/** `{ url, init }` for fetch(), sending the request the way Forge Remote does. */
function toFetchRequest(baseUrl, request, { token, headers = {} } = {}) {
  const init = { method: request.method, headers: { ...headersFor(request), ...headers } };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (request.body !== undefined) init.body = JSON.stringify(request.body);
  return { url: `${String(baseUrl).replace(/\/+$/, '')}${request.path}`, init };
}

/** The body as JSON when it is JSON, else `{ raw }`; never throws. */
function parseBody(text) {
  if (text === undefined || text === null || text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return { raw: String(text).slice(0, 500) };
  }
}

function detailOf(body) {
  if (!body || typeof body !== 'object') return '';
  const d = body.detail ?? body.error ?? body.message ?? body.raw ?? '';
  return typeof d === 'string' ? d : JSON.stringify(d);
}

// Starlette's answers for a route or method it does not have; anything else on a 404 came from
// a handler that exists (an unknown proposal, say).
const ROUTE_MISS = new Set(['Not Found', 'Method Not Allowed']);

function mentionsNotIndexed(body) {
  const text = `${body && body.code ? body.code : ''} ${detailOf(body)}`.toLowerCase();
  return /not[ _-]?indexed|no index/.test(text);
}

/** The error an answer stands for, or null when it is a success (`body` already parsed). */
function errorForResponse(request, status, body) {
  if (status >= 200 && status < 300) return null;
  const where = `${request.method} ${request.path}`;
  const detail = detailOf(body);
  const msg = `${where} answered ${status}${detail ? `: ${detail}` : ''}`;
  if (mentionsNotIndexed(body)) return new NotIndexedError(msg, { status });
  if (status === 401 || status === 403) return new BackendAuthError(msg, { status });
  if (status === 404 || status === 405 || status === 501) {
    if (status === 501 || request.notFound === 'unsupported' || ROUTE_MISS.has(detail)) {
      return new NotSupportedError(msg, { status });
    }
    return new NotFoundError(msg, { status });
  }
  if (status === 409) return new ConflictError(msg, { status });
  if (status === 400 || status === 422) return new RejectedError(msg, { status });
  if (status === 408 || status === 429 || status >= 500) return new BackendUnavailableError(msg, { status });
  return new RejectedError(msg, { status });
}

module.exports = {
  AGENTS,
  TENANT_RE,
  MAX_QUESTION_CHARS,
  DEFAULT_K,
  forgeEvent,
  agentState,
  agentStateData,
  approveProposal,
  runAgent,
  ask,
  health,
  toInvokeRemoteOptions,
  toFetchRequest,
  parseBody,
  errorForResponse,
};
