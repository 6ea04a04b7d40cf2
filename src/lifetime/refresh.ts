// A secret with no lease of its own, read again every refresh interval (Vault Agent's
// static_secret_render_interval, 5 min by default): Keywhiz secrets (Vault's static reads
// are vault-read.ts). A failed read keeps the last value and backs off; nothing expires.
import type { Clock, Timer } from './clock';
import type { Lifetime, Reporter, Values } from './lifetime';
import { refreshDelay, retryDelay, type Random } from './timing';

export class RefreshLifetime implements Lifetime {
  private timer?: Timer;
  private stopped = false;
  private failures = 0;

  constructor(
    readonly label: string,
    /** One read of every name it feeds; throws (an Error with a message) when it fails. */
    private readonly read: () => Promise<Values>,
    private readonly intervalMs: number,
    private readonly random: Random = Math.random,
  ) {}

  start(reporter: Reporter, clock: Clock): void {
    const next = (ms: number) => {
      if (this.stopped) return;
      this.timer = clock.after(ms, () => void run());
    };
    const run = async () => {
      try {
        const values = await this.read();
        if (this.stopped) return;
        this.failures = 0;
        reporter.log.debug(`${this.label}: read again`);
        reporter.update(values);
        next(refreshDelay(this.intervalMs, this.random));
      } catch (error) {
        if (this.stopped) return;
        const wait = Math.min(retryDelay(this.failures++, clock.now(), undefined, 0, this.random), this.intervalMs);
        reporter.failed((error as Error).message, wait);
        next(wait);
      }
    };
    next(refreshDelay(this.intervalMs, this.random));
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }
}
