// `docker run -it image bash` with init as PID 1: the command runs on a pseudo-terminal that
// is the controlling terminal of its session, init hands the terminal to the child's process
// group (tcsetpgrp, as tini does), and then stays out of the way: keystrokes, ^C, ^Z and job
// control are between the terminal and the child, init never receives them and so never
// forwards a second copy, and the terminal is released when the shell exits.
//
// The pty is driven by test/.build/ptyrun (support/programs/ptyrun.c, see support/pty.ts).
// Two layouts of the session, both run for every terminal test:
// - "pty session led by unshare": ptyrun's child does setsid + TIOCSCTTY and execs
//   `unshare --pid --fork --mount-proc dist/init ...`: unshare leads the session, init is its
//   child in the same (initially foreground) process group;
// - "init leads the session (runc)": as the container runtime does it, init itself (pid 1) leads the session and has
//   the terminal as its controlling tty (`setsid --ctty` between unshare and init).
import { afterEach, describe, expect, it } from 'vitest';
import { INIT, program } from '../support/paths';
import { childrenOf, runAsPid1 } from '../support/pid1';
import { descendantsOf, procStat, PROMPT, startOnPty, type PtyOptions, type PtySession } from '../support/pty';

const BASH = ['bash', '--norc', '--noprofile', '-i'];
const O_NONBLOCK = 0o4000;

const sessions: PtySession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.kill()));
});

interface Layout {
  name: string;
  start(initArgs: string[], options?: PtyOptions): PtySession;
}

const LAYOUTS: Layout[] = [
  {
    name: 'pty session led by unshare',
    start: (initArgs, options) => track(startOnPty(['unshare', '--pid', '--fork', '--mount-proc', INIT, ...initArgs], options)),
  },
  {
    name: 'init leads the session (runc)',
    // ptyrun -n: the pty is only the session's stdio; setsid --ctty (no fork: init's process
    // is not a group leader) makes pid 1 a session leader and gives it the terminal.
    start: (initArgs, options) => track(startOnPty(['unshare', '--pid', '--fork', '--mount-proc', 'setsid', '--ctty', INIT, ...initArgs], { ...options, ctty: false })),
  },
];

function track(session: PtySession): PtySession {
  sessions.push(session);
  return session;
}

/** Host pids: ptyrun -> unshare -> init (pid 1 inside) -> the child. */
function tree(session: PtySession): { init: number; child: number | undefined } {
  const unshare = childrenOf(session.process.pid as number)[0];
  const init = childrenOf(unshare)[0];
  return { init, child: childrenOf(init)[0] };
}

async function waitUntil<T>(what: string, probe: () => T | undefined | false, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    let value: T | undefined | false;
    try { value = probe(); } catch { value = undefined; } // a process vanished mid-read
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Type a command line into the shell and wait for its echo (readline has taken it). */
async function type(s: PtySession, line: string): Promise<void> {
  s.send(`${line}\r`);
  await s.expect(new RegExp(`${literal(line)}\\r\\n`));
}

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const prompt = new RegExp(literal(PROMPT));

async function startShell(layout: Layout, initArgs: string[] = []): Promise<PtySession> {
  const s = layout.start([...initArgs, ...BASH]);
  await s.expect(prompt);
  return s;
}

describe.each(LAYOUTS)('interactive shell under init as PID 1 ($name)', (layout) => {
  it('the shell owns the terminal as the foreground process group; init is not in it', { timeout: 10_000 }, async () => {
    const s = await startShell(layout);

    // Inside, with the shell idle at its prompt: its own group is the terminal's.
    await type(s, 'read -a f < /proc/$$/stat; echo "S:${f[0]} ${f[4]} ${f[7]}:E"');
    const [, pid, pgrp, tpgid] = (await s.expect(/S:(\d+) (-?\d+) (-?\d+):E/)).map(Number);
    expect(pgrp).toBe(pid);
    expect(tpgid).toBe(pgrp);
    await s.expect(prompt);
    await type(s, 'read -a f < /proc/1/stat; echo "I:${f[0]} ${f[4]} ${f[7]} ${f[2]}:E"');
    const init = await s.expect(/I:(\d+) (-?\d+) (-?\d+) (\w):E/);
    expect(Number(init[1])).toBe(1);
    expect(Number(init[2])).not.toBe(pgrp); // init's group is not the foreground one
    expect(Number(init[3])).toBe(pgrp);
    expect(init[4]).not.toBe('T');
    await s.expect(prompt);

    // ps as a foreground job: it has the terminal (+), the shell waits in the background.
    await type(s, 'ps -o pid=,pgid=,tpgid=,stat=,comm=');
    const table = await s.expect(new RegExp(`([^]*?)${literal(PROMPT)}`));
    const rows = table[1].trim().split(/\r\n/).map((l) => l.trim().split(/\s+/));
    const byPid = new Map(rows.map((r) => [Number(r[0]), { pgid: Number(r[1]), tpgid: Number(r[2]), stat: r[3], comm: r[4] }]));
    const ps = rows.find((r) => r[4] === 'ps');
    expect(ps, table[1]).toBeDefined();
    expect(ps?.[3]).toContain('+');
    expect(byPid.get(pid)?.stat).not.toContain('+');
    expect(byPid.get(1)?.stat).not.toContain('+');
    expect(byPid.get(1)?.pgid).not.toBe(Number(ps?.[1]));

    // Outside (host pids), again at the prompt: same picture, and init is not stopped.
    const host = tree(s);
    const bash = procStat(host.child as number);
    expect(bash.comm).toBe('bash');
    expect(bash.tpgid).toBe(bash.pgrp);
    const initStat = procStat(host.init);
    expect(initStat.pgrp).not.toBe(bash.tpgid);
    expect(initStat.state).not.toBe('T');

    s.send('exit\r');
    expect((await s.done).code).toBe(0);
  });

  it('job control: ^Z stops a job, jobs/bg/fg work, ^C ends it and the shell stays', { timeout: 10_000 }, async () => {
    const s = await startShell(layout);
    const { child: shell } = tree(s);
    const sleeper = () => descendantsOf(shell as number).find((p) => procStat(p).comm === 'sleep');
    const foreground = () => procStat(shell as number).tpgid;

    await type(s, 'sleep 100');
    // ^Z only reaches sleep once it is the terminal's foreground group.
    const sleep = await waitUntil('sleep has the terminal', () => {
      const p = sleeper();
      return p && procStat(p).pgrp === foreground() ? p : undefined;
    });
    expect(procStat(sleep).pgrp).toBe(sleep); // a job of its own

    s.send('\x1a');
    await s.expect(/\[1\]\+\s+Stopped\s+sleep 100\r\n/);
    await s.expect(prompt);
    expect(procStat(sleep).state).toBe('T');
    expect(foreground()).toBe(procStat(shell as number).pgrp); // the shell took the terminal back

    await type(s, 'jobs');
    await s.expect(/\[1\]\+\s+Stopped\s+sleep 100\r\n/);
    await s.expect(prompt);

    await type(s, 'bg');
    await s.expect(/\[1\]\+ sleep 100 &\r\n/);
    await s.expect(prompt);
    await waitUntil('the job runs in the background', () => procStat(sleep).state === 'S');
    expect(foreground()).toBe(procStat(shell as number).pgrp);

    await type(s, 'fg');
    await s.expect(/sleep 100\r\n/);
    await waitUntil('fg gave the job the terminal', () => foreground() === sleep);

    s.send('\x03');
    await s.expect(prompt);
    await waitUntil('sleep is gone', () => sleeper() === undefined);
    await type(s, 'echo alive:$((6*7))');
    await s.expect(/alive:42\r\n/);
    await s.expect(prompt);

    // init was never involved: it is not stopped and still has the shell as its only child.
    const host = tree(s);
    expect(procStat(host.init).state).not.toBe('T');
    expect(host.child).toBe(shell);

    s.send('exit\r');
    expect((await s.done).code).toBe(0);
  });

  it('exit 3 in the shell: init exits 3 and the terminal is released and usable', { timeout: 10_000 }, async () => {
    const s = await startShell(layout);
    await type(s, 'exit 3');
    const done = await s.done;
    expect(done.code).toBe(3);
    expect(done.report).toMatchObject({
      exit: 3, timeout: false,
      slave_closed: true, // nobody holds the terminal any more
      probe: 'ok', // a new session can take it as its controlling terminal
      termios_restored: true, canonical: true, echo: true, isig: true,
    });
  });

  it('typed input reaches the child and its output (stdout and stderr) reaches the screen', { timeout: 10_000 }, async () => {
    const s = await startShell(layout);
    await type(s, "read -p 'ask> ' x; echo got:$x; echo to-stderr:$x >&2");
    await s.expect(/ask> /);
    s.send('hello world\r');
    await s.expect(/got:hello world\r\n/);
    await s.expect(/to-stderr:hello world\r\n/);
    await s.expect(prompt);
    await type(s, 'stty size');
    await s.expect(/^50 200\r\n/); // the window size set on the master
    await s.expect(prompt);
    s.send('exit 0\r');
    expect((await s.done).code).toBe(0);
  });

  it('a non-shell child talks to the terminal too, with blocking descriptors', { timeout: 10_000 }, async () => {
    // The child shares init's 0-2: had init made them non-blocking, its reads and writes
    // would fail with EAGAIN. O_NONBLOCK is 04000 in fdinfo's octal flags.
    const s = layout.start(['sh', '-c', 'for fd in 0 1 2; do echo "fd$fd $(grep ^flags /proc/$$/fdinfo/$fd)"; done; printf "name? "; read x; echo "hi $x"']);
    const flags: number[] = [];
    for (const fd of [0, 1, 2]) flags.push(Number.parseInt((await s.expect(new RegExp(`fd${fd} flags:\\s+(\\d+)`)))[1], 8));
    for (const f of flags) expect(f & O_NONBLOCK).toBe(0);
    await s.expect(/name\? /);
    s.send('sesame\r');
    await s.expect(/hi sesame\r\n/);
    const done = await s.done;
    expect(done.code).toBe(0);
    expect(done.report).toMatchObject({ slave_closed: true, probe: 'ok' });
  });

  it('init writing to the terminal from the background (stty tostop) is not stopped', { timeout: 10_000 }, async () => {
    // With tostop a background writer gets SIGTTOU: init ignores it, so its log line goes out.
    const s = await startShell(layout, ['-l', 'debug']);
    await type(s, 'stty tostop; echo set');
    await s.expect(/set\r\n/);
    await s.expect(prompt);
    const { init } = tree(s);
    process.kill(init, 'SIGWINCH'); // forwarded to the shell, and logged at debug level
    await s.expect(/sesame: debug: forwarded SIGWINCH to pid \d+/);
    expect(procStat(init).state).not.toBe('T');
    s.send('stty -tostop; exit 4\r');
    expect((await s.done).code).toBe(4);
  });
});

describe.each(LAYOUTS)('^C and ^Z on the terminal ($name)', (layout) => {
  for (const flags of [[], ['-g']]) {
    it(`reaches the child exactly once${flags.length ? ` with ${flags.join(' ')}` : ''}`, { timeout: 10_000 }, async () => {
      // sigrecord prints one "sig NAME" line per signal it takes (sigwaitinfo: none merged).
      const s = layout.start([...flags, '-l', 'debug', program('sigrecord')]);
      const [, pid, pgid] = await s.expect(/ready (\d+) pgid=(\d+)\r\n/);
      expect(pgid).toBe(pid);
      s.send('\x03');
      await s.expect(/sig INT\r\n/);
      // A sentinel from outside, through init: a second INT that init had forwarded would be
      // forwarded before it, since init handles its signals in order.
      process.kill(tree(s).init, 'SIGTERM');
      const done = await s.done;
      expect(done.code).toBe(0); // sigrecord exits 0 on TERM
      const screen = done.screen;
      // (the tty echoes ^C as "^C" on the line sigrecord then prints to)
      expect(screen.match(/sig [A-Z0-9]+(?=\r\n)/g)).toEqual(['sig INT', 'sig TERM']);
      expect(screen).toMatch(/forwarded SIGTERM/); // debug logging is on, and
      expect(screen).not.toMatch(/forwarded SIGINT/); // init never saw the ^C
    });
  }

  it('^C to a child without a shell ends it: init exits 130 and releases the terminal', { timeout: 10_000 }, async () => {
    const s = layout.start(['sh', '-c', 'echo started; exec sleep 100']);
    await s.expect(/started\r\n/);
    const { init } = tree(s);
    await waitUntil('sleep runs', () => descendantsOf(init).some((p) => procStat(p).comm === 'sleep'));
    s.send('\x03');
    const done = await s.done;
    expect(done.code).toBe(130);
    expect(done.report).toMatchObject({ exit: 130, slave_closed: true, probe: 'ok', timeout: false });
  });

  // ^Z stops a child that is not a job-control shell, and nothing on the terminal can resume
  // it (without init, PID 1 would simply not be stopped by it). What must still work is
  // stopping the container from outside: init is not stopped, and SIGTERM ends the child.
  it('^Z stops a child without a shell; init is not stopped and still reacts to signals', { timeout: 10_000 }, async () => {
    const s = layout.start(['-t', '1s', 'sh', '-c', 'echo started; exec sleep 100']);
    await s.expect(/started\r\n/);
    const { init } = tree(s);
    const sleep = await waitUntil('sleep runs', () => descendantsOf(init).find((p) => procStat(p).comm === 'sleep'));
    s.send('\x1a');
    await waitUntil('sleep is stopped', () => procStat(sleep).state === 'T');
    expect(procStat(init).state).not.toBe('T');
    process.kill(init, 'SIGTERM');
    const done = await s.done;
    // init follows SIGTERM with SIGCONT, so the stopped child dies of the SIGTERM itself.
    expect(done.code).toBe(143);
    expect(done.report).toMatchObject({ slave_closed: true, probe: 'ok', timeout: false });
  });

  // Regression: a stopped process keeps every signal but SIGKILL pending until SIGCONT, so
  // `docker stop` after ^Z used to wait out the grace period and report 137 (SIGKILL).
  // init now follows SIGTERM with SIGCONT, as the shell's kill and systemd do.
  it('SIGTERM after ^Z ends the stopped child with SIGTERM (143), not the grace period\'s SIGKILL', { timeout: 10_000 }, async () => {
    const s = layout.start(['-t', '2s', 'sh', '-c', 'echo started; exec sleep 100']);
    await s.expect(/started\r\n/);
    const { init } = tree(s);
    const sleep = await waitUntil('sleep runs', () => descendantsOf(init).find((p) => procStat(p).comm === 'sleep'));
    s.send('\x1a');
    await waitUntil('sleep is stopped', () => procStat(sleep).state === 'T');
    process.kill(init, 'SIGTERM');
    const done = await s.done;
    expect(done.code).toBe(143);
  });
});

describe('without a terminal', () => {
  it('stdin a pipe: the child reads it, and no tcsetpgrp error', async () => {
    const r = await runAsPid1(['-l', 'debug', 'sh', '-c', 'read x; echo got:$x; grep ^flags /proc/$$/fdinfo/0 /proc/$$/fdinfo/1'], { input: 'piped\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^got:piped$/m);
    const flags = [...r.stdout.matchAll(/flags:\s+(\d+)/g)].map((m) => Number.parseInt(m[1], 8));
    expect(flags).toHaveLength(2);
    for (const f of flags) expect(f & O_NONBLOCK).toBe(0); // init left the pipes blocking
    expect(r.stderr).not.toMatch(/tcsetpgrp|error|warning/);
  });

  it('stdin /dev/null: the child starts normally', async () => {
    const r = await runAsPid1(['sh', '-c', 'echo ok; read x || echo eof']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('ok\neof\n');
  });

  it('a terminal that is nobody\'s controlling terminal: tcsetpgrp is skipped, the child runs', { timeout: 10_000 }, async () => {
    const s = track(startOnPty(['unshare', '--pid', '--fork', '--mount-proc', INIT, 'sh', '-c', 'printf "x? "; read x; echo got:$x'], { ctty: false }));
    await s.expect(/x\? /);
    s.send('tty\r');
    await s.expect(/got:tty\r\n/);
    const done = await s.done;
    expect(done.code).toBe(0);
    expect(done.screen).not.toMatch(/tcsetpgrp|error/);
  });
});
