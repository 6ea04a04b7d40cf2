// What to fetch and where each value goes, decided from the environment (and, later, the
// config file) before anything is fetched. Plain data for the stages after it.
import type { ConfigFile } from '../config/file';
import { EXIT, InitError } from '../exit-codes';
import { looksLikeReference, parseReference, type Reference } from './reference';

export type Target =
  | { kind: 'env'; name: string }
  /** `path` ending in "/" is a directory: the file is named by the source (Keywhiz's filename). */
  | { kind: 'file'; path: string; mode?: number; owner?: string; group?: string }
  /** For templates only, as `secrets.<name>`. */
  | { kind: 'template'; name: string };

export interface SecretRequest {
  ref: Reference;
  target: Target;
  /** A missing secret (not a denied or unreachable one) leaves the target unset. */
  optional: boolean;
  /** Where the request was written, for messages: a variable name or a config key path. */
  origin: string;
  /**
   * How often a secret without a lease is read again after start (the config's
   * `refresh:`): ms, or 'never'; unset = the global --refresh.
   */
  refresh?: number | 'never';
}

export interface SecretPlan {
  requests: SecretRequest[];
  /** Variables that held references or *_FILE pointers: the child gets them resolved or not at all. */
  consumed: string[];
}

/** Docker's and Compose's secrets mount: NAME_FILE pointing here is always a secret file. */
const SECRETS_DIRS = ['/run/secrets/', '/var/run/secrets/'];

function list(env: NodeJS.ProcessEnv, name: string): Set<string> {
  return new Set((env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

/**
 * References in environment values, and the NAME_FILE convention: NAME_FILE=/run/secrets/x
 * fills NAME from the file. Other NAME_FILE variables (LOG_FILE=/var/log/app.log is not a
 * secret) only count when NAME is listed in SESAME_FILE_VARS ("*" for all).
 * SESAME_LITERAL lists variables whose values are never references (a SQLite URL such as
 * file:/data/app.db); SESAME_OPTIONAL_SECRETS lists those that may be missing ("*" for all).
 */
export function planFromEnv(env: NodeJS.ProcessEnv): SecretPlan {
  const literal = list(env, 'SESAME_LITERAL');
  const optional = list(env, 'SESAME_OPTIONAL_SECRETS');
  const fileVars = list(env, 'SESAME_FILE_VARS');
  const isOptional = (name: string) => optional.has('*') || optional.has(name);
  const requests: SecretRequest[] = [];
  const consumed: string[] = [];
  for (const name in env) {
    const value = env[name];
    if (value === undefined || name.startsWith('SESAME_') || literal.has(name)) continue;
    if (looksLikeReference(value)) {
      let ref: Reference;
      try {
        ref = parseReference(value, name);
      } catch (error) {
        // DATABASE_URL=file:app.db (a relative SQLite URI) only looks like a reference.
        if (error instanceof InitError) throw new InitError(`${error.message} (if ${name} is not a secret reference, list it in SESAME_LITERAL)`, error.exitCode);
        throw error;
      }
      requests.push({ ref, target: { kind: 'env', name }, optional: isOptional(name), origin: name });
      consumed.push(name);
      continue;
    }
    const base = name.endsWith('_FILE') ? name.slice(0, -'_FILE'.length) : '';
    if (!base || !value.startsWith('/')) continue;
    if (!SECRETS_DIRS.some((dir) => value.startsWith(dir)) && !fileVars.has('*') && !fileVars.has(base)) continue;
    if (env[base] !== undefined && env[base] !== '') {
      throw new InitError(`both ${base} and ${name} are set: keep one`, EXIT.CONFIG);
    }
    requests.push({ ref: parseReference(`file:${value}`, name), target: { kind: 'env', name: base }, optional: isOptional(base), origin: name });
    consumed.push(name, base);
  }
  return { requests, consumed };
}

/** The config file's `secrets:` entries, each to a variable or a file. */
export function planFromConfig(config: ConfigFile): SecretPlan {
  const requests = config.secrets.map((entry): SecretRequest => ({
    ref: parseReference(entry.ref, `${config.path}: ${entry.at}.ref`),
    target: entry.env ? { kind: 'env', name: entry.env }
      : entry.name ? { kind: 'template', name: entry.name }
        : { kind: 'file', path: entry.file as string, mode: entry.mode, owner: entry.owner, group: entry.group },
    optional: entry.optional,
    origin: `${config.path}: ${entry.at}`,
    refresh: entry.refresh,
  }));
  return { requests, consumed: [] };
}

/** Both plans as one; a variable given by both is a mistake worth stopping for. */
export function mergePlans(a: SecretPlan, b: SecretPlan): SecretPlan {
  const seen = new Map<string, string>();
  for (const r of [...a.requests, ...b.requests]) {
    if (r.target.kind === 'file') continue;
    const key = `${r.target.kind}:${r.target.name}`;
    const before = seen.get(key);
    if (before) throw new InitError(`${r.origin}: ${r.target.kind === 'env' ? r.target.name : `secrets.${r.target.name}`} is already set from ${before}`, EXIT.CONFIG);
    seen.set(key, r.origin);
  }
  return { requests: [...a.requests, ...b.requests], consumed: [...a.consumed, ...b.consumed] };
}

/**
 * The name a request's value goes by after start, in change events and the wiring: the
 * variable ("DB_PASSWORD"), the template name ("secrets.db"), or the file ("file:/path").
 */
export function secretName(request: SecretRequest): string {
  const target = request.target;
  return target.kind === 'env' ? target.name : target.kind === 'template' ? `secrets.${target.name}` : `file:${target.path}`;
}
