'use strict';
/**
 * UI Kit entry for the Jira issue panel (manifest resource `issue-panel`): reads the issue from
 * Forge's product context and hands IssuePanel the bridge's `invoke`.
 */

const React = require('react');
const ForgeReconciler = require('@forge/react').default;
const { useProductContext, Spinner } = require('@forge/react');
const { invoke } = require('@forge/bridge');
const { h, makeCall } = require('../common');
const { IssuePanel } = require('./IssuePanel');

const call = makeCall(invoke);

function App() {
  const context = useProductContext();
  if (!context) return h(Spinner, { label: 'Loading' });
  const issue = (context.extension && context.extension.issue) || {};
  return h(IssuePanel, { issueKey: issue.key, issueType: issue.type || null, call });
}

ForgeReconciler.render(h(React.StrictMode, null, h(App)));

module.exports = { App };
