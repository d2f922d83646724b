'use strict';
/**
 * End to end against a running Clinisight backend: `npm run test:e2e` with
 *   CLINISIGHT_URL  base URL of the Ray Serve ingress (e.g. http://127.0.0.1:8000)
 *   CLINISIGHT_FIT  a Forge Invocation Token that backend accepts (e.g. minted in dev mode)
 * Requests are built by the app's own src/backend.js and sent the way Forge Remote sends them.
 * Without both variables this file fails: it is not part of `npm test`, and it never passes
 * without having talked to a backend.
 *
 * The Forge fixture comes from shared/fixtures/forge beside the repository (override with
 * CLINISIGHT_FORGE_FIXTURES). Each run stamps it with a fresh eventCreatedDate, so it is a new
 * event to the backend and the first delivery is a 202 however often the suite runs.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const backend = require('../../src/backend');
const { proposalsForEpic } = require('../../src/views');

const BASE = process.env.CLINISIGHT_URL;
const FIT = process.env.CLINISIGHT_FIT;
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = process.env.CLINISIGHT_FORGE_FIXTURES || path.join(REPO_ROOT, '..', 'shared', 'fixtures', 'forge');
const FORGE_EVENT_TIMEOUT_MS = 5000; // Forge Remote gives up on an event delivery after 5 s

function fixture(name) {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'));
}

async function send(request, { token } = {}) {
  const { url, init } = backend.toFetchRequest(BASE, request, { token });
  const started = Date.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const body = backend.parseBody(await res.text());
  return { status: res.status, body, ms: Date.now() - started };
}

/** The tenant a FIT names (its context.cloudId), read without verifying: the backend verifies. */
function tenantOf(token) {
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  const cloudId = claims.context && claims.context.cloudId;
  if (!cloudId) throw new Error('CLINISIGHT_FIT names no context.cloudId; cannot read agent state');
  return cloudId;
}

/** The same token with a different signature: well formed, but not Atlassian's (or dev's) key. */
function forged(token) {
  const [header, payload, signature] = token.split('.');
  return [header, payload, signature.split('').reverse().join('')].join('.');
}

if (!BASE || !FIT) {
  test('CLINISIGHT_URL and CLINISIGHT_FIT are set', () => {
    assert.fail(
      'the e2e suite needs a running backend: set CLINISIGHT_URL (its base URL) and ' +
        'CLINISIGHT_FIT (a Forge Invocation Token it accepts), then run npm run test:e2e',
    );
  });
} else {
  const event = fixture('avi_confluence_created_page.json');
  event.eventCreatedDate = new Date().toISOString();
  const delivery = backend.forgeEvent(event);
  let firstEventId;

  test('GET /healthz answers 200', async () => {
    const res = await send(backend.health());
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  test('a signed Forge page event is accepted with 202 within Forge’s 5 s', async () => {
    const res = await send(delivery, { token: FIT });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(typeof res.body.eventId, 'string');
    assert.ok(res.body.eventId.length > 0);
    assert.equal(typeof res.body.status, 'string');
    assert.ok(res.ms < FORGE_EVENT_TIMEOUT_MS, `answered in ${res.ms} ms`);
    firstEventId = res.body.eventId;
  });

  test('the same delivery again is a duplicate: 200 with the same eventId', async () => {
    const res = await send(delivery, { token: FIT });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.eventId, firstEventId);
  });

  test('a Forge retry (retryContext in the payload) maps to the same event', async () => {
    const retry = backend.forgeEvent({ ...event, retryContext: { retryCount: 1, retryReason: 'TIMEOUT', retryData: {} } });
    const res = await send(retry, { token: FIT });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.eventId, firstEventId);
  });

  test('an unsigned delivery is refused with 401', async () => {
    const res = await send(delivery);
    assert.equal(res.status, 401, JSON.stringify(res.body));
  });

  test('a delivery with a forged signature is refused with 401', async () => {
    const res = await send(delivery, { token: forged(FIT) });
    assert.equal(res.status, 401, JSON.stringify(res.body));
  });

  test('an epic event becomes a TaskSmith proposal the issue panel can show', async () => {
    const tenant = tenantOf(FIT);
    const key = `E2E-${Date.now() % 1_000_000}`;
    const epic = backend.forgeEvent({
      eventType: 'avi:jira:created:issue',
      atlassianId: '4ad9aa0c52dc1b420a791d12',
      issue: {
        id: String(Date.now() % 1_000_000_000),
        key,
        fields: {
          summary: 'Patient intake form',
          description: 'Let front-desk staff capture demographics and insurance at check-in.',
          issuetype: { name: 'Epic' },
          labels: ['phi'],
          project: { key: 'E2E' },
        },
      },
    });
    const accepted = await send(epic, { token: FIT });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    // TaskSmith runs after the 202; poll its state the way the panel reads it.
    const deadline = Date.now() + 60_000;
    let proposals = [];
    while (Date.now() < deadline) {
      const res = await send(backend.agentState(tenant, 'TaskSmith'), { token: FIT });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      proposals = proposalsForEpic(backend.agentStateData(res.body), key);
      if (proposals.length) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    assert.equal(proposals.length, 1, `no proposal for ${key} within 60 s`);
    const [p] = proposals;
    assert.equal(p.status, 'proposed');
    assert.ok(p.subtasks.length >= 3, `${p.subtasks.length} subtasks`);
    for (const s of p.subtasks) {
      assert.ok(s.title && s.acceptanceCriteria.length > 0 && s.storyPoints > 0, JSON.stringify(s));
    }
  });

  test('a signed Jira issue event without its issue is refused with 422', async () => {
    const res = await send(backend.forgeEvent({ eventType: 'avi:jira:created:issue', atlassianId: 'x' }), { token: FIT });
    assert.equal(res.status, 422, JSON.stringify(res.body));
  });
}
