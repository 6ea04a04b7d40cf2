// The shape of a secret's lifetime while the container runs (the "lifetime" stage of the
// flow). One small object per thing that has a clock: a Vault token, a leased read, a
// static secret read again every refresh interval, a watched file, an issued certificate.
// Each knows time and its own API, never the consumers: it reports the current values of
// the names it feeds, a failure (it keeps the last good value and retries by itself), or
// that its value expired with nothing to replace it. The stage (stage.ts) compares what it
// is told with what it had, coalesces, and emits plain change events; the plan's wiring
// (react/) says who cares. Vault's api/lifetime_watcher.go has the same split: the watcher
// knows time and the API, its caller decides what "done" means.
import type { Log } from '../log';
import type { Clock } from './clock';

/**
 * A secret's name as the plan's wiring knows it (secretName in secrets/plan.ts):
 *   "DB_PASSWORD"        an environment variable that held a reference
 *   "secrets.db"         a config secret for templates only (`{{ secrets.db }}`)
 *   "file:/etc/x.pem"    a secret or an issued certificate's file, by its path
 */
export type SecretName = string;

/** Values by name, as bytes (an environment value is their UTF-8 text). */
export type Values = ReadonlyMap<SecretName, Buffer>;

/** What a lifetime is told to do with its reports: the stage's side of the contract. */
export interface Reporter {
  /**
   * The current values of (some of) the names this lifetime feeds, after every read or
   * re-issue, changed or not: the stage compares, and only real changes go further (vault
   * PR #20917). Values that belong together (database/creds/app's username and password)
   * come in one call, so that they change together.
   */
  update(values: Values): void;
  /**
   * A renewal or read failed. The last good value stays; the lifetime retries by itself
   * after `retryInMs` (backoff.ts). The stage logs one warning per failure.
   */
  failed(why: string, retryInMs: number): void;
  /**
   * The value ran out with no replacement (a lease or certificate past its end, a token
   * that cannot be renewed or replaced). The stage applies the expiry policy: exit (stop
   * the container with 69) or keep (warn, run on). A lifetime that reports this has
   * stopped its own clock, unless it can still recover (it keeps retrying, and a later
   * update() clears the expiry).
   */
  expired(why: string): void;
  /** For the lifetime's own lines (debug: what it renewed and when; never a value). */
  readonly log: Log;
}

export interface Lifetime {
  /** What it is, for messages: "Vault token", "vault:database/creds/app", "file:/run/secrets/db". */
  readonly label: string;
  /** Start the clock (timers through `clock` only, watches, ...). Called once. */
  start(reporter: Reporter, clock: Clock): void;
  /** Stop every timer and watch; nothing is reported afterwards. Idempotent. */
  stop(): void;
  /**
   * At shutdown, after every child has exited: give back what init created (a lease, a
   * token it logged in with). Best effort, bounded by `deadline` (Date.now() based).
   * Absent when there is nothing to give back.
   */
  revoke?(deadline: number): Promise<void>;
}

/** The stage's output: which names really changed, with their new values. */
export interface ChangeEvent {
  /** Only the names whose bytes differ from the last event (or the start). */
  changed: Values;
  /** Every name's current value after the change (what a re-render needs). */
  current: Values;
}
