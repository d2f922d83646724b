'use strict';
/**
 * The backend client the resolvers use. Its one dependency is an `invokeRemote`-shaped function
 * (`(remoteKey, { path, method, headers, body }) => Promise<Response>`): @forge/api's in
 * production (src/index.js), a stand-in in tests. Transport failures and error statuses become
 * the errors in ./errors here and nowhere else.
 */

const backend = require('./backend');
const { BackendUnavailableError } = require('./errors');

/** The `remotes[].key` in manifest.yml. */
const REMOTE_KEY = 'clinisight';

function createBackendClient({ invokeRemote, remoteKey = REMOTE_KEY }) {
  if (typeof invokeRemote !== 'function') {
    throw new TypeError('createBackendClient needs an invokeRemote function');
  }

  async function send(request) {
    let response;
    try {
      response = await invokeRemote(remoteKey, backend.toInvokeRemoteOptions(request));
    } catch (err) {
      // @forge/api throws (ProxyRequestError, FetchError, ...) when Forge could not reach the
      // remote or gave up after its 25 s UI-call timeout; none of that is the user's doing.
      throw new BackendUnavailableError(
        `${request.method} ${request.path} did not reach the backend: ${err && err.message}`,
        { status: err && err.status, cause: err },
      );
    }
    const body = backend.parseBody(await response.text());
    const error = backend.errorForResponse(request, response.status, body);
    if (error) throw error;
    return body;
  }

  return {
    send,
    // async, so a request the builders refuse rejects like any other failure.
    /** The agent's own state (`{}` when it has none for this tenant yet). */
    agentState: async (tenant, agent) => backend.agentStateData(await send(backend.agentState(tenant, agent))),
    approveProposal: async (tenant, proposalId) => send(backend.approveProposal(tenant, proposalId)),
    runAgent: async (tenant, agent, input) => send(backend.runAgent(tenant, agent, input)),
    ask: async (tenant, query) => send(backend.ask(tenant, query)),
    health: async () => send(backend.health()),
  };
}

module.exports = { REMOTE_KEY, createBackendClient };
