'use strict';
/**
 * Resolver functions behind the issue panel and the MindMesh macro.
 *
 * Every function answers `{ ok: true, data }` or `{ ok: false, error: { kind, status, detail } }`
 * and never throws across the bridge. The tenant is the site in Forge's own invocation context,
 * never a value from the payload; the backend checks it again against the FIT.
 */

const { InvalidRequestError, toPublicError } = require('./errors');
const { proposalsForEpic, findingsForIssue } = require('./views');

const CLOUD_ID_IN_ARI = /^ari:cloud:[a-z]+::site\/([A-Za-z0-9-]+)$/;

/** The tenant (Atlassian site cloudId) a resolver call runs for. */
function tenantFromContext(context) {
  const cloudId = context && context.cloudId;
  if (typeof cloudId === 'string' && cloudId) return cloudId;
  const match = CLOUD_ID_IN_ARI.exec((context && context.installContext) || '');
  if (match) return match[1];
  throw new InvalidRequestError('The invocation context names no site (cloudId or installContext)');
}

function issueFrom(context, payload) {
  const issue = (context && context.extension && context.extension.issue) || {};
  const key = issue.key || (payload && payload.issueKey);
  if (typeof key !== 'string' || !key) {
    throw new InvalidRequestError('No issue key in the panel context');
  }
  return { key, type: issue.type || (payload && payload.issueType) || null };
}

async function settle(promise, pick) {
  try {
    return { ok: true, ...pick(await promise) };
  } catch (err) {
    return { ok: false, error: toPublicError(err) };
  }
}

function absolute(url, siteUrl) {
  if (typeof url !== 'string' || !url) return null;
  if (/^https:\/\//.test(url)) return url;
  if (url.startsWith('/') && typeof siteUrl === 'string' && siteUrl) {
    return `${siteUrl.replace(/\/+$/, '')}${url}`;
  }
  return null; // not a link we can vouch for; the title is still shown
}

function handlers(client) {
  return {
    /** TaskSmith's proposals for this epic and CareTrack's findings for this issue. */
    async getIssuePanel({ payload, context }) {
      const tenant = tenantFromContext(context);
      const issue = issueFrom(context, payload);
      // Two sections, settled separately: one agent being down must not hide the other.
      const [taskSmith, careTrack] = await Promise.all([
        settle(client.agentState(tenant, 'TaskSmith'), (s) => ({ proposals: proposalsForEpic(s, issue.key) })),
        settle(client.agentState(tenant, 'CareTrack'), (s) => ({ findings: findingsForIssue(s, issue.key) })),
      ]);
      return { issueKey: issue.key, issueType: issue.type, taskSmith, careTrack };
    },

    async approveProposal({ payload, context }) {
      const tenant = tenantFromContext(context);
      const result = await client.approveProposal(tenant, payload && payload.proposalId);
      return { proposalId: payload.proposalId, result: result || {} };
    },

    /** Asks CareTrack to look at this issue again now, instead of at its next sweep. */
    async recheckIssue({ payload, context }) {
      const tenant = tenantFromContext(context);
      const issue = issueFrom(context, payload);
      const result = await client.runAgent(tenant, 'CareTrack', { issueKey: issue.key });
      return { issueKey: issue.key, result: result || {} };
    },

    async askMindMesh({ payload, context }) {
      const tenant = tenantFromContext(context);
      const spaceKey = context && context.extension && context.extension.space && context.extension.space.key;
      const space = payload && payload.thisSpaceOnly && spaceKey ? spaceKey : undefined;
      const answer = (await client.ask(tenant, { question: payload && payload.question, space })) || {};
      const passages = (Array.isArray(answer.passages) ? answer.passages : []).map((p) => ({
        text: typeof p.text === 'string' ? p.text : '',
        title: typeof p.title === 'string' && p.title ? p.title : `Page ${p.pageId ?? ''}`.trim(),
        pageId: p.pageId == null ? null : String(p.pageId),
        url: absolute(p.url, context && context.siteUrl),
        version: p.version ?? null,
        score: typeof p.score === 'number' ? p.score : null,
      }));
      return {
        answer: typeof answer.answer === 'string' ? answer.answer : '',
        passages,
        space: space || null,
        producedBy: typeof answer.producedBy === 'string' ? answer.producedBy : null,
      };
    },
  };
}

function guarded(name, fn, log) {
  return async (request) => {
    try {
      return { ok: true, data: await fn(request) };
    } catch (err) {
      const error = toPublicError(err);
      log(`resolver ${name} failed: kind=${error.kind} status=${error.status} ${error.detail}`);
      return { ok: false, error };
    }
  };
}

/**
 * Defines every resolver function on `resolver` (an @forge/resolver instance) against `client`
 * (see ./client). Returns the resolver.
 */
function defineResolvers(resolver, client, { log = (m) => console.error(m) } = {}) {
  for (const [name, fn] of Object.entries(handlers(client))) {
    resolver.define(name, guarded(name, fn, log));
  }
  return resolver;
}

module.exports = { defineResolvers, tenantFromContext };
