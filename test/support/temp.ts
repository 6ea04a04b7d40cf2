// Temporary directories of tests. Each test removes what it made when it ends, passed or
// failed (tempDir, through vitest's onTestFinished); a file's shared directory is removed by
// its own afterAll. Behind both, global-setup.ts points TMPDIR at one directory per run and
// removes it at the end, so that nothing is left in /tmp even when a worker is killed.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A fresh directory `prefix`XXXXXX for the running test, removed when it finishes; `mode` if given. */
export function tempDir(prefix: string, mode?: number): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  if (mode !== undefined) chmodSync(dir, mode);
  return dir;
}
