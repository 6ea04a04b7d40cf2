// sesame as PID 1 of a real container, next to tini in the same image: exit codes,
// docker stop (with the default SIGTERM and with --stop-signal SIGQUIT, as the official
// nginx and php images have), docker kill -s, orphans, the process's name.
import { afterAll, describe, expect, it } from 'vitest';
import { containerName, docker, exitCode, IMAGE, logs, removeContainers, runDetached, waitForLogs } from '../support/docker';

afterAll(removeContainers);

/** How each init is started: ENTRYPOINT and what goes before the command. */
const INITS = {
  sesame: (...flags: string[]) => ['--entrypoint', '/init', IMAGE, ...flags, '--'],
  tini: (...flags: string[]) => ['--entrypoint', '/usr/bin/tini', IMAGE, ...flags, '--'],
} as const;
type Init = keyof typeof INITS;

/** docker run --rm: the exit code and output. */
async function run(init: Init, command: string[], runArgs: string[] = []) {
  const name = containerName(`run-${init}`);
  return docker(['run', '--rm', '--name', name, '--network', 'host', ...runArgs, ...INITS[init](), ...command]);
}

/** A detached container: `init [flags] -- command`. */
function start(init: Init, command: string[], runArgs: string[] = [], flags: string[] = []): Promise<string> {
  const [, entry, image, ...rest] = INITS[init](...flags);
  return runDetached(init, ['--entrypoint', entry, ...runArgs], image, [...rest, ...command]);
}

describe.each(['sesame', 'tini'] as const)('exit codes (%s)', (init) => {
  it.each([
    ['exit 0', ['sh', '-c', 'exit 0'], 0],
    ['exit 3', ['sh', '-c', 'exit 3'], 3],
    ['killed by SIGUSR1: 128+10', ['sh', '-c', 'kill -USR1 $$'], 138],
    ['not executable: 126', ['/etc/passwd'], 126],
    ['not found: 127', ['nosuch-command'], 127],
  ])('%s', async (_, command, code) => {
    const r = await run(init, command);
    expect(r.code).toBe(code);
  });
});

describe('exit codes: what sesame says', () => {
  it('names the command that is not found, and the one that is not executable', async () => {
    expect((await run('sesame', ['nosuch-command'])).stderr).toBe('sesame: error: nosuch-command: command not found\n');
    expect((await run('sesame', ['/etc/passwd'])).stderr).toBe('sesame: error: /etc/passwd: permission denied (not executable, or on a noexec mount)\n');
  });
});

/** A child that says when its traps are set, and "bye SIG" when it stops. */
const TRAPPING = (signal: string) => ['sh', '-c', `trap 'echo bye ${signal}; exit 0' ${signal}; echo up; while :; do sleep 1 & wait $!; done`];
/** A child that ignores `signal`. */
const IGNORING = (signal: string) => ['sh', '-c', `trap '' ${signal}; echo up; while :; do sleep 1 & wait $!; done`];

describe.each([
  ['SIGTERM (docker stop\'s default)', 'TERM', []],
  ['--stop-signal SIGQUIT (the official nginx and php images)', 'QUIT', ['--stop-signal', 'SIGQUIT']],
] as const)('docker stop with %s', (_, signal, runArgs) => {
  it.each(['sesame', 'tini'] as const)('%s: a child that traps it stops at once with its own code', async (init) => {
    const name = await start(init, TRAPPING(signal), [...runArgs]);
    await waitForLogs(name, /^up$/m);
    const t0 = Date.now();
    expect((await docker(['stop', '-t', '20', name])).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000); // far from Docker's SIGKILL at 20 s
    expect(await exitCode(name)).toBe(0);
    expect(await logs(name)).toBe(`up\nbye ${signal}`);
  });

  it('sesame: a child that ignores it is SIGKILLed by init at its grace period, before Docker would', async () => {
    const name = await start('sesame', IGNORING(signal), [...runArgs], ['-t', '2s']);
    await waitForLogs(name, /^up$/m);
    expect((await docker(['stop', '-t', '30', name])).code).toBe(0);
    expect(await exitCode(name)).toBe(137);
    // Init's own line: Docker's SIGKILL (at 30 s) would have left no time to write one.
    expect(await logs(name)).toMatch(/^up\nsesame: warning: pid \d+ still running 2000 ms after being asked to stop; sending SIGKILL to its process group$/);
  });

  it('tini: a child that ignores it is SIGKILLed by Docker at docker stop -t', async () => {
    const name = await start('tini', IGNORING(signal), [...runArgs]);
    await waitForLogs(name, /^up$/m);
    expect((await docker(['stop', '-t', '2', name])).code).toBe(0);
    expect(await exitCode(name)).toBe(137);
    expect(await logs(name)).toBe('up');
  });
});

describe('docker stop: the child gets its stop signal once, and no SIGCONT it did not need', () => {
  it('sesame: a running child sees TERM and nothing else (no SIGCONT), then init\'s SIGKILL', async () => {
    // --ignore-term: it keeps running after the TERM, so a SIGCONT after it would show.
    const name = await start('sesame', ['sigrecord', '--ignore-term'], [], ['-t', '1s']);
    await waitForLogs(name, /^ready/m);
    await docker(['stop', name]);
    expect(await exitCode(name)).toBe(137);
    expect((await logs(name)).split('\n').filter((l) => l.startsWith('sig '))).toEqual(['sig TERM']);
  });
});

describe.each(['sesame', 'tini'] as const)('docker kill -s (%s)', (init) => {
  it('forwards HUP, USR1, USR2 and WINCH to the child, in order', async () => {
    const name = await start(init, ['sigrecord']);
    await waitForLogs(name, /^ready/m);
    for (const [i, signal] of ['HUP', 'USR1', 'USR2', 'WINCH'].entries()) {
      expect((await docker(['kill', '-s', signal, name])).code).toBe(0);
      await waitForLogs(name, new RegExp(`(^sig \\w+\\n){${i + 1}}`, 'm'));
    }
    await docker(['stop', name]);
    expect(await exitCode(name)).toBe(0);
    expect((await logs(name)).split('\n').slice(1)).toEqual(['sig HUP', 'sig USR1', 'sig USR2', 'sig WINCH', 'sig TERM']);
  });
});

describe.each(['sesame', 'tini'] as const)('orphans (%s)', (init) => {
  it('reaps 500 orphans and exits with the child\'s code', async () => {
    const r = await run(init, ['orphans', '500', '5']);
    expect(r.stdout).toMatch(/^orphans 500 reaped in \d+ us\n$/);
    expect(r.code).toBe(5);
  });
});

describe('the name of PID 1', () => {
  it.each([['sesame', 'init'], ['tini', 'tini']] as const)('%s shows as %s in /proc/1/comm, ps and docker top', async (init, comm) => {
    const name = await start(init, ['sh', '-c', 'echo up; exec sleep 1000']);
    await waitForLogs(name, /^up$/m);
    expect((await docker(['exec', name, 'cat', '/proc/1/comm'])).stdout).toBe(`${comm}\n`);
    expect((await docker(['exec', name, 'ps', '-o', 'comm=', '-p', '1'])).stdout).toBe(`${comm}\n`);
    const top = await docker(['top', name, '-o', 'pid,comm']);
    expect(top.stdout.split('\n')[1]).toMatch(new RegExp(`^\\s*\\d+\\s+${comm}$`));
    await docker(['rm', '-f', name]);
  });
});
