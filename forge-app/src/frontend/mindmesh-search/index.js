'use strict';
/**
 * UI Kit entry for the Confluence macro (manifest resource `mindmesh-search`): the current
 * space comes from Forge's product context; questions go through the bridge's `invoke`.
 */

const React = require('react');
const ForgeReconciler = require('@forge/react').default;
const { useProductContext, Spinner } = require('@forge/react');
const { invoke } = require('@forge/bridge');
const { h, makeCall } = require('../common');
const { MindMeshSearch } = require('./MindMeshSearch');

const call = makeCall(invoke);

function App() {
  const context = useProductContext();
  if (!context) return h(Spinner, { label: 'Loading' });
  const space = (context.extension && context.extension.space) || {};
  return h(MindMeshSearch, { spaceKey: space.key || null, call });
}

ForgeReconciler.render(h(React.StrictMode, null, h(App)));

module.exports = { App };
