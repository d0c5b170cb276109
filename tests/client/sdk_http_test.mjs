#!/usr/bin/env node
// The official MCP TypeScript SDK over Streamable HTTP against the jobd binary:
//
//   node sdk_http_test.mjs /path/to/jobd
//
// 1. Every step of sdk_client_test.mjs, over StreamableHTTPClientTransport
//    (sdk_client_test.mjs --http, in a process of its own).
// 2. One jobd shared by two HTTP clients of two principals (alice, bob), one
//    stdio client (principal "local") and an admin (--admin root), with
//    --max-concurrent-jobs 2: each client submits sleeps; each sees only its
//    own jobs (list, status, output, cancel, wait, resources, notifications);
//    the admin sees all; never more than 2 run at once (the admin's view and
//    /metrics polled, and the jobs' start and end times); jobd exits 0 when
//    the stdio client closes stdin.
// Exits 1 if anything failed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, 'node_modules', '@modelcontextprotocol', 'sdk'))) {
  console.error(`FAIL: ${join(here, 'node_modules')} is missing: the MCP SDK is not installed.\n` +
    `Run scripts/test.sh (it runs npm ci there) or: (cd ${here} && npm ci --no-audit --no-fund)`);
  process.exit(1);
}
const jobdPath = process.argv[2];
if (!jobdPath || !existsSync(jobdPath)) {
  console.error(`usage: node sdk_http_test.mjs /path/to/jobd (got: ${jobdPath ?? 'nothing'})`);
  process.exit(2);
}
const only = process.env.JOBD_SDK_HTTP_PART; // "steps" or "shared": one part only

const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport, getDefaultEnvironment } = await import('@modelcontextprotocol/sdk/client/stdio.js');
const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema } =
  await import('@modelcontextprotocol/sdk/types.js');

const GLOBAL_TIMEOUT_MS = 150_000;
setTimeout(() => {
  console.error(`FAIL: global timeout of ${GLOBAL_TIMEOUT_MS} ms reached`);
  dumpStderr();
  process.exit(1);
}, GLOBAL_TIMEOUT_MS).unref();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const jsonText = (v) => {
  const s = JSON.stringify(v);
  return s.length > 3000 ? s.slice(0, 3000) + '...' : s;
};
const stderrLines = [];
function dumpStderr() {
  if (stderrLines.length === 0) return;
  console.error('--- last lines of jobd stderr ---');
  for (const l of stderrLines.slice(-40)) console.error(l);
  console.error('--- end of jobd stderr ---');
}

let failures = 0;
const results = [];

// ------------------------------------------------------------ part 1: steps

if (!only || only === 'steps') {
  const t0 = Date.now();
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, 'sdk_client_test.mjs'), jobdPath, '--http'],
      { stdio: 'inherit' });
    child.on('exit', (c, sig) => resolve(sig ? 128 : c));
  });
  results.push(`steps over HTTP: ${code === 0 ? 'ok' : 'FAIL'} (${Date.now() - t0} ms)`);
  if (code !== 0) ++failures;
}

// ------------------------------------------------------------ part 2: shared

async function shared() {
  const dir = mkdtempSync(join(tmpdir(), 'jobd-sdk-http-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const tokens = {
    alice: 'alice-token-0123456789abcdef',
    bob: 'bob-token-0123456789abcdef',
    root: 'root-token-0123456789abcdef',
  };
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, Object.entries(tokens).map(([p, t]) => `${p}:${t}`).join('\n') + '\n', { mode: 0o600 });
  const LIMIT = 2;
  const env = getDefaultEnvironment();
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  // The stdio client's transport starts jobd (HTTP and stdio at once); the
  // HTTP address comes from its stderr.
  const stdioTransport = new StdioClientTransport({
    command: jobdPath, env, stderr: 'pipe',
    args: ['--http', '127.0.0.1:0', '--auth-token-file', tokenFile, '--admin', 'root', '--ephemeral',
           '--max-concurrent-jobs', String(LIMIT), '--kill-grace-ms', '500'],
  });
  let partial = '';
  let url = null;
  let urlSeen;
  const urlPromise = new Promise((r) => { urlSeen = r; });
  stdioTransport.stderr.on('data', (d) => {
    partial += d.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop();
    for (const l of lines) {
      stderrLines.push(l);
      const m = /jobd: serving MCP over HTTP at (http:\/\/\S+\/mcp)$/.exec(l);
      if (m && !url) { url = m[1]; urlSeen(url); }
    }
    if (stderrLines.length > 400) stderrLines.splice(0, stderrLines.length - 400);
  });
  const clientErrors = [];
  const mk = (name) => {
    const c = new Client({ name: `jobd-sdk-http-${name}`, version: '1.0.0' }, { capabilities: {} });
    c.onerror = (e) => clientErrors.push(`${name}: ${String(e?.message ?? e)}`);
    return c;
  };
  const local = mk('local');
  await local.connect(stdioTransport, { timeout: 10_000 });
  const proc = stdioTransport._process;
  process.on('exit', () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
  await Promise.race([urlPromise, sleep(10_000)]);
  assert.ok(url, 'no "jobd: serving MCP over HTTP at ..." line within 10 s');

  const httpClient = async (principal) => {
    const c = mk(principal);
    const t = new StreamableHTTPClientTransport(new URL(url),
      { requestInit: { headers: { Authorization: `Bearer ${tokens[principal]}` } } });
    await c.connect(t, { timeout: 10_000 });
    return { c, t };
  };
  const alice = await httpClient('alice');
  const bob = await httpClient('bob');
  const root = await httpClient('root');
  const clients = { alice: alice.c, bob: bob.c, local };

  // Notifications each client receives.
  const logs = { alice: [], bob: [], local: [] };
  const updates = { alice: [], bob: [], local: [] };
  for (const [p, c] of Object.entries(clients)) {
    c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs[p].push(JSON.stringify(n.params)));
    c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates[p].push(n.params.uri));
    await c.setLoggingLevel('info');
  }

  const call = async (c, name, args) => {
    const r = await c.callTool({ name, arguments: args }, undefined, { timeout: 30_000 });
    return r;
  };
  const ok = async (c, name, args) => {
    const r = await call(c, name, args);
    assert.notEqual(r.isError, true, `${name}(${jsonText(args)}): ${jsonText(r.structuredContent)}`);
    return r.structuredContent;
  };
  const notFound = async (c, name, args) => {
    const r = await call(c, name, args);
    assert.equal(r.isError, true, `${name}(${jsonText(args)}) of another principal's job: ${jsonText(r)}`);
    assert.equal(r.structuredContent?.code, 'JOB_NOT_FOUND', jsonText(r.structuredContent));
  };

  // Poll the admin's view and /metrics while the jobs run.
  let maxRunning = 0;
  let maxMetricRunning = 0;
  let polling = true;
  const metricsPoll = (async () => {
    while (polling) {
      try {
        const r = await fetch(url.replace(/\/mcp$/, '/metrics'),
          { headers: { Authorization: `Bearer ${tokens.root}` } });
        const text = await r.text();
        const m = /^jobd_jobs\{state="running"\} (\d+)/m.exec(text);
        if (m) maxMetricRunning = Math.max(maxMetricRunning, Number(m[1]));
      } catch { /* counted by the admin poll */ }
      await sleep(40);
    }
  })();
  const adminPoll = (async () => {
    while (polling) {
      const l = await ok(root.c, 'console_list_jobs', { options: { status: 'running', limit: 1000 } });
      maxRunning = Math.max(maxRunning, l.jobs.length);
      await sleep(40);
    }
  })();

  // Three sleeps per client, session "share" (each in its own namespace).
  const mine = { alice: [], bob: [], local: [] };
  for (let round = 0; round < 3; ++round) {
    for (const [p, c] of Object.entries(clients)) {
      const sc = await ok(c, 'console_execute_async',
        { command: 'sh', args: ['-c', `sleep 0.5; echo ${p}-${round}`], options: { sessionId: 'share' } });
      mine[p].push(sc.jobId);
    }
  }
  const all = Object.values(mine).flat();
  assert.equal(new Set(all).size, 9, 'job ids are not unique');

  // Isolation while they run.
  for (const [p, c] of Object.entries(clients)) {
    const l = await ok(c, 'console_list_jobs', { options: { limit: 1000 } });
    assert.deepEqual(l.jobs.map((j) => j.id).sort(), [...mine[p]].sort(), `${p} lists: ${jsonText(l.jobs)}`);
    for (const j of l.jobs) assert.equal(j.sessionId, `${p}/share`, jsonText(j));
    const s = await ok(c, 'console_list_jobs', { options: { sessionId: 'share', limit: 1000 } });
    assert.equal(s.total, 3, `${p}: session share: ${jsonText(s)}`);
    const res = await c.listResources();
    const jobUris = res.resources.map((r) => r.uri).filter((u) => /^job:\/\/[^/]+$/.test(u));
    assert.deepEqual(jobUris.sort(), mine[p].map((id) => `job://${id}`).sort(), `${p} resources/list`);
    for (const [q, ids] of Object.entries(mine)) {
      if (q === p) continue;
      const other = ids[2]; // still pending or running
      await notFound(c, 'console_get_job_status', { jobId: other });
      await notFound(c, 'console_get_job_output', { jobId: other });
      await notFound(c, 'console_cancel_job', { jobId: other });
      await notFound(c, 'console_wait_job', { jobId: other, timeoutMs: 50 });
      await notFound(c, 'console_wait_job', { jobIds: [mine[p][0], other], timeoutMs: 50 });
      await assert.rejects(c.readResource({ uri: `job://${other}` }), (e) => e?.code === -32002,
        `${p} reads job://${other}`);
    }
    await c.subscribeResource({ uri: `job://${mine[p][2]}` });
  }
  const everyone = await ok(root.c, 'console_list_jobs', { options: { limit: 1000 } });
  assert.deepEqual(everyone.jobs.map((j) => j.id).sort(), [...all].sort(), 'the admin does not see every job');
  for (const p of Object.keys(mine)) {
    assert.equal((await ok(root.c, 'console_get_job_status', { jobId: mine[p][1] })).job.sessionId, `${p}/share`);
  }

  // Each waits for its own jobs and reads its own output.
  for (const [p, c] of Object.entries(clients)) {
    const w = await ok(c, 'console_wait_job', { jobIds: mine[p], mode: 'all', timeoutMs: 20_000 });
    assert.equal(w.jobs.length, 3, jsonText(w));
    for (const [i, id] of mine[p].entries()) {
      const o = await ok(c, 'console_get_job_output', { jobId: id });
      assert.equal(o.output.map((x) => x.content).join(''), `${p}-${i}\n`);
    }
  }
  polling = false;
  await Promise.all([metricsPoll, adminPoll]);
  assert.ok(maxRunning <= LIMIT, `${maxRunning} jobs ran at once (limit ${LIMIT})`);
  assert.ok(maxMetricRunning <= LIMIT, `/metrics showed ${maxMetricRunning} running (limit ${LIMIT})`);
  assert.ok(maxRunning === LIMIT || maxMetricRunning === LIMIT,
    `never saw ${LIMIT} running at once (saw ${maxRunning} / ${maxMetricRunning}): the check proves nothing`);
  // Start and end times: at no instant more than LIMIT jobs (an end at the
  // same millisecond as a start counts first).
  const edges = [];
  for (const id of all) {
    const j = (await ok(root.c, 'console_get_job_status', { jobId: id })).job;
    assert.equal(j.status, 'completed', jsonText(j));
    edges.push([Date.parse(j.startedAt), 1], [Date.parse(j.finishedAt), -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (now += d));
  assert.ok(peak <= LIMIT, `by startedAt/finishedAt ${peak} jobs overlapped (limit ${LIMIT})`);

  // Notifications: never about another principal's jobs.
  await sleep(200);
  for (const p of Object.keys(clients)) {
    for (const [q, ids] of Object.entries(mine)) {
      if (q === p) continue;
      for (const id of ids) {
        const leak = logs[p].find((m) => m.includes(id));
        assert.equal(leak, undefined, `${p} got a log message about ${q}'s job ${id}`);
        assert.ok(!updates[p].some((u) => u.includes(id)), `${p} got resources/updated for ${q}'s job ${id}`);
      }
    }
    assert.ok(logs[p].some((m) => m.includes(mine[p][0])), `${p} got no log message about its own job`);
  }

  // DELETE ends alice's session only; bob still works; then stdin EOF stops jobd.
  await alice.t.terminateSession();
  await alice.c.close();
  assert.equal((await ok(bob.c, 'console_list_jobs', {})).total, 3);
  await bob.t.terminateSession();
  await bob.c.close();
  await root.t.terminateSession();
  await root.c.close();
  const errors = [...clientErrors];
  const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  await local.close();
  const { code, signal } = await Promise.race([exited, sleep(5000).then(() => ({ code: 'none', signal: 'none' }))]);
  assert.equal(signal, null, `jobd was killed by ${signal}`);
  assert.equal(code, 0, `jobd exit code ${code} after the stdio client closed stdin`);
  assert.deepEqual(errors, [], 'the SDK reported protocol errors');
  return `max running: admin view ${maxRunning}, /metrics ${maxMetricRunning}, by times ${peak}`;
}

if (!only || only === 'shared') {
  const t0 = Date.now();
  try {
    const what = await shared();
    results.push(`shared jobd (2 HTTP principals, stdio, admin): ok (${Date.now() - t0} ms; ${what})`);
  } catch (e) {
    ++failures;
    results.push(`shared jobd (2 HTTP principals, stdio, admin): FAIL (${Date.now() - t0} ms)`);
    console.log(String(e?.stack ?? e).split('\n').map((l) => '     ' + l).join('\n'));
    dumpStderr();
  }
}
for (const r of results) console.log(r);
console.log(`sdk_http: ${results.length - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
