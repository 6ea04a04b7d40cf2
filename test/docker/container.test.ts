// The ways users start containers: --read-only (with /init.node, with an exec-capable
// /tmp as a non-root user, with neither), --user, --cap-drop ALL, --init (sesame below
// Docker's tini, as a subreaper), secrets from a bind-mounted /run/secrets, a memory limit.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerName, docker, exitCode, IMAGE, IMAGE_BARE, initEnviron, removeContainers, runDetached, waitForLogs } from '../support/docker';

afterAll(removeContainers);

async function run(runArgs: string[], image: string, args: string[]) {
  return docker(['run', '--rm', '--name', containerName('c'), '--network', 'host', ...runArgs, image, ...args]);
}

/** An orphan re-parented to PID 1 that exits at once: gone if init reaps it, else a zombie. */
const ORPHAN = 'sh -c "sleep 0.2 &" ; sleep 0.6; if ps -eo stat=,ppid= | grep -q "^Z *1$"; then echo zombie; else echo reaped; fi';

describe('--read-only', () => {
  // /init is one file: its C helper comes in a memory file, so no mount has to allow
  // execution, for root or any other user; an /init.node beside it (as older images copy)
  // is not needed and changes nothing.
  it.each([
    ['with /init.node in the image', [], IMAGE],
    ['without /init.node, as root, no tmpfs at all', [], IMAGE_BARE],
    ['without /init.node, as a non-root user, with --tmpfs /tmp:exec', ['--tmpfs', '/tmp:exec', '--user', '1000:1000'], IMAGE_BARE],
    ['without /init.node, as a non-root user, with --tmpfs /run:exec (0755 root)', ['--tmpfs', '/run:exec', '--user', '1000:1000'], IMAGE_BARE],
    ['without /init.node, as a non-root user, no tmpfs at all', ['--user', '1000:1000'], IMAGE_BARE],
  ] as const)('%s: the helper loads from inside /init, orphans are reaped, no warning', async (_, runArgs, image) => {
    const r = await run(['--read-only', ...runArgs], image, ['-l', 'debug', '--', 'sh', '-c', `${ORPHAN}; exit 4`]);
    expect(r.stderr).toContain('sesame: debug: native helper loaded from inside /init\n');
    expect(r.stderr.split('\n').filter((l) => l && !l.startsWith('sesame: debug: '))).toEqual([]);
    expect(r.stdout).toBe('reaped\n');
    expect(r.code).toBe(4);
  });
});

describe('users and capabilities', () => {
  const SHOW = 'id -u; id -g; grep ^CapEff /proc/self/status';

  it('docker run --user 1000:1000: init and the child run as 1000, orphans are reaped', async () => {
    const r = await run(['--user', '1000:1000'], IMAGE, ['sh', '-c', `id -u; cat /proc/1/status | grep ^Uid; ${ORPHAN}`]);
    expect(r.stdout).toMatch(/^1000\nUid:\s+1000\s+1000\s+1000\s+1000\nreaped\n$/);
    expect(r.code).toBe(0);
  });

  it('init --user app: the child runs as app (1000:1000) with no capabilities left', async () => {
    const r = await run([], IMAGE, ['--user', 'app', '--', 'sh', '-c', SHOW]);
    expect(r.stdout).toBe('1000\n1000\nCapEff:\t0000000000000000\n');
    expect(r.code).toBe(0);
  });

  it('--cap-drop ALL: the child runs as root without capabilities', async () => {
    const r = await run(['--cap-drop', 'ALL'], IMAGE, ['sh', '-c', SHOW]);
    expect(r.stdout).toBe('0\n0\nCapEff:\t0000000000000000\n');
    expect(r.code).toBe(0);
  });

  it('--cap-drop ALL with init --user app: exit 77, naming the missing CAP_SETUID and CAP_SETGID', async () => {
    const r = await run(['--cap-drop', 'ALL'], IMAGE, ['--user', 'app', '--', 'id']);
    expect(r.stderr).toMatch(/^sesame: error: --user app: set\w+ failed: Operation not permitted \(init is root but lacks CAP_SETUID and CAP_SETGID: .*--cap-add SETUID --cap-add SETGID.*\)\n$/);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(77);
  });
});

describe('docker run --init: sesame under Docker\'s own init', () => {
  it('is not PID 1 but a subreaper: the orphans come to it and it reaps them', async () => {
    const r = await run(['--init'], IMAGE, ['sh', '-c', 'cat /proc/1/comm; grep PPid /proc/$PPID/status; exec orphans 500 3']);
    const [pid1, ppid, reaped] = r.stdout.split('\n');
    expect(pid1).toBe('docker-init');
    expect(ppid).toMatch(/^PPid:\s+1$/); // sesame's parent is docker-init
    expect(reaped).toMatch(/^orphans 500 reaped in \d+ us$/);
    expect(r.code).toBe(3);
  });

  it('docker stop reaches the child through both inits', async () => {
    const name = await runDetached('init', ['--init'], IMAGE, ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo up; while :; do sleep 1 & wait $!; done']);
    await waitForLogs(name, /^up$/m);
    await docker(['stop', name]);
    expect(await exitCode(name)).toBe(0);
    expect((await docker(['logs', name])).stdout).toBe('up\nbye\n');
  });
});

describe('secrets from a bind-mounted /run/secrets', () => {
  const CANARY = 'canary-db-password-4f1d';
  const TOKEN = 'canary-vault-token-8c2e';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-secrets-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'db_password'), `${CANARY}\n`, { mode: 0o644 });
    writeFileSync(join(dir, 'api_key'), 'canary-api-key-0b7a\n', { mode: 0o644 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('file: and NAME_FILE fill the child\'s variables; /proc/1/environ keeps neither the values nor the credential', async () => {
    const name = await runDetached('secrets', [
      '-v', `${dir}:/run/secrets:ro`,
      '-e', 'DB_PASSWORD=file:/run/secrets/db_password', '-e', 'API_KEY_FILE=/run/secrets/api_key',
      '-e', `VAULT_TOKEN=${TOKEN}`, '-e', 'PLAIN=visible',
    ], IMAGE, ['sh', '-c', 'echo "db=$DB_PASSWORD key=$API_KEY"; env > /tmp/child-env; echo up; while :; do sleep 1 & wait $!; done']);
    await waitForLogs(name, /^up$/m);
    // Init is undumpable: without CAP_SYS_PTRACE (not in Docker's default set) even root in
    // the container may not read its environ. With it (read from the host), the block shows
    // nothing of the secrets either.
    const refused = await docker(['exec', name, 'cat', '/proc/1/environ']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe('');
    const environ = await initEnviron(name);
    const childEnv = (await docker(['exec', name, 'cat', '/tmp/child-env'])).stdout;
    const output = await docker(['logs', name]);
    await docker(['rm', '-f', name]);
    expect(output.stdout).toMatch(/^db=canary-db-password-4f1d key=canary-api-key-0b7a\nup\n$/);
    // PID 1: what is left, packed, then NULs (one run: no gaps that show where or how long).
    expect(environ).not.toContain(CANARY);
    expect(environ).not.toContain(TOKEN);
    expect(environ).not.toContain('file:/run/secrets');
    const entries = environ.replace(/\0+$/, '').split('\0');
    expect(entries).toContain('PLAIN=visible');
    expect(entries.every((e) => /^[A-Z_]+=/.test(e))).toBe(true);
    expect(entries.some((e) => /^(VAULT_TOKEN|DB_PASSWORD|API_KEY_FILE)=/.test(e))).toBe(false);
    // The child: the values it asked for, no credential, no reference, no _FILE pointer.
    expect(childEnv).toContain(`DB_PASSWORD=${CANARY}\n`);
    expect(childEnv).not.toContain(TOKEN);
    expect(childEnv).not.toMatch(/^(VAULT_TOKEN|API_KEY_FILE)=/m);
  });
});

describe('--memory 64m', () => {
  it('init, a secret and a child fit, and nothing is OOM-killed', async () => {
    const name = await runDetached('mem', ['--memory', '64m', '--memory-swap', '64m', '-e', 'GREETING=file:/etc/hostname'], IMAGE,
      ['sh', '-c', 'echo "up ${#GREETING}"; while :; do sleep 1 & wait $!; done']);
    await waitForLogs(name, /^up \d+$/m);
    await docker(['stop', name]);
    expect(await exitCode(name)).toBe(143); // sh dies of the SIGTERM it does not trap
    const inspect = JSON.parse((await docker(['inspect', name])).stdout)[0];
    expect(inspect.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(inspect.State.OOMKilled).toBe(false);
  });
});
