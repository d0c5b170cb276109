#!/usr/bin/env node
// Drives the jobd binary with the official MCP TypeScript SDK client
// (@modelcontextprotocol/sdk, pinned in package.json / package-lock.json).
//
//   node sdk_client_test.mjs /path/to/jobd           (stdio)
//   node sdk_client_test.mjs /path/to/jobd --http    (Streamable HTTP)
//
// With --http the same steps run over StreamableHTTPClientTransport against
// `jobd --http 127.0.0.1:0 --no-stdio --auth-token-file F`, as principal
// "alice": job sessions then read "alice/<session>" (isolation's namespaces),
// and the last step ends the session with DELETE and stops jobd with SIGTERM.
// tests/client/sdk_http_test.mjs runs it so, then the multi-client checks.
// Every step runs even when an earlier one failed (each creates its own jobs);
// a failed step prints what failed, and the script exits 1 if any step failed.
// The SDK's callTool validates structuredContent against the tool's
// outputSchema and throws when it does not conform: that is deliberately left
// on, it is one of the things tested here.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, 'node_modules', '@modelcontextprotocol', 'sdk'))) {
  console.error(
    `FAIL: ${join(here, 'node_modules')} is missing: the MCP SDK is not installed.\n` +
      `Run scripts/test.sh (it runs npm ci there) or: (cd ${here} && npm ci --no-audit --no-fund)`);
  process.exit(1);
}

const jobdPath = process.argv[2];
if (!jobdPath || !existsSync(jobdPath)) {
  console.error(`usage: node sdk_client_test.mjs /path/to/jobd [--http] (got: ${jobdPath ?? 'nothing'})`);
  process.exit(2);
}
const httpMode = process.argv.slice(3).includes('--http');
const PRINCIPAL = 'alice';
// A job's sessionId as jobd shows it: over HTTP in the principal's namespace.
const shown = (session) => (httpMode ? `${PRINCIPAL}/${session}` : session);
const testName = httpMode ? 'sdk_client --http' : 'sdk_client';

const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport, getDefaultEnvironment } = await import('@modelcontextprotocol/sdk/client/stdio.js');
const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
const {
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  EmptyResultSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ResourceListChangedNotificationSchema,
  McpError,
} = await import('@modelcontextprotocol/sdk/types.js');
const require = createRequire(import.meta.url);
const Ajv = require('ajv').default;
const Ajv2019 = require('ajv/dist/2019').default;
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const GLOBAL_TIMEOUT_MS = 90_000;
const startedAt = Date.now();
let currentStep = '(start-up)';
const stderrLines = [];

const EXPECTED_TOOLS = [
  'console_execute_async',
  'console_get_job_status',
  'console_get_job_output',
  'console_cancel_job',
  'console_list_jobs',
  'console_get_job_metrics',
  'console_cleanup_jobs',
  'console_wait_job',
  'console_send_input',
  'console_signal_job',
  'console_pause_job',
  'console_resume_job',
  'console_resize_terminal',
  'console_restart_job',
  'console_create_schedule',
  'console_list_schedules',
  'console_update_schedule',
  'console_delete_schedule',
  'console_save_template',
  'console_list_templates',
  'console_delete_template',
];
const MAX_CONCURRENT = 4;

function dumpStderr() {
  if (stderrLines.length === 0) return;
  console.error('--- last lines of jobd stderr ---');
  for (const l of stderrLines.slice(-40)) console.error(l);
  console.error('--- end of jobd stderr ---');
}

setTimeout(() => {
  console.error(`FAIL: global timeout of ${GLOBAL_TIMEOUT_MS} ms reached during step "${currentStep}"`);
  dumpStderr();
  process.exit(1);
}, GLOBAL_TIMEOUT_MS).unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const jsonText = (v) => {
  const s = JSON.stringify(v);
  return s.length > 4000 ? s.slice(0, 4000) + '...' : s;
};

// ---------------------------------------------------------------- client set-up

// The SDK passes the server only a minimal environment; let the sanitizer
// settings of scripts/test.sh's ASan pass through.
const env = getDefaultEnvironment();
for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) {
  if (process.env[k] !== undefined) env[k] = process.env[k];
}
// A state directory of its own, removed at the end.
const stateDir = mkdtempSync(join(tmpdir(), 'jobd-sdk-state-'));
process.on('exit', () => rmSync(stateDir, { recursive: true, force: true }));
const jobdArgs = ['--state-dir', stateDir, '--max-concurrent-jobs', String(MAX_CONCURRENT), '--kill-grace-ms', '1000',
                  '--max-wait-ms', '20000'];
let partial = '';
const onStderr = (d) => {
  partial += d.toString('utf8');
  const lines = partial.split('\n');
  partial = lines.pop();
  stderrLines.push(...lines);
  if (stderrLines.length > 400) stderrLines.splice(0, stderrLines.length - 400);
};
let transport;
let httpProc = null; // over HTTP: the jobd this script started
let httpUrl = null;
const TOKEN = 'sdk-http-test-token-alice-0123456789';
const authHeaders = { Authorization: `Bearer ${TOKEN}` };
if (!httpMode) {
  transport = new StdioClientTransport({ command: jobdPath, env, args: jobdArgs, stderr: 'pipe' });
  transport.stderr.on('data', onStderr);
} else {
  const { spawn } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const tokenFile = join(stateDir, 'tokens');
  writeFileSync(tokenFile, `# principal:token\n${PRINCIPAL}:${TOKEN}\n`, { mode: 0o600 });
  httpProc = spawn(jobdPath, ['--http', '127.0.0.1:0', '--no-stdio', '--auth-token-file', tokenFile, ...jobdArgs],
    { env: { ...process.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  process.on('exit', () => { if (httpProc.exitCode === null && httpProc.signalCode === null) httpProc.kill('SIGKILL'); });
  httpProc.stderr.on('data', onStderr);
  httpUrl = await new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), 10_000);
    const look = () => {
      for (const l of [...stderrLines, partial]) {
        const m = /jobd: serving MCP over HTTP at (http:\/\/\S+\/mcp)$/.exec(l);
        if (m) { clearTimeout(t); resolve(m[1]); return true; }
      }
      return false;
    };
    if (!look()) {
      httpProc.stderr.on('data', function f() { if (look()) httpProc.stderr.off('data', f); });
      httpProc.once('exit', () => { clearTimeout(t); resolve(null); });
    }
  });
  if (!httpUrl) {
    console.error('FAIL: jobd did not print "jobd: serving MCP over HTTP at http://HOST:PORT/mcp" within 10 s');
    dumpStderr();
    process.exit(1);
  }
  transport = new StreamableHTTPClientTransport(new URL(httpUrl), { requestInit: { headers: authHeaders } });
}
// The jobd process (stdio: the SDK's child, once connected).
const jobdProcess = () => (httpMode ? httpProc : transport._process);
let negotiatedVersion = null;
// Client.connect hands the negotiated version to transports that take it
// (the HTTP transport sends it as MCP-Protocol-Version from then on).
const setVersion = transport.setProtocolVersion?.bind(transport);
transport.setProtocolVersion = (v) => { negotiatedVersion = v; setVersion?.(v); };

const client = new Client({ name: 'jobd-sdk-client-test', version: '1.0.0' }, { capabilities: {} });
// Protocol-level complaints of the SDK (a response for a request it already
// gave up on, progress after the reply, unparsable messages, ...).
const clientErrors = [];
client.onerror = (e) => clientErrors.push(String(e?.message ?? e));

// Notifications received (logging messages, resource updates, list changes).
const logMessages = [];
const resourceUpdates = [];
const listChanged = [];

// ---------------------------------------------------------------- helpers

const inputValidators = new Map();
let toolsByName = new Map();
const jobs = new Map(); // jobId -> {session, status} for every job this test created

function checkTextMirrorsStructured(name, result) {
  assert.ok(Array.isArray(result.content) && result.content.length >= 1,
    `${name}: result has no content blocks: ${jsonText(result)}`);
  const text = result.content.find((c) => c.type === 'text');
  assert.ok(text, `${name}: no text content block: ${jsonText(result.content)}`);
  assert.ok(result.structuredContent && typeof result.structuredContent === 'object',
    `${name}: no structuredContent: ${jsonText(result)}`);
  assert.deepEqual(JSON.parse(text.text), result.structuredContent,
    `${name}: the text block is not the same JSON as structuredContent`);
}

// tools/call through the SDK (which validates structuredContent against the
// outputSchema). The arguments we send are first checked against the tool's
// advertised inputSchema, so an over-strict schema shows up here too.
async function call(name, args = {}, opts = {}) {
  const v = inputValidators.get(name);
  if (v && !v(args)) {
    throw new Error(`${name}: arguments ${jsonText(args)} do not match the advertised inputSchema: ` +
      jsonText(v.errors));
  }
  let result;
  try {
    result = await client.callTool({ name, arguments: args }, undefined, { timeout: 30_000, ...opts });
  } catch (e) {
    e.message = `${name}(${jsonText(args)}) threw: ${e.message}`;
    throw e;
  }
  checkTextMirrorsStructured(name, result);
  return result;
}

async function ok(name, args = {}, opts = {}) {
  const r = await call(name, args, opts);
  assert.notEqual(r.isError, true, `${name}(${jsonText(args)}) returned isError: ${jsonText(r.structuredContent)}`);
  assert.equal(r.structuredContent.success, true, `${name}: success is not true: ${jsonText(r.structuredContent)}`);
  return r.structuredContent;
}

async function err(name, args, code) {
  const r = await call(name, args);
  assert.equal(r.isError, true, `${name}(${jsonText(args)}) should be isError, got ${jsonText(r)}`);
  const sc = r.structuredContent;
  assert.equal(sc.success, false, `${name}: error result has success ${sc.success}`);
  assert.equal(sc.code, code, `${name}: expected code ${code}, got ${jsonText(sc)}`);
  assert.equal(typeof sc.error, 'string');
  assert.ok(sc.error.length > 0);
  return sc;
}

async function start(command, args, options = {}) {
  const a = { command };
  if (args) a.args = args;
  if (Object.keys(options).length) a.options = options;
  const sc = await ok('console_execute_async', a);
  assert.match(sc.jobId, /\S/, 'jobId is empty');
  assert.ok(['pending', 'running'].includes(sc.status), `new job status: ${sc.status}`);
  if (sc.status === 'pending' && (sc.pendingReason ?? 'queued') === 'queued') {
    assert.ok(Number.isInteger(sc.queuePosition) && sc.queuePosition >= 1, jsonText(sc));
  } else if (sc.status === 'pending') {
    // Held (dependencies, a start time): not in the ready queue.
    assert.equal(sc.queuePosition, undefined, jsonText(sc));
  }
  else assert.equal(sc.queuePosition, undefined, 'queuePosition on a running job');
  jobs.set(sc.jobId, { session: shown(options.sessionId ?? 'default'), status: sc.status });
  return sc.jobId;
}

async function waitExit(jobId, timeoutMs = 15_000) {
  const sc = await ok('console_wait_job', { jobId, timeoutMs }, { timeout: timeoutMs + 10_000 });
  assert.equal(sc.reason, 'exit', `wait for ${jobId} ended with reason ${sc.reason}: ${jsonText(sc)}`);
  assert.equal(sc.finished, true);
  jobs.get(jobId).status = sc.job.status;
  return sc;
}

async function status(jobId) {
  const sc = await ok('console_get_job_status', { jobId });
  assert.equal(sc.job.id, jobId);
  return sc.job;
}

async function waitRunning(jobId) {
  for (let i = 0; i < 100; ++i) {
    const j = await status(jobId);
    if (j.status === 'running') return j;
    assert.equal(j.status, 'pending', `job ${jobId} ended early: ${jsonText(j)}`);
    await sleep(50);
  }
  throw new Error(`job ${jobId} never started`);
}

async function until(what, pred, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return;
    await sleep(25);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

// ---------------------------------------------------------------- steps

const steps = [];
const step = (key, name, fn) => steps.push({ key, name, fn });
// JOBD_SDK_SKIP=key1,key2 skips steps by key (printed as SKIP, never silent).
const skip = new Set((process.env.JOBD_SDK_SKIP ?? '').split(',').map((x) => x.trim()).filter(Boolean));

step('connect', 'connect and negotiate', async () => {
  await client.connect(transport, { timeout: 10_000 });
  const info = client.getServerVersion();
  assert.equal(info?.name, 'jobd', `serverInfo: ${jsonText(info)}`);
  assert.equal(typeof info.version, 'string');
  assert.ok(SUPPORTED_PROTOCOL_VERSIONS.includes(negotiatedVersion),
    `negotiated version ${negotiatedVersion} is not one the SDK supports`);
  assert.equal(negotiatedVersion, LATEST_PROTOCOL_VERSION,
    `the SDK asked for ${LATEST_PROTOCOL_VERSION}, which jobd supports, but got ${negotiatedVersion}`);
  const caps = client.getServerCapabilities();
  assert.ok(caps?.tools, `no tools capability: ${jsonText(caps)}`);
  await client.ping();
});

step('tools-list', `listTools: ${EXPECTED_TOOLS.length} tools, every schema compiles with Ajv`, async () => {
  const seen = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    seen.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  toolsByName = new Map(seen.map((t) => [t.name, t]));
  assert.deepEqual([...toolsByName.keys()].sort(), [...EXPECTED_TOOLS].sort());
  assert.equal(seen.length, EXPECTED_TOOLS.length);

  // Strict mode: unknown keywords, formats and malformed numbers are errors,
  // and each schema is checked against its meta-schema.
  const opts = {
    allErrors: true, strict: true, strictTypes: false, strictTuples: false,
    validateSchema: true, validateFormats: true,
  };
  const ajvs = {};
  const makeAjv = (schema) => {
    const s = schema.$schema ?? '';
    const kind = s.includes('2020-12') ? '2020' : s.includes('2019-09') ? '2019' : '07';
    if (!ajvs[kind]) {
      ajvs[kind] = kind === '2020' ? new Ajv2020(opts) : kind === '2019' ? new Ajv2019(opts) : new Ajv(opts);
      addFormats(ajvs[kind]);
    }
    return ajvs[kind];
  };
  const problems = [];
  for (const t of seen) {
    assert.match(t.name, /^[A-Za-z0-9_.-]{1,128}$/);
    assert.equal(typeof t.description, 'string', `${t.name}: no description`);
    for (const kind of ['inputSchema', 'outputSchema']) {
      const schema = t[kind];
      if (!schema) { problems.push(`${t.name}: no ${kind}`); continue; }
      if (schema.type !== 'object') problems.push(`${t.name}: ${kind}.type is ${schema.type}, not object`);
      try {
        const v = makeAjv(schema).compile(schema);
        if (kind === 'inputSchema') inputValidators.set(t.name, v);
      } catch (e) {
        problems.push(`${t.name}: ${kind} does not compile with Ajv (strict): ${e.message}`);
      }
    }
  }
  assert.deepEqual(problems, [], problems.join('\n'));
  // Arguments that the docs call invalid are rejected by the schema too.
  assert.equal(inputValidators.get('console_execute_async')({ command: 'x', options: { priority: 11 } }), false,
    'console_execute_async inputSchema accepts options.priority 11');
  assert.equal(inputValidators.get('console_get_job_status')({}), false,
    'console_get_job_status inputSchema accepts a missing jobId');
});

step('job-ok', 'a job that succeeds: /bin/echo hello', async () => {
  const id = await start('/bin/echo', ['hello'], { sessionId: 'sdk-ok', tags: { kind: 'echo' } });
  const w = await waitExit(id);
  assert.equal(w.job.status, 'completed');
  assert.equal(w.job.exitCode, 0);
  assert.equal(w.job.signal, null);
  assert.equal(w.job.errorCode, null);
  assert.equal(w.output.map((c) => c.content).join(''), 'hello\n');
  assert.equal(w.complete, true);
  const j = await status(id);
  assert.equal(j.status, 'completed');
  assert.equal(j.command, '/bin/echo');
  assert.deepEqual(j.args, ['hello']);
  assert.equal(j.sessionId, shown('sdk-ok'));
  assert.deepEqual(j.tags, { kind: 'echo' });
  assert.ok(Number.isInteger(j.durationMs) && j.durationMs >= 0);
  assert.match(j.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(j.output.stdoutBytes, 6);
});

step('job-fail', "a job that fails: sh -c 'exit 3'", async () => {
  const id = await start('sh', ['-c', 'exit 3'], { sessionId: 'sdk-fail' });
  const w = await waitExit(id);
  assert.equal(w.job.status, 'failed');
  assert.equal(w.job.exitCode, 3);
  assert.equal(w.job.errorCode, null);
  assert.equal(typeof w.job.error, 'string');
  const j = await status(id);
  assert.equal(j.status, 'failed');
  assert.equal(j.exitCode, 3);
});

step('job-timeout', 'a job that times out: sleep 30 with timeout 300 ms', async () => {
  const t0 = Date.now();
  const id = await start('sleep', ['30'], { sessionId: 'sdk-timeout', timeout: 300, killGraceMs: 500 });
  const w = await waitExit(id);
  assert.equal(w.job.status, 'failed');
  assert.equal(w.job.errorCode, 'TIMEOUT');
  assert.equal(w.job.timeout, 300);
  assert.ok(Date.now() - t0 < 10_000, 'timeout took too long');
  assert.equal((await status(id)).errorCode, 'TIMEOUT');
});

step('job-cancel', 'a job that gets cancelled: sleep 30, console_cancel_job', async () => {
  const id = await start('sleep', ['30'], { sessionId: 'sdk-cancel', timeout: 0 });
  await waitRunning(id);
  const c = await ok('console_cancel_job', { jobId: id, options: { graceMs: 1000 } });
  assert.equal(c.cancelled, true);
  assert.equal(c.status, 'cancelled');
  assert.equal(c.jobId, id);
  jobs.get(id).status = 'cancelled';
  const j = await status(id);
  assert.equal(j.status, 'cancelled');
  assert.notEqual(j.finishedAt, null);
  const again = await err('console_cancel_job', { jobId: id }, 'JOB_ALREADY_FINISHED');
  assert.equal(again.details?.status, 'cancelled');
});

step('job-cancel-pending', 'a pending job cancelled before it starts', async () => {
  // Fill every slot, then queue one more: it is pending and never starts.
  const blockers = [];
  for (let i = 0; i < MAX_CONCURRENT; ++i) {
    blockers.push(await start('sleep', ['30'], { sessionId: `sdk-block-${i}`, timeout: 0 }));
  }
  for (const b of blockers) await waitRunning(b);
  const queued = await start('/bin/echo', ['never'], { sessionId: 'sdk-queued' });
  const j = await status(queued);
  assert.equal(j.status, 'pending', `expected pending with ${MAX_CONCURRENT} slots busy: ${jsonText(j)}`);
  assert.equal(j.queuePosition, 1);
  assert.equal(j.startedAt, null);
  const c = await ok('console_cancel_job', { jobId: queued });
  assert.equal(c.status, 'cancelled');
  jobs.get(queued).status = 'cancelled';
  for (const b of blockers) {
    await ok('console_cancel_job', { jobId: b, options: { graceMs: 500 } });
    jobs.get(b).status = 'cancelled';
  }
  const after = await status(queued);
  assert.equal(after.status, 'cancelled');
  assert.equal(after.startedAt, null, 'a cancelled pending job started');
  assert.equal(after.output.chunks, 0);
});

step('output', 'read output with cursors (since / nextSince)', async () => {
  const id = await start('sh', ['-c', 'for i in 1 2 3 4 5; do echo line$i; sleep 0.15; done'],
    { sessionId: 'sdk-output' });
  let since = 0;
  let text = '';
  let lastSeq = 0;
  let reads = 0;
  for (;;) {
    const r = await ok('console_get_job_output', { jobId: id, options: { since } });
    ++reads;
    assert.equal(r.jobId, id, `console_get_job_output: jobId ${JSON.stringify(r.jobId)}: ${jsonText(r)}`);
    assert.equal(r.status, r.finished ? 'completed' : 'running', `console_get_job_output: status: ${jsonText(r)}`);
    for (const c of r.output) {
      assert.ok(c.sequenceNumber > since, `chunk ${c.sequenceNumber} returned for since=${since}`);
      assert.ok(c.sequenceNumber > lastSeq, `chunk ${c.sequenceNumber} seen twice or out of order`);
      assert.equal(c.type, 'stdout');
      lastSeq = c.sequenceNumber;
      text += c.content;
    }
    assert.ok(r.nextSince >= since, `nextSince went back: ${since} -> ${r.nextSince}`);
    if (r.output.length) assert.equal(r.nextSince, r.output.at(-1).sequenceNumber);
    else assert.equal(r.nextSince, since, 'nextSince moved without output');
    assert.equal(r.droppedChunks, 0);
    since = r.nextSince;
    if (r.complete) { assert.equal(r.finished, true); break; }
    assert.ok(reads < 200, 'output never completed');
    await sleep(60);
  }
  assert.equal(text, 'line1\nline2\nline3\nline4\nline5\n');
  assert.ok(reads >= 2, 'the job finished before a second read: cursors not exercised');
  jobs.get(id).status = 'completed';

  // Nothing new after the last cursor.
  const none = await ok('console_get_job_output', { jobId: id, options: { since } });
  assert.deepEqual(none.output, []);
  assert.equal(none.nextSince, since);
  assert.equal(none.complete, true);
  // Paging one chunk at a time from the start gives the same text.
  let paged = '';
  let s = 0;
  for (let i = 0; i < 20; ++i) {
    const p = await ok('console_get_job_output', { jobId: id, options: { since: s, limit: 1 } });
    if (p.output.length === 0) break;
    assert.equal(p.output.length, 1);
    paged += p.output[0].content;
    s = p.nextSince;
  }
  assert.equal(paged, text);
  const tail = await ok('console_get_job_output', { jobId: id, options: { tail: 2 } });
  assert.equal(tail.tail, 'line4\nline5\n');
  const latest = await ok('console_get_job_output', { jobId: id, options: { latest: true, limit: 1 } });
  assert.equal(latest.output.length, 1);
  assert.equal(latest.output[0].sequenceNumber, lastSeq);
  const errOnly = await ok('console_get_job_output', { jobId: id, options: { stream: 'stderr' } });
  assert.deepEqual(errOnly.output, []);
});

step('wait', 'console_wait_job: until output with a pattern, then timeout, then exit', async () => {
  const id = await start('sh', ['-c', 'echo starting; sleep 0.3; echo "listening on 8080"; sleep 30'],
    { sessionId: 'sdk-wait', timeout: 0 });
  const w = await ok('console_wait_job', { jobId: id, until: 'output', pattern: 'listening on \\d+', timeoutMs: 10_000 });
  assert.equal(w.reason, 'output', jsonText(w));
  assert.equal(w.job.status, 'running');
  assert.match(w.output.map((c) => c.content).join(''), /listening on 8080/);
  assert.equal(w.finished, false);
  const t = await ok('console_wait_job', { jobId: id, timeoutMs: 200, since: w.nextSince });
  assert.equal(t.reason, 'timeout');
  assert.deepEqual(t.output, []);
  await ok('console_cancel_job', { jobId: id, options: { graceMs: 500 } });
  jobs.get(id).status = 'cancelled';
  const e = await ok('console_wait_job', { jobId: id, timeoutMs: 5000 });
  assert.equal(e.reason, 'exit');
  assert.equal(e.job.status, 'cancelled');
});

step('list', 'console_list_jobs with filters (status, sessionId, tags) and cursors', async () => {
  const session = 'sdk-list';
  const a = await start('/bin/echo', ['a'], { sessionId: session, tags: { suite: 'client', n: 1 } });
  const b = await start('/bin/echo', ['b'], { sessionId: session, tags: { suite: 'client', n: 2, fast: true } });
  const c = await start('sh', ['-c', 'exit 1'], { sessionId: session, tags: { suite: 'other' } });
  for (const id of [a, b, c]) await waitExit(id);

  const all = await ok('console_list_jobs', { options: { sessionId: session } });
  assert.equal(all.total, 3);
  assert.deepEqual(all.jobs.map((j) => j.id), [c, b, a], 'not newest first');
  assert.equal(all.nextCursor, undefined);
  assert.deepEqual(all.jobs.find((j) => j.id === b).tags, { suite: 'client', n: 2, fast: true });

  const tagged = await ok('console_list_jobs', { options: { sessionId: session, tags: { suite: 'client' } } });
  assert.deepEqual(tagged.jobs.map((j) => j.id).sort(), [a, b].sort());
  const tagged2 = await ok('console_list_jobs', { options: { tags: { suite: 'client', n: 2 } } });
  assert.deepEqual(tagged2.jobs.map((j) => j.id), [b]);

  const completed = await ok('console_list_jobs', { options: { sessionId: session, status: 'completed' } });
  assert.deepEqual(completed.jobs.map((j) => j.id).sort(), [a, b].sort());
  const failed = await ok('console_list_jobs', { options: { sessionId: session, status: ['failed', 'cancelled'] } });
  assert.deepEqual(failed.jobs.map((j) => j.id), [c]);
  assert.equal(failed.jobs[0].exitCode, 1);

  const ids = [];
  let cursor;
  for (let i = 0; i < 5; ++i) {
    const p = await ok('console_list_jobs', { options: { sessionId: session, limit: 1, ...(cursor ? { cursor } : {}) } });
    assert.equal(p.total, 3);
    ids.push(...p.jobs.map((j) => j.id));
    cursor = p.nextCursor;
    if (!cursor) break;
  }
  assert.deepEqual(ids, [c, b, a]);

  const everyone = await ok('console_list_jobs', { options: { limit: 1000 } });
  assert.equal(everyone.total, jobs.size);
});

step('is-error', 'an isError result (unknown job id) is a result, not a thrown error', async () => {
  const sc = await err('console_get_job_status', { jobId: 'job-999999-nope' }, 'JOB_NOT_FOUND');
  assert.equal(sc.details?.jobId, 'job-999999-nope');
  await err('console_get_job_output', { jobId: 'job-999999-nope' }, 'JOB_NOT_FOUND');
  await err('console_cancel_job', { jobId: 'job-999999-nope' }, 'JOB_NOT_FOUND');
  await err('console_wait_job', { jobId: 'job-999999-nope', timeoutMs: 100 }, 'JOB_NOT_FOUND');
  // Arguments outside the schema: an isError result naming the field (sent
  // raw, since our own pre-check would refuse them).
  const r = await client.callTool({ name: 'console_execute_async', arguments: { command: 'x', options: { priority: 11 } } });
  assert.equal(r.isError, true, jsonText(r));
  assert.equal(r.structuredContent?.code, 'INVALID_ARGUMENTS', jsonText(r));
  assert.equal(r.structuredContent?.details?.field, 'options.priority', jsonText(r));
  // An unknown tool is a JSON-RPC error -32602, which the SDK throws.
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
    (e) => e instanceof McpError && e.code === -32602);
});

step('metrics', 'console_get_job_metrics: counters match what was run', async () => {
  // Everything this test started has ended by now.
  const running = await ok('console_list_jobs', { options: { status: ['pending', 'running'] } });
  assert.equal(running.total, 0, `jobs still active: ${jsonText(running.jobs)}`);
  const final = new Map();
  for (const [id, j] of jobs) final.set(id, (await status(id)).status);
  const count = (s) => [...final.values()].filter((x) => x === s).length;
  const m = (await ok('console_get_job_metrics', {})).metrics;
  assert.equal(m.totalJobs, jobs.size);
  assert.equal(m.completedJobs, count('completed'));
  assert.equal(m.failedJobs, count('failed'));
  assert.equal(m.cancelledJobs, count('cancelled'));
  assert.equal(m.completedJobs + m.failedJobs + m.cancelledJobs, jobs.size);
  assert.equal(m.runningJobs, 0);
  assert.equal(m.queueSize, 0);
  assert.equal(m.concurrency.current, 0);
  assert.equal(m.concurrency.maximum, MAX_CONCURRENT);
  assert.equal(m.retainedJobs, jobs.size);
  assert.equal(typeof m.uptimeMs, 'number');
  const bySession = new Map();
  for (const [id, j] of jobs) {
    const e = bySession.get(j.session) ?? { total: 0, completed: 0, failed: 0, cancelled: 0 };
    e.total += 1;
    e[final.get(id)] += 1;
    bySession.set(j.session, e);
  }
  for (const [session, e] of bySession) {
    const s = m.sessions.find((x) => x.sessionId === session);
    assert.ok(s, `no metrics for session ${session}: ${jsonText(m.sessions)}`);
    assert.deepEqual(
      [s.totalJobs, s.completedJobs, s.failedJobs, s.cancelledJobs, s.runningJobs, s.pendingJobs],
      [e.total, e.completed, e.failed, e.cancelled, 0, 0], `session ${session}`);
  }
});

step('cleanup', 'console_cleanup_jobs: cleaned / remaining', async () => {
  const before = (await ok('console_get_job_metrics', {})).metrics;
  const listSession = [...jobs].filter(([, j]) => j.session === shown('sdk-list')).map(([id]) => id);
  const one = await ok('console_cleanup_jobs', { options: { sessionId: 'sdk-list', statuses: ['completed'] } });
  assert.equal(one.cleaned, 2);
  assert.equal(one.remaining, jobs.size - 2);
  const left = await ok('console_list_jobs', { options: { sessionId: 'sdk-list' } });
  assert.equal(left.total, 1);
  assert.equal(left.jobs[0].status, 'failed');
  const removed = listSession.filter((id) => id !== left.jobs[0].id);

  const all = await ok('console_cleanup_jobs', {});
  assert.equal(all.cleaned, jobs.size - 2);
  assert.equal(all.remaining, 0);
  const after = (await ok('console_get_job_metrics', {})).metrics;
  assert.equal(after.retainedJobs, 0);
  for (const k of ['totalJobs', 'completedJobs', 'failedJobs', 'cancelledJobs']) {
    assert.equal(after[k], before[k], `metrics.${k} changed by cleanup`);
  }
  assert.equal((await ok('console_list_jobs', {})).total, 0);
  for (const id of removed) await err('console_get_job_status', { jobId: id }, 'JOB_NOT_FOUND');
});

step('logging', 'logging: setLoggingLevel (if the logging capability is declared)', async () => {
  if (!client.getServerCapabilities()?.logging) {
    console.log('  (server does not declare logging: skipped)');
    return;
  }
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logMessages.push(n.params));
  await client.setLoggingLevel('info');
  await assert.rejects(
    client.request({ method: 'logging/setLevel', params: { level: 'loud' } }, EmptyResultSchema),
    (e) => e instanceof McpError && e.code === -32602, 'a bad level is not -32602');
});

step('log-messages', 'logging: notifications/message for job lifecycle events, at or above the level', async () => {
  if (!client.getServerCapabilities()?.logging) {
    console.log('  (server does not declare logging: skipped)');
    return;
  }
  await client.setLoggingLevel('info');
  const levels = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
  const id = await start('/bin/echo', ['logged'], { sessionId: 'sdk-log' });
  await waitExit(id);
  const mentions = (m) => JSON.stringify(m.data ?? '').includes(id);
  await until(`a notifications/message about ${id}`, () => logMessages.some(mentions));
  for (const m of logMessages) {
    assert.ok(levels.indexOf(m.level) >= levels.indexOf('info'), `message below the level set: ${jsonText(m)}`);
  }

  await client.setLoggingLevel('emergency');
  const n = logMessages.length;
  const quiet = await start('/bin/echo', ['quiet'], { sessionId: 'sdk-log' });
  await waitExit(quiet);
  await sleep(200);
  const louder = logMessages.slice(n).filter((m) => m.level !== 'emergency');
  assert.deepEqual(louder, [], 'messages below emergency after setLevel(emergency)');
  await client.setLoggingLevel('info');
});

step('cancellation', 'cancellation: an aborted console_wait_job gets no reply and stops', async () => {
  const id = await start('sleep', ['30'], { sessionId: 'sdk-abort', timeout: 0 });
  await waitRunning(id);
  const errorsBefore = clientErrors.length;
  const ac = new AbortController();
  const p = client.callTool({ name: 'console_wait_job', arguments: { jobId: id, timeoutMs: 10_000 } },
    undefined, { signal: ac.signal, timeout: 20_000 });
  await sleep(300);
  ac.abort('test gives up');
  await assert.rejects(p, (e) => /abort|test gives up/i.test(String(e?.message ?? e)), 'the SDK did not reject');
  // Had jobd replied to the cancelled request, the SDK would report a response
  // for an unknown id through onerror.
  await sleep(500);
  assert.deepEqual(clientErrors.slice(errorsBefore), [], 'jobd replied to a cancelled request');
  await client.ping();
  await ok('console_cancel_job', { jobId: id, options: { graceMs: 500 } });
  jobs.get(id).status = 'cancelled';
  await sleep(300);
  assert.deepEqual(clientErrors.slice(errorsBefore), [], 'late reply to the cancelled request');
});

step('progress', 'progress: console_wait_job with a progressToken', async () => {
  const id = await start('sh', ['-c', 'for i in 1 2 3 4; do echo tick$i; sleep 0.2; done'], { sessionId: 'sdk-progress' });
  const errorsBefore = clientErrors.length;
  const progress = [];
  let replied = false;
  let afterReply = 0;
  const w = await ok('console_wait_job', { jobId: id, timeoutMs: 10_000 }, {
    onprogress: (p) => { if (replied) ++afterReply; progress.push(p); },
  });
  replied = true;
  assert.equal(w.reason, 'exit');
  assert.ok(progress.length >= 1, 'no notifications/progress for a wait with a progressToken');
  for (let i = 1; i < progress.length; ++i) {
    assert.ok(progress[i].progress > progress[i - 1].progress, `progress not increasing: ${jsonText(progress)}`);
  }
  await sleep(300);
  assert.equal(afterReply, 0);
  assert.deepEqual(clientErrors.slice(errorsBefore), [], 'progress after the reply (or other protocol errors)');
  jobs.get(id).status = 'completed';
});

step('resources', 'resources: job://{jobId} and job://{jobId}/output (if declared)', async () => {
  const caps = client.getServerCapabilities()?.resources;
  if (!caps) {
    console.log('  (server does not declare resources: skipped)');
    return;
  }
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => resourceUpdates.push(n.params.uri));
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => listChanged.push(Date.now()));

  const templates = await client.listResourceTemplates();
  const uris = templates.resourceTemplates.map((t) => t.uriTemplate).sort();
  assert.deepEqual(uris, ['job://{jobId}', 'job://{jobId}/output'].sort());

  const lcBefore = listChanged.length;
  const id = await start('sh', ['-c', 'sleep 0.3; echo res1; sleep 0.3; echo res2'], { sessionId: 'sdk-res' });
  if (caps.listChanged) await until('notifications/resources/list_changed after a job was created', () => listChanged.length > lcBefore);

  const listed = [];
  let cursor;
  for (let i = 0; i < 100; ++i) {
    const page = await client.listResources(cursor ? { cursor } : {});
    listed.push(...page.resources.map((r) => r.uri));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  assert.ok(listed.includes(`job://${id}`), `resources/list lacks job://${id}: ${jsonText(listed)}`);

  if (caps.subscribe) {
    await client.subscribeResource({ uri: `job://${id}` });
    await client.subscribeResource({ uri: `job://${id}/output` });
  }
  await waitExit(id);
  const st = await client.readResource({ uri: `job://${id}` });
  assert.equal(st.contents.length, 1);
  assert.equal(st.contents[0].uri, `job://${id}`);
  const stJson = JSON.parse(st.contents[0].text);
  assert.equal((stJson.job ?? stJson).status, 'completed', jsonText(stJson));
  const out = await client.readResource({ uri: `job://${id}/output` });
  assert.equal(out.contents[0].text, 'res1\nres2\n');
  if (caps.subscribe) {
    await until(`notifications/resources/updated for job://${id}`, () => resourceUpdates.includes(`job://${id}`));
    await until(`notifications/resources/updated for job://${id}/output`,
      () => resourceUpdates.includes(`job://${id}/output`));
    await client.unsubscribeResource({ uri: `job://${id}` });
    await client.unsubscribeResource({ uri: `job://${id}/output` });
  }
  await assert.rejects(client.readResource({ uri: 'job://job-999999-nope' }),
    (e) => e instanceof McpError && e.code === -32002, 'unknown resource is not -32002');
  jobs.get(id).status = 'completed';
});

// -- working with running jobs (issue 11) ------------------------------------

// Waits until the job's output contains `needle`.
async function untilOutput(jobId, needle, ms = 5000) {
  const w = await ok('console_wait_job',
    { jobId, until: 'output', pattern: needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), timeoutMs: ms },
    { timeout: ms + 10_000 });
  assert.equal(w.reason === 'output' || w.output.some((c) => c.content.includes(needle)), true,
    `no "${needle}" in the output of ${jobId}: ${jsonText(w)}`);
}

step('stdin', 'console_send_input: python3 -i through a pipe, then closeStdin', async () => {
  const id = await start('python3', ['-i', '-q', '-u'], { stdin: 'pipe' });
  const r = await ok('console_send_input', { jobId: id, text: 'print(6 * 7)', appendNewline: true });
  assert.equal(r.jobId, id);
  assert.ok(r.bytes === 13, `bytes: ${jsonText(r)}`);
  await untilOutput(id, '42');
  await ok('console_send_input', { jobId: id, text: '', closeStdin: true });
  const w = await waitExit(id);
  assert.equal(w.job.status, 'completed');
  assert.equal(w.job.stdinOpen, false);
  await err('console_send_input', { jobId: id, text: 'x' }, 'JOB_ALREADY_FINISHED');
  const plain = await start('sleep', ['5']);
  await waitRunning(plain);
  await err('console_send_input', { jobId: plain, text: 'x' }, 'STDIN_NOT_OPEN');
  await ok('console_cancel_job', { jobId: plain, options: { graceMs: 0 } });
  jobs.get(plain).status = 'cancelled';
});

step('tty', 'options.tty: a terminal of the given size, Ctrl-C, resize', async () => {
  const id = await start('sh', ['-c', 'stty size; exec sleep 30'], { tty: true, cols: 91, rows: 33 });
  await untilOutput(id, '33 91');
  const j = await status(id);
  assert.equal(j.stdin, 'tty');
  assert.deepEqual(j.terminal, { cols: 91, rows: 33 });
  const resized = await ok('console_resize_terminal', { jobId: id, cols: 120, rows: 40 });
  assert.deepEqual(resized.job.terminal, { cols: 120, rows: 40 });
  await ok('console_send_input', { jobId: id, text: '\u0003' });
  const w = await waitExit(id);
  assert.equal(w.job.signal, 'SIGINT', jsonText(w.job));
});

step('signal', 'console_signal_job: a trapped SIGUSR1, then SIGTERM', async () => {
  const id = await start('sh', ['-c', "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.05; done"]);
  await untilOutput(id, 'ready');
  const r = await ok('console_signal_job', { jobId: id, signal: 'SIGUSR1', target: 'leader' });
  assert.equal(r.signal, 'SIGUSR1');
  assert.equal(r.target, 'leader');
  assert.equal(r.delivered, true);
  await untilOutput(id, 'got-usr1');
  await ok('console_signal_job', { jobId: id, signal: 'TERM' });
  const w = await waitExit(id);
  assert.equal(w.job.signal, 'SIGTERM');
});

step('pause', 'console_pause_job / console_resume_job: paused, pausedAt, then cancel while paused', async () => {
  const id = await start('sh', ['-c', 'yes > /dev/null']);
  await waitRunning(id);
  const p = await ok('console_pause_job', { jobId: id });
  assert.equal(p.job.paused, true);
  assert.equal(p.job.status, 'running');
  assert.ok(Date.parse(p.job.pausedAt) > 0, jsonText(p.job));
  const r = await ok('console_resume_job', { jobId: id });
  assert.equal(r.job.paused, false);
  await ok('console_pause_job', { jobId: id });
  const c = await ok('console_cancel_job', { jobId: id, options: { graceMs: 200 } });
  assert.equal(c.status, 'cancelled');
  jobs.get(id).status = 'cancelled';
});

step('restart', 'console_restart_job: the same spec again, restartOf points back', async () => {
  const id = await start('sh', ['-c', 'echo run-$X'], { environment: { X: 'again' } });
  await waitExit(id);
  const r = await ok('console_restart_job', { jobId: id });
  assert.notEqual(r.jobId, id);
  assert.equal(r.restartOf, id);
  jobs.set(r.jobId, { session: shown('default'), status: r.status });
  const w = await waitExit(r.jobId);
  assert.equal(w.job.restartOf, id);
  assert.ok(w.output.some((c) => c.content.includes('run-again')), jsonText(w.output));
});

step('wait-many', 'console_wait_job with jobIds: the first of three', async () => {
  const quick = await start('sleep', ['0.2']);
  const slow1 = await start('sleep', ['20']);
  const slow2 = await start('sleep', ['20']);
  const progress = [];
  const w = await ok('console_wait_job', { jobIds: [slow1, quick, slow2], mode: 'any', timeoutMs: 10_000 },
    { timeout: 20_000, onprogress: (p) => progress.push(p) });
  assert.deepEqual(w.ended, [quick]);
  assert.equal(w.jobs.length, 3);
  assert.equal(w.jobs[0].id, slow1);
  for (let i = 1; i < progress.length; ++i) assert.ok(progress[i].progress > progress[i - 1].progress);
  jobs.get(quick).status = 'completed';
  for (const id of [slow1, slow2]) {
    await ok('console_cancel_job', { jobId: id, options: { graceMs: 0 } });
    jobs.get(id).status = 'cancelled';
  }
});

step('idempotency', 'options.idempotencyKey: a retried submit returns the first job', async () => {
  const a = await ok('console_execute_async', { command: 'sleep', args: ['5'], options: { idempotencyKey: 'sdk-build-1' } });
  jobs.set(a.jobId, { session: shown('default'), status: a.status });
  const b = await ok('console_execute_async', { command: 'sleep', args: ['5'], options: { idempotencyKey: 'sdk-build-1' } });
  assert.equal(b.jobId, a.jobId);
  assert.equal(b.deduplicated, true);
  await ok('console_cancel_job', { jobId: a.jobId, options: { graceMs: 0 } });
  jobs.get(a.jobId).status = 'cancelled';
});

step('progress-bar', 'progress read from a \\r bar, and progress notifications carrying it', async () => {
  const id = await start('sh', ['-c', "for p in 10 30 60 90; do printf ' %s%%\\r' $p; sleep 0.15; done; exec sleep 30"]);
  const seen = [];
  await ok('console_wait_job', { jobId: id, timeoutMs: 1200 }, { onprogress: (p) => seen.push(p) });
  const j = await status(id);
  assert.equal(j.progress?.percent, 90, jsonText(j));
  assert.ok(seen.some((p) => p.total === 100), `no progress with total 100: ${jsonText(seen)}`);
  for (let i = 1; i < seen.length; ++i) assert.ok(seen[i].progress > seen[i - 1].progress, jsonText(seen));
  await ok('console_cancel_job', { jobId: id, options: { graceMs: 0 } });
  jobs.get(id).status = 'cancelled';
});

step('run-and-wait', 'options.waitMs: one call for a short command, a handle for a long one', async () => {
  const r = await ok('console_execute_async', { command: 'sh', args: ['-c', 'echo short; exit 2'], options: { waitMs: 10_000 } });
  jobs.set(r.jobId, { session: shown('default'), status: r.status });
  assert.equal(r.finished, true, jsonText(r));
  assert.equal(r.exitCode, 2);
  assert.ok(r.output.tail.includes('short'), jsonText(r));
  jobs.get(r.jobId).status = r.job.status;
  const long = await ok('console_execute_async', { command: 'sleep', args: ['20'], options: { waitMs: 300 } });
  jobs.set(long.jobId, { session: shown('default'), status: long.status });
  assert.equal(long.finished, false);
  assert.equal(long.status, 'running');
  await ok('console_cancel_job', { jobId: long.jobId, options: { graceMs: 0 } });
  jobs.get(long.jobId).status = 'cancelled';
});

step('usage', 'usage in status and metrics', async () => {
  const id = await start('sh', ['-c', 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done']);
  const w = await waitExit(id, 30_000);
  assert.ok(w.job.usage, jsonText(w.job));
  assert.ok(w.job.usage.cpuUserMs + w.job.usage.cpuSystemMs > 0, jsonText(w.job.usage));
  assert.ok(w.job.usage.maxRssKb > 0);
  const m = await ok('console_get_job_metrics');
  assert.ok(m.metrics.usage && m.metrics.usage.jobs >= 1, jsonText(m.metrics));
  assert.ok(m.metrics.sessions.some((s) => s.usage?.jobs >= 1), jsonText(m.metrics.sessions));
});

// -- workflows (issue 12) -----------------------------------------------------

step('depends-on', 'options.dependsOn: wait for all, then process; a failure cascades', async () => {
  const a = await start('sh', ['-c', 'sleep 0.3; echo a']);
  const b = await start('sh', ['-c', 'exit 4']);
  const after = await start('echo', ['processed'], { dependsOn: [a] });
  const j = await status(after);
  if (j.status === 'pending') {
    assert.equal(j.pendingReason, 'waiting_for_dependencies', jsonText(j));
    assert.deepEqual(j.waitingFor, [a]);
  }
  const done = await waitExit(after);
  assert.equal(done.job.status, 'completed', jsonText(done.job));
  const chained = await start('true', [], { dependsOn: [a, b] });
  const w = await waitExit(chained);
  assert.equal(w.job.status, 'cancelled');
  assert.equal(w.job.errorCode, 'DEPENDENCY_FAILED', jsonText(w.job));
  const alert = await start('echo', ['alert'], { dependsOn: [b], dependencyCondition: 'failure' });
  assert.equal((await waitExit(alert)).job.status, 'completed');
  await err('console_execute_async', { command: 'true', options: { dependsOn: ['job-0-nope0'] } }, 'JOB_NOT_FOUND');
});

step('retry', 'options.retry: a job that fails twice succeeds on its third attempt', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobd-sdk-retry-'));
  const script = `n=$(cat ${dir}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${dir}/n; echo try $n; [ $n -ge 3 ]`;
  const id = await start('sh', ['-c', script], { retry: { maxAttempts: 4, backoffMs: 50, jitter: false } });
  const w = await waitExit(id);
  assert.equal(w.job.status, 'completed', jsonText(w.job));
  assert.equal(w.job.attempt, 3);
  assert.equal(w.job.maxAttempts, 4);
  assert.equal(w.job.attempts.length, 3, jsonText(w.job.attempts));
  rmSync(dir, { recursive: true, force: true });
  const out = await ok('console_get_job_output', { jobId: id });
  assert.deepEqual(out.output.map((c) => c.attempt), [1, 2, 3], jsonText(out.output));
});

step('delay', 'options.delayMs: pending with scheduledFor, then runs', async () => {
  const id = await start('true', [], { delayMs: 400 });
  const j = await status(id);
  assert.equal(j.status, 'pending');
  assert.equal(j.pendingReason, 'scheduled', jsonText(j));
  assert.ok(Date.parse(j.scheduledFor) > Date.now() - 1000, jsonText(j));
  const w = await waitExit(id);
  assert.ok(Date.parse(w.job.startedAt) >= Date.parse(j.scheduledFor), jsonText(w.job));
});

step('templates', 'console_save_template / execute with params / list / delete', async () => {
  const saved = await ok('console_save_template', {
    name: 'sdk-greet', command: 'echo', args: ['hi', '{{who}}'],
    parameters: { who: { description: 'whom to greet', pattern: '[a-z ;$()]+' } },
  });
  assert.equal(saved.template.name, 'sdk-greet', jsonText(saved));
  const list = await ok('console_list_templates');
  assert.ok(list.templates.some((t) => t.name === 'sdk-greet'), jsonText(list));
  const sc = await ok('console_execute_async', { template: 'sdk-greet', params: { who: 'you; $(reboot)' } });
  jobs.set(sc.jobId, { session: shown('default'), status: sc.status });
  const w = await waitExit(sc.jobId);
  assert.equal(w.job.template, 'sdk-greet');
  const out = await ok('console_get_job_output', { jobId: sc.jobId });
  assert.equal(out.output.map((c) => c.content).join(''), 'hi you; $(reboot)\n');
  await err('console_execute_async', { template: 'sdk-greet', params: { who: 'UPPER' } }, 'INVALID_ARGUMENTS');
  await ok('console_delete_template', { name: 'sdk-greet' });
  await err('console_execute_async', { template: 'sdk-greet', params: { who: 'x' } }, 'TEMPLATE_NOT_FOUND');
});

step('schedules', 'console_create_schedule / list (next five firings) / update / delete', async () => {
  const created = await ok('console_create_schedule', {
    name: 'sdk-hourly', cron: '0 * * * *', timezone: 'America/New_York', command: 'echo', args: ['tick'],
  });
  const sid = created.schedule.scheduleId;
  assert.match(sid, /\S/, jsonText(created));
  const list = await ok('console_list_schedules');
  const mine = list.schedules.find((s) => s.scheduleId === sid);
  assert.ok(mine, jsonText(list));
  assert.equal(mine.nextFirings.length, 5);
  const times = mine.nextFirings.map((t) => Date.parse(t));
  for (let i = 1; i < 5; ++i) assert.equal(times[i] - times[i - 1], 3_600_000);
  const off = await ok('console_update_schedule', { scheduleId: sid, enabled: false });
  assert.deepEqual(off.schedule.nextFirings, [], jsonText(off));
  await ok('console_delete_schedule', { scheduleId: sid });
  await err('console_delete_schedule', { scheduleId: sid }, 'SCHEDULE_NOT_FOUND');
});

if (httpMode) step('shutdown', 'shutdown: DELETE ends the session, jobd keeps serving; SIGTERM: exit 0', async () => {
  const proc = httpProc;
  const errors = [...clientErrors];
  const sid = transport.sessionId;
  assert.match(sid ?? '', /^[0-9a-f]{32}$/, `Mcp-Session-Id: ${sid}`);
  await transport.terminateSession();
  assert.equal(transport.sessionId, undefined);
  await client.close();
  const again = await fetch(httpUrl, {
    method: 'POST',
    headers: { ...authHeaders, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
               'mcp-session-id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  await again.body?.cancel();
  assert.equal(again.status, 404, 'a request on the DELETEd session');
  // A new client is served.
  const c2 = new Client({ name: 'jobd-sdk-client-test-2', version: '1.0.0' }, { capabilities: {} });
  await c2.connect(new StreamableHTTPClientTransport(new URL(httpUrl), { requestInit: { headers: authHeaders } }),
    { timeout: 10_000 });
  await c2.ping();
  const mine = await c2.callTool({ name: 'console_list_jobs', arguments: { options: { limit: 1000 } } });
  // The jobs stay with the principal after its session ended.
  assert.ok(mine.structuredContent?.total >= 1, jsonText(mine.structuredContent));
  for (const j of mine.structuredContent.jobs) assert.ok(j.sessionId.startsWith(`${PRINCIPAL}/`), jsonText(j));
  await c2.close();
  assert.equal(proc.exitCode, null, 'jobd exited');
  const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  proc.kill('SIGTERM');
  const { code, signal } = await Promise.race([exited, sleep(5000).then(() => ({ code: 'none', signal: 'none' }))]);
  assert.equal(signal, null, `jobd was killed by ${signal}`);
  assert.equal(code, 0, `jobd exit code ${code} after SIGTERM`);
  assert.deepEqual(errors, [], 'the SDK reported protocol errors');
});
else step('shutdown', 'shutdown: jobd exits 0 when the client closes stdin', async () => {
  const proc = transport._process;
  assert.ok(proc, 'no child process');
  const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  await client.close();
  const { code, signal } = await Promise.race([exited, sleep(5000).then(() => ({ code: 'none', signal: 'none' }))]);
  assert.equal(signal, null, `jobd was killed by ${signal}`);
  assert.equal(code, 0, `jobd exit code ${code}`);
  assert.deepEqual(clientErrors, [], 'the SDK reported protocol errors');
});

// ---------------------------------------------------------------- run

let passed = 0;
const failed = [];
let skipped = 0;
// After a failed step, stop what it left running so later steps start clean.
async function cancelLeftovers() {
  try {
    const r = await client.callTool({ name: 'console_list_jobs',
      arguments: { options: { status: ['pending', 'running'], limit: 1000 } } });
    for (const j of r.structuredContent?.jobs ?? []) {
      await client.callTool({ name: 'console_cancel_job', arguments: { jobId: j.id, options: { graceMs: 200 } } });
      if (jobs.has(j.id)) jobs.get(j.id).status = 'cancelled';
    }
  } catch { /* what failed is reported by the step itself */ }
}
for (const s of steps) {
  currentStep = s.name;
  if (skip.has(s.key)) {
    ++skipped;
    console.log(`SKIP ${s.key}: ${s.name} (JOBD_SDK_SKIP)`);
    continue;
  }
  const t0 = Date.now();
  try {
    await s.fn();
    ++passed;
    console.log(`ok   ${s.key}: ${s.name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed.push(s.key);
    console.log(`FAIL ${s.key}: ${s.name} (${Date.now() - t0} ms)`);
    console.log(String(e?.stack ?? e).split('\n').map((l) => '     ' + l).join('\n'));
    if (jobdProcess()?.exitCode === null) await cancelLeftovers();
  }
}
if (jobdProcess()?.exitCode === null) await client.close().catch(() => {});
if (failed.length) {
  dumpStderr();
  if (clientErrors.length) console.log(`SDK protocol errors: ${jsonText(clientErrors)}`);
}
if (failed.length) console.log(`failed steps: ${failed.join(', ')}`);
console.log(`${testName}: ${passed} passed, ${failed.length} failed, ${skipped} skipped`);
process.exit(failed.length ? 1 : 0);
