'use strict';
/**
 * Stands in for the Atlassian page that hosts a UI Kit app. In production that page injects
 * `globalThis.__bridge.callBridge`; @forge/bridge (invoke, getContext) and @forge/react's
 * reconciler (which sends each rendered tree as a 'reconcile' call) talk only through it. Install
 * this BEFORE requiring @forge/react or @forge/bridge: both look for the bridge at load time.
 *
 * Everything above the bridge is the real code: the real reconciler renders the real components.
 */

const React = require('react');

function installForgeHost({ context = {}, invoke = async () => undefined } = {}) {
  const host = {
    context,
    invoke,
    invocations: [],
    docs: [],
    errors: [],
  };
  const bridge = {
    async callBridge(cmd, data) {
      switch (cmd) {
        case 'reconcile':
          host.docs.push(data.forgeDoc);
          return undefined;
        case 'getContext':
          return structuredClone(host.context);
        case 'invoke':
          host.invocations.push({ functionKey: data.functionKey, payload: data.payload });
          return host.invoke(data.functionKey, data.payload);
        case 'onError':
          host.errors.push(data.error);
          return undefined;
        default:
          return undefined;
      }
    },
  };
  globalThis.__bridge = bridge;
  // @forge/react's reconciler reaches the bridge as `self.__bridge`, as in a browser worker.
  globalThis.self = globalThis;
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
  return host;
}

const act = (fn) => React.unstable_act(fn);

/** Renders `element` with the real ForgeReconciler; returns the live root of its ForgeDoc. */
async function render(host, element) {
  const ForgeReconciler = require('@forge/react').default;
  const before = host.docs.length;
  await act(async () => {
    ForgeReconciler.render(element);
  });
  if (host.docs.length === before) throw new Error('the reconciler sent no ForgeDoc');
  return host.docs[host.docs.length - 1];
}

/** Lets pending promises (bridge calls, state updates) run, inside act. */
async function flush(rounds = 5) {
  for (let i = 0; i < rounds; i += 1) {
    await act(() => new Promise((resolve) => setImmediate(resolve)));
  }
}

/** Polls `predicate` (flushing between tries) until it is truthy; fails after `timeoutMs`. */
async function waitFor(predicate, { timeoutMs = 2000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await flush(1);
  }
}

function findAll(node, pred, out = []) {
  if (!node) return out;
  if (pred(node)) out.push(node);
  for (const child of node.children || []) findAll(child, pred, out);
  return out;
}

function byTestId(root, testId) {
  return findAll(root, (n) => n.props && n.props.testId === testId)[0] || null;
}

function byType(root, type) {
  return findAll(root, (n) => n.type === type);
}

/** All text under a node, in document order, joined with spaces. */
function textOf(node) {
  return findAll(node, (n) => n.type === 'String')
    .map((n) => n.props.text)
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Calls a node's event handler inside act, as the host would when the user acts. */
async function fire(node, handler = 'onClick', event) {
  if (!node || typeof node.props[handler] !== 'function') {
    throw new Error(`node has no ${handler} handler`);
  }
  await act(async () => {
    await node.props[handler](event);
  });
}

module.exports = { installForgeHost, render, flush, waitFor, findAll, byTestId, byType, textOf, fire, act };
