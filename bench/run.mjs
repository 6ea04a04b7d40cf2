// npm run bench: dist/init against tini, dumb-init and catatonit, all in one run, and the
// project's targets as ratios from that same run.
//
//   node bench/run.mjs [--quick] [--json FILE] [--previous FILE]
//
// --previous: another build of init (e.g. one made from an earlier commit) measured beside
// dist/init for start-up and idle memory, with a target on the private memory difference.
//
// Each measurement interleaves the inits (round-robin, rotating the order), so machine noise
// hits all of them alike; compare numbers only within one run.
// Tables go to stdout, progress to stderr.
// Everything started here is killed before the bench exits: PID-1 runs use unshare
// --kill-child, so killing unshare or the namespace's init takes the whole namespace down.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import {
  CACHE, INIT, MIB, NODE, ROOT, STOP_SIGNALS, UNSHARE, aptGetInstall, childrenOf, commandLine, compile,
  describeMachine, dropPageCache, exitInterrupted, findInPath, fixed, initIdentity, median, memoryOf, mib, parseCli, progress, quantile, wakeupsOf,
  rel, sleep, startSession, stopSession, stopSessionsOnExit, table, until, unshareWorks,
} from './common.mjs';

const ADDON = join(ROOT, 'dist/init.node');
const ORPHANS = 2000;
const ORPHANS_EXIT = 7;
const SIGNAL = 'SIGUSR2'; // not TERM/INT: those start init's grace-period timer
const SIGNAL_GAP_MS = 20;
const SETTLE_MS = 1000;
/** Wake-ups are counted over this window, right after the memory reading. */
const WAKE_MS = 5000;

const cli = parseCli('usage: node bench/run.mjs [--quick] [--json FILE] [--previous FILE]');
const PREVIOUS = cli.previous ? realpathSync(cli.previous) : null;
const N = cli.quick
  ? { startupRounds: 20, warmupRounds: 2, idleRounds: 3, signals: 20, orphanRounds: 3 }
  : { startupRounds: 100, warmupRounds: 3, idleRounds: 5, signals: 60, orphanRounds: 5 };

// ---- Namespaces started in the background (the idle measurement): every exit path ends them.
// The rest runs under spawnSync, with a timeout, or in the runner, which cleans up itself.
stopSessionsOnExit();

// ---- The peers: how each one is normally invoked, as PID 1 and as a plain child.
const PEER_SPECS = [
  // Not PID 1, tini complains and orphans escape it unless it registers as a subreaper (-s);
  // the other three become subreapers by themselves.
  { name: 'tini', pkg: 'tini', startup: (bin, cmd) => [bin, '-s', '--', ...cmd], pid1: (bin, cmd) => [bin, '--', ...cmd] },
  { name: 'dumb-init', pkg: 'dumb-init', startup: (bin, cmd) => [bin, ...cmd], pid1: (bin, cmd) => [bin, ...cmd] },
  { name: 'catatonit', pkg: 'catatonit', startup: (bin, cmd) => [bin, '--', ...cmd], pid1: (bin, cmd) => [bin, '--', ...cmd] },
];

/** sesame and the peers that are installed (installing them when possible), and the rest. */
function resolvePeers() {
  let missing = PEER_SPECS.filter((p) => !findInPath(p.name));
  if (missing.length && aptGetInstall(['tini', 'dumb-init', 'catatonit', 'time'], `missing ${missing.map((p) => p.pkg).join(', ')}`)) {
    missing = PEER_SPECS.filter((p) => !findInPath(p.name));
  }
  for (const p of missing) progress(`${p.name} not found (install the Debian package ${p.pkg}); skipping it`);
  const sesame = { name: 'sesame', bin: INIT, version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, startup: (bin, cmd) => [bin, '--', ...cmd], pid1: (bin, cmd) => [bin, '--', ...cmd] };
  const found = PEER_SPECS.filter((p) => !missing.includes(p)).map((p) => ({ ...p, bin: findInPath(p.name), version: packageVersion(p.pkg) }));
  return { peers: [sesame, ...found], skipped: missing.map((p) => p.name) };
}

function packageVersion(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '?';
}

// ---- Formatting (statistics and tables: common.mjs).
const bytes = (n) => n.toLocaleString('en-US');

// ---- The runner (bench/programs/runner.c, compiled at bench start: cc is needed anyway for the addon).
function runRunner(args, timeoutMs) {
  const r = spawnSync(RUNNER, args.map(String), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: timeoutMs });
  // Ctrl-C reaches the runner too (same process group): stop as interrupted, not as failed.
  if (!r.error && STOP_SIGNALS.includes(r.signal)) exitInterrupted(r.signal);
  if (r.error || r.status !== 0) throw new Error(`runner ${args[0]} failed: ${r.error?.message ?? `status ${r.status}, signal ${r.signal}`}`);
  return r.stdout.trim().split('\n').map((l) => l.split(' '));
}

/** The runner takes its commands as one argv, separated by ':::'. */
const joinCommands = (cmds) => cmds.flatMap((c, i) => (i ? [':::', ...c] : c));

// ---- 1. Startup overhead and peak RSS, not as PID 1.
function measureStartup(entries) {
  progress(`startup: ${N.startupRounds} rounds of ${entries.length} commands`);
  const lines = runRunner(['startup', N.startupRounds, N.warmupRounds, ...joinCommands(entries.map((e) => e.argv))], 300_000);
  const results = entries.map(() => ({ wallNs: [], maxRssKb: [], failedStatuses: [] }));
  for (const [i, wall, rss, status] of lines) {
    const r = results[Number(i)];
    r.wallNs.push(Number(wall));
    r.maxRssKb.push(Number(rss));
    if (status !== '0') r.failedStatuses.push(Number(status));
  }
  return results;
}

// ---- 2. Idle memory as PID 1: all inits of a round start together and are read together.
async function measureIdle(entries) {
  progress(`idle RSS as PID 1: ${N.idleRounds} rounds, ${SETTLE_MS} ms settle`);
  const results = entries.map(() => ({ samples: [], wakeupsPerMin: [], failures: 0 }));
  for (let round = 0; round < N.idleRounds; round++) {
    const order = entries.map((_, k) => (round + k) % entries.length);
    const running = new Map(order.map((i) => [i, startSession(entries[i].argv)]));
    try {
      for (const [i, s] of running) {
        s.init = await until(() => childrenOf(s.unshare.pid)[0]);
        // An init is idle once its child (sleep) exists; the node floor has none.
        s.ready = Boolean(s.init) && (!entries[i].hasChild || Boolean(await until(() => childrenOf(s.init).length)));
      }
      await sleep(SETTLE_MS);
      const before = new Map();
      for (const [i, s] of running) {
        try {
          if (!s.ready) throw new Error('not started');
          results[i].samples.push(memoryOf(s.init));
          before.set(i, wakeupsOf(s.init));
        } catch {
          results[i].failures++;
        }
      }
      await sleep(WAKE_MS);
      for (const [i, n] of before) {
        try { results[i].wakeupsPerMin.push(((wakeupsOf(running.get(i).init) - n) * 60_000) / WAKE_MS); } catch { /* gone */ }
      }
    } finally {
      await Promise.all([...running.values()].map(stopSession));
    }
  }
  return results;
}

// ---- 3. Signal forwarding latency as PID 1, sent and timed by the runner.
function measureSignals(entries) {
  progress(`signal forwarding: ${N.signals} × ${SIGNAL} per init, ${SIGNAL_GAP_MS} ms apart`);
  const cmds = entries.map((e) => [...UNSHARE, ...e.argv]);
  const lines = runRunner(['siglat', N.signals, SIGNAL_GAP_MS, os.constants.signals[SIGNAL], ...joinCommands(cmds)], 120_000);
  const results = entries.map(() => ({ latencyNs: [], lost: 0, failedToStart: false }));
  for (const [i, ns] of lines) {
    if (ns === 'failed') results[Number(i)].failedToStart = true;
    else if (ns === 'lost') results[Number(i)].lost++;
    else results[Number(i)].latencyNs.push(Number(ns));
  }
  return results;
}

// ---- 4. Reaping orphans as PID 1, and passing the child's exit code through.
async function measureOrphans(entries) {
  progress(`reaping: ${N.orphanRounds} rounds of ${ORPHANS} orphans per init`);
  const results = entries.map(() => ({ reapUs: [], statuses: [], errors: [] }));
  for (let round = 0; round < N.orphanRounds; round++) {
    for (let k = 0; k < entries.length; k++) {
      const i = (round + k) % entries.length;
      // spawnSync blocks the event loop: let a pending Ctrl-C be handled between runs.
      await new Promise((resolve) => setImmediate(resolve));
      // SIGKILL on timeout: unshare blocks SIGTERM, and --kill-child then ends the namespace.
      const r = spawnSync(UNSHARE[0], [...UNSHARE.slice(1), ...entries[i].argv], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
      const m = /orphans (\d+) reaped in (\d+) us/.exec(r.stdout ?? '');
      if (m) results[i].reapUs.push(Number(m[2]));
      results[i].statuses.push(r.status ?? r.signal);
      if (!m || r.status !== ORPHANS_EXIT) results[i].errors.push((r.error?.message ?? r.stderr.trim()) || `no result, status ${r.status ?? r.signal}`);
    }
  }
  return results;
}

// ---- Main.
const started = Date.now();
const loadAtStart = os.loadavg();
mkdirSync(CACHE, { recursive: true });
if (!existsSync(INIT)) {
  console.error(`${rel(INIT)} is missing: run npm run build first (npm run bench does)`);
  process.exit(1);
}
// Another build replacing dist/init mid-run would mix two builds' numbers: noticed at the end.
const initAtStart = initIdentity();
const RUNNER = compile(join(ROOT, 'bench/programs/runner.c'), 'runner');
const SIGSTAMP = compile(join(ROOT, 'bench/programs/sigstamp.c'), 'sigstamp');
const ORPHANS_BIN = compile(join(ROOT, 'test/support/programs/orphans.c'), 'orphans');
const { peers, skipped } = resolvePeers();
const nodeVersion = execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim();
const canUnshare = unshareWorks();
if (!canUnshare) progress('`unshare --pid` does not work here (it needs root): skipping the PID-1 measurements');

for (const file of [INIT, NODE]) dropPageCache(file);

const startupEntries = [
  { row: '/bin/true (floor)', argv: ['/bin/true'] },
  { row: `node -e 0 (floor, ${nodeVersion})`, argv: [NODE, '-e', '0'] },
  ...peers.map((p) => ({ peer: p.name, argv: p.startup(p.bin, ['/bin/true']) })),
  ...(PREVIOUS ? [{ row: `sesame, previous build (${PREVIOUS})`, argv: [PREVIOUS, '--', '/bin/true'] }] : []),
];
for (const e of startupEntries) e.row ??= [rel(e.argv[0]), ...e.argv.slice(1)].join(' ');
const startup = measureStartup(startupEntries);

const pid1Entries = (cmd) => peers.map((p) => ({ peer: p.name, argv: p.pid1(p.bin, cmd), hasChild: true }));
const idleEntries = [...pid1Entries(['sleep', '60']), { row: `node (floor, ${nodeVersion})`, argv: [NODE, '-e', 'setInterval(()=>{},1e9)'], hasChild: false },
  ...(PREVIOUS ? [{ row: `sesame, previous build (${PREVIOUS})`, argv: [PREVIOUS, '--', 'sleep', '60'], hasChild: true }] : [])];
// The same build before its one-file step (build.mjs step 5: Node's dynamic executable with
// the system's glibc, the addon beside it): what the one file costs each container.
const BEFORE_ONE_FILE = join(ROOT, 'dist/.cache/init-sea');
if (!PREVIOUS && existsSync(BEFORE_ONE_FILE)) {
  idleEntries.push({ row: 'sesame before the one-file step (dist/.cache/init-sea)', argv: ['env', `SESAME_NATIVE=${ADDON}`, BEFORE_ONE_FILE, '--', 'sleep', '60'], hasChild: true, beforeOneFile: true });
}
const idle = canUnshare ? await measureIdle(idleEntries) : null;
const signals = canUnshare ? measureSignals(pid1Entries([SIGSTAMP])) : null;
const orphans = canUnshare ? await measureOrphans(pid1Entries([ORPHANS_BIN, String(ORPHANS), String(ORPHANS_EXIT)])) : null;

const strippedNode = join(ROOT, `dist/.cache/node-${nodeVersion}-stripped`);
// 2 MiB for sesame's own code and 6 MiB for the loader and libraries the one file carries.
const sizeLimit = existsSync(strippedNode) ? statSync(strippedNode).size + 8 * MIB : NaN;
const sizes = [
  { row: 'dist/init', bytes: statSync(INIT).size },
  { row: `limit: stripped node ${nodeVersion} + 8 MiB`, bytes: sizeLimit },
  { row: 'dist/init.node (the addon, also embedded in dist/init)', bytes: statSync(ADDON).size },
  ...(PREVIOUS ? [{ row: `previous build (${PREVIOUS})`, bytes: statSync(PREVIOUS).size }] : []),
  ...peers.slice(1).map((p) => ({ row: p.bin, bytes: statSync(realpathSync(p.bin)).size })),
];

// ---- Report.
const command = commandLine(import.meta.url);
const out = [];
const ms = (ns) => ns / 1e6;
const pidLabel = (p) => (p.name === 'sesame' ? 'sesame (dist/init)' : `${p.name} ${p.version}`);
const rowOf = (e) => e.row ?? pidLabel(peers.find((p) => p.name === e.peer));

out.push(`# sesame bench, ${new Date(started).toISOString()}`, '');
out.push(`command: ${command}${cli.quick ? ' (quick: fewer iterations)' : ''}`);
out.push(`machine: ${describeMachine()}`);
out.push(`load average at start: ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}`);
out.push(`page cache: dropped for ${rel(INIT)} and ${rel(NODE)} at start (warmup runs load them back)`);
out.push(`peers: ${peers.map((p) => `${p.name} ${p.version} (${p.bin})`).join(', ')}${skipped.length ? `; not installed, skipped: ${skipped.join(', ')}` : ''}`, '');

out.push(`## Startup overhead, not PID 1: wall time from fork to wait4 (n=${N.startupRounds} each, interleaved)`, '');
out.push(table(['command', '>median ms', '>p10 ms', '>p90 ms', '>peak RSS MiB'], startupEntries.map((e, i) => {
  const r = startup[i];
  return [e.row + (r.failedStatuses.length ? ` (FAILED ${r.failedStatuses.length}×)` : ''), fixed(ms(median(r.wallNs)), 2), fixed(ms(quantile(r.wallNs, 0.1)), 2), fixed(ms(quantile(r.wallNs, 0.9)), 2), fixed(mib(median(r.maxRssKb)), 1)];
})), '');
out.push('peak RSS: median ru_maxrss from wait4, the max over the command and the children it reaped.', '');

if (idle) {
  out.push(`## Idle as PID 1: \`unshare --pid --fork --mount-proc X -- sleep 60\`, read after ${SETTLE_MS / 1000} s (median of ${N.idleRounds})`, '');
  out.push(table(['PID 1', '>VmRSS MiB', '>private MiB', '>RssAnon MiB', '>RssShmem MiB', '>RssFile MiB', '>threads', '>wake-ups/min'], idleEntries.map((e, i) => {
    const s = idle[i].samples;
    const med = (key) => median(s.map((x) => x[key]));
    return [rowOf(e) + (idle[i].failures ? ` (FAILED ${idle[i].failures}×)` : ''), fixed(mib(med('vmRssKb')), 1), fixed(mib(med('privateKb')), 1), fixed(mib(med('rssAnonKb')), 1), fixed(mib(med('rssShmemKb')), 1), fixed(mib(med('rssFileKb')), 1), fixed(med('threads'), 0), fixed(median(idle[i].wakeupsPerMin), 1)];
  })), '');
  out.push('private = RssAnon + RssShmem: what each container costs on its own (the one-file /init keeps its libraries in');
  out.push('memory files, which count as shmem). RssFile depends on how much of the binary is in the page cache; the others do');
  out.push(`not. wake-ups: voluntary context`);
  out.push(`switches of all threads (/proc/PID/task/TID/status) over the ${WAKE_MS / 1000} s after the reading, per minute.`, '');

  out.push(`## Signal forwarding as PID 1: ${SIGNAL} sent to init → received by its child (${N.signals} per init, ${SIGNAL_GAP_MS} ms apart, interleaved)`, '');
  out.push(table(['PID 1', '>median µs', '>p10 µs', '>p90 µs', '>max µs', '>lost'], peers.map((p, i) => {
    const l = signals[i].latencyNs;
    return [pidLabel(p) + (signals[i].failedToStart ? ' (FAILED to start)' : ''), fixed(median(l) / 1e3, 0), fixed(quantile(l, 0.1) / 1e3, 0), fixed(quantile(l, 0.9) / 1e3, 0), fixed(Math.max(...l) / 1e3, 0), signals[i].lost];
  })), '');

  out.push(`## Reaping ${bytes(ORPHANS)} orphans as PID 1: \`X -- orphans ${ORPHANS} ${ORPHANS_EXIT}\` (n=${N.orphanRounds} each, interleaved)`, '');
  out.push(table(['PID 1', '>median ms', '>min ms', '>max ms', `exit ${ORPHANS_EXIT}`], peers.map((p, i) => {
    const r = orphans[i];
    const ok = r.statuses.filter((s) => s === ORPHANS_EXIT).length;
    return [pidLabel(p), fixed(median(r.reapUs) / 1e3, 1), fixed(Math.min(...r.reapUs) / 1e3, 1), fixed(Math.max(...r.reapUs) / 1e3, 1), `${ok}/${r.statuses.length}${ok < r.statuses.length ? ` FAIL (got ${r.statuses.join(',')})` : ''}`];
  })), '');
  out.push('orphans.c notices the end by rescanning /proc, 2,000+ entries a pass (tens of ms each), so differences');
  out.push('smaller than a pass or two are noise: this shows that an init keeps up, not which one is fastest.', '');
  for (const [i, p] of peers.entries()) for (const e of new Set(orphans[i].errors)) out.push(`${p.name}: ${e}`);
}

out.push('## Binary size', '');
out.push(table(['file', '>bytes'], sizes.map((s) => [s.row, Number.isFinite(s.bytes) ? bytes(s.bytes) : 'missing'])), '');

// Targets: sesame against a floor or tini, measured in this same run.
const sesameIdx = 0; // in peers, and so in idle, signals and orphans
const tiniIdx = peers.findIndex((p) => p.name === 'tini');
const sesameStartup = startupEntries.findIndex((e) => e.peer === 'sesame');
const nodeStartup = startupEntries.findIndex((e) => e.argv[0] === NODE);
const nodeIdle = idleEntries.findIndex((e) => e.argv[0] === NODE);
const target = (name, value, reference, unit, digits, limit) => {
  const ratio = value / reference;
  const result = Number.isFinite(ratio) ? (ratio <= limit ? 'PASS' : 'FAIL') : 'n/a';
  return { name, value, reference, ratio, limit, result, row: [name, `${fixed(value, digits)} ${unit}`, `${fixed(reference, digits)} ${unit}`, `${fixed(ratio, 2)}×`, `≤ ${limit.toFixed(2)}×`, result] };
};
const targets = [
  target('startup median vs `node -e 0`', ms(median(startup[sesameStartup].wallNs)), ms(median(startup[nodeStartup].wallNs)), 'ms', 2, 1.2),
  target('idle private memory vs 12 MiB', mib(median(idle?.[sesameIdx].samples.map((s) => s.privateKb) ?? [])), 12, 'MiB', 1, 1),
  target('idle VmRSS vs idle node', mib(median(idle?.[sesameIdx].samples.map((s) => s.vmRssKb) ?? [])), mib(median(idle?.[nodeIdle].samples.map((s) => s.vmRssKb) ?? [])), 'MiB', 1, 1.1),
  target('forwarding median vs tini', median(signals?.[sesameIdx].latencyNs ?? []) / 1e3, tiniIdx < 0 ? NaN : median(signals?.[tiniIdx].latencyNs ?? []) / 1e3, 'µs', 0, 2.5),
  target(`${bytes(ORPHANS)} orphans median vs tini`, median(orphans?.[sesameIdx].reapUs ?? []) / 1e3, tiniIdx < 0 ? NaN : median(orphans?.[tiniIdx].reapUs ?? []) / 1e3, 'ms', 1, 2),
  target('binary vs stripped node + 8 MiB', sizes[0].bytes / MIB, sizeLimit / MIB, 'MiB', 2, 1),
];
// The one file's cost per container against the previous build: a difference, not a ratio.
const previousIdle = idleEntries.findIndex((e) => e.argv[0] === PREVIOUS);
if (PREVIOUS && idle) {
  const privateMib = (i) => mib(median(idle[i].samples.map((x) => x.rssAnonKb + x.rssShmemKb)));
  const more = privateMib(sesameIdx) - privateMib(previousIdle);
  targets.push({ name: 'idle private memory (RssAnon+RssShmem) vs previous build', value: privateMib(sesameIdx), reference: privateMib(previousIdle), ratio: NaN, limit: 6, result: more <= 6 ? 'PASS' : 'FAIL',
    row: ['idle private memory (RssAnon+RssShmem) vs previous build', `${fixed(privateMib(sesameIdx), 1)} MiB`, `${fixed(privateMib(previousIdle), 1)} MiB`, `${more >= 0 ? '+' : ''}${fixed(more, 1)} MiB`, '≤ +6 MiB', more <= 6 ? 'PASS' : 'FAIL'] });
}
const beforeIdle = idleEntries.findIndex((e) => e.beforeOneFile);
if (beforeIdle >= 0 && idle) {
  const privateMib = (i) => mib(median(idle[i].samples.map((x) => x.rssAnonKb + x.rssShmemKb)));
  const more = privateMib(sesameIdx) - privateMib(beforeIdle);
  const name = 'idle private memory: one file vs before its one-file step';
  targets.push({ name, value: privateMib(sesameIdx), reference: privateMib(beforeIdle), ratio: NaN, limit: 6, result: more <= 6 ? 'PASS' : 'FAIL',
    row: [name, `${fixed(privateMib(sesameIdx), 1)} MiB`, `${fixed(privateMib(beforeIdle), 1)} MiB`, `${more >= 0 ? '+' : ''}${fixed(more, 1)} MiB`, '≤ +6 MiB', more <= 6 ? 'PASS' : 'FAIL'] });
}
out.push('## Targets (this run)', '');
out.push(table(['target', '>sesame', '>reference', '>ratio', '>limit', 'result'], targets.map((t) => t.row)), '');
if (initIdentity() !== initAtStart) out.push(`WARNING: ${rel(INIT)} was replaced during the run (a build?): these numbers mix two builds.`, '');
out.push(`took ${Math.round((Date.now() - started) / 1000)} s`);
console.log(out.join('\n'));

if (cli.json) {
  writeFileSync(cli.json, `${JSON.stringify({
    date: new Date(started).toISOString(),
    command,
    quick: cli.quick,
    machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model.trim(), kernel: os.release(), loadAtStart },
    node: nodeVersion,
    peers: peers.map(({ name, bin, version }) => ({ name, bin, version })),
    startup: startupEntries.map((e, i) => ({ command: e.argv, ...startup[i] })),
    idle: idle && idleEntries.map((e, i) => ({ command: e.argv, ...idle[i] })),
    signals: signals && peers.map((p, i) => ({ peer: p.name, signal: SIGNAL, gapMs: SIGNAL_GAP_MS, ...signals[i] })),
    orphans: orphans && peers.map((p, i) => ({ peer: p.name, orphans: ORPHANS, ...orphans[i] })),
    sizes,
    targets: targets.map(({ row, ...t }) => t),
  }, null, 2)}\n`);
  progress(`raw numbers written to ${cli.json}`);
}
