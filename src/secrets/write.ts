// Secrets that go to files: written before the child starts and before privileges are
// dropped, atomically, mode 0400 unless the config or the source (Keywhiz metadata) says
// otherwise, owned as configured. Owners are looked up first (secretFiles), so that
// --check finds an unknown one and nothing is written when one is wrong.
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../atomic-write';
import { describeErrno, EXIT, exitCodeForErrno, InitError } from '../exit-codes';
import type { Log } from '../log';
import { lookupId } from '../supervisor/user';
import type { SecretRequest } from './plan';
import type { Resolution } from './resolve';

export const DEFAULT_SECRET_MODE = 0o400;

export interface SecretFile {
  request: SecretRequest;
  path: string;
  data: Buffer;
  mode: number;
  uid?: number;
  gid?: number;
}

/** The file name a directory target gets: the source's filename, else the secret's own name. */
function nameIn(request: SecretRequest, filename?: string): string {
  if (filename) return filename;
  const ref = request.ref;
  return ref.scheme === 'keywhiz' ? ref.name : ref.scheme === 'vault' ? ref.key : basename(ref.path);
}

/** Where and how each secret meant for a file is to be written. */
export function secretFiles(resolution: Resolution): SecretFile[] {
  const files: SecretFile[] = [];
  resolution.forEach((resolved, request) => {
    const target = request.target;
    if (target.kind !== 'file') return;
    // Keywhiz's mode is masked to read bits, as keysync does (secret.go ModeValue).
    const metaMode = resolved.meta?.mode !== undefined ? resolved.meta.mode & 0o444 : undefined;
    const owner = target.owner ?? resolved.meta?.owner;
    const group = target.group ?? resolved.meta?.group;
    try {
      files.push({
        request,
        path: target.path.endsWith('/') ? join(target.path, nameIn(request, resolved.meta?.filename)) : target.path,
        data: resolved.value,
        mode: target.mode ?? metaMode ?? DEFAULT_SECRET_MODE,
        uid: owner === undefined ? undefined : lookupId('owner', owner),
        gid: group === undefined ? undefined : lookupId('group', group),
      });
    } catch (error) {
      if (error instanceof InitError) throw new InitError(`${request.origin}: ${error.message}`, error.exitCode);
      throw error;
    }
  });
  return files;
}

export function writeSecretFiles(files: SecretFile[], log: Log): void {
  for (const { request, path, data, mode, uid, gid } of files) {
    try {
      writeFileAtomic(path, data, { mode, uid, gid });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new InitError(`${request.origin}: cannot write ${path}: ${describeErrno(code, (error as Error).message)}`, exitCodeForErrno(code, EXIT.CONFIG));
    }
    log.debug(`wrote ${request.ref.text} to ${path}`);
  }
}
