// file: references, and NAME_FILE: secrets that Docker, Compose or Kubernetes mounted as
// files. The trailing newline(s) that `echo` and editors leave are dropped, as the official
// images' file_env does with $(< file).
import { constants } from 'node:fs';
import { denied, notFound, type SecretError, invalid } from './errors';
import type { SecretRequest } from './plan';
import type { Resolved } from './resolve';

const MAX_BYTES = 1024 * 1024;

/**
 * At most MAX_BYTES + 1 bytes of a regular file. Opened non-blocking and checked before
 * reading: a FIFO would block the open forever, and /dev/zero or /dev/stdin never end.
 */
async function readSecretFile(path: string): Promise<Buffer | SecretError> {
  // Required here, not at the top: node:fs/promises brings readline and fs watchers along,
  // ~1.5 ms of every start, file: references or not.
  const { open } = require('node:fs/promises') as typeof import('node:fs/promises');
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) return invalid(`${path} is a directory`);
    if (!stat.isFile()) return invalid(`${path} is not a regular file`);
    const buffer = Buffer.alloc(MAX_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_BYTES) return invalid(`${path} is larger than 1 MiB: not a secret file`);
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** One file secret's value as a reference resolves it (trailing newlines dropped), or why not. */
export async function readFileSecret(path: string): Promise<Resolved | SecretError> {
  try {
    const content = await readSecretFile(path);
    if (!Buffer.isBuffer(content)) return content;
    const text = content.toString('latin1').replace(/[\r\n]+$/, '');
    return { value: content.subarray(0, Buffer.byteLength(text, 'latin1')) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? notFound(`no such file ${path}`)
      : code === 'EACCES' ? denied(`cannot read ${path}: permission denied`)
        : code === 'EISDIR' ? invalid(`${path} is a directory`)
          : invalid(`cannot read ${path}: ${code ?? (error as Error).message}`);
  }
}

export async function resolveFiles(requests: SecretRequest[]): Promise<Map<SecretRequest, Resolved | SecretError>> {
  const out = new Map<SecretRequest, Resolved | SecretError>();
  await Promise.all(requests.map(async (request) => {
    if (request.ref.scheme !== 'file') return;
    out.set(request, await readFileSecret(request.ref.path));
  }));
  return out;
}
