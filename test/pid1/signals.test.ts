// Every catchable signal sent to init reaches the child, in order; -g sends them to the
// child's whole process group; --rewrite changes or drops them.
import { describe, expect, it } from 'vitest';
import { program } from '../support/paths';
import { runAsPid1, startAsPid1 } from '../support/pid1';

const recorder = program('sigrecord');
const FORWARDED = ['HUP', 'INT', 'QUIT', 'USR1', 'USR2', 'ALRM', 'STKFLT', 'CONT', 'TSTP', 'URG', 'XCPU', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR'];

const recorded = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('sig ')).map((l) => l.slice(4));

describe('signal forwarding as PID 1', () => {
  it('forwards every catchable signal to the child, in order, then exits with its code', async () => {
    const init = startAsPid1(['-t', '60s', '--', recorder]);
    await init.waitFor(/^ready/m);
    let lines = 0;
    for (const name of FORWARDED) {
      await init.signal(`SIG${name}` as NodeJS.Signals);
      lines += 1;
      await init.waitFor(new RegExp(`(sig \\w+\\n){${lines}}`));
    }
    await init.signal('SIGTERM');
    const r = await init.done;
    // sigabbrev_np calls SIGIO by its other name, POLL. No SIGCONT after the stop signals
    // (INT, QUIT): the child is not stopped.
    const expected = FORWARDED.map((s) => (s === 'IO' ? 'POLL' : s));
    expect(recorded(r.stdout)).toEqual([...expected, 'TERM']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('sends to the child only by default, and to its whole process group with -g', async () => {
    const script = `${recorder} & exec ${recorder}`; // both in the child's process group
    for (const [flags, copies] of [[[], 1], [['-g'], 2]] as const) {
      const init = startAsPid1([...flags, '--', 'sh', '-c', script]);
      await init.waitFor(/(^ready.*\n){2}/m);
      await init.signal('SIGUSR1');
      await init.waitFor(new RegExp(`(sig USR1\\n){${copies}}`));
      await init.signal('SIGTERM');
      const r = await init.done;
      expect(recorded(r.stdout).filter((s) => s === 'USR1')).toHaveLength(copies);
      expect(r.code).toBe(0);
    }
  });

  it('puts the child in a process group of its own', async () => {
    const init = startAsPid1(['--', recorder]);
    const [, pid, pgid] = await init.waitFor(/^ready (\d+) pgid=(\d+)/m);
    expect(pgid).toBe(pid);
    expect(Number(pid)).toBeGreaterThan(1);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  });

  it('group forwarding can be turned on by SESAME_GROUP_SIGNALS', async () => {
    const init = startAsPid1(['--', 'sh', '-c', `${recorder} & exec ${recorder}`], { env: { ...process.env, SESAME_GROUP_SIGNALS: 'true' } });
    await init.waitFor(/(^ready.*\n){2}/m);
    await init.signal('SIGHUP');
    await init.waitFor(/(sig HUP\n){2}/);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  });

  it('rewrites signals with -r and drops those rewritten to 0', async () => {
    const init = startAsPid1(['-r', 'USR1:HUP', '-r', 'WINCH:0,15:3', '--', recorder, '--exit-on', '3']);
    await init.waitFor(/^ready/m);
    await init.signal('SIGUSR1');
    await init.waitFor(/sig HUP\n/);
    await init.signal('SIGWINCH');
    await init.signal('SIGUSR2');
    await init.waitFor(/sig USR2\n/);
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(recorded(r.stdout)).toEqual(['HUP', 'USR2', 'QUIT']);
    expect(r.code).toBe(0);
  });

  it('takes rewrites from SESAME_REWRITE, and flags add to them', async () => {
    const init = startAsPid1(['-r', 'HUP:USR2', '--', recorder, '--exit-on', '3'], { env: { ...process.env, SESAME_REWRITE: 'TERM:QUIT' } });
    await init.waitFor(/^ready/m);
    await init.signal('SIGHUP');
    await init.waitFor(/sig USR2\n/);
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(recorded(r.stdout)).toEqual(['USR2', 'QUIT']);
  });

  it('forwards a signal sent from inside the container (kill -USR2 1)', async () => {
    // sh is the child and has no trap for USR2, so the forwarded copy ends it: 128+12.
    const r = await runAsPid1(['--', 'sh', '-c', 'kill -USR2 1; sleep 5']);
    expect(r.code).toBe(128 + 12);
  });
});
