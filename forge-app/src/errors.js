'use strict';
/**
 * What can go wrong between the app and the Clinisight backend, translated once, here.
 *
 * BackendError                    every failure of a backend call; `kind` names it for the UI
 * ├── InvalidRequestError         the app was asked to build a request it must not send
 * ├── BackendUnavailableError     unreachable, timed out, Forge proxy refused, or a 5xx answer
 * ├── BackendAuthError            401/403: the backend did not accept Forge's invocation token
 * ├── NotFoundError               404 on a resource (unknown proposal, tenant with no state)
 * ├── NotSupportedError           404/405/501 on a route this backend does not offer yet
 * ├── NotIndexedError             MindMesh has no index for this site or space yet
 * ├── ConflictError               409: the change was already made (e.g. proposal approved)
 * └── RejectedError               400/422: the backend refused the request body
 *
 * Resolvers never let these cross the bridge as exceptions (Forge would show a generic
 * "something went wrong"); they return `{ ok: false, error: toPublicError(err) }` and the UI
 * picks its wording from `kind`.
 */

class BackendError extends Error {
  constructor(message, { kind = 'unknown', status, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = this.constructor.name;
    this.kind = kind;
    this.status = status;
  }
}

class InvalidRequestError extends BackendError {
  constructor(message) {
    super(message, { kind: 'invalid_request' });
  }
}

class BackendUnavailableError extends BackendError {
  constructor(message, opts = {}) {
    super(message, { ...opts, kind: 'unavailable' });
  }
}

class BackendAuthError extends BackendError {
  constructor(message, opts = {}) {
    super(message, { ...opts, kind: 'unauthorized' });
  }
}

class NotFoundError extends BackendError {
  constructor(message, opts = {}) {
    super(message, { ...opts, kind: 'not_found' });
  }
}

class NotSupportedError extends BackendError {
  constructor(message, opts = {}) {
    super(message, { ...opts, kind: 'not_supported' });
  }
}

class NotIndexedError extends BackendError {
  constructor(message, opts = {}) {
    super(message, { ...opts, kind: 'not_indexed' });
  }
}

class ConflictError extends BackendError {
  constructor(message, opts = {}) {
    super(message, { ...opts, kind: 'conflict' });
  }
}

class RejectedError extends BackendError {
  constructor(message, opts = {}) {
    super(message, { ...opts, kind: 'rejected' });
  }
}

/** The JSON-safe form a resolver returns; `detail` is for logs and support, not for display. */
function toPublicError(err) {
  if (err instanceof BackendError) {
    return { kind: err.kind, status: err.status ?? null, detail: err.message };
  }
  return { kind: 'unknown', status: null, detail: String(err && err.message ? err.message : err) };
}

module.exports = {
  BackendError,
  InvalidRequestError,
  BackendUnavailableError,
  BackendAuthError,
  NotFoundError,
  NotSupportedError,
  NotIndexedError,
  ConflictError,
  RejectedError,
  toPublicError,
};
