// SIGTERM/SIGINT start a grace period after which the child's process group is SIGKILLed;
// when the child exits, what is left of its group gets SIGTERM, the rest of the grace
// period, then SIGKILL, before init exits with the child's code.
import { describe, expect, it } from 'vitest';
import { program } from '../support/paths';
import { childrenOf, type Finished, type Running, runAsPid1, startAsPid1 } from '../support/pid1';

const recorder = program('sigrecord');

/** init's end, or a failure (and init killed) if it has not ended within `ms`. */
async function endsWithin(init: Running, ms: number): Promise<Finished> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      init.process.kill('SIGKILL');
      reject(new Error(`init still running ${ms} ms later; stdout: ${init.stdout()}; stderr: ${init.stderr()}`));
    }, ms);
  });
  try {
    return await Promise.race([init.done, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('shutdown', () => {
  it('SIGKILLs a child that ignores SIGTERM once the grace period is over', async () => {
    const init = startAsPid1(['-t', '1s', '--', recorder, '--ignore-term']);
    await init.waitFor(/^ready/m);
    const sent = Date.now();
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(Date.now() - sent).toBeGreaterThanOrEqual(950);
    expect(r.stdout).toMatch(/ready.*\nsig TERM\n$/); // no CONT: the child is not stopped
    expect(r.stderr).toMatch(/^sesame: warning: pid \d+ still running 1000 ms after being asked to stop; sending SIGKILL to its process group\n$/);
    expect(r.code).toBe(128 + 9);
  });

  it('does the same after SIGINT, with the grace period from SESAME_GRACE_PERIOD', async () => {
    const init = startAsPid1(['--', recorder, '--ignore-term'], { env: { ...process.env, SESAME_GRACE_PERIOD: '300ms' } });
    await init.waitFor(/^ready/m);
    await init.signal('SIGINT');
    const r = await init.done;
    expect(r.stdout).toMatch(/ready.*\nsig INT\n$/);
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
    expect(r.stdout).toMatch(/ready.*\nsig TERM\n$/);
    expect(r.stderr).toMatch(/^sesame: warning: process group \d+ still running 500 ms into the shutdown; sending SIGKILL\n$/);
    expect(r.code).toBe(6);
  });

  it('sends the rewritten SIGTERM to leftovers (e.g. SIGQUIT for nginx)', async () => {
    const r = await runAsPid1(['-r', 'TERM:QUIT', '--', 'sh', '-c', `${recorder} --exit-on 3 & sleep 0.2; exit 0`]);
    expect(r.stdout).toMatch(/sig QUIT\n$/);
    expect(r.code).toBe(0);
  });

  it('SIGQUIT (docker stop with STOPSIGNAL SIGQUIT) starts the shutdown: the child gets SIGQUIT, then the grace period, then SIGKILL', async () => {
    const init = startAsPid1(['-t', '500ms', '--', recorder, '--ignore-term']);
    await init.waitFor(/^ready/m);
    await init.signal('SIGQUIT');
    const r = await endsWithin(init, 10_000);
    expect(r.stdout).toMatch(/ready.*\nsig QUIT\n$/);
    expect(r.stderr).toMatch(/^sesame: warning: pid \d+ still running 500 ms after being asked to stop; sending SIGKILL to its process group\n$/);
    expect(r.code).toBe(137);
  });

  it('a stop signal is sent as its rewrite: -r QUIT:TERM gives a child that wants SIGTERM its SIGTERM', async () => {
    const init = startAsPid1(['-r', 'QUIT:TERM', '--', recorder]);
    await init.waitFor(/^ready/m);
    await init.signal('SIGQUIT');
    const r = await endsWithin(init, 10_000);
    expect(r.stdout).toMatch(/ready.*\nsig TERM\n$/);
    expect(r.code).toBe(0);
  });

  it('--stop-signals TERM,INT: SIGQUIT is forwarded and starts no grace period; SIGTERM still stops', async () => {
    const init = startAsPid1(['--stop-signals', 'TERM,INT', '-t', '300ms', '--', recorder]);
    await init.waitFor(/^ready/m);
    await init.signal('SIGQUIT');
    await init.waitFor(/^sig QUIT$/m);
    // Well past the grace period: had SIGQUIT started it, the child would be dead by now.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(init.process.exitCode).toBe(null);
    await init.signal('SIGTERM');
    const r = await endsWithin(init, 10_000);
    expect(r.stdout).toMatch(/ready.*\nsig QUIT\nsig TERM\n$/);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('SESAME_STOP_SIGNALS=HUP makes SIGHUP the one that stops', async () => {
    const init = startAsPid1(['-t', '300ms', '--', recorder, '--ignore-term'], { env: { ...process.env, SESAME_STOP_SIGNALS: 'HUP' } });
    await init.waitFor(/^ready/m);
    await init.signal('SIGHUP');
    const r = await endsWithin(init, 10_000);
    expect(r.stdout).toMatch(/ready.*\nsig HUP\n$/);
    expect(r.code).toBe(137);
  });

  it('continues a stopped child (SIGSTOP) after the stop signal, so it can act on it', async () => {
    const init = startAsPid1(['-t', '5s', '--', recorder]);
    const [, pid] = await init.waitFor(/^ready (\d+)/m);
    // The recorder's pid inside the namespace; on the host it is init's only child.
    expect(Number(pid)).toBeGreaterThan(1);
    const [hostPid] = childrenOf(await init.initPid());
    process.kill(hostPid, 'SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await init.signal('SIGTERM');
    const r = await endsWithin(init, 4000); // well inside the 5 s grace period: no SIGKILL
    expect(r.stdout).toMatch(/sig TERM\n/);
    expect(r.code).toBe(0);
  });
});
