// The child's environment, and PID 1's own: init's credentials and settings (VAULT_*,
// BAO_* (OpenBao's names for the same), SESAME_*) and the variables that held references never reach a child unless
// SESAME_PASSTHROUGH lists them; resolved secrets take the place of their references.
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import type { Log } from './log';
import type { SecretPlan } from './secrets/plan';
import type { Resolution } from './secrets/resolve';

/** Init's own: configuration and credentials for init, not for the program it runs. */
export const isInitVariable = (name: string) => name.startsWith('SESAME_') || name.startsWith('VAULT_') || name.startsWith('BAO_');

export function passthroughList(env: NodeJS.ProcessEnv): Set<string> {
  return new Set((env.SESAME_PASSTHROUGH ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

/** Names to take out of PID 1's own environment: all of init's, and the references. */
export function removedNames(env: NodeJS.ProcessEnv, plan: SecretPlan): string[] {
  return [...new Set([...Object.keys(env).filter(isInitVariable), ...plan.consumed])];
}

export function childEnvironment(env: NodeJS.ProcessEnv, plan: SecretPlan, resolution: Resolution): Record<string, string> {
  // SESAME_PASSTHROUGH gives a child some of init's variables back (a VAULT_ADDR for an
  // application that talks to Vault itself); a reference is always replaced by its value.
  const keep = passthroughList(env);
  const removed = new Set(removedNames(env, plan).filter((n) => !keep.has(n) || plan.consumed.includes(n)));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && !removed.has(key)) out[key] = value;
  for (const [request, resolved] of resolution) {
    if (request.target.kind === 'env') out[request.target.name] = resolved.value.toString('utf8');
  }
  return out;
}

/**
 * Remove `names` from this process: from process.env, and from the environment block the
 * kernel shows as /proc/<pid>/environ. unsetenv() does not touch that block (the kernel
 * reads the original one on the stack), so each entry is overwritten with NULs in place
 * through /proc/self/mem. In place, not compacted: libc's
 * environ still points into the block for every variable that stays.
 */
export function scrubOwnEnvironment(names: string[], log: Log): void {
  if (!names.length) return;
  for (const name of names) delete process.env[name];
  let fd: number | undefined;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after "(comm)" start at field 3; env_start and env_end are fields 50 and 51.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[50 - 3]);
    const end = Number(fields[51 - 3]);
    if (!(start > 0 && end > start)) throw new Error('no environment block in /proc/self/stat');
    fd = openSync('/proc/self/mem', 'r+');
    const block = Buffer.alloc(end - start);
    // Positions as Number: a BigInt position gives EIO on write.
    readSync(fd, block, 0, block.length, start);
    const wanted = new Set(names);
    let offset = 0;
    while (offset < block.length) {
      let stop = block.indexOf(0, offset);
      if (stop < 0) stop = block.length;
      const entry = block.toString('latin1', offset, stop);
      const eq = entry.indexOf('=');
      if (eq > 0 && wanted.has(entry.slice(0, eq))) writeSync(fd, Buffer.alloc(stop - offset), 0, stop - offset, start + offset);
      offset = stop + 1;
    }
  } catch (error) {
    log.warn(`could not clear credentials from /proc/${process.pid}/environ: ${(error as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
