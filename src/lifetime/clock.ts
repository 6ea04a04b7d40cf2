// One clock for everything that has a lifetime: token and lease renewals, refresh
// intervals, certificate rotation, change debouncing, retries after start. Production uses
// the real one; tests use ManualClock, so that an hour-long lease runs in milliseconds.
//
// Node's timers hold at most 2^31-1 ms (24.8 days); a longer delay silently becomes 1 ms
// and prints a TimeoutOverflowWarning. A token with a 32-day TTL is ordinary, so long
// delays are chained here, never handed to setTimeout whole.

export interface Timer {
  /** Idempotent; a cancelled timer never fires. */
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch (Date.now() for the real clock). */
  now(): number;
  /** Run `fn` once, `ms` from now (negative and NaN count as 0). */
  after(ms: number, fn: () => void): Timer;
  /** A promise that settles `ms` from now (for retry loops). */
  sleep(ms: number): Promise<void>;
}

/** The largest delay setTimeout keeps as given. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const clamp = (ms: number): number => (Number.isFinite(ms) && ms > 0 ? ms : 0);

export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const due = Date.now() + clamp(ms);
    const arm = (): void => {
      const left = due - Date.now();
      if (left <= 0) {
        handle = undefined;
        fn();
        return;
      }
      handle = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    // First arm synchronously, so a 0 ms timer still runs after the current task.
    handle = setTimeout(arm, Math.min(clamp(ms), MAX_TIMER_MS));
    return {
      cancel() {
        if (cancelled) return;
        cancelled = true;
        if (handle) clearTimeout(handle);
      },
    };
  },
  sleep(ms) {
    return new Promise((resolve) => realClock.after(ms, resolve));
  },
};

/**
 * A clock that moves only when told. `advance(ms)` runs every timer that falls due, in
 * order of due time (ties in order of creation), letting promise callbacks settle
 * between them, so code that awaits a sleep and then schedules another sees time pass as
 * it would.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  after(ms: number, fn: () => void): Timer {
    const id = this.seq++;
    this.timers.set(id, { due: this.current + clamp(ms), fn });
    return { cancel: () => void this.timers.delete(id) };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** How many timers are waiting (for tests that check nothing is left scheduled). */
  get pending(): number {
    return this.timers.size;
  }

  /** The due time of the next timer, if any. */
  next(): number | undefined {
    let min: number | undefined;
    for (const { due } of this.timers.values()) if (min === undefined || due < min) min = due;
    return min;
  }

  /** Move time forward by `ms`, running what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.current + clamp(ms);
    for (;;) {
      await settle();
      let pick: [number, { due: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].due <= end && (!pick || entry[1].due < pick[1].due)) pick = entry;
      if (!pick) break;
      this.timers.delete(pick[0]);
      this.current = Math.max(this.current, pick[1].due);
      pick[1].fn();
    }
    this.current = end;
    await settle();
  }
}

/** Let pending promise callbacks (several levels deep) and I/O-free work run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
