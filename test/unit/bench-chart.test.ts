// bench/chart.mjs draws the bench's JSON as an SVG: one bar per init and measurement, with
// the median printed on it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';

const dir = mkdtempSync(join(tmpdir(), 'sesame-chart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench/chart.mjs', () => {
  it('draws every init of every measurement with its median', () => {
    const results = {
      date: '2026-12-01T00:00:00.000Z', command: 'node bench/run.mjs', quick: false,
      machine: { cpus: 2, cpuModel: 'cpu', kernel: '6.1' },
      startup: [
        { command: ['/bin/true'], wallNs: [1e6] },
        { command: ['/x/node', '-e', '0'], wallNs: [20e6, 30e6, 25e6] },
        { command: ['/x/dist/init', '--', '/bin/true'], wallNs: [30e6, 31e6, 29e6] },
        { command: ['/usr/bin/tini', '-s', '--', '/bin/true'], wallNs: [2e6, 2e6, 3e6] },
      ],
      idle: [{ command: ['/x/dist/init', '--', 'sleep', '60'], samples: [{ rssAnonKb: 9216, rssShmemKb: 1024 }] }],
      signals: [{ peer: 'sesame', latencyNs: [50_000, 70_000] }, { peer: 'tini', latencyNs: [60_000] }],
      orphans: [{ peer: 'sesame', orphans: 2000, reapUs: [130_000] }],
    };
    writeFileSync(join(dir, 'r.json'), JSON.stringify(results));
    const r = spawnSync(process.execPath, [join(ROOT, 'bench/chart.mjs'), join(dir, 'r.json'), join(dir, 'c.svg')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const svg = readFileSync(join(dir, 'c.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    // 3 start-up bars (the /bin/true floor is left out), 1 idle, 2 signals, 1 orphans.
    expect(svg.match(/<rect x=/g)).toHaveLength(7);
    for (const text of ['30.0 ms', '25.0 ms', '2.00 ms', '10.0 MiB', '60.0 µs', '130 ms', '>sesame<', '>tini<', '>node -e 0<']) expect(svg, text).toContain(text);
  });

  it('says so when the file has nothing to draw', () => {
    writeFileSync(join(dir, 'empty.json'), '{}');
    const r = spawnSync(process.execPath, [join(ROOT, 'bench/chart.mjs'), join(dir, 'empty.json'), join(dir, 'e.svg')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no startup, idle, signals or orphans results to draw');
  });
});
