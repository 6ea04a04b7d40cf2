// What the Vault provider keeps after start for the lifetime stage: the client with its
// token, how that token was obtained (to log in again the same way), and every distinct
// read with its lease. The lifetimes (lifetime/vault-*.ts) renew, read again and revoke
// through it; every call goes through the one VaultClient adapter.
import type { Log } from '../../log';
import type { SecretRequest } from '../plan';
import { login, type LoginMemory, type LoginResult, reloginImpossible } from './auth';
import type { VaultClient } from './client';
import type { KvReader, KvSecret } from './kv';
import type { VaultSettings } from './settings';

/**
 * How long one call after start may take, its own quick retries included: short, since the
 * lifetime's own backoff (10 s .. 5 min) takes over after it, with a warning each time.
 */
export const CALL_BUDGET_MS = 5000;

/** One path read at start, and the requests (keys) it fed. */
export interface VaultRead {
  path: string;
  version?: number;
  requests: SecretRequest[];
  secret: KvSecret;
  /** The token the read was made with: its lease belongs to that token. */
  token: string;
}

export class VaultSession {
  readonly reads: VaultRead[] = [];
  private readonly tokenListeners: Array<(oldToken: string) => Promise<void>> = [];

  constructor(
    readonly client: VaultClient,
    readonly kv: KvReader,
    readonly settings: VaultSettings,
    readonly memory: LoginMemory,
    /** The first login's answer (or, for a given token, that it was given). */
    public token: LoginResult,
    readonly log: Log,
  ) {}

  get tokenId(): string {
    return this.client.currentToken ?? '';
  }

  /** Why a new login is impossible, if it is (a given token, a single-use secret_id). */
  get reloginImpossible(): string | undefined {
    return reloginImpossible(this.settings.auth, this.memory);
  }

  /**
   * `budgetMs`: how long this call may take, its quick retries and any wait for a free
   * connection included (a lifetime sizes it to what is left of its lease: timing.ts
   * attemptBudget).
   */
  call(method: 'GET' | 'POST', path: string, body?: object, budgetMs = CALL_BUDGET_MS): Promise<unknown> {
    return this.client.call(method, path, { body, deadline: Date.now() + Math.max(500, budgetMs) });
  }

  reread(path: string, version?: number, budgetMs = CALL_BUDGET_MS): Promise<KvSecret> {
    return this.kv.reread(path, version, Date.now() + Math.max(500, budgetMs));
  }

  /** Someone to tell when the token is replaced (the leases of the old one are re-issued). */
  onNewToken(listener: (oldToken: string) => Promise<void>): void {
    this.tokenListeners.push(listener);
  }

  /**
   * Log in again the configured way (Kubernetes and JWT re-read their token file; AppRole
   * uses the secret_id kept in memory), then let every lease of the old token be re-issued
   * under the new one before the old one ends (vault #11030: nothing else is read again).
   */
  async relogin(): Promise<LoginResult> {
    const old = this.tokenId;
    const result = await login(this.client, this.settings.auth, this.log, this.memory, Date.now() + CALL_BUDGET_MS);
    this.token = result;
    await Promise.all(this.tokenListeners.map((listener) => listener(old)));
    return result;
  }
}
