// Every zombie re-parented to init is reaped, and no exit status of init's own child is
// lost on the way. The orphans program only returns once its reaper has reaped them all.
import { describe, expect, it } from 'vitest';
import { INIT, program } from '../support/paths';
import { runAsPid1 } from '../support/pid1';
import { spawnSync } from 'node:child_process';

describe('reaping', () => {
  it('reaps 2,000 orphans that exit at once as PID 1, and keeps the exit code', async () => {
    const r = await runAsPid1(['--', program('orphans'), '2000', '7']);
    expect(r.stdout).toMatch(/^orphans 2000 reaped in \d+ us\n$/);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(7);
  });

  it('reaps the orphans of grandchildren while the child keeps running', async () => {
    // Each round leaves an orphan that exits at once; none may be left as a zombie.
    const script = 'for i in 1 2 3 4 5; do sh -c "sleep 0.01 &"; done; sleep 0.3; '
      + 'z=$(grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l); echo zombies=$z; exit 4';
    const r = await runAsPid1(['--', 'sh', '-c', script]);
    expect(r.stdout).toBe('zombies=0\n');
    expect(r.code).toBe(4);
  });

  it('keeps the exit status of its child when many processes exit together', async () => {
    const script = 'for i in $(seq 300); do (exit 1) & done; wait; exit 42';
    const r = await runAsPid1(['--', 'sh', '-c', script]);
    expect(r.code).toBe(42);
  });

  it('becomes a child subreaper when it is not PID 1', () => {
    // Without unshare: the orphans would go to the machine's PID 1 unless init adopts them.
    const r = spawnSync(INIT, ['--', program('orphans'), '50', '3'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^orphans 50 reaped in \d+ us\n$/);
    expect(r.status).toBe(3);
  });
});
