// When to renew, read again or retry. The numbers are the peers', so that sesame behaves
// as a Vault Agent user expects:
// - renewable lease or token: between 7/10 and 4/5 of what is left, at random (Vault's
//   api/lifetime_watcher.go: sleep = 2/3 of the lease + grace/3, grace 10-20% of it, so
//   70-73%);
// - non-renewable (or capped) lease: read again at threshold ±5% of its duration
//   (consul-template's 90%, Vault Agent's lease_renewal_threshold);
// - failures: jittered exponential backoff from 10 s, doubling to 5 min, never past the
//   end of the lease (lifetime_watcher.go again), and never more than half of what is left
//   of it, so that a lease renewed with a few seconds to spare gets several tries, not one
//   at its last second;
// - the first cycle after start (or after a new read) is jittered over one whole period:
//   a renewal anywhere from 1/20 to 4/5 of the lease (the mean period, 3/4, wide), a
//   refresh anywhere from 10% to 100% of the interval. Leases read together at start (100
//   of them in one init, or one in each of a fleet started together) would otherwise be
//   renewed within a few seconds of each other for many cycles (each cycle's own jitter
//   spreads them only slowly); with the first one spread over a period, their phases are
//   even from the start. consul-template's and Vault Agent's splay and jitter serve the
//   same purpose. It costs one earlier request per lease or value, once.

export const BACKOFF = { firstMs: 10_000, maxMs: 5 * 60_000 };
/** consul-template's default threshold for non-renewable leases. */
export const DEFAULT_LEASE_THRESHOLD = 0.9;
/** Vault Agent's static_secret_render_interval. */
export const DEFAULT_REFRESH_MS = 5 * 60_000;

export type Random = () => number;

/**
 * ms until a renewal of something with `ttlMs` left: at a random point between 7/10 and
 * 4/5 of it. Vault's lifetime watcher renews at 70-73%, which bench/lifecycle.mjs measured
 * as the same number of requests as 2/3..4/5 (mean 73%); 3/4 on average is a few percent
 * fewer requests with the same 1/5 of the lease left at worst for retries (the latest
 * point did not move). Leases read together are kept apart by the first renewal's wider
 * jitter (firstRenewDelay), not by this one.
 */
export function renewDelay(ttlMs: number, random: Random = Math.random): number {
  return Math.max(0, Math.round(ttlMs * (7 / 10 + (1 / 10) * random())));
}

/**
 * The first renewal of a lease just read: anywhere between 1/20 and 4/5 of it (as late as
 * renewDelay, and as wide as its mean period, 3/4), so that leases read at the same moment
 * do not stay in step (renewDelay alone keeps their renewals within 10% of a lease of
 * each other for many cycles).
 */
export function firstRenewDelay(ttlMs: number, random: Random = Math.random): number {
  return Math.max(0, Math.round(ttlMs * (1 / 20 + (3 / 4) * random())));
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
 * The first static refresh after start: between 10% of the interval and all of it (as wide
 * as refreshDelay's mean period, 90%), never later than asked.
 */
export function firstRefreshDelay(intervalMs: number, random: Random = Math.random): number {
  return Math.round(intervalMs * (0.1 + 0.9 * random()));
}

/**
 * How long one renewal or read after start may take, quick retries and the wait for a free
 * connection included, with `leftMs` of its lease left: a third of that, at least 2 s (a
 * loaded server or machine answers in a second or two; less would fail a renewal that was
 * about to succeed), at most 30 s (Vault's own client allows 60 s a request). Not all of
 * what is left: a try that times out must leave time for another. No lease: 5 s, as the
 * refresh's own backoff takes over after it.
 */
export const ATTEMPT = { minMs: 2000, maxMs: 30_000, unleasedMs: 5000 };
export function attemptBudget(leftMs: number): number {
  if (!Number.isFinite(leftMs)) return ATTEMPT.unleasedMs;
  return Math.round(Math.min(ATTEMPT.maxMs, Math.max(ATTEMPT.minMs, leftMs / 3)));
}

/**
 * With this much of a lease of `durationMs` left and its renewals still failing, stop
 * renewing and read it again: new credentials before the old ones end beat none. A 20th
 * of the lease, 1 s to 60 s: a renewal due at 4/5 that times out (a third of the 20% left)
 * still has two or three more tries before it.
 */
export function lastChanceMs(durationMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.round(durationMs / 20)));
}

/**
 * The wait before retry number `attempt` (0-based) of a failed renewal or read: 10 s *
 * 2^attempt, ±20% of jitter, at most 5 min, and with an `endsAt` (what is left of the lease:
 * retrying later is pointless) at most half of the time until then (at least 500 ms, but
 * never past it), so that the tries come closer together as the end nears instead of one
 * at its last second;
 * never under a server's Retry-After. `now` and `endsAt` are clock times; endsAt
 * undefined: no end.
 */
export function retryDelay(attempt: number, now: number, endsAt?: number, retryAfterMs = 0, random: Random = Math.random): number {
  const base = BACKOFF.firstMs * 2 ** Math.min(attempt, 30);
  let wait = Math.min(BACKOFF.maxMs, Math.round(base * (0.8 + 0.4 * random())));
  if (endsAt !== undefined && endsAt > now) {
    // Half of what is left, at least 500 ms but never past the end: the last try is at it.
    const left = endsAt - now;
    wait = Math.min(wait, Math.max(Math.min(500, left), Math.round(left / 2)));
  }
  return Math.max(wait, retryAfterMs);
}
