// Files that settings name (a CA, a client certificate or key), read before any request so
// that a missing one is a configuration error naming its variable.
import { readFileSync } from 'node:fs';
import { EXIT, InitError } from '../exit-codes';

/** A file a setting names (a CA, a key): its content, or a configuration error naming the setting. */
export function readSettingFile(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new InitError(`${variable}=${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, EXIT.CONFIG);
  }
}
