// The Vault token's lifetime. A renewable token is renewed (renew-self) at 7/10..4/5 of its
// TTL; when a renewal is capped by a max TTL, refused, or the token is not renewable, init
// logs in again the same way before it expires (the session re-issues the old token's
// leases under the new one). A token init did not create, and cannot renew or replace,
// gets a warning well before it expires, then the expiry policy. A token with no TTL (a
// root token) has no clock at all.
import type { Clock, Timer } from './clock';
import type { Lifetime, Reporter } from './lifetime';
import { attemptBudget, renewDelay, retryDelay, type Random } from './timing';
import { VaultHttpError } from '../secrets/vault/client';
import type { VaultSession } from '../secrets/vault/session';
import { formatMs } from '../supervisor/service';

interface TokenState {
  ttlMs: number;
  renewable: boolean;
  /** Clock time it ends. */
  endsAt: number;
  /** The TTL each renewal asks for: the one it was issued with. */
  incrementS: number;
}

export interface TokenInfo {
  ttlS: number;
  renewable: boolean;
}

export class VaultTokenLifetime implements Lifetime {
  readonly label = 'Vault token';
  private timer?: Timer;
  private stopped = false;
  private reporter!: Reporter;
  private clock!: Clock;
  private state!: TokenState;
  private failures = 0;
  /** Renewal stopped extending it: replace it (or, if impossible, let it run out). */
  private capped = false;

  constructor(
    private readonly session: VaultSession,
    /**
     * TTL and renewability: from the login's answer, or (a token given from outside) a
     * lookup-self made once the children run: nothing before them waits for it.
     */
    private readonly initial: TokenInfo | (() => Promise<TokenInfo>),
    /** Revoke the token at shutdown (only one init created). */
    private readonly revokeAtEnd: boolean,
    private readonly random: Random = Math.random,
  ) {}

  start(reporter: Reporter, clock: Clock): void {
    this.reporter = reporter;
    this.clock = clock;
    const initial = this.initial;
    if (typeof initial !== 'function') return this.begin(initial);
    void initial().then((info) => {
      if (!this.stopped) this.begin(info);
    });
  }

  private begin(initial: TokenInfo): void {
    this.take(initial.ttlS, initial.renewable, initial.ttlS);
    const why = this.session.reloginImpossible;
    if (why && this.session.token.created && this.state.ttlMs) {
      this.reporter.log.warn(`Vault token: cannot log in again when it reaches its max TTL (${why}); it will then expire`);
    }
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  async revoke(deadline: number): Promise<void> {
    if (!this.revokeAtEnd || !this.session.token.created) return;
    // revoke-self also revokes every lease created with the token (auth/token.mdx).
    await this.session.client.call('POST', 'auth/token/revoke-self', { deadline });
    this.reporter?.log.debug('revoked the Vault token init logged in with (and its leases)');
  }

  /** A fresh TTL: plan the next step. */
  private take(ttlS: number, renewable: boolean, incrementS: number): void {
    const now = this.clock.now();
    this.state = { ttlMs: ttlS * 1000, renewable, endsAt: now + ttlS * 1000, incrementS };
    this.failures = 0;
    this.capped = false;
    if (!ttlS) {
      this.reporter.log.debug('Vault token: no TTL; nothing to renew');
      return;
    }
    this.schedule(renewDelay(this.state.ttlMs, this.random), () => this.tick());
  }

  private schedule(ms: number, fn: () => Promise<void> | void): void {
    this.timer?.cancel();
    if (this.stopped) return;
    this.timer = this.clock.after(ms, () => void fn());
  }

  private get canRelogin(): boolean {
    return this.session.token.created && !this.session.reloginImpossible;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.state.renewable && !this.capped) return this.renew();
    if (this.canRelogin) return this.relogin();
    return this.runOut();
  }

  private async renew(): Promise<void> {
    try {
      const left = this.state.endsAt - this.clock.now();
      const answer = (await this.session.call('POST', 'auth/token/renew-self', { increment: `${this.state.incrementS}s` }, attemptBudget(left))) as {
        auth?: { lease_duration?: number; renewable?: boolean }; warnings?: string[] | null;
      };
      if (this.stopped) return;
      const ttlS = answer?.auth?.lease_duration ?? 0;
      const renewable = answer?.auth?.renewable !== false;
      // Capped by a max TTL: a shorter TTL than asked for, with Vault's warning.
      const capped = ttlS < this.state.incrementS || (answer?.warnings ?? []).some((w) => /max_ttl|max TTL/i.test(w));
      this.reporter.log.debug(`Vault token renewed: ${ttlS}s${capped ? ' (capped by its max TTL)' : ''}`);
      if (!capped) return this.take(ttlS, renewable, this.state.incrementS);
      // Renewing cannot take it further: replace it at 2/3 of what is left (at once when
      // nothing is), or, if that is impossible, say so now and let it run out.
      this.state = { ...this.state, ttlMs: ttlS * 1000, endsAt: this.clock.now() + ttlS * 1000 };
      this.failures = 0;
      this.capped = true;
      // A third of what is left, not two: the leases of this token must be issued again
      // under the new one before this one ends (lifetime_watcher.go leaves a 10-20% grace).
      if (this.canRelogin) this.schedule(Math.round(ttlS * 1000 / 3), () => this.relogin());
      else this.warnEnd('its max TTL is reached');
    } catch (error) {
      if (this.stopped) return;
      if (error instanceof VaultHttpError && error.status >= 400 && error.status < 500 && error.status !== 429 && error.status !== 412) {
        // Refused ("past the max TTL, cannot renew", not renewable, or denied): renewing
        // again will not help.
        this.reporter.log.info(`Vault token: renewal refused (${error.message})`);
        this.capped = true;
        if (this.canRelogin) return this.relogin();
        this.warnEnd('it cannot be renewed');
        return;
      }
      this.retry(error, () => this.renew());
    }
  }

  private async relogin(): Promise<void> {
    try {
      const result = await this.session.relogin();
      if (this.stopped) return;
      this.reporter.log.info(`Vault token replaced by a new ${result.how}`);
      const ttlS = result.ttlS ?? 0;
      this.take(ttlS, result.renewable ?? false, ttlS);
    } catch (error) {
      if (this.stopped) return;
      this.retry(error, () => this.relogin());
    }
  }

  /** Cannot be renewed or replaced: a warning now, the expiry policy at its end. */
  private warnEnd(why: string): void {
    const left = Math.max(0, this.state.endsAt - this.clock.now());
    this.reporter.log.warn(`Vault token: ${why} and init cannot log in again (${this.session.reloginImpossible ?? 'no login method'}): it expires in ${formatMs(left)}`);
    this.schedule(left, () => this.runOut());
  }

  private runOut(): void {
    if (this.clock.now() < this.state.endsAt) {
      // Not renewable from the start: warn at 2/3, as early as a renewal would have come.
      this.warnEnd('it is not renewable');
      return;
    }
    this.reporter.expired('expired, with no way to renew it or log in again');
  }

  private retry(error: unknown, again: () => Promise<void>): void {
    const now = this.clock.now();
    // With a login possible, a token that ran out is replaced once Vault answers again.
    if (now >= this.state.endsAt && !this.canRelogin) {
      this.reporter.expired(`expired while Vault could not be reached (${(error as Error).message})`);
    }
    const wait = retryDelay(this.failures++, now, now < this.state.endsAt ? this.state.endsAt : undefined, (error as VaultHttpError)?.retryAfterMs, this.random);
    this.reporter.failed(`${(error as Error).message}`, wait);
    this.schedule(wait, again);
  }
}
