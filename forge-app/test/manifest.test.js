'use strict';
/**
 * manifest.yml through scripts/validate-manifest.js: @forge/manifest's shipped schema and
 * validators, then Clinisight's rules. The broken variants prove each check can fail.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const YAML = require('yaml');
const { validateManifest, SCOPE_REASONS, REQUIRED_EVENTS } = require('../scripts/validate-manifest');

const APP_DIR = path.resolve(__dirname, '..');
const MANIFEST = path.join(APP_DIR, 'manifest.yml');
const SCRIPT = path.join(APP_DIR, 'scripts', 'validate-manifest.js');
const NO_VARS = {}; // as on a machine where the deploy variables are not set

const tmpDirs = [];
test.after(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A copy of manifest.yml, changed by `edit` (on the parsed YAML), beside a link to src/. */
function variant(edit) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinisight-manifest-'));
  tmpDirs.push(dir);
  fs.symlinkSync(path.join(APP_DIR, 'src'), path.join(dir, 'src'), 'dir');
  const doc = YAML.parse(fs.readFileSync(MANIFEST, 'utf8'));
  edit(doc);
  const file = path.join(dir, 'manifest.yml');
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

const messages = (findings) => findings.map((f) => f.message).join('\n');

test('manifest.yml passes every check with no warnings', async () => {
  const result = await validateManifest({ manifestPath: MANIFEST, env: NO_VARS });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.warnings, []);
  assert.deepEqual(result.placeholders.sort(), ['CLINISIGHT_FORGE_APP_ID', 'CLINISIGHT_REMOTE_URL']);
  assert.equal(result.manifest.app.runtime.name, 'nodejs24.x');
  assert.equal(result.manifest.remotes[0].baseUrl, 'https://clinisight.invalid');
});

test('the remote baseUrl and app id come from the deploy environment', async () => {
  const env = {
    CLINISIGHT_FORGE_APP_ID: 'ari:cloud:ecosystem::app/8db33809-1f32-48bb-8c52-5877dab48107',
    CLINISIGHT_REMOTE_URL: 'https://clinisight-staging.example.org',
  };
  const before = process.env.CLINISIGHT_REMOTE_URL;
  const result = await validateManifest({ manifestPath: MANIFEST, env });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.placeholders, []);
  assert.equal(result.manifest.remotes[0].baseUrl, env.CLINISIGHT_REMOTE_URL);
  assert.equal(result.manifest.app.id, env.CLINISIGHT_FORGE_APP_ID);
  assert.equal(process.env.CLINISIGHT_REMOTE_URL, before, 'process.env is restored');
});

test('an app id that is not an app ARI is refused by the schema', async () => {
  const { errors } = await validateManifest({ manifestPath: MANIFEST, env: { CLINISIGHT_FORGE_APP_ID: '8db33809-1f32' } });
  assert.match(messages(errors), /app/);
  assert.ok(errors.some((e) => e.source === '@forge/manifest full'), JSON.stringify(errors));
});

test('a plain-http or trailing-slash cluster URL is refused', async () => {
  for (const url of ['http://10.0.0.5:8000', 'https://clinisight.example.org/']) {
    const { errors } = await validateManifest({ manifestPath: MANIFEST, env: { CLINISIGHT_REMOTE_URL: url } });
    assert.ok(errors.length > 0, url);
    assert.match(messages(errors), /must use https|trailing slash/, url);
  }
});

test('each required product event reaches /v1/forge/events with a system token', async () => {
  const { manifest } = await validateManifest({ manifestPath: MANIFEST, env: NO_VARS });
  const endpoints = Object.fromEntries(manifest.modules.endpoint.map((e) => [e.key, e]));
  for (const event of REQUIRED_EVENTS) {
    const trigger = manifest.modules.trigger.find((t) => t.events.includes(event));
    assert.ok(trigger, event);
    const ep = endpoints[trigger.endpoint];
    assert.equal(ep.remote, 'clinisight');
    assert.equal(ep.route.path, '/v1/forge/events');
    assert.equal(ep.auth.appSystemToken.enabled, true);
  }
});

test('the schema check catches a runtime Forge does not offer', async () => {
  const file = variant((m) => {
    m.app.runtime.name = 'nodejs16.x';
  });
  const { errors } = await validateManifest({ manifestPath: file, env: NO_VARS });
  assert.match(messages(errors), /allowed values are 'nodejs20.x', 'nodejs22.x', 'nodejs24.x'/);
});

test('nodejs20.x is reported as deprecated', async () => {
  const file = variant((m) => {
    m.app.runtime.name = 'nodejs20.x';
  });
  const { warnings } = await validateManifest({ manifestPath: file, env: NO_VARS });
  assert.match(messages(warnings), /The nodejs20.x runtime is deprecated/);
});

test('a dropped event, an undocumented scope and extra egress are errors', async () => {
  const file = variant((m) => {
    m.modules.trigger[1].events = ['avi:confluence:created:page', 'avi:confluence:updated:page'];
    m.permissions.scopes.push('manage:jira-configuration');
    m.permissions.external.fetch.backend.push('https://api.openai.com');
    m.permissions.external.images = ['https://example.org'];
  });
  const text = messages((await validateManifest({ manifestPath: file, env: NO_VARS })).errors);
  assert.match(text, /no trigger delivers avi:confluence:trashed:page/);
  assert.match(text, /scope 'manage:jira-configuration' has no documented reason/);
  assert.match(text, /fetch.backend must be exactly \[\{remote: clinisight\}\]/);
  assert.match(text, /permissions.external.images is not allowed/);
});

test('a scope a trigger needs is enforced by @forge/manifest’s event-scope mapping', async () => {
  const file = variant((m) => {
    m.permissions.scopes = m.permissions.scopes.filter((s) => s !== 'read:confluence-content.summary');
  });
  const { errors } = await validateManifest({ manifestPath: file, env: NO_VARS });
  assert.match(messages(errors), /'avi:confluence:created:page' requires 'read:confluence-content.summary' scope/);
});

test('a missing handler export and a dangling Rovo action are errors', async () => {
  const file = variant((m) => {
    m.modules.function[0].handler = 'index.nothere';
    m.modules['rovo:agent'][0].actions.push('write-poem');
  });
  const text = messages((await validateManifest({ manifestPath: file, env: NO_VARS })).errors);
  assert.match(text, /src\/index exports no function 'nothere'/);
  assert.match(text, /undefined action module with key 'write-poem'/);
});

test('a trigger that is delivered without the system token is an error', async () => {
  const file = variant((m) => {
    delete m.modules.endpoint.find((e) => e.key === 'clinisight-events').auth;
  });
  const { errors } = await validateManifest({ manifestPath: file, env: NO_VARS });
  assert.match(messages(errors), /endpoint 'clinisight-events' must enable auth.appSystemToken/);
});

test('every requested scope is explained in README.md', () => {
  const readme = fs.readFileSync(path.join(APP_DIR, 'README.md'), 'utf8');
  const manifest = YAML.parse(fs.readFileSync(MANIFEST, 'utf8'));
  for (const scope of manifest.permissions.scopes) {
    assert.ok(scope in SCOPE_REASONS, scope);
    assert.ok(readme.includes(`\`${scope}\``), `README.md explains ${scope}`);
  }
});

test('the CLI reports errors with their line and exits 1', () => {
  const env = { ...process.env };
  delete env.CLINISIGHT_REMOTE_URL;
  delete env.CLINISIGHT_FORGE_APP_ID;
  const broken = variant((m) => {
    m.modules.endpoint[0].remote = 'elsewhere';
  });
  const run = spawnSync(process.execPath, [SCRIPT, broken], { env, encoding: 'utf8' });
  assert.equal(run.status, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /CLINISIGHT_REMOTE_URL is not set; validated with placeholder https:\/\/clinisight\.invalid/);
  assert.match(run.stdout, /manifest\.yml:\d+:\d+ error: .*'elsewhere'/);
  assert.match(run.stdout, /endpoint 'clinisight-events' targets 'elsewhere', not the 'clinisight' remote \[clinisight\]/);
  assert.match(run.stdout, /manifest\.yml: \d+ error\(s\)/);
});
