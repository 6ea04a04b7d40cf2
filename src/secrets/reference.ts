// Secret references, parsed once, before any network call:
//   vault:<path>#<key>[#<version>]   Bank-Vaults' syntax; <path> as the CLI takes it
//                                     (secret/app) or as the API has it (secret/data/app)
//   keywhiz:<name>
//   file:<path>                      an absolute path, e.g. a Docker/Kubernetes secret mount
// A malformed reference is a configuration error naming where it came from.
import { EXIT, InitError } from '../exit-codes';

export type Reference =
  | { scheme: 'vault'; path: string; key: string; version?: number; text: string }
  | { scheme: 'keywhiz'; name: string; text: string }
  | { scheme: 'file'; path: string; text: string };

export const SCHEMES = ['vault', 'keywhiz', 'file'] as const;

/**
 * Does this environment value look like a reference (so that it must parse as one)?
 * `file://...` is a URL (an application's setting), never a reference.
 */
export function looksLikeReference(value: string): boolean {
  return /^(vault|keywhiz|file):/.test(value) && !value.startsWith('file://');
}

// The one-line error for a reference that cannot be used (78): a function of its own, not
// a closure made at every parse (docs/development.md).
function refuse(where: string, text: string, why: string): never {
  throw new InitError(`${where}: ${why} in secret reference "${text}"`, EXIT.CONFIG);
}

/** Parse `text`; `where` names its origin for the error ("DB_PASSWORD", "secrets[2].ref"). */
export function parseReference(text: string, where: string): Reference {
  const colon = text.indexOf(':');
  const scheme = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (colon < 0 || !(SCHEMES as readonly string[]).includes(scheme)) {
    return refuse(where, text, `unknown scheme "${colon < 0 ? text : scheme}" (expected ${SCHEMES.map((s) => `${s}:`).join(', ')})`);
  }
  switch (scheme) {
    case 'vault': {
      // Indexes, not destructuring, and one split of the path: this runs for every
      // reference at every start (docs/development.md).
      const parts = rest.split('#');
      const path = parts[0];
      const key = parts[1];
      const version = parts[2];
      let from = 0;
      let to = path.length;
      while (path.charCodeAt(from) === 0x2f) from++;
      while (to > from && path.charCodeAt(to - 1) === 0x2f) to--;
      const clean = path.slice(from, to);
      if (!clean) refuse(where, text, 'empty path');
      const segments = clean.split('/');
      if (segments.length < 2) refuse(where, text, 'path needs a mount and a secret name (e.g. secret/app)');
      for (let i = 0; i < segments.length; i++) {
        if (segments[i] === '' || segments[i] === '.' || segments[i] === '..') refuse(where, text, 'empty, "." or ".." path segment');
      }
      if (key === undefined || key === '') refuse(where, text, 'missing #key (e.g. vault:secret/app#password)');
      if (parts.length > 3) refuse(where, text, 'too many "#" (expected vault:<path>#<key>[#<version>])');
      let parsed: number | undefined;
      if (version !== undefined) {
        if (!/^[1-9]\d*$/.test(version)) refuse(where, text, `version "${version}" is not a positive whole number`);
        parsed = Number(version);
      }
      return { scheme, path: clean, key, version: parsed, text };
    }
    case 'keywhiz': {
      if (!rest) refuse(where, text, 'empty secret name');
      if (rest.includes('/')) refuse(where, text, 'a Keywhiz secret name has no "/"');
      return { scheme, name: rest, text };
    }
    default: {
      if (!rest) refuse(where, text, 'empty path');
      if (!rest.startsWith('/')) refuse(where, text, 'the path must be absolute (e.g. file:/run/secrets/db_password)');
      return { scheme: 'file', path: rest, text };
    }
  }
}
