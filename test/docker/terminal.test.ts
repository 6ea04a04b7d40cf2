// docker run -it: the docker client on a pseudo-terminal (test/.build/ptyrun, see
// support/pty.ts) and the container on Docker's own. ^C once reaches the foreground job
// only; ^Z, jobs, fg and bg work in an interactive bash; the exit code comes back. Next to
// tini in the same image.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { containerName, docker, IMAGE, removeContainers } from '../support/docker';
import { PROMPT, SHELL_ENV, startOnPty, type PtySession } from '../support/pty';

const sessions: PtySession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.kill()));
});
afterAll(removeContainers);

const ENTRY = { sesame: '/init', tini: '/usr/bin/tini' } as const;

function dockerOnPty(init: keyof typeof ENTRY, command: string[], name = containerName(`tty-${init}`)): PtySession {
  const argv = ['docker', 'run', '-it', '--rm', '--name', name, '--network', 'host',
    '-e', `PS1=${PROMPT}`, '-e', 'TERM=dumb', '--entrypoint', ENTRY[init], IMAGE, '--', ...command];
  const session = startOnPty(argv, { env: { ...SHELL_ENV, DOCKER_HOST: process.env.DOCKER_HOST }, timeoutS: 50 });
  sessions.push(session);
  return session;
}

describe.each(['sesame', 'tini'] as const)('docker run -it (%s)', (init) => {
  it('^C once ends the foreground command: exit 130', async () => {
    const s = dockerOnPty(init, ['sh', '-c', 'echo up; exec sleep 100']);
    await s.expect(/up\r?\n/, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    s.send('\x03');
    const r = await s.done;
    expect(r.report?.exit).toBe(130);
  });

  it('^C reaches the child once (init forwards no second copy)', async () => {
    const name = containerName(`tty-${init}`);
    const s = dockerOnPty(init, ['sigrecord'], name);
    await s.expect(/ready \d+/, 30_000);
    s.send('\x03');
    await s.expect(/sig INT/, 10_000);
    // Time for a second copy to arrive, if one were sent; then docker kill ends it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await docker(['kill', '-s', 'TERM', name]);
    const r = await s.done;
    // WINCH aside: the docker client sets the container's window size after attaching.
    expect(r.screen.match(/sig \w+/g)?.filter((l) => l !== 'sig WINCH')).toEqual(['sig INT', 'sig TERM']);
    expect(r.report?.exit).toBe(0);
  });

  it('interactive bash: ^C stops the job, not the shell; ^Z, jobs, fg and bg; then exit 7', async () => {
    const s = dockerOnPty(init, ['bash', '--norc', '--noprofile', '-i']);
    await s.expect(new RegExp(PROMPT.replace('$', '\\$')), 30_000);
    s.send('sleep 100\r');
    await new Promise((resolve) => setTimeout(resolve, 500));
    s.send('\x03');
    await s.expect(/SESAME\$ $/, 10_000);
    s.send('echo after-int\r');
    await s.expect(/after-int\r?\n/);
    s.send('sleep 100\r');
    await new Promise((resolve) => setTimeout(resolve, 500));
    s.send('\x1a');
    await s.expect(/Stopped\s+sleep 100/, 10_000);
    s.send('jobs -l\r');
    await s.expect(/\[1\]\+\s+\d+ Stopped\s+sleep 100/);
    s.send('bg\r');
    await s.expect(/\[1\]\+ sleep 100 &/);
    s.send('fg\r');
    await s.expect(/sleep 100\r?\n/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    s.send('\x03');
    await s.expect(/SESAME\$ $/, 10_000);
    s.send('exit 7\r');
    const r = await s.done;
    expect(r.report?.exit).toBe(7);
  });
});
