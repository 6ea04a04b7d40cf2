// file: references, and NAME_FILE: secrets that Docker, Compose or Kubernetes mounted as
// files. The trailing newline(s) that `echo` and editors leave are dropped, as the official
// images' file_env does with $(< file).
import { readFile } from 'node:fs/promises';
import { denied, notFound, type SecretError, invalid } from './errors';
import type { SecretRequest } from './plan';
import type { Resolved } from './resolve';

const MAX_BYTES = 1024 * 1024;

export async function resolveFiles(requests: SecretRequest[]): Promise<Map<SecretRequest, Resolved | SecretError>> {
  const out = new Map<SecretRequest, Resolved | SecretError>();
  await Promise.all(requests.map(async (request) => {
    if (request.ref.scheme !== 'file') return;
    const path = request.ref.path;
    try {
      const content = await readFile(path);
      if (content.length > MAX_BYTES) {
        out.set(request, invalid(`${path} is larger than 1 MiB: not a secret file`));
        return;
      }
      const text = content.toString('latin1').replace(/[\r\n]+$/, '');
      out.set(request, { value: content.subarray(0, Buffer.byteLength(text, 'latin1')) });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      out.set(request, code === 'ENOENT' ? notFound(`no such file ${path}`)
        : code === 'EACCES' ? denied(`cannot read ${path}: permission denied`)
          : code === 'EISDIR' ? invalid(`${path} is a directory`)
            : invalid(`cannot read ${path}: ${code ?? (error as Error).message}`));
    }
  }));
  return out;
}
