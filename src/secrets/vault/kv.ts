// Reading KV secrets as the `vault kv get` CLI does: ask Vault which mount a path is on and
// which KV version that mount runs (the mount preflight), then read through the right API
// (Vault's KV v1 and v2 APIs). Both `secret/app` and `secret/data/app` work on v2.
import { denied, invalid, notFound, SecretError } from '../errors';
import { encodePath, VaultClient, VaultHttpError } from './client';

interface Mount {
  /** The mount's path with its trailing slash ("secret/"), or "" when Vault did not say. */
  path: string;
  version: 1 | 2;
}

export interface KvSecret {
  data: Record<string, unknown>;
  /** The version read (KV v2 only). */
  version?: number;
  /**
   * The read's lease, when it has one: a dynamic secret's (database/creds/ROLE: a lease_id),
   * or KV v1's advisory one from a `ttl` key (no lease_id, not renewable). KV v2 and KV v1
   * without `ttl` have none (KV v1 then says 768h, the mount's default: not a lifetime).
   * `askedAt`: Date.now() when the request went out (a lease read at start may be seconds
   * old by the time its lifetime starts).
   */
  lease?: { id: string; durationS: number; renewable: boolean; askedAt?: number };
}

export class KvReader {
  private readonly mounts = new Map<string, Promise<Mount>>();
  /** The first mount lookup made under each first segment ("secret/"): the one others wait for. */
  private readonly firstUnder = new Map<string, Promise<Mount>>();
  private readonly reads = new Map<string, Promise<KvSecret>>();

  constructor(private readonly client: VaultClient) {}

  /** Read again (a refresh): a new request, on the mount already known; `deadline` bounds it. */
  reread(path: string, version: number | undefined, deadline: number): Promise<KvSecret> {
    return this.mountOf(path).then((mount) => this.readFrom(mount, path, version, deadline));
  }

  /** One request per distinct path and version, however many keys are read from it. */
  read(path: string, version?: number): Promise<KvSecret> {
    const id = `${path}#${version ?? ''}`;
    let read = this.reads.get(id);
    if (!read) {
      read = this.mountOf(path).then((mount) => this.readFrom(mount, path, version));
      this.reads.set(id, read);
    }
    return read;
  }

  /**
   * Vault mounts never nest (a mount cannot be made inside another), so once one path's
   * mount is known, every path under it is on that mount: one preflight per mount, not one
   * per path. A path waits for the first preflight made for its first segment, and makes
   * its own only if that mount turns out not to contain it.
   */
  private mountOf(path: string): Promise<Mount> {
    const known = this.mounts.get(path);
    if (known) return known;
    const segment = `${path.split('/')[0]}/`;
    // A lookup per segment, not a scan of every path so far (200 paths: 20,000 steps).
    const sibling = this.firstUnder.get(segment);
    const mount = sibling
      ? sibling.then((m) => (m.path && path.startsWith(m.path) ? m : this.preflight(path)), () => this.preflight(path))
      : this.preflight(path);
    if (!sibling) this.firstUnder.set(segment, mount);
    this.mounts.set(path, mount);
    return mount;
  }

  private async preflight(path: string): Promise<Mount> {
    try {
      const answer = (await this.client.call('GET', `sys/internal/ui/mounts/${encodePath(path)}`)) as { data?: { path?: string; options?: { version?: string } | null } };
      const version = answer?.data?.options?.version === '2' ? 2 : 1;
      return { path: answer?.data?.path ?? '', version };
    } catch (error) {
      // No such endpoint (a very old Vault): KV v1, as the CLI assumes.
      if (error instanceof VaultHttpError && error.status === 404) return { path: '', version: 1 };
      // A valid token that may not see the mount, or no mount there: Vault answers both alike
      // (so that mounts cannot be probed). Reading the path itself tells them apart when
      // the token's policies cover it.
      if (error instanceof SecretError && error.kind === 'denied' && !(error as { badToken?: boolean }).badToken) return this.probe(path);
      throw error;
    }
  }

  private async probe(path: string): Promise<Mount> {
    try {
      await this.client.call('GET', encodePath(path));
    } catch (error) {
      if (error instanceof VaultHttpError && error.status === 404 && error.errors.some((e) => e.includes('no handler for route'))) {
        throw notFound(`nothing is mounted at "${path}" or above it (Vault: ${error.message})`);
      }
      if (error instanceof SecretError && error.kind === 'denied') {
        throw denied(`permission denied: the token's policies do not let it read "${path}", or nothing is mounted there (Vault does not tell a token without access which)`);
      }
      throw error;
    }
    // Readable, yet its mount not visible: read it as the plain GET it just was.
    return { path: '', version: 1 };
  }

  private async readFrom(mount: Mount, path: string, version?: number, deadline?: number): Promise<KvSecret> {
    if (mount.version === 1) {
      if (version !== undefined) throw invalid(`a version was asked for, but ${mount.path || path} is a KV version 1 mount`);
      // The lease's time counts from before the request: its end is never later than said.
      const askedAt = Date.now();
      try {
        const answer = (await this.client.call('GET', encodePath(path), { deadline })) as {
          data?: Record<string, unknown>; lease_id?: string; lease_duration?: number; renewable?: boolean;
        };
        const data = answer?.data ?? {};
        const durationS = typeof answer?.lease_duration === 'number' ? answer.lease_duration : 0;
        const id = typeof answer?.lease_id === 'string' ? answer.lease_id : '';
        const leased = durationS > 0 && (id !== '' || Object.hasOwn(data, 'ttl'));
        return { data, lease: leased ? { id, durationS, renewable: id !== '' && answer.renewable === true, askedAt } : undefined };
      } catch (error) {
        throw this.missing(error, path);
      }
    }
    let rest = mount.path && path.startsWith(mount.path) ? path.slice(mount.path.length) : path;
    if (rest.startsWith('data/')) rest = rest.slice('data/'.length); // the API form, Bank-Vaults style
    if (!rest) throw invalid(`"${path}" names the mount ${mount.path}, not a secret in it`);
    const query = version === undefined ? '' : `?version=${version}`;
    try {
      const answer = (await this.client.call('GET', `${encodePath(mount.path)}data/${encodePath(rest)}${query}`, { deadline })) as {
        data?: { data?: Record<string, unknown> | null; metadata?: { version?: number } };
      };
      return { data: answer?.data?.data ?? {}, version: answer?.data?.metadata?.version };
    } catch (error) {
      throw this.missing(error, path, version);
    }
  }

  /** A 404: missing, or (KV v2) a version that was deleted or destroyed, which Vault says in the body. */
  private missing(error: unknown, path: string, version?: number): unknown {
    if (!(error instanceof VaultHttpError) || error.status !== 404) return error;
    const metadata = (error.body as { data?: { metadata?: { deletion_time?: string; destroyed?: boolean; version?: number } } })?.data?.metadata;
    const which = version ?? metadata?.version;
    const label = which ? `version ${which} of ${path}` : path;
    if (metadata?.destroyed) return notFound(`${label} was destroyed`);
    if (metadata?.deletion_time) return notFound(`${label} was deleted at ${metadata.deletion_time}`);
    // Vault's own reason when it gives one ("namespace not found"); a missing secret has none.
    const said = error.errors.length ? ` (Vault: ${error.message})` : '';
    return notFound(`no secret at ${path}${version ? ` (version ${version})` : ''}${said}`);
  }
}
