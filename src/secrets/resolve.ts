// Resolving a plan: every provider runs concurrently, each reference gets a value or a
// failure, and the whole thing fails closed: one line per failure naming the reference and
// its cause (never a value), and nothing starts. Only a missing secret that was marked
// optional is let through, and its target stays unset.
import { InitError } from '../exit-codes';
import type { Log } from '../log';
import { EXIT_FOR, invalid, SecretError } from './errors';
import { resolveFiles } from './file';
import type { SecretPlan, SecretRequest } from './plan';
import { resolveKeywhiz } from './keywhiz';
import { resolveVault } from './vault/provider';
import { vaultSettings } from './vault/settings';

export interface Resolved {
  value: Buffer;
  /** File metadata a source supplies (Keywhiz): used when the config does not set them. */
  meta?: { mode?: number; owner?: string; group?: string; filename?: string };
}

/** What came back: a value per request, or nothing for an optional one that was missing. */
export type Resolution = Map<SecretRequest, Resolved>;

export interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  /** Overall time limit for all sources, retries included. */
  timeoutMs: number;
  log: Log;
  /**
   * Filled in when the secrets are to be kept alive after start: what each source needs to
   * renew and read again (the lifetime stage's input). Unset for --check and --render.
   */
  sources?: Sources;
}

/** What the providers leave for the lifetime stage. */
export interface Sources {
  vault?: import('./vault/session').VaultSession;
}

/** The one line a failure prints: where, which reference, why. */
export function describeFailure(request: SecretRequest, error: SecretError): string {
  // A value such as DATABASE_URL=file:/data/app.db looks like a reference but is not one.
  const fromValue = request.ref.scheme === 'file' && request.target.kind === 'env' && request.origin === request.target.name;
  const hint = fromValue && error.kind !== 'denied' ? ` (if ${request.origin} is not a secret reference, list it in SESAME_LITERAL)` : '';
  return `${request.origin}: ${request.ref.text}: ${error.message}${hint}`;
}

export async function resolvePlan(plan: SecretPlan, { env, timeoutMs, log, sources }: ResolveOptions): Promise<Resolution> {
  const deadline = Date.now() + timeoutMs;
  const byScheme = (scheme: string) => plan.requests.filter((r) => r.ref.scheme === scheme);
  const vault = byScheme('vault');
  const keywhiz = byScheme('keywhiz');
  const results = await Promise.all([
    resolveFiles(byScheme('file')),
    // Settings are read only when a reference needs them: no Vault, no Vault errors.
    vault.length ? resolveVault(vault, vaultSettings(env), deadline, log, sources ? (session) => { sources.vault = session; } : undefined) : new Map<SecretRequest, Resolved | SecretError>(),
    keywhiz.length ? resolveKeywhiz(keywhiz, env, deadline, log) : new Map<SecretRequest, Resolved | SecretError>(),
  ]);
  // forEach and an index: no iteration objects for each reference (docs/development.md).
  const all = new Map<SecretRequest, Resolved | SecretError>();
  results.forEach((m) => m.forEach((result, request) => all.set(request, result)));

  const resolution: Resolution = new Map();
  const failures: Array<[SecretRequest, SecretError]> = [];
  for (let i = 0; i < plan.requests.length; i++) {
    const request = plan.requests[i];
    let result = all.get(request) ?? invalid('no source answered for it');
    if (!(result instanceof SecretError) && request.target.kind === 'env' && result.value.includes(0)) {
      result = invalid('the value contains a NUL byte, which an environment variable cannot hold');
    }
    if (!(result instanceof SecretError)) {
      resolution.set(request, result);
    } else if (request.optional && result.kind === 'not-found') {
      const target = request.target;
      const what = target.kind === 'env' ? target.name : target.kind === 'file' ? target.path : `secrets.${target.name}`;
      log.warn(`${describeFailure(request, result)} (optional: ${what} left unset)`);
    } else {
      failures.push([request, result]);
    }
  }
  if (failures.length) {
    for (const [request, error] of failures.slice(0, -1)) log.error(describeFailure(request, error));
    const [request, error] = failures[failures.length - 1];
    const first = failures[0][1];
    throw new InitError(describeFailure(request, error), EXIT_FOR[first.kind]);
  }
  return resolution;
}
