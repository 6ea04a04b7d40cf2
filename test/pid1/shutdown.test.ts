// SIGTERM/SIGINT start a grace period after which the child's process group is SIGKILLed;
// when the child exits, what is left of its group gets SIGTERM, the rest of the grace
// period, then SIGKILL, before init exits with the child's code.
import { describe, expect, it } from 'vitest';
import { program } from '../support/paths';
import { runAsPid1, startAsPid1 } from '../support/pid1';

const recorder = program('sigrecord');

describe('shutdown', () => {
  it('SIGKILLs a child that ignores SIGTERM once the grace period is over', async () => {
    const init = startAsPid1(['-t', '1s', '--', recorder, '--ignore-term']);
    await init.waitFor(/^ready/m);
    const sent = Date.now();
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(Date.now() - sent).toBeGreaterThanOrEqual(950);
    expect(r.stdout).toMatch(/sig TERM\nsig CONT\n$/); // CONT: init continues a stopped child
    expect(r.stderr).toMatch(/^sesame: warning: pid \d+ still running 1000 ms after being asked to stop; sending SIGKILL to its process group\n$/);
    expect(r.code).toBe(128 + 9);
  });

  it('does the same after SIGINT, with the grace period from SESAME_GRACE_PERIOD', async () => {
    const init = startAsPid1(['--', recorder, '--ignore-term'], { env: { ...process.env, SESAME_GRACE_PERIOD: '300ms' } });
    await init.waitFor(/^ready/m);
    await init.signal('SIGINT');
    const r = await init.done;
    expect(r.stdout).toMatch(/sig INT\nsig CONT\n$/);
    expect(r.code).toBe(137);
  });

  it('gives a child that stops in time its own exit code', async () => {
    const init = startAsPid1(['-t', '5s', '--', 'sh', '-c', `trap 'exit 0' TERM; ${recorder} --exit-on 0 & wait`]);
    await init.waitFor(/^ready/m);
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(r.code).toBe(0);
    // The recorder, left in the group, was asked to stop too, then killed after the grace.
    expect(r.stdout).toContain('sig TERM');
  });

  it('stops what is left of the child\'s process group when the child exits', async () => {
    const r = await runAsPid1(['-t', '5s', '--', 'sh', '-c', `${recorder} & sleep 0.2; exit 5`]);
    expect(r.stdout).toMatch(/^ready \d+ pgid=\d+\nsig TERM\n$/);
    expect(r.code).toBe(5);
  });

  it('SIGKILLs leftovers that ignore SIGTERM after the grace period, then exits with the child\'s code', async () => {
    const r = await runAsPid1(['-t', '500ms', '--', 'sh', '-c', `${recorder} --ignore-term & sleep 0.2; exit 6`]);
    expect(r.stdout).toMatch(/sig TERM\nsig CONT\n$/);
    expect(r.stderr).toMatch(/^sesame: warning: process group \d+ still running 500 ms into the shutdown; sending SIGKILL\n$/);
    expect(r.code).toBe(6);
  });

  it('sends the rewritten SIGTERM to leftovers (e.g. SIGQUIT for nginx)', async () => {
    const r = await runAsPid1(['-r', 'TERM:QUIT', '--', 'sh', '-c', `${recorder} --exit-on 3 & sleep 0.2; exit 0`]);
    expect(r.stdout).toMatch(/sig QUIT\n$/);
    expect(r.code).toBe(0);
  });
});
