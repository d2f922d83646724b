#!/usr/bin/env node
'use strict';
/**
 * Validates manifest.yml offline, without a Forge login.
 *
 * 1. @forge/manifest's own checks, the ones `forge lint` runs: its FULL processor (YAML parsing
 *    with manifest-variable interpolation, the JSON schema shipped in the package at
 *    out/schema/manifest-schema.json, and the validators for modules and their references,
 *    handler files, resources, permissions and scopes, remotes and their auth, Rovo agents and
 *    actions, deprecated runtimes), then its product-event and Rovo-agent scope validators.
 * 2. Clinisight's own rules on the interpolated manifest (`clinisightRules`): the product
 *    events reach the remote's /v1/forge/events with a system token, egress goes to the one
 *    remote only, every scope is one whose reason is written down, every handler exists.
 *
 * Manifest variables (environment.variables) come from the environment, as they do for the
 * Forge CLI; unset ones get placeholders so the structure can still be checked, and the report
 * says so. Usage: node scripts/validate-manifest.js [path/to/manifest.yml]
 * Exit status: 0 when there are no errors (warnings are printed), 1 otherwise.
 */

const fs = require('node:fs');
const path = require('node:path');
const {
  ProcessorBuilder,
  ValidationTypes,
  ProductTriggerScopesValidator,
  AgentProductContextScopesValidator,
} = require('@forge/manifest');
const YAML = require('yaml');

const APP_DIR = path.resolve(__dirname, '..');
const DEFAULT_MANIFEST = path.join(APP_DIR, 'manifest.yml');

const REMOTE_KEY = require('../src/client').REMOTE_KEY;
const EVENTS_PATH = '/v1/forge/events';
const REQUIRED_EVENTS = [
  'avi:jira:created:issue',
  'avi:jira:updated:issue',
  'avi:confluence:created:page',
  'avi:confluence:updated:page',
  'avi:confluence:trashed:page',
  'avi:confluence:deleted:page',
  'avi:confluence:moved:page',
  'avi:confluence:permissions_updated:page',
  'avi:forge:installed:app',
];

/** Every scope the app may ask for, with the reason. README.md lists the same reasons. */
const SCOPE_REASONS = {
  'read:jira-work': 'receive issue events; the backend reads epics and issues with the system token',
  'write:jira-work': 'the backend creates the approved TaskSmith subtasks',
  'read:confluence-content.summary': 'receive page created/updated/trashed/deleted/moved/permissions_updated events',
  'read:confluence-content.all': 'the backend reads page bodies and read restrictions to index them (events carry neither)',
  'read:confluence-space.summary': 'the backend reads who may view each indexed space (MindMesh answers a person only from pages they may read)',
  'read:confluence-groups': "the backend reads a person's groups, which page restrictions and space permissions name",
  'write:confluence-content': 'Forge requires it to deliver avi:confluence:trashed:page events',
  'read:app-system-token': 'lets Forge send x-forge-oauth-system to the remote',
};

// Runtimes past upstream end of life; @forge/cli supplies its own list to `forge lint` at run time.
const DEPRECATED_RUNTIMES = ['nodejs18.x', 'nodejs20.x'];

const PLACEHOLDERS = {
  CLINISIGHT_FORGE_APP_ID: 'ari:cloud:ecosystem::app/00000000-0000-4000-8000-000000000000',
  CLINISIGHT_REMOTE_URL: 'https://clinisight.invalid',
};

// The event-scope and agent-scope checks `forge lint` also runs (its PRODUCT_TRIGGER and
// AGENT_PRODUCT_CONTEXT processors), fed the scope mappings shipped in the package. They are run
// on the FULL processor's parsed manifest rather than through their own processors, which would
// each compile the 2.3 MB schema again (seconds each). The package's other processors
// (FORGE_REMOTE_COMPUTE, DEPRECATED_*) only repeat validators FULL already runs.
const MANIFEST_OUT = path.dirname(require.resolve('@forge/manifest'));
function shippedMapping(name) {
  return JSON.parse(fs.readFileSync(path.join(MANIFEST_OUT, 'mapping', name), 'utf8'));
}
function scopeValidators() {
  return [
    ['product-trigger', new ProductTriggerScopesValidator(shippedMapping('product-event-to-scope-mapping.json'))],
    ['agent-product-context', new AgentProductContextScopesValidator(shippedMapping('agent-product-context-to-scope-mapping.json'))],
  ];
}

function declaredVariables(manifestPath) {
  const raw = YAML.parse(fs.readFileSync(manifestPath, 'utf8')) || {};
  return ((raw.environment && raw.environment.variables) || []).map((v) => (typeof v === 'string' ? v : v.key));
}

/** Runs `fn` with `vars` set in process.env (the @forge interpolator reads it), then restores it. */
async function withEnv(vars, fn) {
  const saved = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function issue(level, message, source, line = 0, column = 0) {
  return { level, message, source, line, column };
}

function checkRemote(m, out) {
  const remotes = m.remotes || [];
  if (remotes.length !== 1 || remotes[0].key !== REMOTE_KEY) {
    out.push(issue('error', `remotes must hold exactly one remote, '${REMOTE_KEY}' (found: ${remotes.map((r) => r.key).join(', ') || 'none'})`, 'clinisight'));
    return;
  }
  const remote = remotes[0];
  const urls = typeof remote.baseUrl === 'string' ? [remote.baseUrl] : Object.values(remote.baseUrl || {});
  for (const url of urls) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      out.push(issue('error', `remote '${REMOTE_KEY}' baseUrl ${JSON.stringify(url)} is not a URL`, 'clinisight'));
      continue;
    }
    if (parsed.protocol !== 'https:') {
      out.push(issue('error', `remote '${REMOTE_KEY}' baseUrl ${url} must use https (Forge Remote calls only HTTPS)`, 'clinisight'));
    }
    if (parsed.search || parsed.hash || url.endsWith('/')) {
      out.push(issue('error', `remote '${REMOTE_KEY}' baseUrl ${url} must have no query, fragment or trailing slash (routes start with /)`, 'clinisight'));
    }
  }
  if (!(remote.operations || []).includes('compute')) {
    out.push(issue('error', `remote '${REMOTE_KEY}' needs operations: [compute] or invokeRemote is refused`, 'clinisight'));
  }
}

function checkEvents(m, out) {
  const modules = m.modules || {};
  const endpoints = new Map((modules.endpoint || []).map((e) => [e.key, e]));
  for (const e of modules.endpoint || []) {
    if (e.remote !== REMOTE_KEY) {
      out.push(issue('error', `endpoint '${e.key}' targets '${e.remote || e.service}', not the '${REMOTE_KEY}' remote`, 'clinisight'));
    }
  }
  const delivered = new Set();
  for (const t of modules.trigger || []) {
    const events = (t.events || []).map((ev) => (typeof ev === 'string' ? ev : ev.eventType));
    if (!t.endpoint) {
      out.push(issue('error', `trigger '${t.key}' runs a function; product events must go to a remote endpoint`, 'clinisight'));
      continue;
    }
    const ep = endpoints.get(t.endpoint);
    if (!ep) continue; // @forge/manifest reports the dangling reference
    if (!ep.route || ep.route.path !== EVENTS_PATH) {
      out.push(issue('error', `trigger '${t.key}' delivers to endpoint '${ep.key}' whose route.path is ${JSON.stringify(ep.route && ep.route.path)}, not ${EVENTS_PATH}`, 'clinisight'));
      continue;
    }
    if (!(ep.auth && ep.auth.appSystemToken && ep.auth.appSystemToken.enabled === true)) {
      out.push(issue('error', `endpoint '${ep.key}' must enable auth.appSystemToken so events carry x-forge-oauth-system`, 'clinisight'));
    }
    events.forEach((ev) => delivered.add(ev));
  }
  for (const ev of REQUIRED_EVENTS) {
    if (!delivered.has(ev)) {
      out.push(issue('error', `no trigger delivers ${ev} to ${EVENTS_PATH} on the '${REMOTE_KEY}' remote`, 'clinisight'));
    }
  }
}

function checkEgress(m, out) {
  const external = (m.permissions && m.permissions.external) || {};
  const backend = (external.fetch && external.fetch.backend) || [];
  const onlyRemote = backend.length === 1 && backend[0] && backend[0].remote === REMOTE_KEY;
  if (!onlyRemote) {
    out.push(issue('error', `permissions.external.fetch.backend must be exactly [{remote: ${REMOTE_KEY}}] (found ${JSON.stringify(backend)})`, 'clinisight'));
  }
  const others = Object.keys(external).filter((k) => k !== 'fetch');
  const fetchOthers = Object.keys(external.fetch || {}).filter((k) => k !== 'backend');
  for (const k of [...others, ...fetchOthers.map((k2) => `fetch.${k2}`)]) {
    out.push(issue('error', `permissions.external.${k} is not allowed: the app's only egress is the '${REMOTE_KEY}' remote`, 'clinisight'));
  }
}

function checkScopes(m, out) {
  const scopes = (m.permissions && m.permissions.scopes) || [];
  const list = Array.isArray(scopes) ? scopes : Object.keys(scopes);
  for (const s of list) {
    if (!(s in SCOPE_REASONS)) {
      out.push(issue('error', `scope '${s}' has no documented reason; add it to SCOPE_REASONS and README.md or remove it`, 'clinisight'));
    }
  }
  for (const s of Object.keys(SCOPE_REASONS)) {
    if (!list.includes(s)) out.push(issue('warning', `documented scope '${s}' is not requested`, 'clinisight'));
  }
}

function checkHandlers(m, out, appDir) {
  for (const fn of (m.modules && m.modules.function) || []) {
    const [file, exported] = String(fn.handler).split('.');
    let mod;
    try {
      mod = require(path.join(appDir, 'src', file));
    } catch (err) {
      out.push(issue('error', `function '${fn.key}': src/${file} does not load: ${err.message}`, 'clinisight'));
      continue;
    }
    if (typeof mod[exported] !== 'function') {
      out.push(issue('error', `function '${fn.key}': src/${file} exports no function '${exported}'`, 'clinisight'));
    }
  }
}

function checkRovo(m, out) {
  const modules = m.modules || {};
  const actions = new Map((modules.action || []).map((a) => [a.key, a]));
  const endpoints = new Map((modules.endpoint || []).map((e) => [e.key, e]));
  for (const agent of modules['rovo:agent'] || []) {
    for (const key of agent.actions || []) {
      const action = actions.get(key);
      if (!action) continue; // @forge/manifest reports it
      const ep = action.endpoint && endpoints.get(action.endpoint);
      if (!ep || ep.remote !== REMOTE_KEY) {
        out.push(issue('error', `Rovo action '${key}' must be backed by an endpoint on the '${REMOTE_KEY}' remote`, 'clinisight'));
      }
    }
  }
}

/** Clinisight's rules on the interpolated, schema-checked manifest object. */
function clinisightRules(manifest, { appDir = APP_DIR } = {}) {
  const out = [];
  checkRemote(manifest, out);
  checkEvents(manifest, out);
  checkEgress(manifest, out);
  checkScopes(manifest, out);
  checkHandlers(manifest, out, appDir);
  checkRovo(manifest, out);
  return out;
}

/**
 * Validates a manifest. Returns `{ errors, warnings, placeholders, manifest }`; `manifest` is the
 * interpolated object when the YAML parsed and matched the schema.
 */
async function validateManifest({ manifestPath = DEFAULT_MANIFEST, env = process.env } = {}) {
  const file = path.resolve(manifestPath);
  if (!fs.existsSync(file)) {
    return { errors: [issue('error', `${file} does not exist`, 'file')], warnings: [], placeholders: [], manifest: null };
  }
  const vars = {};
  const placeholders = [];
  for (const name of declaredVariables(file)) {
    if (env[name]) vars[name] = env[name];
    else if (PLACEHOLDERS[name]) {
      vars[name] = PLACEHOLDERS[name];
      placeholders.push(name);
    }
  }
  const found = [];
  const collect = (source, result) => {
    for (const e of result.errors || []) {
      found.push(issue(e.level === 'warning' ? 'warning' : 'error', e.message, source, e.line, e.column));
    }
    if (!result.success && !(result.errors || []).length) {
      found.push(issue('error', 'manifest could not be read', source));
    }
  };
  let manifest = null;
  await withEnv(vars, async () => {
    const full = await ProcessorBuilder.instance()
      .withValidation(ValidationTypes.FULL)
      .withOptions({ deprecatedRuntimes: DEPRECATED_RUNTIMES })
      .build()
      .process(file);
    collect('@forge/manifest full', full);
    const parsed = full.manifestObject;
    if (parsed && parsed.typedContent) {
      manifest = parsed.typedContent;
      for (const [name, validator] of scopeValidators()) {
        collect(`@forge/manifest ${name}`, await validator.validate(parsed));
      }
    }
  });
  if (manifest) found.push(...clinisightRules(manifest, { appDir: path.dirname(file) }));
  return {
    errors: found.filter((f) => f.level === 'error'),
    warnings: found.filter((f) => f.level === 'warning'),
    placeholders,
    manifest,
  };
}

function format(file, f) {
  const where = f.line ? `${path.basename(file)}:${f.line}:${f.column}` : path.basename(file);
  return `${where} ${f.level}: ${f.message} [${f.source}]`;
}

async function main(argv) {
  const file = path.resolve(argv[2] || DEFAULT_MANIFEST);
  const { errors, warnings, placeholders } = await validateManifest({ manifestPath: file });
  for (const name of placeholders) {
    console.log(`note: ${name} is not set; validated with placeholder ${PLACEHOLDERS[name]}`);
  }
  for (const f of [...errors, ...warnings]) console.log(format(file, f));
  console.log(`${path.basename(file)}: ${errors.length} error(s), ${warnings.length} warning(s)`);
  return errors.length ? 1 : 0;
}

if (require.main === module) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

module.exports = { validateManifest, clinisightRules, SCOPE_REASONS, REQUIRED_EVENTS, DEPRECATED_RUNTIMES };
