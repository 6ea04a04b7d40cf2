// `--check` finds a command that could not start: the lookup execvp would do in the child
// (processes.ts commandCandidates: the name itself if it has a slash, else each entry of the
// child's own PATH), relative paths taken from the child's working directory, and the
// permissions checked for the child's user and groups, as execve checks them. Not covered:
// ACLs, capabilities and noexec mounts (the start still reports those, 126).
import { statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EXIT } from '../exit-codes';
import { commandCandidates, DEFAULT_PATH } from './processes';
import type { ResolvedUser } from './user';

export interface Who {
  uid: number;
  gid: number;
  groups: number[];
}

export interface CommandProblem {
  /** 127 (not found) or 126 (found, not executable), the codes the start would end with. */
  exitCode: number;
  reason: string;
}

/** init's own credentials, for a child that runs as init does. */
export function initsOwn(): Who {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, groups: process.getgroups?.() ?? [] };
}

export const whoOf = (user: ResolvedUser | undefined): Who => (user ? { uid: user.uid, gid: user.gid, groups: user.groups } : initsOwn());

/** The permission bits (r=4, w=2, x=1) that apply to `who` for a file. */
function bitsFor(stat: Stats, who: Who): number {
  if (who.uid === stat.uid) return (stat.mode >> 6) & 7;
  if (who.gid === stat.gid || who.groups.includes(stat.gid)) return (stat.mode >> 3) & 7;
  return stat.mode & 7;
}

/**
 * The first directory from `dir` up to the root (or ".") that `who` may not search (x), as
 * execve and chdir check each one on the way; null when one of them cannot be looked at;
 * undefined when all may be searched.
 */
function unsearchable(dir: string, who: Who): string | null | undefined {
  for (let d = dir; ; d = dirname(d)) {
    try {
      if ((bitsFor(statSync(d), who) & 1) === 0) return d;
    } catch {
      return null;
    }
    if (d === '/' || d === '.') return undefined;
  }
}

/** Why `who` may not execute `path` (undefined: it may), or 'missing'. */
function cannotExecute(path: string, who: Who): 'missing' | string | undefined {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return 'a directory on its path cannot be searched';
    return 'missing'; // ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG: execvp goes on to the next
  }
  if (!stat.isFile()) return stat.isDirectory() ? 'is a directory' : 'is not a regular file';
  // Each directory on the way must be searchable (x) by the user; root may search any.
  if (who.uid !== 0) {
    const closed = unsearchable(dirname(path), who);
    if (closed === null) return 'missing';
    if (closed !== undefined) return `the directory ${closed} cannot be searched by uid ${who.uid}`;
  }
  // execve: root needs one x bit set anywhere; anyone else the x of their class.
  const executable = who.uid === 0 ? (stat.mode & 0o111) !== 0 : (bitsFor(stat, who) & 1) !== 0;
  return executable ? undefined : `is not executable by uid ${who.uid}`;
}

/** Whether the child's chdir to `cwd` would work: the start's own line for a failed one (processes.ts spawnFailure) and its code, 78. */
export function checkWorkingDir(cwd: string, who: Who): CommandProblem | undefined {
  const problem = cannotEnter(cwd, who);
  return problem ? { exitCode: EXIT.CONFIG, reason: `working directory ${cwd}: ${problem}` } : undefined;
}

/** Why the child's chdir to `dir` would fail for `who` (undefined: it would not), in strerror's words. */
function cannotEnter(dir: string, who: Who): string | undefined {
  let stat: Stats;
  try {
    stat = statSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EACCES' ? 'Permission denied' : code === 'ENOTDIR' ? 'Not a directory' : 'No such file or directory';
  }
  if (!stat.isDirectory()) return 'Not a directory';
  if (who.uid === 0) return undefined;
  const closed = unsearchable(resolve(dir), who);
  if (closed === null) return 'Permission denied';
  return closed === undefined ? undefined : `Permission denied (${closed} cannot be searched by uid ${who.uid})`;
}

/**
 * Whether `argv0` would start in a child with environment `env`, working directory `cwd`
 * and credentials `who`: undefined if it would, else the exit code and reason the start
 * would give.
 */
export function checkCommand(argv0: string, env: Record<string, string | undefined>, cwd: string | undefined, who: Who): CommandProblem | undefined {
  const dir = cwd === undefined ? undefined : checkWorkingDir(cwd, who);
  if (dir) return dir;
  const base = cwd ?? process.cwd();
  let denied: string | undefined;
  for (const candidate of commandCandidates(argv0, env.PATH)) {
    const path = resolve(base, candidate);
    const why = cannotExecute(path, who);
    if (why === undefined) return undefined;
    if (why !== 'missing') denied ??= `${candidate} ${why}`;
  }
  if (denied) return { exitCode: EXIT.NOT_EXECUTABLE, reason: `${argv0}: permission denied: ${denied}` };
  if (argv0.includes('/')) return { exitCode: EXIT.NOT_FOUND, reason: `${argv0}: no such file${argv0.startsWith('/') ? '' : ` (from ${base})`}` };
  return { exitCode: EXIT.NOT_FOUND, reason: `${argv0}: command not found in PATH ${env.PATH ?? `${DEFAULT_PATH} (PATH is unset: the default)`}` };
}
