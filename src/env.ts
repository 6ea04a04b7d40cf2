// The child's environment, and PID 1's own: init's credentials and settings (VAULT_*,
// BAO_* (OpenBao's names for the same), SESAME_*) and the variables that held references never reach a child unless
// SESAME_PASSTHROUGH lists them; resolved secrets take the place of their references.
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { copyEnvironment, decodeBytes } from './bytes';
import { EXIT, InitError } from './exit-codes';
import type { Log } from './log';
import type { Native } from './native/binding';
import type { SecretPlan } from './secrets/plan';
import type { Resolution } from './secrets/resolve';

/** Init's own: configuration and credentials for init, not for the program it runs. */
export const isInitVariable = (name: string) => name.startsWith('SESAME_') || name.startsWith('VAULT_') || name.startsWith('BAO_');

export function passthroughList(env: NodeJS.ProcessEnv): Set<string> {
  return new Set((env.SESAME_PASSTHROUGH ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

/** Names to take out of PID 1's own environment: all of init's, and the references. */
export function removedNames(env: NodeJS.ProcessEnv, plan: SecretPlan): string[] {
  const names = new Set<string>();
  for (const name in env) if (isInitVariable(name)) names.add(name);
  plan.consumed.forEach((name) => names.add(name));
  return Array.from(names);
}

export function childEnvironment(env: NodeJS.ProcessEnv, plan: SecretPlan, resolution: Resolution): Record<string, string> {
  // SESAME_PASSTHROUGH gives a child some of init's variables back (a VAULT_ADDR for an
  // application that talks to Vault itself); a reference is always replaced by its value.
  const keep = passthroughList(env);
  const consumed = new Set(plan.consumed);
  // Loops without iteration objects (for...in, forEach): they run once per variable and
  // per secret at every start (docs/development.md).
  const out = copyEnvironment();
  for (const key in env) {
    const value = env[key];
    if (value === undefined || consumed.has(key) || (isInitVariable(key) && !keep.has(key))) continue;
    out[key] = value;
  }
  resolution.forEach((resolved, request) => {
    if (request.target.kind !== 'env') return;
    // A binary secret keeps its bytes (bytes.ts); only a NUL cannot be carried by execve.
    if (resolved.value.includes(0)) {
      throw new InitError(`${request.origin}: the secret has a NUL byte, which no environment variable can hold; write it to a file instead`, EXIT.CONFIG);
    }
    out[request.target.name] = decodeBytes(resolved.value);
  });
  return out;
}

/**
 * The kernel's limit for one string of argv or the environment (MAX_ARG_STRLEN, 32 pages):
 * `NAME=value` and its NUL. A longer one makes execve fail with E2BIG, which reads as the
 * command's fault ("Argument list too long").
 */
export const MAX_ARG_STRLEN = 32 * 4096;

/** Refuse, before anything starts, a variable that no execve would accept (78). */
export function checkEnvironmentSizes(env: Record<string, string>, who?: string): void {
  for (const name in env) {
    const value = env[name];
    // Quick test first: a string of n UTF-16 units is at most 3n bytes.
    if ((name.length + value.length) * 3 + 2 <= MAX_ARG_STRLEN) continue;
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(value) + 1;
    if (bytes <= MAX_ARG_STRLEN) continue;
    throw new InitError(`${who ? `${who}: ` : ''}environment variable ${name} is ${bytes} bytes with its name, over the kernel's limit of ${MAX_ARG_STRLEN} (128 KiB, MAX_ARG_STRLEN) for one variable; write it to a file instead`, EXIT.CONFIG);
  }
}

/**
 * Remove `names` from this process: from process.env, and from the environment block the
 * kernel shows as /proc/<pid>/environ. unsetenv() does not touch that block (the kernel
 * reads the original one on the stack). With the native helper, what remains is packed at
 * the start of the block with NULs after it (and libc's environ pointed at the new
 * places), so /proc/1/environ shows neither the removed entries nor where or how long
 * they were, only the block's total length. Without it, each removed entry is overwritten
 * with NULs in place through /proc/self/mem: libc's environ still points into the block
 * for every variable that stays, so nothing can move.
 */
export function scrubOwnEnvironment(names: string[], log: Log, memFd = -1, native?: Pick<Native, 'compactEnvironment'> | null): void {
  if (!names.length) {
    if (memFd >= 0) closeSync(memFd);
    return;
  }
  for (const name of names) delete process.env[name];
  if (native) {
    try {
      native.compactEnvironment();
      if (memFd >= 0) closeSync(memFd);
      return;
    } catch (error) {
      log.debug(`could not pack /proc/${process.pid}/environ (${(error as Error).message}); clearing in place`);
    }
  }
  let fd: number | undefined;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after "(comm)" start at field 3; env_start and env_end are fields 50 and 51.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[50 - 3]);
    const end = Number(fields[51 - 3]);
    if (!(start > 0 && end > start)) throw new Error('no environment block in /proc/self/stat');
    // The native helper opens it before making init undumpable, after which a non-root
    // init could not open it any more.
    fd = memFd >= 0 ? memFd : openSync('/proc/self/mem', 'r+');
    const block = Buffer.alloc(end - start);
    // Positions as Number: a BigInt position gives EIO on write.
    readSync(fd, block, 0, block.length, start);
    const wanted = new Set(names);
    // Cleared in the copy, then written back once from the first cleared byte to the last:
    // one write instead of one per variable (200 references: ~2 ms less).
    let [first, last] = [-1, -1];
    let offset = 0;
    while (offset < block.length) {
      let stop = block.indexOf(0, offset);
      if (stop < 0) stop = block.length;
      const eq = block.indexOf(0x3d, offset);
      // Names as bytes (bytes.ts): a name that is not UTF-8 is matched as init read it.
      if (eq > offset && eq < stop && wanted.has(decodeBytes(block.subarray(offset, eq)))) {
        block.fill(0, offset, stop);
        if (first < 0) first = offset;
        last = stop;
      }
      offset = stop + 1;
    }
    if (first >= 0) writeSync(fd, block, first, last - first, start + first);
  } catch (error) {
    log.warn(`could not clear credentials from /proc/${process.pid}/environ: ${(error as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
