// Watched file secrets: a Kubernetes-style `..data` swap, an in-place write, a file that
// goes away and comes back, and nothing said when the content is the same.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../src/lifetime/clock';
import { directoriesOf, FileWatch } from '../../src/lifetime/file-watch';
import { createLog } from '../../src/log';
import { kubernetesVolume } from '../support/atomic-writer';

const dirs: string[] = [];
const watches: FileWatch[] = [];
afterEach(() => {
  watches.splice(0).forEach((w) => w.stop());
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-watch-'));
  dirs.push(dir);
  return dir;
}

/** Resolves with the values seen, once `count` came (or after `ms`, with what came). */
function watchFor(path: string, initial: string, options: { pollMs?: number } = {}) {
  const seen: string[] = [];
  let wake = () => {};
  const watch = new FileWatch(path, Buffer.from(initial), { clock: realClock, log: createLog('error'), pollMs: options.pollMs ?? 60_000 }, (v) => {
    seen.push(v.toString());
    wake();
  });
  watches.push(watch);
  watch.start();
  const until = (count: number, ms: number) => new Promise<string[]>((resolve) => {
    const timer = setTimeout(() => resolve(seen), ms);
    wake = () => { if (seen.length >= count) { clearTimeout(timer); resolve(seen); } };
    wake();
  });
  return { seen, until };
}

describe('FileWatch', () => {
  it('sees a kubelet ..data swap within 2 s, once per change, and re-arms for the next', async () => {
    const dir = tempDir();
    const volume = kubernetesVolume(dir, { password: 'one\n', user: 'app' });
    expect(directoriesOf(join(dir, 'password'))).toEqual([dir]);
    const w = watchFor(join(dir, 'password'), 'one');
    volume.update({ password: 'two\n', user: 'app' });
    expect(await w.until(1, 2000)).toEqual(['two']);
    volume.update({ password: 'three\n', user: 'app' });
    expect(await w.until(2, 2000)).toEqual(['two', 'three']);
    // A swap that changes another key only: this file's content is the same, nothing said.
    volume.update({ password: 'three\n', user: 'other' });
    expect(await w.until(3, 700)).toEqual(['two', 'three']);
  });

  it('sees an in-place rewrite and a rename over the file (Docker bind mount, editors)', async () => {
    const dir = tempDir();
    const path = join(dir, 'token');
    writeFileSync(path, 'a');
    const w = watchFor(path, 'a');
    writeFileSync(path, 'b');
    expect(await w.until(1, 2000)).toEqual(['b']);
    writeFileSync(join(dir, '.token.new'), 'c\n');
    renameSync(join(dir, '.token.new'), path);
    expect(await w.until(2, 2000)).toEqual(['b', 'c']);
  });

  it('keeps the last value while the file is gone and reports it when it is back', async () => {
    const dir = tempDir();
    const path = join(dir, 'token');
    writeFileSync(path, 'a');
    const w = watchFor(path, 'a');
    rmSync(path);
    await w.until(1, 400);
    expect(w.seen).toEqual([]);
    writeFileSync(path, 'b');
    expect(await w.until(1, 2000)).toEqual(['b']);
  });

  it('falls back to the poll when no event comes (a directory it could not watch)', async () => {
    const dir = tempDir();
    const path = join(dir, 'missing-dir', 'token');
    // The directory does not exist: no watch can be armed on it; the poll finds the file later.
    const w = watchFor(path, 'a', { pollMs: 300 });
    await new Promise((r) => setTimeout(r, 100));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'missing-dir'));
    writeFileSync(path, 'b');
    expect(await w.until(1, 3000)).toEqual(['b']);
  });
});
