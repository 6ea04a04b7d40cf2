// npm run bench:env: what a large environment costs init at start, next to tini (when it
// is on PATH) and to running the program with no init at all, in one run.
//
//   node bench/env.mjs [--quick] [--json FILE]
//
// Each row starts `X -- /bin/true` with 10,000, 50,000 and 100,000 variables of the form
// V<i>=v (plus PATH; longer ones would pass the kernel's 2 MB limit for argv and environment at 100,000), from spawning until it has exited, as PID 1 of a fresh PID
// namespace (unshare --pid --fork --mount-proc). Medians of 5 runs (1 with --quick). The
// "no init" row is the floor: unshare and execve of /bin/true with that environment. The
// extra over it is the init's own cost; it should grow linearly with the number of
// variables (the ratio column: time per 10,000 variables, relative to the 10,000 row).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { INIT, commandLine, describeMachine, findInPath, median, parseCli, progress, table } from './common.mjs';

const cli = parseCli('usage: node bench/env.mjs [--quick] [--json FILE]');
const SIZES = [10_000, 50_000, 100_000];
const RUNS = cli.quick ? 1 : 5;
const UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc'];

const tini = findInPath('tini');
const contenders = [
  { name: 'no init', argv: ['/bin/true'] },
  ...(tini ? [{ name: 'tini', argv: [tini, '--', '/bin/true'] }] : []),
  { name: 'sesame (dist/init)', argv: [INIT, '--', '/bin/true'] },
];
if (!tini) progress('tini is not on PATH: its row is left out (install it, e.g. apt-get install tini, to compare)');

function environment(n) {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (let i = 0; i < n; i++) env[`V${i}`] = 'v';
  return env;
}

const results = [];
for (const n of SIZES) {
  const env = environment(n);
  for (const c of contenders) {
    const times = [];
    for (let run = 0; run < RUNS; run++) {
      const start = performance.now();
      const r = spawnSync(UNSHARE[0], [...UNSHARE.slice(1), ...c.argv], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      const ms = performance.now() - start;
      if (r.status !== 0) throw new Error(`${c.name} with ${n} variables exited ${r.status ?? r.signal}: ${r.error?.message ?? r.stderr}`);
      times.push(ms);
    }
    results.push({ contender: c.name, variables: n, medianMs: median(times) });
    progress(`${c.name}, ${n} variables: ${median(times).toFixed(0)} ms`);
  }
}

const floor = (n) => results.find((r) => r.contender === 'no init' && r.variables === n).medianMs;
const rows = results.map((r) => {
  const extra = r.medianMs - floor(r.variables);
  const first = results.find((x) => x.contender === r.contender && x.variables === SIZES[0]);
  const perTenK = (ms, n) => ms / (n / 10_000);
  const ratio = r.contender === 'no init' ? '' : (perTenK(extra, r.variables) / perTenK(first.medianMs - floor(SIZES[0]), SIZES[0])).toFixed(2);
  return [r.contender, r.variables.toLocaleString('en'), r.medianMs.toFixed(0), r.contender === 'no init' ? '' : extra.toFixed(0), ratio];
});
console.log(`# Start-up with a large environment\n\n${commandLine(import.meta.url)}\nmachine: ${describeMachine()}; medians of ${RUNS}\n`);
console.log(table(['contender', '>variables', '>start to exit, ms', '>over no init, ms', '>per 10k vs 10k row'], rows));
if (cli.json) writeFileSync(cli.json, JSON.stringify(results, null, 2));
