// When to renew, read again or retry. The numbers are the peers', so that sesame behaves
// as a Vault Agent user expects:
// - renewable lease or token: after 2/3 of what is left, up to 4/5 at random (Vault's
//   api/lifetime_watcher.go: sleep = 2/3 of the lease + grace/3, grace 10-20% of it);
// - non-renewable (or capped) lease: read again at threshold ±5% of its duration
//   (consul-template's 90%, Vault Agent's lease_renewal_threshold);
// - failures: jittered exponential backoff from 10 s, doubling to 5 min, never past the
//   end of the lease (lifetime_watcher.go again).

export const BACKOFF = { firstMs: 10_000, maxMs: 5 * 60_000 };
/** consul-template's default threshold for non-renewable leases. */
export const DEFAULT_LEASE_THRESHOLD = 0.9;
/** Vault Agent's static_secret_render_interval. */
export const DEFAULT_REFRESH_MS = 5 * 60_000;

export type Random = () => number;

/**
 * ms until a renewal of something with `ttlMs` left: after 2/3 of it, as Vault Agent
 * renews, at a random point up to 4/5. The spread is wide on purpose: a fleet started at
 * once gets its leases at once, and a 10% jitter kept their renewals within a few seconds of
 * each other; and not earlier than 2/3, as each renewal is a request (Vault's
 * lifetime_watcher renews at about 70%; bench/lifecycle.mjs compares the two).
 */
export function renewDelay(ttlMs: number, random: Random = Math.random): number {
  return Math.max(0, Math.round(ttlMs * (2 / 3 + (2 / 15) * random())));
}

/** ms until a non-renewable lease of `durationMs` is read again: threshold ±5% of it. */
export function rereadDelay(durationMs: number, threshold = DEFAULT_LEASE_THRESHOLD, random: Random = Math.random): number {
  const share = Math.min(0.98, Math.max(0.05, threshold + (random() - 0.5) * 0.1));
  return Math.round(durationMs * share);
}

/**
 * A static refresh: between 80% and 100% of the interval (never later than asked), so that
 * a fleet started together drifts apart within a few intervals.
 */
export function refreshDelay(intervalMs: number, random: Random = Math.random): number {
  return Math.round(intervalMs * (0.8 + 0.2 * random()));
}

/**
 * The wait before retry number `attempt` (0-based) of a failed renewal or read: 10 s *
 * 2^attempt, ±20% of jitter, at most 5 min, never past `endsAt`
 * (what is left of the lease: retrying later is pointless), never under a server's
 * Retry-After. `now` and `endsAt` are clock times; endsAt undefined: no end.
 */
export function retryDelay(attempt: number, now: number, endsAt?: number, retryAfterMs = 0, random: Random = Math.random): number {
  const base = BACKOFF.firstMs * 2 ** Math.min(attempt, 30);
  let wait = Math.min(BACKOFF.maxMs, Math.round(base * (0.8 + 0.4 * random())));
  if (endsAt !== undefined) wait = Math.min(wait, Math.max(1000, endsAt - now - 1000));
  return Math.max(wait, retryAfterMs);
}
