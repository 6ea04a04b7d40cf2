// File secrets while init runs (file:, NAME_FILE, Docker and Kubernetes mounts). Kubernetes
// updates a secret volume by swapping a symlink: the visible files are links into `..data`,
// itself a link to a timestamped directory, and an update writes a new directory, points
// `..data_tmp` at it, renames that over `..data` and deletes the old directory
// (pkg/volume/util/atomic_writer.go). Watching the file itself loses the watch on the first
// swap (open-feature/flagd #42), and the swap can look like a write rather than a create
// (configmap-reload #190). So: watch the directories (the file's own and every one that holds
// a symlink on the way to it), re-resolve the path on every event, compare the content, and
// poll slowly as a fallback for what inotify misses (NFS, overlay quirks, a full watch table).
import { type FSWatcher, lstatSync, realpathSync, watch } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import type { Log } from '../log';
import { readFileSecret } from '../secrets/file';
import { SecretError } from '../secrets/errors';
import type { Clock, Timer } from './clock';
import type { Lifetime, Reporter, SecretName } from './lifetime';

/** How often the content is read even without an event. */
export const FILE_POLL_MS = 30_000;
/** Events arrive in bursts (a swap is several renames): read once they settle. */
const SETTLE_MS = 100;

export interface FileWatchDeps {
  clock: Clock;
  log: Log;
  pollMs?: number;
}

/**
 * The directories whose entries decide what `path` reads: its parent, and the parent of every
 * symlink met while resolving it (a link's target may itself hold links: `..data/sub`).
 */
export function directoriesOf(path: string): string[] {
  const dirs = new Set<string>([dirname(path)]);
  const parts = path.split(sep).filter(Boolean);
  let at: string = sep;
  for (const part of parts) {
    const next = join(at, part);
    try {
      if (lstatSync(next).isSymbolicLink()) dirs.add(at);
    } catch {
      break; // not there (yet): the part before it is watched
    }
    at = next;
  }
  return [...dirs];
}

/** Where a directory resolves now: a watch on a deleted timestamped directory must be re-armed. */
function resolved(dirs: string[]): string {
  return dirs.map((d) => {
    try {
      return realpathSync(d);
    } catch {
      return `${d}?`;
    }
  }).join('\0');
}

/** One watched file: says `changed(value)` when its content is different from the last seen. */
export class FileWatch {
  private watchers: FSWatcher[] = [];
  private armedFor = '';
  private settle?: Timer;
  private poll?: Timer;
  private stopped = false;
  private checking = false;
  private again = false;
  private missing = false;
  private watchFailed = false;

  constructor(
    readonly path: string,
    private last: Buffer,
    private readonly deps: FileWatchDeps,
    private readonly changed: (value: Buffer) => void,
    /** For lines: the name the value goes to. */
    private readonly what = path,
  ) {}

  start(): void {
    this.arm();
    this.schedulePoll();
  }

  stop(): void {
    this.stopped = true;
    this.settle?.cancel();
    this.poll?.cancel();
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  private arm(): void {
    const dirs = directoriesOf(this.path);
    const key = `${dirs.join('\0')}\n${resolved(dirs)}`;
    if (key === this.armedFor) return;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.armedFor = key;
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.soon());
        // A watched directory that is deleted ends its watch: the next check re-arms.
        watcher.on('error', () => this.soon());
        this.watchers.push(watcher);
      } catch (error) {
        if (!this.watchFailed) {
          this.watchFailed = true;
          this.deps.log.warn(`${this.what}: cannot watch ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); reading it every ${Math.round((this.deps.pollMs ?? FILE_POLL_MS) / 1000)} s instead`);
        }
      }
    }
  }

  private soon(): void {
    if (this.stopped || this.settle) return;
    this.settle = this.deps.clock.after(SETTLE_MS, () => {
      this.settle = undefined;
      void this.check();
    });
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.poll = this.deps.clock.after(this.deps.pollMs ?? FILE_POLL_MS, () => {
      void this.check().then(() => this.schedulePoll());
    });
  }

  /** Read, compare, tell; one at a time (an event during a read reads again after it). */
  async check(): Promise<void> {
    if (this.stopped) return;
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.again = false;
        this.arm();
        const result = await readFileSecret(this.path);
        if (this.stopped) return;
        if (result instanceof SecretError) {
          // Mid-swap, or removed: keep the last value; say so once.
          if (!this.missing) this.deps.log.warn(`${this.what}: ${result.message}; keeping the last value`);
          this.missing = true;
          continue;
        }
        if (this.missing) this.deps.log.info(`${this.what}: ${this.path} is readable again`);
        this.missing = false;
        if (result.value.equals(this.last)) continue;
        this.last = Buffer.from(result.value);
        this.changed(this.last);
      } while (this.again && !this.stopped);
    } finally {
      this.checking = false;
    }
  }
}

/** A watched file as a lifetime of the stage: its value under the names of the requests that read it. */
export class FileWatchLifetime implements Lifetime {
  readonly label: string;
  private watch?: FileWatch;

  constructor(
    readonly path: string,
    private readonly names: SecretName[],
    private readonly initial: Buffer,
    private readonly pollMs = FILE_POLL_MS,
  ) {
    this.label = `file:${path}`;
  }

  start(reporter: Reporter, clock: Clock): void {
    this.watch = new FileWatch(this.path, this.initial, { clock, log: reporter.log, pollMs: this.pollMs }, (value) => {
      reporter.log.debug(`${this.label}: the content changed`);
      reporter.update(new Map(this.names.map((name) => [name, value])));
    }, this.label);
    this.watch.start();
  }

  stop(): void {
    this.watch?.stop();
  }
}
