// PID 1's name, as ps, top, docker top and /proc/1/comm show it: the executable's, as tini
// shows "tini" (Node would call it "MainThread").
import { linkSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INIT } from '../support/paths';
import { runAsPid1 } from '../support/pid1';

describe('the name of PID 1', () => {
  it('is "init" for /init (dist/init): /proc/1/comm and ps', async () => {
    const r = await runAsPid1(['--', 'sh', '-c', 'cat /proc/1/comm; ps -o comm= -p 1']);
    expect(r.stdout).toBe('init\ninit\n');
    expect(r.code).toBe(0);
  });

  it('is the executable\'s own name when the image calls it something else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-name-'));
    try {
      const renamed = join(dir, 'sesame');
      linkSync(INIT, renamed);
      const r = await runAsPid1(['--', 'cat', '/proc/1/comm'], { init: renamed });
      expect(r.stdout).toBe('sesame\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
