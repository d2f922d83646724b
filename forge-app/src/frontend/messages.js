'use strict';
/**
 * What a person is told when a call fails, by error kind (see src/errors.js). Written for the
 * clinician or delivery lead looking at the panel, not for the engineer: what happened, whether
 * anything was lost, and what to do.
 */

const GENERIC = {
  appearance: 'error',
  title: 'Something went wrong in Clinisight',
  body: 'Try again. If it keeps happening, tell your Atlassian admin; the app logs have the details.',
};

const BY_KIND = {
  unavailable: {
    appearance: 'warning',
    title: 'Clinisight is not reachable right now',
    body:
      'The Clinisight service did not answer. Nothing is lost: Jira and Confluence changes are ' +
      'queued and delivered when it is back. Try again in a few minutes.',
  },
  unauthorized: {
    appearance: 'error',
    title: 'Clinisight did not accept this app',
    body:
      'The service rejected the request from this Forge app. An admin needs to check that ' +
      'Clinisight is configured with this app’s id for this site.',
  },
  not_supported: {
    appearance: 'information',
    title: 'Not available yet',
    body: 'The Clinisight service this site uses does not offer this yet. Ask your admin to upgrade it.',
  },
  not_found: {
    appearance: 'warning',
    title: 'Clinisight no longer has this item',
    body: 'It may have been replaced by a newer version. Refresh to see the current one.',
  },
  not_indexed: {
    appearance: 'information',
    title: 'This knowledge is not indexed yet',
    body:
      'MindMesh has not indexed this site’s Confluence pages yet. Pages are indexed as they ' +
      'are created or edited, and an admin can run a full reindex. Try again later.',
  },
  conflict: {
    appearance: 'information',
    title: 'Already done',
    body: 'Someone else made this change first. Refresh to see the current state.',
  },
  rejected: {
    appearance: 'error',
    title: 'Clinisight could not accept that request',
    body: 'Check what you entered and try again.',
  },
  invalid_request: {
    appearance: 'error',
    title: 'This view is missing what Clinisight needs',
    body: 'Reload the page. If it keeps happening, tell your Atlassian admin.',
  },
};

/** `{ appearance, title, body }` for a resolver error `{ kind }`. */
function messageFor(error) {
  return BY_KIND[error && error.kind] || GENERIC;
}

module.exports = { messageFor };
