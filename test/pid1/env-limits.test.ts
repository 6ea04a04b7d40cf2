// The kernel takes at most 128 KiB (MAX_ARG_STRLEN, 131072 bytes with the NUL) for one
// variable of the environment. An env secret over it is named with the limit, exit 78,
// before anything starts; never "Argument list too long" blamed on the command (126).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAsPid1 } from '../support/pid1';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A secret file of `bytes` bytes: a canary, then padding. */
function secretFile(bytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-envlimit-'));
  dirs.push(dir);
  const file = join(dir, 'big');
  writeFileSync(file, `CANARY-big-${'x'.repeat(bytes - 11)}`);
  return file;
}

describe('an env secret over MAX_ARG_STRLEN', () => {
  it('is refused with its name and the limit, 78, and nothing runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-envlimit-'));
    dirs.push(dir);
    const marker = join(dir, 'ran');
    const r = await runAsPid1(['--', 'sh', '-c', `touch ${marker}`], { env: { ...process.env, BIG: `file:${secretFile(140_000)}` } });
    expect(r.stderr).toBe("sesame: error: environment variable BIG is 140005 bytes with its name, over the kernel's limit of 131072 (128 KiB, MAX_ARG_STRLEN) for one variable; write it to a file instead\n");
    expect(r.code).toBe(78);
    expect(existsSync(marker)).toBe(false);
  });

  it('the largest that fits (131072 bytes with name and NUL) reaches the child whole', async () => {
    // "BIG=" is 4 bytes and the NUL 1: 131067 bytes of value.
    const r = await runAsPid1(['--', 'sh', '-c', 'printf %s "$BIG" | wc -c'], { env: { ...process.env, BIG: `file:${secretFile(131_067)}` } });
    expect(r.stdout.trim()).toBe('131067');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('a service\'s environment is checked too, naming the service', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-envlimit-'));
    dirs.push(dir);
    const config = join(dir, 'sesame.yaml');
    writeFileSync(config, `services:\n  web:\n    command: "true"\n    environment:\n      HUGE: "${'y'.repeat(140_000)}"\n`);
    const r = await runAsPid1(['-c', config]);
    expect(r.stderr).toBe("sesame: error: services.web: environment variable HUGE is 140006 bytes with its name, over the kernel's limit of 131072 (128 KiB, MAX_ARG_STRLEN) for one variable; write it to a file instead\n");
    expect(r.code).toBe(78);
  });
});
