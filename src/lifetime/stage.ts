// The lifetime stage: starts every lifetime's clock, keeps each name's last good value,
// compares what the lifetimes report with it, and emits one change event per burst of real
// changes: after a quiet period (2 s by default, vault PR #20940's debounce), at the latest
// after a maximum wait, then after an optional random splay so that a fleet does not act
// at once. Expiry goes to the policy. Nothing here knows a service or a template.
import { formatMs } from '../supervisor/service';
import type { Log } from '../log';
import type { Clock, Timer } from './clock';
import type { ChangeEvent, Lifetime, Reporter, SecretName, Values } from './lifetime';
import type { Random } from './timing';

export type ExpiryPolicy = 'exit' | 'keep';
export const EXPIRY_POLICIES: readonly ExpiryPolicy[] = ['exit', 'keep'];

export interface StageOptions {
  clock: Clock;
  log: Log;
  /** Act once no new change came for this long. */
  quietMs: number;
  /** ... but no later than this after the first change of a burst. */
  maxWaitMs: number;
  /** Then wait a random time up to this before acting. */
  splayMs: number;
  expiry: ExpiryPolicy;
  random?: Random;
  /** Told after each report (memory.ts: a collection once things are quiet again). */
  afterWork?: () => void;
}

export const DEFAULT_QUIET_MS = 2000;
/** consul-template's wait.max default: 4 x the quiet period. */
export const DEFAULT_MAX_WAIT_MS = 4 * DEFAULT_QUIET_MS;

export class LifetimeStage {
  /** Every name's latest value. */
  private readonly current = new Map<SecretName, Buffer>();
  /** Every name's value as of the last event (or the start): what consumers have. */
  private readonly acted = new Map<SecretName, Buffer>();
  private readonly pending = new Map<SecretName, Buffer>();
  private quietTimer?: Timer;
  private maxTimer?: Timer;
  private splayTimer?: Timer;
  private stopped = false;
  private onChange: (event: ChangeEvent) => void | Promise<void> = () => {};
  private onExpired: (why: string) => void = () => {};
  private chain: Promise<void> = Promise.resolve();
  private readonly expiredNow = new Set<Lifetime>();

  constructor(
    private readonly lifetimes: Lifetime[],
    initial: Values,
    private readonly options: StageOptions,
  ) {
    // forEach, not for...of: no iteration objects for each value, at every start (docs/development.md).
    initial.forEach((value, name) => {
      this.current.set(name, value);
      this.acted.set(name, value);
    });
  }

  /** How many lifetimes have a clock: none means no timer, no watch, no wakeup. */
  get size(): number {
    return this.lifetimes.length;
  }

  /**
   * Start every clock. `onChange` gets each event (the next one waits until its promise
   * settles); `onExpired` is called when the expiry policy is exit.
   */
  start(onChange: (event: ChangeEvent) => void | Promise<void>, onExpired: (why: string) => void): void {
    this.onChange = onChange;
    this.onExpired = onExpired;
    for (const lifetime of this.lifetimes) lifetime.start(this.reporter(lifetime), this.options.clock);
  }

  /** Stop every clock; a pending change is dropped (the container is stopping). */
  stop(): void {
    this.stopped = true;
    for (const timer of [this.quietTimer, this.maxTimer, this.splayTimer]) timer?.cancel();
    for (const lifetime of this.lifetimes) lifetime.stop();
  }

  /** Every lifetime gives back what init created, concurrently, until `deadline`. */
  async revoke(deadline: number): Promise<void> {
    await Promise.all(this.lifetimes.map(async (lifetime) => {
      try {
        await lifetime.revoke?.(deadline);
      } catch (error) {
        this.options.log.warn(`${lifetime.label}: revoking failed: ${(error as Error).message}`);
      }
    }));
  }

  private reporter(lifetime: Lifetime): Reporter {
    const { log } = this.options;
    return {
      log,
      update: (values) => {
        if (this.stopped) return;
        this.options.afterWork?.();
        if (this.expiredNow.delete(lifetime)) log.info(`${lifetime.label}: replaced after it expired`);
        this.take(values);
      },
      failed: (why, retryInMs) => {
        if (this.stopped) return;
        this.options.afterWork?.();
        log.warn(`${lifetime.label}: ${why}; keeping the last value, retrying in ${formatMs(retryInMs)}`);
      },
      expired: (why) => {
        if (this.stopped) return;
        this.expiredNow.add(lifetime);
        if (this.options.expiry === 'keep') {
          log.warn(`${lifetime.label}: ${why}; running on with the last value (on expiry: keep)`);
          return;
        }
        log.error(`${lifetime.label}: ${why}; stopping the container (on expiry: exit)`);
        this.onExpired(`${lifetime.label}: ${why}`);
      },
    };
  }

  /** Compare with what is known; only real changes start (or extend) a burst. */
  private take(values: Values): void {
    let changed = false;
    for (const [name, value] of values) {
      if (this.current.get(name)?.equals(value)) continue;
      this.current.set(name, value);
      changed = true;
      // Changed and changed back inside one burst: nothing to do for it after all.
      if (this.acted.get(name)?.equals(value)) this.pending.delete(name);
      else this.pending.set(name, value);
    }
    if (!changed) return;
    if (!this.pending.size) {
      this.quietTimer?.cancel();
      this.maxTimer?.cancel();
      this.maxTimer = undefined;
      return;
    }
    const { clock, quietMs, maxWaitMs } = this.options;
    this.quietTimer?.cancel();
    this.quietTimer = clock.after(quietMs, () => this.settled());
    this.maxTimer ??= clock.after(Math.max(quietMs, maxWaitMs), () => this.settled());
  }

  private settled(): void {
    this.quietTimer?.cancel();
    this.maxTimer?.cancel();
    this.quietTimer = this.maxTimer = undefined;
    if (this.splayTimer) return; // already on its way
    const { splayMs, clock, random = Math.random } = this.options;
    const wait = splayMs > 0 ? Math.round(random() * splayMs) : 0;
    if (wait === 0) return this.emit();
    this.options.log.debug(`acting on the change in ${formatMs(wait)} (splay)`);
    this.splayTimer = clock.after(wait, () => {
      this.splayTimer = undefined;
      this.emit();
    });
  }

  private emit(): void {
    if (this.stopped || !this.pending.size) return;
    // The values as they are now: a change that came during the splay goes with this one.
    const changed = new Map(this.pending);
    this.pending.clear();
    for (const [name, value] of changed) this.acted.set(name, value);
    const event: ChangeEvent = { changed, current: new Map(this.current) };
    this.chain = this.chain.then(() => this.onChange(event)).catch((error: unknown) => {
      this.options.log.error(`acting on a change failed: ${(error as Error)?.message ?? error}`);
    });
  }
}
