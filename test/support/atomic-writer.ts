// A Kubernetes secret volume, updated exactly as kubelet's AtomicWriter does it
// (kubernetes pkg/volume/util/atomic_writer.go): the payload goes into a new directory
// named `..<UTC timestamp>.<random>`, a symlink `..data_tmp` is made to it and renamed over
// `..data` (the one atomic step), the visible names are symlinks `NAME -> ..data/NAME`
// (made once), and the old timestamped directory is removed last.
//
//   const volume = kubernetesVolume(dir, { password: 'one' });   // dir/password reads "one"
//   volume.update({ password: 'two' });
import { mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

export interface KubernetesVolume {
  dir: string;
  update(payload: Record<string, string>): void;
}

/** time.Now().UTC().Format("..2006_01_02_15_04_05."), the prefix of os.MkdirTemp. */
function timestampPrefix(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.`;
}

function write(dir: string, payload: Record<string, string>): void {
  const tsDir = mkdtempSync(join(dir, timestampPrefix()));
  for (const [name, content] of Object.entries(payload)) writeFileSync(join(tsDir, name), content, { mode: 0o644 });
  let old: string | undefined;
  try {
    old = readlinkSync(join(dir, '..data'));
  } catch {
    // first write
  }
  const tmp = join(dir, '..data_tmp');
  symlinkSync(tsDir.slice(dir.length + 1), tmp);
  renameSync(tmp, join(dir, '..data'));
  for (const name of Object.keys(payload)) {
    try {
      lstatSync(join(dir, name));
    } catch {
      symlinkSync(join('..data', name), join(dir, name));
    }
  }
  if (old) rmSync(join(dir, old), { recursive: true, force: true });
}

export function kubernetesVolume(dir: string, payload: Record<string, string>): KubernetesVolume {
  write(dir, payload);
  return { dir, update: (next) => write(dir, next) };
}
