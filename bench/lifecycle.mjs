// npm run bench (last part): what keeping secrets valid costs while the container runs.
//
// 1. 100 leased secrets (database-like credentials, renewable leases of 30 s) and one KV v2
//    secret read again every 30 s, held for a few minutes by dist/init as PID 1, and in the
//    same run by `bao agent` in process-supervisor mode (env_template + exec) when an OpenBao
//    binary is given (SESAME_BENCH_BAO=/path/to/bao, or `bao` on PATH). Each has its own Vault
//    test server (test/support/vault-server.ts, bundled here with esbuild), which counts the
//    requests. Halfway, the KV value changes: the time until the child runs with it is the
//    reload latency. Restarts with nothing changed must be 0.
// 2. The fleet: many inits started at once against one test server, a 60 s refresh and
//    leases of 2 minutes, for 5 minutes: the server's requests per second at peak against
//    the average after the first minute, and the restarts when one shared value changes
//    (each init exactly one, spread over the splay). The peak is the busiest stretch of a
//    sixth of the refresh interval (10 s), as a rate: a fleet in step would put a whole
//    interval's requests in one such stretch (6x the average). The busiest single second is
//    printed beside it with what a perfectly random spread of the same requests would give:
//    at about 3 requests a second, one second's count is Poisson noise (8 or 9 in some
//    second of 240), which no scheduling of independent inits can smooth.
//
// --quick: shorter runs and a smaller fleet, for a check on a shared machine.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import {
  CACHE, INIT, ROOT, childrenOf, commandLine, describeMachine, findInPath, fixed, memoryOf, parseCli, progress, sleep,
  startSession, stopSession, stopSessionsOnExit, table, until,
} from './common.mjs';

const cli = parseCli('usage: node bench/lifecycle.mjs [--quick] [--only agent|fleet] [--json FILE]\n  SESAME_BENCH_BAO=/path/to/bao adds bao agent (process supervisor mode) beside init');
if (cli.only && !['agent', 'fleet'].includes(cli.only)) {
  console.error(`--only: agent or fleet, not ${cli.only}`);
  process.exit(2);
}
const quick = cli.quick;
const SECRETS = 100;
const AGENT = quick
  ? { durationS: 60, leaseS: 15, refreshS: 15, warmS: 8 }
  : { durationS: 180, leaseS: 30, refreshS: 30, warmS: 30 };
const FLEET = quick
  ? { inits: 20, durationS: 100, refreshS: 20, leaseS: 40, splayS: 10, changeAtS: 60, settleS: 30 }
  : { inits: 100, durationS: 300, refreshS: 60, leaseS: 120, splayS: 30, changeAtS: 210, settleS: 60 };
/** The fleet's peak is taken over stretches of this many seconds (a sixth of the refresh). */
const WINDOW_S = Math.max(1, Math.round(FLEET.refreshS / 6));
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const TICKS = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s

mkdirSync(CACHE, { recursive: true });
const serverBundle = join(CACHE, 'vault-server.cjs');
await build({ entryPoints: [join(ROOT, 'test/support/vault-server.ts')], outfile: serverBundle, bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' });
const { startVault } = await import(serverBundle);
const work = mkdtempSync(join(tmpdir(), 'sesame-bench-life-'));
const others = new Set();
stopSessionsOnExit(() => {
  for (const child of others) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** The "start <ns>" lines a child wrote, as ms since the epoch. */
const starts = (file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split(' ').at(-1)) / 1e6) : []);

/** A child that notes each start with the time, then waits for ever (SIGTERM ends it). */
const child = (events, tag = '') => ['/bin/sh', '-c', `echo "start ${tag}$(date +%s%N)" >> ${events}; exec sleep 100000`];

async function leasedServer() {
  const vault = await startVault({ flavor: 'openbao' });
  for (let i = 0; i < SECRETS; i++) vault.addDatabaseRole(`r${i}`, { ttl: AGENT.leaseS, maxTtl: '24h' });
  vault.kvPut('secret', 'app', { version: 'one' });
  return vault;
}

/** One tool holding the secrets: its process, its child's events, its server. */
async function runInit(vault, events) {
  const vars = [`PATH=${PATH}`, `VAULT_ADDR=${vault.url}`, `VAULT_TOKEN=${vault.rootToken}`, 'APP=vault:secret/app#version',
    ...Array.from({ length: SECRETS }, (_, i) => `S${i}=vault:database/creds/r${i}#password`)];
  const session = startSession(['env', '-i', ...vars, INIT, '--refresh', `${AGENT.refreshS}s`, '--', ...child(events)]);
  session.init = await until(() => childrenOf(session.unshare.pid)[0], 10_000);
  return { name: 'sesame (dist/init)', pid: session.init, stop: () => stopSession(session) };
}

async function runAgent(bao, vault, events) {
  const dir = mkdtempSync(join(work, 'agent-'));
  writeFileSync(join(dir, 'token'), vault.rootToken);
  const templates = Array.from({ length: SECRETS }, (_, i) => `env_template "S${i}" { contents = "{{ with secret \\"database/creds/r${i}\\" }}{{ .Data.password }}{{ end }}" }`);
  writeFileSync(join(dir, 'agent.hcl'), [
    `vault { address = "${vault.url}" }`,
    `auto_auth { method "token_file" { config { token_file_path = "${join(dir, 'token')}" } } }`,
    `template_config { static_secret_render_interval = "${AGENT.refreshS}s" }`,
    'env_template "APP" { contents = "{{ with secret \\"secret/data/app\\" }}{{ .Data.data.version }}{{ end }}" }',
    ...templates,
    `exec { command = ${JSON.stringify(child(events))} restart_on_secret_changes = "always" }`,
    '',
  ].join('\n'));
  const agent = spawn(bao, ['agent', `-config=${join(dir, 'agent.hcl')}`], { stdio: ['ignore', 'ignore', 'ignore'], env: { PATH } });
  others.add(agent);
  return { name: 'bao agent', pid: agent.pid, stop: async () => { agent.kill('SIGTERM'); await new Promise((r) => agent.once('exit', r)); others.delete(agent); } };
}

/** Both tools at once, each against its own server, for AGENT.durationS. */
async function agentComparison(bao) {
  const runs = [];
  const sesameServer = await leasedServer();
  runs.push({ vault: sesameServer, events: join(work, 'init.events'), start: (v, e) => runInit(v, e) });
  if (bao) {
    const baoServer = await leasedServer();
    runs.push({ vault: baoServer, events: join(work, 'agent.events'), start: (v, e) => runAgent(bao, v, e) });
  }
  for (const run of runs) run.tool = await run.start(run.vault, run.events);
  for (const run of runs) {
    if (!(await until(() => starts(run.events).length > 0, 60_000, 50))) throw new Error(`${run.tool.name}: the child never started`);
  }
  progress(`holding ${SECRETS} leased secrets for ${AGENT.durationS} s (${runs.map((r) => r.tool.name).join(' and ')})`);
  await sleep(AGENT.warmS * 1000);
  for (const run of runs) {
    run.t0 = performance.now();
    run.requests0 = run.vault.requests.length;
    run.cpu0 = cpuSeconds(run.tool.pid);
    run.mem0 = memoryOf(run.tool.pid);
    run.samples = [run.mem0];
  }
  // VmRSS once a second: a collected heap's RSS rises between collections and falls at each,
  // so two readings differ by where each fell in that cycle (±1 MiB here). Growth, a leak, is
  // what the low points do: the lowest of the last third against the lowest of the first.
  const sampler = setInterval(() => {
    for (const run of runs) run.samples.push(memoryOf(run.tool.pid));
  }, 1000);
  const half = (AGENT.durationS * 1000) / 2;
  await sleep(half);
  for (const run of runs) run.memHalf = memoryOf(run.tool.pid);
  // The value changes on both servers at once; the reload latency is until the child's next start.
  const changedAt = Date.now();
  for (const run of runs) run.vault.kvPut('secret', 'app', { version: 'two' });
  await sleep(half);
  clearInterval(sampler);
  const rows = [];
  for (const run of runs) {
    const seconds = (performance.now() - run.t0) / 1000;
    const requests = run.vault.requests.length - run.requests0;
    const cpu = cpuSeconds(run.tool.pid) - run.cpu0;
    const mem1 = memoryOf(run.tool.pid);
    run.samples.push(mem1);
    const third = Math.floor(run.samples.length / 3);
    const lowest = (list) => Math.min(...list.map((m) => m.vmRssKb));
    const all = starts(run.events);
    const after = all.filter((t) => t >= changedAt);
    // Every start but the first one, and but one start after the change, came with nothing changed.
    const needless = (all.length - after.length - 1) + Math.max(0, after.length - 1);
    rows.push({
      tool: run.tool.name,
      startupRequests: run.requests0,
      requestsPerMinute: (requests / seconds) * 60,
      cpuPercent: (cpu / seconds) * 100,
      cpuSeconds: cpu,
      rssStartMiB: run.mem0.vmRssKb / 1024,
      rssGrowthKiB: mem1.vmRssKb - run.mem0.vmRssKb,
      rssGrowthSecondHalfKiB: mem1.vmRssKb - run.memHalf.vmRssKb,
      rssLowGrowthKiB: lowest(run.samples.slice(-third)) - lowest(run.samples.slice(0, third)),
      rssSamples: run.samples.length,
      // VmRSS = private (RssAnon + RssShmem) + RssFile (pages of the executable and
      // libraries, shared with every other process mapping them): growth of each.
      privateGrowthKiB: mem1.privateKb - run.mem0.privateKb,
      fileGrowthKiB: mem1.rssFileKb - run.mem0.rssFileKb,
      needlessRestarts: needless,
      reloadMs: after.length ? after[0] - changedAt : NaN,
      byPath: summarize(run.vault.requests.slice(run.requests0)),
    });
    await run.tool.stop();
    await run.vault.stop();
  }
  return rows;
}

/** Requests by kind, for the notes under the table. */
function summarize(requests) {
  const out = {};
  for (const r of requests) {
    const kind = `${r.method} ${r.path.replace(/^\/v1\//, '').replace(/\/r\d+$/, '/rN').replace(/^sys\/internal\/ui\/mounts\/.*/, 'sys/internal/ui/mounts/*')}`;
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

/**
 * What a perfectly random spread of requests at `rate` a second would give as the busiest of
 * `seconds` seconds: each second's count is then Poisson(rate). The median of that maximum,
 * and how often it stays within 3x the rate.
 */
function poissonPeak(rate, seconds) {
  const cdf = [];
  let term = Math.exp(-rate);
  let sum = term;
  for (let k = 0; k < 1000 && sum < 1 - 1e-12; k++) {
    cdf.push(sum);
    term *= rate / (k + 1);
    sum += term;
  }
  cdf.push(1);
  const maxAtMost = (k) => (k >= cdf.length ? 1 : cdf[k] ** seconds);
  let median = 0;
  while (maxAtMost(median) < 0.5) median++;
  return { median, withinThree: maxAtMost(Math.floor(3 * rate)) };
}

/** Many inits at once against one server: the request rate's shape, and one shared change. */
async function fleet() {
  const vault = await startVault();
  vault.addDatabaseRole('app', { ttl: FLEET.leaseS, maxTtl: '24h' });
  vault.kvPut('secret', 'shared', { value: 'one' });
  const events = join(work, 'fleet.events');
  const vars = [`PATH=${PATH}`, `VAULT_ADDR=${vault.url}`, `VAULT_TOKEN=${vault.rootToken}`, 'SHARED=vault:secret/shared#value', 'DB_PASSWORD=vault:database/creds/app#password'];
  progress(`starting ${FLEET.inits} inits at once (refresh ${FLEET.refreshS} s, leases ${FLEET.leaseS} s, splay ${FLEET.splayS} s) for ${FLEET.durationS} s`);
  const begin = performance.now();
  const beganAt = Date.now();
  // Each init's stderr to a file of its own (the shell execs init: it is still PID 1); a
  // generous secrets timeout, as 100 starts share two cores with the server.
  const errFile = (i) => join(work, `fleet-${i}.err`);
  const sessions = Array.from({ length: FLEET.inits }, (_, i) => startSession(['sh', '-c', `exec "$@" 2>>${errFile(i)}`, 'sh', 'env', '-i', ...vars, INIT,
    '--secrets-timeout', '120s', '--refresh', `${FLEET.refreshS}s`, '--splay', `${FLEET.splayS}s`, '--', ...child(events, `${i} `)]));
  await sleep(FLEET.changeAtS * 1000 - (performance.now() - begin));
  const changedAt = Date.now();
  vault.kvPut('secret', 'shared', { value: 'two' });
  await sleep(FLEET.durationS * 1000 - (performance.now() - begin));
  // Requests per second by when each arrived (the server notes it), not by a timer in this
  // busy process: a late timer tick would count more than a second in one bin.
  const secondOf = (r) => Math.floor((r.at - beganAt) / 1000);
  const perSecond = Array.from({ length: FLEET.durationS }, () => 0);
  for (const r of vault.requests) {
    const second = secondOf(r);
    if (second >= 0 && second < FLEET.durationS) perSecond[second]++;
  }
  const lines = readFileSync(events, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
  const byInit = new Map();
  for (const [, id, ns] of lines) byInit.set(id, [...(byInit.get(id) ?? []), Number(ns) / 1e6]);
  const restarts = [...byInit.values()].map((ts) => ts.filter((t) => t >= changedAt));
  const once = restarts.filter((r) => r.length === 1).length;
  const times = restarts.flat().map((t) => (t - changedAt) / 1000);
  const failed = sessions.map((s, i) => [s, i]).filter(([s]) => s.status !== undefined).map(([s, i]) => `init ${i} exited ${s.status}: ${readFileSync(errFile(i), 'utf8').trim().split('\n').at(-1)}`);
  for (const line of failed.slice(0, 5)) progress(line);
  const steady = perSecond.slice(FLEET.settleS);
  const average = steady.reduce((a, b) => a + b, 0) / steady.length;
  const peak = Math.max(...steady);
  const peakSecond = FLEET.settleS + steady.indexOf(peak);
  // The busiest WINDOW_S seconds (sliding by one second), as requests per second.
  const windows = steady.slice(0, steady.length - WINDOW_S + 1).map((_, i) => steady.slice(i, i + WINDOW_S).reduce((a, b) => a + b, 0) / WINDOW_S);
  const windowPeak = Math.max(...windows);
  await Promise.all(sessions.map(stopSession));
  await vault.stop();
  return {
    inits: FLEET.inits,
    started: byInit.size,
    exitedEarly: failed.length,
    startupPeak: Math.max(...perSecond.slice(0, FLEET.settleS)),
    peak,
    peakSecond,
    windowS: WINDOW_S,
    windowPeak,
    windowPeakAtS: FLEET.settleS + windows.indexOf(windowPeak),
    random: poissonPeak(average, steady.length),
    peakByPath: summarize(vault.requests.filter((r) => secondOf(r) === peakSecond)),
    average,
    byPath: summarize(vault.requests.filter((r) => secondOf(r) >= FLEET.settleS && secondOf(r) < FLEET.durationS)),
    perSecond,
    restartedOnce: once,
    restartsTotal: restarts.flat().length,
    firstRestartS: Math.min(...times),
    lastRestartS: Math.max(...times),
  };
}

const bao = process.env.SESAME_BENCH_BAO || findInPath('bao');
if (!bao) progress('bao agent: skipped (no OpenBao binary: set SESAME_BENCH_BAO=/path/to/bao or put bao on PATH)');
const agentRows = cli.only === 'fleet' ? [] : await agentComparison(bao);
const fleetRow = cli.only === 'agent' ? null : await fleet();

console.log(`## Secrets over time${quick ? ' (--quick)' : ''}\n`);
console.log(`command: ${commandLine(import.meta.url)}\nmachine: ${describeMachine()}\n`);
const kinds = (byPath) => Object.entries(byPath).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
if (agentRows.length) {
  console.log(`${SECRETS} leased secrets (renewable, ${AGENT.leaseS} s leases) + 1 KV v2 secret read every ${AGENT.refreshS} s, held ${AGENT.durationS} s after ${AGENT.warmS} s of warm-up (CPU and RSS are counted from then); the KV value changed once, halfway.\n`);
  console.log(table(['tool', '>requests at start', '>requests/min', '>CPU % of a core', '>RSS MiB', '>RSS growth KiB', '>2nd half KiB', '>low points growth KiB', '>private / file growth KiB', '>needless restarts', '>change to reload ms'], agentRows.map((r) => [
    r.tool, r.startupRequests, fixed(r.requestsPerMinute, 1), fixed(r.cpuPercent, 2), fixed(r.rssStartMiB, 1), r.rssGrowthKiB, r.rssGrowthSecondHalfKiB, r.rssLowGrowthKiB, `${r.privateGrowthKiB} / ${r.fileGrowthKiB}`, r.needlessRestarts, fixed(r.reloadMs, 0),
  ])));
  for (const r of agentRows) console.log(`\n${r.tool}, requests after start by kind: ${kinds(r.byPath)}`);
}
if (fleetRow) {
  console.log(`\nThe fleet: ${fleetRow.inits} inits started at once against one test server, --refresh ${FLEET.refreshS}s, renewable leases of ${FLEET.leaseS} s, --splay ${FLEET.splayS}s, ${FLEET.durationS} s; one shared value changed at ${FLEET.changeAtS} s.\n`);
  const w = fleetRow.windowS;
  console.log(table(['>inits', '>req/s peak (first ' + FLEET.settleS + ' s)', '>req/s average after', `>peak ${w} s after, req/s`, `>peak ${w} s / average`, '>busiest second', '>second / average', '>random spread: second / average', '>restarted exactly once', '>restarts', '>first..last restart s'], [[
    fleetRow.started, fleetRow.startupPeak, fixed(fleetRow.average, 2), fixed(fleetRow.windowPeak, 2), fixed(fleetRow.windowPeak / fleetRow.average, 2), fleetRow.peak, fixed(fleetRow.peak / fleetRow.average, 2),
    `${fixed(fleetRow.random.median / fleetRow.average, 2)} (<= 3 in ${fixed(100 * fleetRow.random.withinThree, 0)}% of runs)`,
    `${fleetRow.restartedOnce} of ${fleetRow.inits}`, fleetRow.restartsTotal, `${fixed(fleetRow.firstRestartS, 1)}..${fixed(fleetRow.lastRestartS, 1)}`,
  ]]));
  console.log(`\nThe fleet after the first ${FLEET.settleS} s, requests by kind: ${kinds(fleetRow.byPath)}; in the busiest second (${fleetRow.peakSecond} s): ${kinds(fleetRow.peakByPath)}; the busiest ${w} s began at ${fleetRow.windowPeakAtS} s.`);
  console.log(`"random spread": the median busiest second of ${FLEET.durationS - FLEET.settleS} s if the same number of requests came at random (Poisson), and how often that stays within 3x the average.`);
}

// ---- Targets (the issue's): one line each.
const verdicts = [];
const verdict = (ok, text) => verdicts.push(`${ok ? 'PASS' : 'FAIL'}  ${text}`);
const sesameRow = agentRows.find((r) => r.tool.startsWith('sesame'));
const agentRow = agentRows.find((r) => !r.tool.startsWith('sesame'));
if (sesameRow) {
  if (agentRow) verdict(sesameRow.requestsPerMinute < agentRow.requestsPerMinute, `fewer requests than bao agent: ${fixed(sesameRow.requestsPerMinute, 1)} against ${fixed(agentRow.requestsPerMinute, 1)} a minute`);
  verdict(sesameRow.needlessRestarts === 0, `no restart for an unchanged value: ${sesameRow.needlessRestarts}`);
  verdict(sesameRow.cpuPercent < 1, `CPU under 1% of a core: ${fixed(sesameRow.cpuPercent, 2)}%`);
  verdict(sesameRow.rssLowGrowthKiB < 1024, `RSS growth under 1 MiB (the low points of the last third against the first's): ${sesameRow.rssLowGrowthKiB} KiB (end against start: ${sesameRow.rssGrowthKiB})`);
}
if (fleetRow) {
  verdict(fleetRow.windowPeak <= 3 * fleetRow.average, `the fleet's peak at most 3x its average after the first ${FLEET.settleS} s (busiest ${fleetRow.windowS} s): ${fixed(fleetRow.windowPeak / fleetRow.average, 2)}x`);
  verdict(fleetRow.restartedOnce === fleetRow.inits, `every init of the fleet restarted exactly once for the shared change: ${fleetRow.restartedOnce} of ${fleetRow.inits}`);
}
if (verdicts.length) console.log(`\n${verdicts.join('\n')}`);
if (cli.json) writeFileSync(cli.json, JSON.stringify({ quick, agent: agentRows, fleet: fleetRow }, null, 2));
