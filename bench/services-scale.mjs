// npm run bench:services-scale: how start-up grows with the number of services, for 1,
// 100 and 1,000 services, in one run.
//
//   node bench/services-scale.mjs [--quick] [--json FILE]
//
// Rows, each a median of 5 runs (1 with --quick), init as PID 1 of a fresh PID namespace:
//   check     `dist/init --check -c services.yaml` with N long-running services: parsing,
//             validation and planning only (nothing is started);
//   oneshots  `dist/init -c services.yaml` with N oneshots `true`, until init has exited
//             (every one started, reaped and logged, output relayed);
//   floor     a shell starting /bin/true N times one after the other: the cost of N process
//             starts on this machine, which no supervisor can go below.
// The per-service column divides by N: near-constant means linear.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { INIT, commandLine, describeMachine, median, parseCli, progress, table } from './common.mjs';

const cli = parseCli('usage: node bench/services-scale.mjs [--quick] [--json FILE]');
const SIZES = [1, 100, 1000];
const RUNS = cli.quick ? 1 : 5;
const UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc'];
const dir = mkdtempSync(join(os.tmpdir(), 'sesame-bench-scale-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function config(n, oneshot) {
  const lines = ['services:'];
  for (let i = 0; i < n; i++) lines.push(`  s${i}:`, `    command: [${oneshot ? '"true"' : 'sleep, "1000"'}]`, ...(oneshot ? ['    oneshot: true'] : []));
  const file = join(dir, `${oneshot ? 'oneshots' : 'services'}-${n}.yaml`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function timed(argv) {
  const times = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    times.push(performance.now() - start);
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  }
  return median(times);
}

const results = [];
for (const n of SIZES) {
  const rows = [
    ['check', [...UNSHARE, INIT, '--check', '-c', config(n, false)]],
    ['oneshots', [...UNSHARE, INIT, '-c', config(n, true)]],
    ['floor', [...UNSHARE, 'sh', '-c', `i=0; while [ $i -lt ${n} ]; do /bin/true; i=$((i+1)); done`]],
  ];
  for (const [what, argv] of rows) {
    const ms = timed(argv);
    results.push({ what, services: n, medianMs: ms });
    progress(`${what}, ${n} services: ${ms.toFixed(0)} ms`);
  }
}
console.log(`# Start-up of N services\n\n${commandLine(import.meta.url)}\nmachine: ${describeMachine()}; medians of ${RUNS}\n`);
console.log(table(['what', '>services', '>ms', '>ms per service'], results.map((r) => [r.what, r.services, r.medianMs.toFixed(0), (r.medianMs / r.services).toFixed(2)])));
if (cli.json) writeFileSync(cli.json, JSON.stringify(results, null, 2));
