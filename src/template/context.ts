// What a template sees, and how a rendering learns which secrets it read.
//
// A Liquid template sees two objects and nothing else: `env` (the environment) and
// `secrets` (resolved secrets by name), so that every value says where it comes from:
// `{{ env.DB_HOST }}`, `{{ secrets.db_password }}`. An envsubst template sees `env` only,
// as GNU envsubst sees its environment.
//
// A secret can reach a template two ways: through `secrets`, or through `env` when an
// environment variable held a reference (DB_PASSWORD=vault:secret/app#password) and so now
// holds a secret; the caller names those in `secretEnv`. Reading either counts as using a
// secret (the output then defaults to mode 0600, and `--render` masks what was read).
// Reads are seen through getters on frozen, prototype-less copies: `{{ secrets | json }}`
// and `{% for pair in env %}` read every value through them, so nothing escapes the count.

import { copyEnvironment } from '../bytes';

export type SecretValue = string | { readonly [key: string]: SecretValue };

export interface TemplateContext {
  /** The environment: `env.NAME` in Liquid, `$NAME`/`${NAME}` in envsubst. Undefined entries are unset. */
  env: Readonly<Record<string, string | undefined>>;
  /** Resolved secrets by name: `secrets.NAME` (a value may be a map: `secrets.db.password`). */
  secrets?: Readonly<Record<string, SecretValue>>;
  /** Names in `env` whose values are secrets (resolved from references). */
  secretEnv?: ReadonlySet<string>;
  /** The secret values are stand-ins (standInContext): filters that decode treat them as such. */
  standIns?: boolean;
}

/** The scope a Liquid template renders with: copies of env and secrets that report reads of secrets. */
export function trackedScope(context: TemplateContext, onSecret: (value: string) => void): { env: object; secrets: object } {
  const secretEnv = context.secretEnv ?? new Set<string>();
  const env: Record<string, unknown> = Object.create(null);
  for (const [name, value] of Object.entries(context.env)) {
    if (typeof value !== 'string') continue;
    if (secretEnv.has(name)) defineTracked(env, name, value, onSecret);
    else env[name] = value;
  }
  return { env: Object.freeze(env), secrets: trackedTree(context.secrets ?? {}, onSecret) };
}

function trackedTree(tree: Readonly<Record<string, SecretValue>>, onSecret: (value: string) => void): object {
  const copy: Record<string, unknown> = Object.create(null);
  for (const [name, value] of Object.entries(tree)) {
    if (typeof value === 'string') defineTracked(copy, name, value, onSecret);
    else if (value !== null && typeof value === 'object') copy[name] = trackedTree(value, onSecret);
  }
  return Object.freeze(copy);
}

function defineTracked(target: Record<string, unknown>, name: string, value: string, onSecret: (value: string) => void): void {
  Object.defineProperty(target, name, {
    enumerable: true,
    get: () => {
      onSecret(value);
      return value;
    },
  });
}

/** Every secret value in a context, for masking messages: the secrets' leaves and the secret env values. */
export function allSecretValues(context: TemplateContext): string[] {
  const values: string[] = [];
  const walk = (tree: Readonly<Record<string, SecretValue>>) => {
    for (const value of Object.values(tree)) {
      if (typeof value === 'string') values.push(value);
      else if (value !== null && typeof value === 'object') walk(value);
    }
  };
  walk(context.secrets ?? {});
  for (const name of context.secretEnv ?? []) {
    const value = Object.hasOwn(context.env, name) ? context.env[name] : undefined;
    if (typeof value === 'string') values.push(value);
  }
  return values;
}

/**
 * The context `--render` prints from: every secret value (the secrets' leaves and the secret
 * env values) replaced by `standIn(value)` (mask.ts), the names and the tree kept.
 */
export function standInContext(context: TemplateContext, standIn: (value: string) => string): TemplateContext {
  const tree = (node: Readonly<Record<string, SecretValue>>): Record<string, SecretValue> => {
    const copy: Record<string, SecretValue> = Object.create(null);
    for (const [name, value] of Object.entries(node)) copy[name] = typeof value === 'string' ? standIn(value) : tree(value);
    return copy;
  };
  const env: Record<string, string | undefined> = copyEnvironment(context.env);
  for (const name of context.secretEnv ?? []) {
    const value = Object.hasOwn(env, name) ? env[name] : undefined;
    if (typeof value === 'string') env[name] = standIn(value);
  }
  return { env, secrets: tree(context.secrets ?? {}), secretEnv: context.secretEnv, standIns: true };
}
