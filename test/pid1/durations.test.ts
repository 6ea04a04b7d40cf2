// Durations past Node's timer limit (2^31 ms, 24.8 days) are kept as given: the one clock
// chains them, so `-t 3000000` (35 days) does not SIGKILL at once and a healthcheck every
// 3000000s does not fail three times in a few milliseconds; Node's TimeoutOverflowWarning
// never reaches stderr. Past the documented maximum (8760h) a duration is refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runAsPid1, startAsPid1 } from '../support/pid1';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-durations-'));
  dirs.push(dir);
  return dir;
}

describe('durations past 2^31 ms', () => {
  it('-t 3000000 gives the child its grace period, not 1 ms', async () => {
    // The child takes a little while to stop after SIGTERM, then exits 0.
    const init = startAsPid1(['-t', '3000000', '--', 'sh', '-c', 'trap "sleep 0.3; exit 0" TERM; echo up; sleep 100 & wait']);
    await init.waitFor(/up/);
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/SIGKILL|TimeoutOverflowWarning|trace-warnings/);
  });

  it('a healthcheck with interval 3000000s does not fail at once', async () => {
    const dir = scratch();
    const config = join(dir, 'sesame.yaml');
    writeFileSync(config, stringify({
      services: {
        db: {
          command: 'echo db up; exec sleep 100',
          healthcheck: { test: ['CMD', 'false'], interval: '3000000s', start_interval: '3000000s', retries: 3 },
        },
        web: { command: 'exec sleep 100', depends_on: { db: { condition: 'service_healthy' } } },
      },
    }));
    const init = startAsPid1(['-c', config]);
    await init.waitFor(/db up/);
    // Long enough for three 1 ms intervals many times over; the first check is 35 days away.
    await new Promise((r) => setTimeout(r, 500));
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(r.stderr).not.toMatch(/unhealthy|healthcheck failed|dependency failed|TimeoutOverflowWarning/);
    expect(r.stderr).toMatch(/^sesame: db: started/m);
    expect(r.stderr).not.toMatch(/^sesame: web: started/m);
    expect(r.code).toBe(0);
  });

  it('refuses a duration past the maximum with one line and 64', async () => {
    const r = await runAsPid1(['-t', '31536001', '--', 'true']);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe('sesame: error: --grace-period: "31536001" is longer than the maximum duration, 8760h (a year)\n');
  });

  it('refuses a duration too long to be a number (not an infinity that fires at once)', async () => {
    const r = await runAsPid1(['-t', '9'.repeat(400), '--', 'true']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^sesame: error: --grace-period: "9+" is longer than the maximum duration, 8760h \(a year\)\n$/);
  });
});
