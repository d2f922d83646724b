'use strict';
/**
 * Pieces both UI Kit surfaces share. Written with React.createElement (`h`) rather than JSX so
 * the same files run under `node --test` without a build step; the Forge CLI bundles them as is.
 */

const React = require('react');
const { SectionMessage, Stack, Text, Button } = require('@forge/react');
const { messageFor } = require('./messages');

const h = React.createElement;

/**
 * Wraps the bridge's `invoke(functionKey, payload)` so a call always settles to the resolvers'
 * envelope: a bridge failure or a Forge timeout (UI calls give up after 25 s) becomes
 * `{ ok: false, error: { kind: 'unavailable' } }` instead of an unhandled rejection.
 */
function makeCall(invoke) {
  return async (functionKey, payload) => {
    try {
      const result = await invoke(functionKey, payload);
      if (result && typeof result.ok === 'boolean') return result;
      return { ok: false, error: { kind: 'unknown', detail: 'unexpected resolver answer' } };
    } catch (err) {
      return { ok: false, error: { kind: 'unavailable', detail: String(err && err.message) } };
    }
  };
}

/** A SectionMessage saying what went wrong, with a retry button when `onRetry` is given. */
function ErrorNotice({ error, onRetry, testId }) {
  const m = messageFor(error);
  return h(
    SectionMessage,
    { appearance: m.appearance, title: m.title, testId },
    h(
      Stack,
      { space: 'space.100' },
      h(Text, null, m.body),
      onRetry ? h(Button, { onClick: onRetry, testId: testId && `${testId}-retry` }, 'Try again') : null,
    ),
  );
}

module.exports = { h, makeCall, ErrorNotice };
