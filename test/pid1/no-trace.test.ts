// Canary secrets: values planted in init's environment, files and config must show up only
// where a reference asked for them, and nowhere else: not in /proc/1/environ once init has
// started, not in a child that was not told to receive them, not in init's own output at
// debug level, not on any command line.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp';
import { runAsPid1 } from '../support/pid1';

const CANARY = {
  token: 'canary-vault-token-5c1f',
  secretId: 'canary-secret-id-77a2',
  fileValue: 'canary-file-value-9e0d',
  configOnly: 'canary-config-file-only-3b4b',
};

describe('leave no trace', () => {
  it('keeps credentials out of /proc/1/environ and the child, and secrets out of logs and argv', async () => {
    const dir = tempDir('sesame-canary-');
    writeFileSync(join(dir, 'db'), `${CANARY.fileValue}\n`);
    writeFileSync(join(dir, 'tls'), CANARY.configOnly);
    writeFileSync(join(dir, 'config.yaml'), `secrets:\n  - ref: file:${dir}/tls\n    file: ${dir}/out/tls.key\n`);
    // The child reports what it can see: PID 1's environ, its own env, every process's
    // command line, and the secret file's mode.
    const script = [
      'echo "--- pid1-environ"; tr "\\0" "\\n" < /proc/1/environ',
      'echo "--- child-env"; env',
      'echo "--- cmdlines"; for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < $f; echo; done',
      `echo "--- file"; stat -c %a ${dir}/out/tls.key`,
    ].join('; ');
    const r = await runAsPid1(['--log-level', 'debug', '--config', join(dir, 'config.yaml'), '--', 'sh', '-c', script], {
      env: {
        PATH: process.env.PATH,
        VAULT_TOKEN: CANARY.token,
        SESAME_VAULT_SECRET_ID: CANARY.secretId,
        DB_PASSWORD: `file:${dir}/db`,
        PLAIN: 'visible',
      },
    });
    expect(r.code).toBe(0);
    const section = (name: string) => r.stdout.split(`--- ${name}\n`)[1].split('\n--- ')[0];

    // PID 1's environment block no longer holds the credentials (nor init's settings).
    expect(section('pid1-environ')).not.toContain(CANARY.token);
    expect(section('pid1-environ')).not.toContain(CANARY.secretId);
    expect(section('pid1-environ')).toContain('PLAIN=visible');
    // The child gets the secret it asked for, and nothing of init's.
    expect(section('child-env')).toContain(`DB_PASSWORD=${CANARY.fileValue}\n`);
    expect(section('child-env')).not.toMatch(/VAULT_TOKEN|SESAME_/);
    expect(section('child-env')).not.toContain(CANARY.configOnly);
    // The secret meant for a file went to the file only, mode 0400.
    expect(section('file').trim()).toBe('400');
    // Nothing secret on any command line, nor in init's output at debug level.
    for (const value of Object.values(CANARY)) {
      expect(section('cmdlines')).not.toContain(value);
      expect(r.stderr).not.toContain(value);
    }
    expect(r.stderr).toContain('sesame: debug:'); // debug logging was really on
  });

  it('packs what is left of /proc/1/environ: no NUL gaps that show where or how long the removed entries were', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-environ-'));
    writeFileSync(join(dir, 'db'), `${CANARY.fileValue}\n`);
    const env: Record<string, string> = {
      A_FIRST: 'kept-1',
      VAULT_TOKEN: CANARY.token,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DB_PASSWORD: `file:${dir}/db`,
      SESAME_VAULT_SECRET_ID: CANARY.secretId,
      Z_LAST: 'kept-2',
    };
    const r = await runAsPid1(['--', 'sh', '-c', `cat /proc/1/environ > ${dir}/environ`], { env });
    expect(r.code).toBe(0);
    const block = readFileSync(join(dir, 'environ'));
    const original = Object.entries(env).reduce((n, [k, v]) => n + Buffer.byteLength(`${k}=${v}`) + 1, 0);
    // The block keeps its length (it is where the kernel put it), so only that shows...
    expect(block.length).toBe(original);
    // ...and what remains comes first, in order, packed; then NULs only.
    let end = block.length;
    while (end > 0 && block[end - 1] === 0) end--;
    expect(block.subarray(0, end + 1).toString('latin1').split('\0').slice(0, -1)).toEqual(['A_FIRST=kept-1', `PATH=${env.PATH}`, 'Z_LAST=kept-2']);
  });

  it('keeps SESAME_PASSTHROUGH variables for the child, but still clears them from PID 1', async () => {
    const r = await runAsPid1(['--', 'sh', '-c', 'echo "child:${VAULT_ADDR-}"; tr "\\0" "\\n" < /proc/1/environ | grep -c "^VAULT_ADDR=" || true'], {
      env: { PATH: process.env.PATH, VAULT_ADDR: 'https://vault.internal:8200', SESAME_PASSTHROUGH: 'VAULT_ADDR' },
    });
    expect(r.stdout).toBe('child:https://vault.internal:8200\n0\n');
  });

  it('names the reference and the cause of a failure, never the value', async () => {
    const dir = tempDir('sesame-canary-');
    writeFileSync(join(dir, 'big'), Buffer.alloc(2 * 1024 * 1024, 'x'));
    writeFileSync(join(dir, 'nul'), `${CANARY.fileValue}\0rest`);
    const r = await runAsPid1(['--', 'true'], { env: { PATH: process.env.PATH, A: `file:${dir}/nul`, B: `file:${dir}/big` } });
    expect(r.code).toBe(78);
    // One line per failure, in the order of the environment.
    expect(r.stderr.split('\n').sort()).toEqual([
      '',
      `sesame: error: A: file:${dir}/nul: the value contains a NUL byte, which an environment variable cannot hold (if A is not a secret reference, list it in SESAME_LITERAL)`,
      `sesame: error: B: file:${dir}/big: ${dir}/big is larger than 1 MiB: not a secret file (if B is not a secret reference, list it in SESAME_LITERAL)`,
    ]);
    expect(r.stderr).not.toContain(CANARY.fileValue);
  });
});
