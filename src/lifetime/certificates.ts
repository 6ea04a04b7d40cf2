// Issued certificates at start: each config entry becomes a CertificateLifetime, which
// reuses the certificate on disk or issues one before any child starts (fail closed: a
// certificate that cannot be had stops init, as a secret that cannot be read does). Then
// the stage keeps them; the wiring says what a new one makes happen (on_change, default none).
import type { CertificateEntry } from '../config/certificates';
import { EXIT, InitError } from '../exit-codes';
import type { Log } from '../log';
import type { FileWire } from '../react/wiring';
import { EXIT_FOR, SecretError } from '../secrets/errors';
import type { Sources } from '../secrets/resolve';
import { certificateSession, vaultIssue } from '../secrets/vault/pki';
import { vaultSettings } from '../secrets/vault/settings';
import { lookupId } from '../supervisor/user';
import { CertificateLifetime, type CertificateSpec } from './certificate';
import type { Clock } from './clock';

export interface Certificates {
  lifetimes: CertificateLifetime[];
  wires: FileWire[];
}

/** The entries as specs: owners looked up now, so that a wrong one stops init before anything. */
export function certificateSpecs(entries: CertificateEntry[], configPath: string): CertificateSpec[] {
  return entries.map((entry) => {
    const origin = `${configPath}: ${entry.at}`;
    try {
      return {
        name: entry.name,
        path: entry.path,
        commonName: entry.commonName,
        altNames: entry.altNames,
        ipSans: entry.ipSans,
        ttlSeconds: entry.ttlSeconds,
        certFile: entry.certFile,
        keyFile: entry.keyFile,
        caFile: entry.caFile,
        keyMode: entry.keyMode,
        uid: entry.owner === undefined ? undefined : lookupId('owner', entry.owner),
        gid: entry.group === undefined ? undefined : lookupId('group', entry.group),
        rotateAt: entry.rotateAt,
        origin,
      };
    } catch (error) {
      if (error instanceof InitError) throw new InitError(`${origin}: ${error.message}`, error.exitCode);
      throw error;
    }
  });
}

/** What a new certificate makes happen: restart and signal go to the entry's service ("" = the command). */
function wire(entry: CertificateEntry, lifetime: CertificateLifetime): FileWire {
  const action = entry.onChange ?? { kind: 'none' };
  const aimed = action.kind === 'restart' || action.kind === 'signal' ? { ...action, service: entry.service } : action;
  return { what: lifetime.label, names: new Set(lifetime.names), action: aimed };
}

/**
 * Every certificate reused or issued, concurrently. The Vault session of the secrets is used
 * (one login); with no vault: reference there is none yet, so one is made and left in
 * `sources` for the lifetime stage (which then keeps its token alive).
 */
export async function prepareCertificates(
  entries: CertificateEntry[],
  configPath: string,
  sources: Sources,
  env: NodeJS.ProcessEnv,
  deadline: number,
  log: Log,
  clock?: Clock,
): Promise<Certificates> {
  const specs = certificateSpecs(entries, configPath);
  if (!specs.length) return { lifetimes: [], wires: [] };
  let session = sources.vault;
  if (!session) {
    try {
      session = await certificateSession(vaultSettings(env), deadline, log);
    } catch (error) {
      if (error instanceof SecretError) throw new InitError(`${specs[0].origin}: ${error.message}`, EXIT_FOR[error.kind]);
      throw error;
    }
    sources.vault = session;
  }
  // At start an issue has what is left of --secrets-timeout, as the secrets' reads have (the
  // client's own start deadline, with its waiting lines); rotations later, a call's budget.
  const vault = session;
  let starting = true;
  const issue = vaultIssue((method, path, body) => (starting ? vault.client.call(method, path, { body }) : vault.call(method, path, body)));
  const lifetimes = specs.map((spec) => new CertificateLifetime(spec, { issue, log }));
  const failures: string[] = [];
  let exit: number = EXIT.UNAVAILABLE;
  await Promise.all(lifetimes.map(async (lifetime) => {
    try {
      await lifetime.prepare(clock);
    } catch (error) {
      const kind = error instanceof SecretError ? error.kind : undefined;
      if (failures.length === 0 && kind) exit = EXIT_FOR[kind];
      const code = (error as NodeJS.ErrnoException).code;
      const why = code ? `cannot write its files: ${code}` : (error as Error).message;
      if (code === 'EACCES' || code === 'EPERM') exit = EXIT.NO_PERMISSION;
      failures.push(`${lifetime.spec.origin}: ${lifetime.label}: ${why}`);
    }
  }));
  starting = false;
  if (failures.length) {
    for (const line of failures.slice(0, -1)) log.error(line);
    throw new InitError(failures[failures.length - 1], exit);
  }
  return { lifetimes, wires: entries.map((entry, i) => wire(entry, lifetimes[i])) };
}
