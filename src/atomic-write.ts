// Writing a file so that readers see the old content or the new, never half of it, and a
// secret is never readable by anyone else, even for a moment: create a temporary file
// next to the target with mode 0000, give it its owner and mode, write, fsync, rename
// (keysync's output/write.go WriteFileAtomically does the same). On failure the previous
// file is left untouched and the temporary one removed.
import { closeSync, fchmodSync, fchownSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface WriteOptions {
  mode: number;
  uid?: number;
  gid?: number;
}

export function writeFileAtomic(path: string, data: Buffer, { mode, uid, gid }: WriteOptions): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const temp = join(dir, `.${basename(path)}.sesame-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const fd = openSync(temp, 'wx', 0o000);
  try {
    if (uid !== undefined || gid !== undefined) fchownSync(fd, uid ?? -1, gid ?? -1);
    fchmodSync(fd, mode);
    for (let offset = 0; offset < data.length;) offset += writeSync(fd, data, offset);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, path);
  } catch (error) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(temp); } catch { /* never created or already renamed */ }
    throw error;
  }
}
