// One Vault path read at start, kept valid: the values of every key read from it come from
// one read, so that database/creds/app's username and password always belong together.
//   leased, renewable      sys/leases/renew at 7/10..4/5; once a renewal is capped (its max
//                          TTL), read again at the threshold of what is left
//   leased, not renewable  read again at threshold (90%) ±5% of the lease (also KV v1 `ttl`)
//   no lease (KV v2, v1)   read again every refresh interval (5 min default; never: no clock)
// A lease that belongs to a token being replaced is read again under the new token before
// the old one ends (only those: vault #11030). Failures keep the last value and back off,
// never past the lease's end. A renewal that fails or times out is tried again while the
// lease has time (each try gets part of what is left, not all of it); only in the last
// 20th of the lease (timing.ts lastChanceMs) is it read again instead, new credentials
// before the old ones end; at the end with nothing new the expiry policy applies.
import type { Clock, Timer } from './clock';
import type { Lifetime, Reporter, SecretName } from './lifetime';
import { attemptBudget, firstRefreshDelay, firstRenewDelay, lastChanceMs, refreshDelay, renewDelay, rereadDelay, retryDelay, type Random } from './timing';
import { secretName } from '../secrets/plan';
import { SecretError } from '../secrets/errors';
import { VaultHttpError } from '../secrets/vault/client';
import type { KvSecret } from '../secrets/vault/kv';
import { asText } from '../secrets/vault/provider';
import type { VaultRead, VaultSession } from '../secrets/vault/session';

export interface ReadTiming {
  /** Static secrets: ms between reads; undefined = never read again. */
  refreshMs?: number;
  /** Non-renewable leases: the share of the lease after which to read again. */
  threshold: number;
  /** Revoke its lease at shutdown. */
  revoke: boolean;
}

export class VaultReadLifetime implements Lifetime {
  readonly label: string;
  private timer?: Timer;
  private stopped = false;
  private reporter!: Reporter;
  private clock!: Clock;
  private failures = 0;
  private lease?: { id: string; durationS: number; renewable: boolean; askedAt?: number };
  /** The next renewal or refresh is the first of this lease or value: jittered wider. */
  private first = true;
  /** Clock time the current lease ends (undefined: no lease). */
  private endsAt?: number;
  private token: string;
  private expired = false;

  constructor(
    private readonly session: VaultSession,
    private readonly read: VaultRead,
    private readonly timing: ReadTiming,
    private readonly random: Random = Math.random,
  ) {
    this.label = `vault:${read.path}${read.version ? `#${read.version}` : ''}`;
    this.lease = read.secret.lease;
    this.token = read.token;
  }

  /** Does it need a clock at all? A static read with refresh never does not. */
  get hasClock(): boolean {
    return this.lease !== undefined || this.timing.refreshMs !== undefined;
  }

  start(reporter: Reporter, clock: Clock): void {
    this.reporter = reporter;
    this.clock = clock;
    this.session.onNewToken((oldToken) => this.tokenReplaced(oldToken));
    this.plan();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  async revoke(deadline: number): Promise<void> {
    if (!this.timing.revoke || !this.lease?.id) return;
    await this.session.client.call('POST', 'sys/leases/revoke', { body: { lease_id: this.lease.id }, deadline });
    this.reporter?.log.debug(`${this.label}: lease revoked`);
  }

  /** The next step for the current lease (or none). */
  private plan(): void {
    const lease = this.lease;
    const first = this.first;
    this.first = false;
    if (lease) {
      // A lease just read counts from when it was asked for (at start, 100 reads and the
      // rest of the start-up may take seconds on a loaded machine); one just renewed, from now.
      const age = lease.askedAt === undefined ? 0 : Math.max(0, Date.now() - lease.askedAt);
      const ms = Math.max(0, lease.durationS * 1000 - age);
      this.endsAt = this.clock.now() + ms;
      if (lease.renewable) this.schedule((first ? firstRenewDelay : renewDelay)(ms, this.random), () => this.renew());
      else this.schedule(rereadDelay(ms, this.timing.threshold, this.random), () => this.reread());
      return;
    }
    this.endsAt = undefined;
    if (this.timing.refreshMs !== undefined) this.schedule((first ? firstRefreshDelay : refreshDelay)(this.timing.refreshMs, this.random), () => this.reread());
  }

  private schedule(ms: number, fn: () => Promise<void>): void {
    this.timer?.cancel();
    if (this.stopped) return;
    this.timer = this.clock.after(ms, () => void fn());
  }

  private async renew(): Promise<void> {
    const lease = this.lease as NonNullable<VaultRead['secret']['lease']>;
    try {
      const answer = (await this.session.call('POST', 'sys/leases/renew', { lease_id: lease.id, increment: lease.durationS }, attemptBudget(this.leftMs()))) as {
        lease_id?: string; lease_duration?: number; renewable?: boolean;
      };
      if (this.stopped) return;
      const durationS = answer?.lease_duration ?? 0;
      this.failures = 0;
      this.clearExpiry();
      this.reporter.log.debug(`${this.label}: lease renewed for ${durationS}s`);
      if (durationS < lease.durationS || answer?.renewable === false) {
        // Capped by the lease's max TTL: renewing cannot take it further. Read it again
        // before the end (consul-template does the same).
        this.endsAt = this.clock.now() + durationS * 1000;
        this.schedule(rereadDelay(durationS * 1000, this.timing.threshold, this.random), () => this.reread());
        return;
      }
      this.lease = { ...lease, id: answer?.lease_id || lease.id, askedAt: undefined };
      this.plan();
    } catch (error) {
      if (this.stopped) return;
      if (error instanceof VaultHttpError && error.status === 400) {
        // Not renewable after all (or gone): a new read replaces it.
        this.reporter.log.info(`${this.label}: renewal refused (${error.message}); reading it again`);
        return this.reread();
      }
      // Still time: renew again (the server was slow or failing, the lease is as it was).
      // Close to the end with no renewal through: read it again while the old one holds.
      const left = this.leftMs();
      const lastChance = lastChanceMs(lease.durationS * 1000);
      if (left > lastChance) return this.retry(error, () => this.renew(), this.endsAt! - lastChance);
      this.reporter.log.warn(`${this.label}: renewal failed (${describe(error)}) with ${(Math.max(0, left) / 1000).toFixed(1)}s of the lease left; reading it again`);
      return this.reread();
    }
  }

  private async reread(): Promise<void> {
    let secret: KvSecret;
    try {
      secret = await this.session.reread(this.read.path, this.read.version, attemptBudget(this.leftMs()));
    } catch (error) {
      if (this.stopped) return;
      return this.retry(error, () => this.reread());
    }
    if (this.stopped) return;
    const values = new Map<SecretName, Buffer>();
    for (const request of this.read.requests) {
      if (request.ref.scheme !== 'vault') continue;
      const key = request.ref.key;
      if (!Object.hasOwn(secret.data, key)) {
        return this.retry(new Error(`no key "${key}" in ${this.read.path} any more`), () => this.reread());
      }
      values.set(secretName(request), Buffer.from(asText(secret.data[key])));
    }
    this.failures = 0;
    this.clearExpiry();
    this.lease = secret.lease;
    // A new lease starts a new cycle (several at once after a new login); a refresh does not.
    this.first = secret.lease !== undefined;
    this.token = this.session.tokenId;
    this.reporter.log.debug(`${this.label}: read again${secret.lease ? ` (lease ${secret.lease.durationS}s)` : ''}`);
    this.reporter.update(values);
    this.plan();
  }

  /** A new token: this lease belongs to the old one, which will revoke it when it ends. */
  private async tokenReplaced(oldToken: string): Promise<void> {
    if (this.stopped || !this.lease?.id || this.token !== oldToken) return;
    this.reporter.log.debug(`${this.label}: its lease belongs to the replaced token; reading it again under the new one`);
    this.timer?.cancel();
    await this.reread();
  }

  /** What is left of the lease (no end: unbounded): a call's retries stop there. */
  private leftMs(): number {
    return this.endsAt === undefined ? Infinity : this.endsAt - this.clock.now();
  }

  private clearExpiry(): void {
    this.expired = false;
  }

  /** `until`: the time the retries aim to fit before (the lease's end unless said). */
  private retry(error: unknown, again: () => Promise<void>, until = this.endsAt): void {
    const now = this.clock.now();
    if (this.endsAt !== undefined && now >= this.endsAt && !this.expired) {
      this.expired = true;
      this.reporter.expired(`the lease ended with no new value (${describe(error)})`);
    }
    const ends = until !== undefined && now < until ? until : undefined;
    const wait = retryDelay(this.failures++, now, ends, (error as VaultHttpError)?.retryAfterMs, this.random);
    this.reporter.failed(describe(error), wait);
    this.schedule(wait, again);
  }
}

function describe(error: unknown): string {
  if (error instanceof SecretError || error instanceof VaultHttpError || error instanceof Error) return error.message;
  return String(error);
}
