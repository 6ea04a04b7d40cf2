// npm run bench:services: what supervising 20 services costs, dist/init next to supervisord
// running the same 20 programs, in one run.
//
//   node bench/services.mjs [--quick] [--json FILE]
//
// Each supervisor is PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`),
// as in a container: sesame as `dist/init -c services.yaml` (20 services, prefix default),
// supervisord as `supervisord -n -c supervisord.conf` with 20 [program:x] sections whose
// output goes to supervisord's stdout (stdout_logfile=/dev/stdout, maxbytes 0), the usual
// container setup. Every service is `sleep 100000`. Measured:
//   1. start: from spawning unshare until 20 `sleep` processes are children of the PID 1
//      (polled from /proc every 2 ms), one namespace at a time, alternating which goes first;
//   2. memory: VmRSS (and RssAnon) of the supervisor itself, 1 s after all 20 run;
//   3. idle CPU: the supervisor's own CPU time over a window with nothing happening, both
//      supervisors running side by side in the same window (schedstat, ns resolution, summed
//      over threads; utime+stime has 10 ms ticks), plus context switches as wakeups. The
//      window starts 15 s after all services run: sesame (V8) does one garbage collection
//      ~8 s after start (the memory reducer: tens of ms of CPU, RSS down by a few MiB) and
//      nothing after it, so that one-off is reported on its own row, not as idle cost;
//   4. stop: from SIGTERM to the PID 1 until unshare has reaped it (the namespace is then
//      empty: every service stopped), in the same runs as 1 and 2.
// Medians; compare numbers only within one run. Tables go to stdout, progress to stderr.
// Everything started here is killed before the bench exits: unshare --kill-child, so killing
// the namespace's PID 1 takes the whole namespace down.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import {
  INIT, NODE, ROOT, UNSHARE, aptGetInstall, childrenOf, commandLine, describeMachine, dropPageCache, findInPath, fixed, initIdentity,
  median, memoryOf, mib, parseCli, progress, quantile, rel, sessions, sleep, startSession, stopSession, stopSessionsOnExit, table, until,
  unshareWorks,
} from './common.mjs';

const SERVICES = 20;
const PROGRAM = ['sleep', '100000'];
const PROGRAM_COMM = 'sleep';
const POLL_MS = 2;
const SETTLE_MS = 1000;
/** After V8's memory reducer (its first GC comes ~8 s after start): from here on, idle is idle. */
const IDLE_SETTLE_MS = 15_000;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 30_000;
const CLOCK_TICK_MS = 1000 / 100; // USER_HZ: 100 on every Linux architecture that matters here

const cli = parseCli('usage: node bench/services.mjs [--quick] [--json FILE]');
const N = cli.quick
  ? { cycles: 5, warmup: 1, idleRounds: 1, idleWindowMs: 5_000 }
  : { cycles: 15, warmup: 2, idleRounds: 3, idleWindowMs: 10_000 };

// ---- Namespaces: every exit path ends them, and removes the work directory.
let workDir;
stopSessionsOnExit(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// ---- /proc.
const comm = (pid) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return null; } };
/** Running services: children that have exec'd the program (before exec a child still has its parent's name). */
const programsOf = (init) => childrenOf(init).filter((c) => comm(c) === PROGRAM_COMM).length;

/** The process's own CPU (not its children's): schedstat summed over threads, utime+stime, context switches. */
function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let schedNs = 0;
  let switches = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      schedNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      switches += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)[1]) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)[1]);
    } catch { /* thread gone */ }
  }
  return { schedNs, ticksMs: (Number(f[11]) + Number(f[12])) * CLOCK_TICK_MS, switches };
}

// ---- The two supervisors and their configs.
function sesameConfig() {
  const lines = ['services:'];
  for (let i = 1; i <= SERVICES; i++) lines.push(`  s${String(i).padStart(2, '0')}:`, `    command: [${PROGRAM.map((a) => JSON.stringify(a)).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

function supervisordConfig(dir) {
  const lines = [
    '[supervisord]',
    'nodaemon=true',
    'user=root',
    'logfile=/dev/null',
    'logfile_maxbytes=0',
    `pidfile=${join(dir, 'supervisord.pid')}`,
    '',
  ];
  for (let i = 1; i <= SERVICES; i++) {
    lines.push(
      `[program:s${String(i).padStart(2, '0')}]`,
      `command=${PROGRAM.join(' ')}`,
      'stdout_logfile=/dev/stdout',
      'stdout_logfile_maxbytes=0',
      'stderr_logfile=/dev/stderr',
      'stderr_logfile_maxbytes=0',
      '',
    );
  }
  return lines.join('\n');
}

function resolveSupervisord() {
  let bin = findInPath('supervisord');
  // Debian images ship /usr/sbin/policy-rc.d (exit 101), so the package does not start a daemon of its own.
  if (!bin && aptGetInstall(['supervisor'])) bin = findInPath('supervisord');
  if (!bin) {
    console.error('supervisord not found (install the Debian package supervisor); nothing to compare with');
    process.exit(1);
  }
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const python = spawnSync('python3', ['--version'], { encoding: 'utf8' }).stdout.trim();
  return { bin, version: `${version}${python ? ` (${python})` : ''}` };
}

// ---- 1, 2 and 4: start, memory after settling, stop; one namespace at a time.
async function cycle(entry) {
  const t0 = performance.now();
  const s = startSession(entry.argv);
  const result = { startMs: NaN, memory: null, stopMs: NaN, status: null, error: null };
  try {
    s.init = await until(() => childrenOf(s.unshare.pid)[0], START_TIMEOUT_MS, POLL_MS);
    if (!s.init) throw new Error('PID 1 did not start');
    if (!(await until(() => programsOf(s.init) >= SERVICES, START_TIMEOUT_MS, POLL_MS))) throw new Error(`not all ${SERVICES} services started (${programsOf(s.init)})`);
    result.startMs = performance.now() - t0;
    await sleep(SETTLE_MS);
    const running = programsOf(s.init);
    if (running !== SERVICES) throw new Error(`${running} of ${SERVICES} services running after ${SETTLE_MS} ms`);
    result.memory = memoryOf(s.init);
    const t2 = performance.now();
    process.kill(s.init, 'SIGTERM');
    const t3 = await Promise.race([s.exited, sleep(STOP_TIMEOUT_MS).then(() => null)]);
    if (t3 === null) throw new Error(`still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM`);
    result.stopMs = t3 - t2;
    result.status = s.status;
  } catch (error) {
    result.error = error.message;
  } finally {
    if (sessions.has(s)) await stopSession(s);
  }
  return result;
}

async function measureCycles(entries) {
  progress(`start / memory / stop: ${N.warmup} warmup + ${N.cycles} cycles per supervisor, ${SETTLE_MS} ms settle, alternating order`);
  const results = entries.map(() => ({ startMs: [], memory: [], stopMs: [], statuses: [], errors: [] }));
  for (let round = 0; round < N.warmup + N.cycles; round++) {
    for (let k = 0; k < entries.length; k++) {
      const i = (round + k) % entries.length;
      const r = await cycle(entries[i]);
      if (round < N.warmup) continue;
      const into = results[i];
      if (r.error) into.errors.push(r.error);
      if (Number.isFinite(r.startMs)) into.startMs.push(r.startMs);
      if (r.memory) into.memory.push(r.memory);
      if (Number.isFinite(r.stopMs)) into.stopMs.push(r.stopMs);
      if (r.status !== null) into.statuses.push(r.status);
    }
  }
  return results;
}

// ---- 3. Idle CPU: both supervisors side by side, read over the same window.
async function measureIdle(entries) {
  progress(`idle CPU: ${N.idleRounds} round(s) of ${N.idleWindowMs / 1000} s from ${IDLE_SETTLE_MS / 1000} s after start, both supervisors at once`);
  const results = entries.map(() => ({ settleCpuMs: [], cpuMsPerMin: [], ticksMsPerMin: [], switchesPerMin: [], memory: [], errors: [] }));
  for (let round = 0; round < N.idleRounds; round++) {
    const order = entries.map((_, k) => (round + k) % entries.length);
    const running = new Map(order.map((i) => [i, startSession(entries[i].argv)]));
    try {
      for (const [i, s] of running) {
        s.init = await until(() => childrenOf(s.unshare.pid)[0], START_TIMEOUT_MS, POLL_MS);
        s.ready = Boolean(s.init) && Boolean(await until(() => programsOf(s.init) >= SERVICES, START_TIMEOUT_MS, POLL_MS));
        if (!s.ready) results[i].errors.push('did not start all services');
      }
      await sleep(SETTLE_MS);
      const ready = [...running].filter(([, s]) => s.ready);
      const settling = new Map(ready.map(([i, s]) => [i, cpuOf(s.init)]));
      await sleep(IDLE_SETTLE_MS - SETTLE_MS);
      const before = new Map(ready.map(([i, s]) => [i, { cpu: cpuOf(s.init), at: performance.now() }]));
      for (const [i, b] of before) results[i].settleCpuMs.push((b.cpu.schedNs - settling.get(i).schedNs) / 1e6);
      await sleep(N.idleWindowMs);
      for (const [i, b] of before) {
        const s = running.get(i);
        try {
          const after = cpuOf(s.init);
          const perMin = 60_000 / (performance.now() - b.at);
          results[i].cpuMsPerMin.push(((after.schedNs - b.cpu.schedNs) / 1e6) * perMin);
          results[i].ticksMsPerMin.push((after.ticksMs - b.cpu.ticksMs) * perMin);
          results[i].switchesPerMin.push((after.switches - b.cpu.switches) * perMin);
          results[i].memory.push(memoryOf(s.init));
          if (programsOf(s.init) !== SERVICES) results[i].errors.push('a service ended during the idle window');
        } catch (error) {
          results[i].errors.push(error.message);
        }
      }
    } finally {
      await Promise.all([...running.values()].map(stopSession));
    }
  }
  return results;
}

// ---- Main.
const started = Date.now();
const loadAtStart = os.loadavg();
if (!existsSync(INIT)) {
  console.error(`${rel(INIT)} is missing: run npm run build first`);
  process.exit(1);
}
const initAtStart = initIdentity();
if (!unshareWorks()) {
  console.error('`unshare --pid` does not work here (it needs root): nothing to measure');
  process.exit(1);
}
const supervisord = resolveSupervisord();
const nodeVersion = existsSync(NODE) ? execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim() : '?';
const sesameVersion = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

workDir = mkdtempSync(join(os.tmpdir(), 'sesame-bench-services-'));
const sesameYaml = join(workDir, 'services.yaml');
const supervisordConf = join(workDir, 'supervisord.conf');
writeFileSync(sesameYaml, sesameConfig());
writeFileSync(supervisordConf, supervisordConfig(workDir));
dropPageCache(INIT);

const entries = [
  { name: 'sesame', label: `sesame ${sesameVersion} (dist/init, node ${nodeVersion})`, argv: [INIT, '-c', sesameYaml] },
  { name: 'supervisord', label: `supervisord ${supervisord.version}`, argv: [supervisord.bin, '-n', '-c', supervisordConf] },
];
const cycles = await measureCycles(entries);
const idle = await measureIdle(entries);
const loadAtEnd = os.loadavg();

// ---- Report.
const command = commandLine(import.meta.url);
const medianOf = (samples, key) => median(samples.map((s) => s[key]));
const rows = [
  { metric: `start → all ${SERVICES} running, median ms`, digits: 1, values: cycles.map((r) => median(r.startMs)) },
  { metric: `VmRSS of the supervisor, ${SETTLE_MS / 1000} s after, median MiB`, digits: 1, values: cycles.map((r) => mib(medianOf(r.memory, 'vmRssKb'))) },
  { metric: '  of which RssAnon, median MiB', digits: 1, values: cycles.map((r) => mib(medianOf(r.memory, 'rssAnonKb'))) },
  { metric: `VmRSS once idle (${(IDLE_SETTLE_MS + N.idleWindowMs) / 1000} s after), median MiB`, digits: 1, values: idle.map((r) => mib(medianOf(r.memory, 'vmRssKb'))) },
  { metric: `CPU from ${SETTLE_MS / 1000} s to ${IDLE_SETTLE_MS / 1000} s after start (one-off GC), ms`, digits: 1, values: idle.map((r) => median(r.settleCpuMs)) },
  { metric: 'idle CPU, ms per minute (schedstat)', digits: 2, values: idle.map((r) => median(r.cpuMsPerMin)) },
  { metric: 'idle CPU, ms per minute (utime+stime, 10 ms ticks)', digits: 1, values: idle.map((r) => median(r.ticksMsPerMin)) },
  { metric: 'idle context switches per minute', digits: 0, values: idle.map((r) => median(r.switchesPerMin)) },
  { metric: `SIGTERM → exit, all ${SERVICES} stopped, median ms`, digits: 1, values: cycles.map((r) => median(r.stopMs)) },
];
/** sesame / supervisord; two significant digits below 1, so that 0.0036× does not show as 0.00×. */
const ratio = (a, b) => {
  const r = a / b;
  if (!Number.isFinite(r)) return '–';
  return `${r === 0 ? '0' : r < 1 ? r.toPrecision(2) : r.toFixed(2)}×`;
};

const out = [];
out.push(`# sesame services bench, ${new Date(started).toISOString()}`, '');
out.push(`command: ${command}${cli.quick ? ' (quick: fewer iterations)' : ''}`);
out.push(`machine: ${describeMachine()}`);
out.push(`load average at start: ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}; at end: ${loadAtEnd.map((x) => x.toFixed(2)).join(' ')}`);
out.push(`supervisors: ${entries.map((e) => e.label).join('; ')}`);
out.push(`services: ${SERVICES} × \`${PROGRAM.join(' ')}\`, each supervisor as PID 1 of \`${UNSHARE.join(' ')}\`, stdout/stderr on /dev/null`);
out.push(`configs: sesame ${SERVICES} services, defaults (prefix on, restart no); supervisord ${SERVICES} [program:x], defaults (autorestart unexpected, startsecs 1), output to /dev/stdout and /dev/stderr with maxbytes 0, logfile=/dev/null`, '');
out.push(`## ${SERVICES} services: sesame next to supervisord (start/memory/stop: n=${N.cycles} each, alternating; idle: ${N.idleRounds} × ${N.idleWindowMs / 1000} s side by side, from ${IDLE_SETTLE_MS / 1000} s after start)`, '');
out.push(table(['metric', '>sesame', '>supervisord', '>ratio'], rows.map((r) => [r.metric, fixed(r.values[0], r.digits), fixed(r.values[1], r.digits), ratio(r.values[0], r.values[1])])), '');
out.push('ratio: sesame / supervisord (below 1: sesame is faster or smaller).', '');
out.push('## Spread', '');
out.push(table(['supervisor', '>start p10 ms', '>start p90 ms', '>stop p10 ms', '>stop p90 ms', '>threads', 'exit status after SIGTERM'], entries.map((e, i) => {
  const r = cycles[i];
  const statuses = [...new Set(r.statuses)].join(',');
  return [e.name, fixed(quantile(r.startMs, 0.1), 1), fixed(quantile(r.startMs, 0.9), 1), fixed(quantile(r.stopMs, 0.1), 1), fixed(quantile(r.stopMs, 0.9), 1), fixed(medianOf(r.memory, 'threads'), 0), statuses || '–'];
})), '');
for (const [i, e] of entries.entries()) {
  for (const err of new Set([...cycles[i].errors, ...idle[i].errors])) out.push(`${e.name}: ${err}`);
}
if (initIdentity() !== initAtStart) out.push(`WARNING: ${rel(INIT)} was replaced during the run (a build?): these numbers mix two builds.`);
out.push(`took ${Math.round((Date.now() - started) / 1000)} s`);
console.log(out.join('\n'));

if (cli.json) {
  writeFileSync(cli.json, `${JSON.stringify({
    date: new Date(started).toISOString(),
    command,
    quick: cli.quick,
    machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model.trim(), kernel: os.release(), loadAtStart, loadAtEnd },
    supervisors: entries.map(({ name, label, argv }) => ({ name, label, argv })),
    cycles: entries.map((e, i) => ({ name: e.name, ...cycles[i] })),
    idle: entries.map((e, i) => ({ name: e.name, ...idle[i] })),
    rows: rows.map(({ metric, values }) => ({ metric, sesame: values[0], supervisord: values[1] })),
  }, null, 2)}\n`);
  progress(`raw numbers written to ${cli.json}`);
}
