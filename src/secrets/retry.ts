// Retries for secret sources: jittered exponential backoff inside one overall deadline.
// What is worth retrying is the caller's call (Vault: connection errors, 412, 429, 5xx but
// 501, as its own client does; never 400/403/404, which will not change by waiting).

/** Connection failures worth another try, whatever the source. */
export const CONNECTION_ERRORS: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export interface RetryPolicy {
  /** Wall-clock time at which to give up (Date.now() based). */
  deadline: number;
  baseMs?: number;
  capMs?: number;
  /** A wait the server asked for (Retry-After), which a retry never undercuts. */
  minWaitMs?: (error: unknown) => number | undefined;
  /** Called when another attempt is coming (after a wait), not when the deadline ends it. */
  onRetry?: (error: unknown) => void;
}

export class DeadlineExceeded extends Error {
  constructor(readonly last: unknown, readonly attempts: number) {
    super('time limit reached');
  }
}

/**
 * Run `attempt` until it succeeds, `retryable(error)` says no, or the deadline passes
 * (then DeadlineExceeded carries the last error). Full jitter: a random wait up to
 * base * 2^n, capped, so that many inits restarted together do not retry in step. A wait
 * that ends past the deadline (a busy machine runs timers late) ends the retries there: an
 * attempt with no time left could only be refused unsent, and its "no time left" would
 * hide the error that was worth reporting (a sealed Vault, a refused connection).
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  retryable: (error: unknown) => boolean,
  { deadline, baseMs = 200, capMs = 5000, minWaitMs, onRetry }: RetryPolicy,
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!retryable(error)) throw error;
      const wait = Math.max(Math.random() * Math.min(capMs, baseMs * 2 ** n), minWaitMs?.(error) ?? 0);
      if (Date.now() + wait >= deadline) throw new DeadlineExceeded(error, n + 1);
      onRetry?.(error);
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (Date.now() >= deadline) throw new DeadlineExceeded(error, n + 1);
    }
  }
}
