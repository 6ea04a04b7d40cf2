// /init in the images that have no glibc: FROM scratch (init and a static busybox, nothing
// else) and a musl image laid out as Alpine is (test/docker/images/musl.Dockerfile). The
// one file is its own interpreter, so neither needs a loader or a library from the image.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerName, docker, exitCode, logs, removeContainers, runDetached, waitForLogs } from '../support/docker';
import { INIT } from '../support/paths';

const IMAGES = {
  scratch: 'sesame-test/init-scratch',
  musl: 'sesame-test/init-musl',
} as const;

const DOCKERFILES: Record<keyof typeof IMAGES, string> = {
  // busybox from the Debian base: static, so it needs nothing from the image either.
  scratch: 'FROM sesame-test/bookworm AS debian\nFROM scratch\nCOPY --from=debian /bin/busybox /bin/busybox\nCOPY init /init\nENTRYPOINT ["/init"]\n',
  musl: 'FROM sesame-test/musl\nCOPY init /init\nENTRYPOINT ["/init"]\n',
};

beforeAll(() => {
  const context = mkdtempSync(join(tmpdir(), 'sesame-images-'));
  try {
    copyFileSync(INIT, join(context, 'init'));
    for (const [kind, tag] of Object.entries(IMAGES)) {
      writeFileSync(join(context, 'Dockerfile'), DOCKERFILES[kind as keyof typeof IMAGES]);
      execFileSync('docker', ['build', '-q', '-t', tag, context], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DOCKER_BUILDKIT: '0' } });
    }
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
});
afterAll(async () => {
  removeContainers();
  for (const tag of Object.values(IMAGES)) await docker(['rmi', '-f', tag]);
});

/** The shell: busybox's, called by its path on scratch (no /bin/sh there). */
const SH = { scratch: ['/bin/busybox', 'sh', '-c'], musl: ['sh', '-c'] } as const;
/** An orphan re-parented to PID 1: "reaped" if init reaped it, else "zombie". */
const ORPHAN = '/bin/busybox sh -c "/bin/busybox sleep 0.2 &"; /bin/busybox sleep 0.6; '
  + 'if /bin/busybox grep -q "^[0-9]* ([^)]*) Z 1 " /proc/[0-9]*/stat 2>/dev/null; then echo zombie; else echo reaped; fi';

describe.each(['scratch', 'musl'] as const)('FROM %s', (kind) => {
  const image = IMAGES[kind];

  it('runs the command with its exit code, reaps orphans, and is named init', async () => {
    const r = await docker(['run', '--rm', '--name', containerName(kind), '--network', 'host', image, ...SH[kind], `${ORPHAN}; /bin/busybox cat /proc/1/comm; exit 3`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('reaped\ninit\n');
    expect(r.code).toBe(3);
  });

  it('docker stop with --stop-signal SIGQUIT: the child that traps it ends with its code', async () => {
    const name = await runDetached(kind, ['--stop-signal', 'SIGQUIT'], image,
      [...SH[kind], 'trap "echo bye; exit 0" QUIT; echo up; while :; do /bin/busybox sleep 1 & wait $!; done']);
    await waitForLogs(name, /^up$/m);
    await docker(['stop', name]);
    expect(await exitCode(name)).toBe(0);
    expect(await logs(name)).toBe('up\nbye');
  });

  it('a secret by file: from a bind-mounted /run/secrets, gone from /proc/1/environ', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-secret-'));
    try {
      writeFileSync(join(dir, 'token'), 'canary-scratch-token-51c0\n', { mode: 0o644 });
      // CAP_SYS_PTRACE: init is undumpable, so without it the child may not read /proc/1/environ at all.
      const r = await docker(['run', '--rm', '--name', containerName(kind), '--network', 'host', '--cap-add', 'SYS_PTRACE', '-v', `${dir}:/run/secrets:ro`,
        '-e', 'TOKEN=file:/run/secrets/token', image, ...SH[kind], 'echo "${#TOKEN}"; /bin/busybox cat /proc/1/environ']);
      expect(r.stdout.split('\n')[0]).toBe('25');
      expect(r.stdout).not.toContain('canary-scratch-token');
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
