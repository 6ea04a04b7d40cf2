// Properties of the built executable that a change can silently lose.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ADDON, INIT } from '../support/paths';
import { runAsPid1 } from '../support/pid1';

/** The highest GLIBC_x.y symbol version a binary needs. */
function glibcNeeded(file: string): string {
  const versions = [...execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return versions.at(-1)?.join('.') ?? 'none';
}

describe('the built executable', () => {
  it('starts with its trained code cache accepted by V8', async () => {
    const r = await runAsPid1(['--log-level', 'debug', '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('native helper loaded');
    expect(r.stderr).not.toContain('rejected the code cache');
  });

  it('needs no newer glibc than Node itself (2.28), addon included', () => {
    expect(glibcNeeded(INIT)).toBe('2.28');
    const [major, minor] = glibcNeeded(ADDON).split('.').map(Number);
    expect(major === 2 && minor <= 28).toBe(true);
  });
});
