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

/** Parse `text`; `where` names its origin for the error ("DB_PASSWORD", "secrets[2].ref"). */
export function parseReference(text: string, where: string): Reference {
  const fail = (why: string): never => {
    throw new InitError(`${where}: ${why} in secret reference "${text}"`, EXIT.CONFIG);
  };
  const colon = text.indexOf(':');
  const scheme = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (colon < 0 || !(SCHEMES as readonly string[]).includes(scheme)) {
    return fail(`unknown scheme "${colon < 0 ? text : scheme}" (expected ${SCHEMES.map((s) => `${s}:`).join(', ')})`);
  }
  switch (scheme) {
    case 'vault': {
      const [path, key, version, ...extra] = rest.split('#');
      const clean = path.replace(/^\/+|\/+$/g, '');
      if (!clean) fail('empty path');
      if (clean.split('/').length < 2) fail('path needs a mount and a secret name (e.g. secret/app)');
      if (clean.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) fail('empty, "." or ".." path segment');
      if (key === undefined || key === '') fail('missing #key (e.g. vault:secret/app#password)');
      if (extra.length) fail('too many "#" (expected vault:<path>#<key>[#<version>])');
      let parsed: number | undefined;
      if (version !== undefined) {
        if (!/^[1-9]\d*$/.test(version)) fail(`version "${version}" is not a positive whole number`);
        parsed = Number(version);
      }
      return { scheme, path: clean, key, version: parsed, text };
    }
    case 'keywhiz': {
      if (!rest) fail('empty secret name');
      if (rest.includes('/')) fail('a Keywhiz secret name has no "/"');
      return { scheme, name: rest, text };
    }
    default: {
      if (!rest) fail('empty path');
      if (!rest.startsWith('/')) fail('the path must be absolute (e.g. file:/run/secrets/db_password)');
      return { scheme: 'file', path: rest, text };
    }
  }
}
