// One supervised service: start it, watch its readiness, restart it by its policy with
// exponential backoff, stop it with its own signal and grace period. The shape of
// consul-template's child.Child: a small lifecycle vocabulary (run, signal, stop) over a
// few documented fields. The supervisor (supervise.ts) decides what the outcomes mean for
// the container.
import { constants } from 'node:os';
import type { ServiceConfig } from '../config/services';
import { signalName } from '../config/values';
import { InitError } from '../exit-codes';
import type { Log } from '../log';
import { relayOutput } from './output';
import { AFTER_KILL_MS, type Child, deliver, describeMembers, exitCodeOf, themOrIt, type ExitStatus, groupGone, groupMembers, type ProcessTable } from './processes';
import { watchReadiness } from './readiness';
import type { ResolvedUser } from './user';

const { SIGKILL, SIGCONT } = constants.signals;

/**
 * Docker's restart backoff (moby daemon/restartmanager): 100 ms, doubled after each
 * restart, at most 1 minute; a run that lasted 10 s resets it. Here the cap is 30 s, so
 * that a service that comes back is not left down for a whole minute.
 */
export const BACKOFF = { firstMs: 100, maxMs: 30_000, stableMs: 10_000 };
/** Leftovers of a service's process group after it exits, outside a shutdown, get this long. */
const LEFTOVER_GRACE_MS = 10_000;
/**
 * After a service (and its process group) is gone, how long to wait for the end of its
 * output: what it wrote last may still be in the pipes. Only a process that left its group
 * and kept the pipes open makes this wait the whole time.
 */
const OUTPUT_DRAIN_MS = 1000;
/** How much of a failing healthcheck's output goes into the log line. */
const HEALTH_OUTPUT = 200;

/** How a service ended for good. */
export interface Outcome {
  /** What init would exit with because of it: the exit code, 128+N, or init's own code. */
  code: number;
  /** One line for the log: "exited with code 3", "command not found: foo", ... */
  reason: string;
  /** Its last exit status; null when it never ran (spawn failure, stopped while waiting). */
  status: ExitStatus | null;
  /** The signal init sent it to stop it, if it did. */
  stopSignal?: number;
  /** Its restart policy ran out of restarts. */
  gaveUp?: boolean;
}

export interface ServiceContext {
  table: ProcessTable;
  log: Log;
  env: Record<string, string>;
  user?: ResolvedUser;
  noNewPrivs: boolean;
  /** Signals (forwarded and the stop signal) go to the whole process group. */
  groupSignals: boolean;
  /** Put before each line of its output ("" for none). */
  prefix: string;
  /** The stop signal when the service names none (init's -r TERM:X, or SIGTERM). */
  defaultStopSignal: number;
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

function describe(status: ExitStatus): string {
  return status.signal ? `killed by ${signalName(status.signal)}` : `exited with code ${status.code}`;
}

export class Service {
  private child: Child | null = null;
  private stopping = false;
  private stopSent?: number;
  private stopSentAt?: number;
  /** When stopping: the shutdown's deadline, by which everything is SIGKILLed. */
  private deadline = Infinity;
  private wake: (() => void) | null = null;
  private runCalled = false;
  /** A restart asked for by a changed secret: the next exit is not the service's own. */
  private restartAsked = false;
  private restarted?: () => void;
  private readonly startedOnce = deferred<boolean>();
  private readonly readyOnce = deferred<{ ok: boolean; why: string }>();
  private readonly completedOnce = deferred<boolean>();
  private readonly finalOnce = deferred<Outcome>();

  constructor(
    readonly config: ServiceConfig,
    private readonly ctx: ServiceContext,
  ) {
    void this.finalOnce.promise.then((outcome) => {
      const completed = this.config.oneshot && outcome.status?.code === 0 && outcome.status.signal === null;
      this.startedOnce.resolve(false);
      this.readyOnce.resolve({ ok: completed, why: outcome.reason });
      this.completedOnce.resolve(completed);
    });
  }

  get name(): string { return this.config.name; }
  /** Resolves true once it has started, false if it ended (or was stopped) before. */
  get started(): Promise<boolean> { return this.startedOnce.promise; }
  /** Started and, if it has a healthcheck or ready probe, passed it (a oneshot: completed). */
  get ready(): Promise<{ ok: boolean; why: string }> { return this.readyOnce.promise; }
  /** A oneshot that exited 0. */
  get completed(): Promise<boolean> { return this.completedOnce.promise; }
  /** How it ended for good: no restart is coming. */
  get final(): Promise<Outcome> { return this.finalOnce.promise; }
  get pid(): number | null { return this.child?.pid ?? null; }

  /** Start it and keep it going by its restart policy; resolves with how it ended. */
  async run(): Promise<Outcome> {
    this.runCalled = true;
    const outcome = await this.loop();
    this.finalOnce.resolve(outcome);
    return outcome;
  }

  private async loop(): Promise<Outcome> {
    const { restart } = this.config;
    let restarts = 0;
    let delay = 0;
    for (;;) {
      if (this.stopping) return { code: 0, reason: 'stopped before it started', status: null };
      let child: Child;
      try {
        child = await this.ctx.table.spawn({
          argv: this.config.command,
          env: this.ctx.env,
          cwd: this.config.workingDir,
          user: this.ctx.user,
          noNewPrivs: this.ctx.noNewPrivs,
          stdio: this.config.capture ? 'capture' : 'inherit',
        });
      } catch (error) {
        if (!(error instanceof InitError)) throw error;
        return { code: error.exitCode, reason: error.message, status: null };
      }
      const startedAt = Date.now();
      this.child = child;
      const relayed = child.output ? relayOutput(child.output, this.ctx.prefix) : Promise.resolve();
      this.ctx.log.info(`started (pid ${child.pid}${restarts ? `, restart ${restarts}` : ''})`);
      this.startedOnce.resolve(true);
      const unwatch = this.watch();
      const status = await child.exited;
      unwatch();
      this.child = null;
      const code = exitCodeOf(status);
      const ranMs = Date.now() - startedAt;
      // "after" is ambiguous ("killed by SIGTERM after 2.5s": ran 2.5 s, or took 2.5 s to stop?),
      // so the line says both where both are known.
      const sinceStop = this.stopping && this.stopSentAt ? `, ${formatMs(Date.now() - this.stopSentAt)} after ${signalName(this.stopSent as number)} was sent` : '';
      this.ctx.log[this.stopping || code === 0 ? 'info' : 'warn'](`${describe(status)}${sinceStop} (ran ${formatMs(ranMs)})`);
      await this.stopLeftovers(child);
      // Its last lines go out before its exit is acted on (and before init itself exits).
      // In a shutdown, not past the budget (stopAll gives up a little after it).
      await within(relayed, this.stopping ? Math.max(0, Math.min(OUTPUT_DRAIN_MS, this.deadline + AFTER_KILL_MS / 2 - Date.now())) : OUTPUT_DRAIN_MS);
      if (this.stopping) return { code, reason: describe(status), status, stopSignal: this.stopSent };
      if (this.restartAsked) {
        // init stopped it to start it again with new secrets: not a failure, no backoff,
        // not counted against its restart policy.
        this.restartAsked = false;
        this.stopSent = undefined;
        this.restarted?.();
        continue;
      }
      if (this.config.oneshot && code === 0) {
        this.ctx.log.info('completed');
        return { code, reason: 'completed', status };
      }
      const again = restart.kind === 'always' || (restart.kind === 'on-failure' && code !== 0);
      if (!again) return { code, reason: describe(status), status };
      // A run that lasted is a fresh start: the backoff and the count of restarts begin again.
      if (ranMs >= BACKOFF.stableMs) {
        restarts = 0;
        delay = 0;
      }
      if (restart.kind === 'on-failure' && restart.max !== undefined && restarts >= restart.max) {
        return { code, reason: `gave up after ${restarts} restart(s) (restart: on-failure:${restart.max})`, status, gaveUp: true };
      }
      restarts += 1;
      delay = delay ? Math.min(BACKOFF.maxMs, delay * 2) : BACKOFF.firstMs;
      const of = restart.kind === 'on-failure' && restart.max !== undefined ? ` of ${restart.max}` : '';
      this.ctx.log.info(`restarting in ${formatMs(delay)} (restart ${restarts}${of})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = null;
    }
  }

  /** Readiness of this run; without a check, a service is ready once started (a oneshot once completed). */
  private watch(): () => void {
    const { healthcheck, ready, oneshot } = this.config;
    if (!healthcheck && !ready) {
      // A oneshot's readiness comes with its end (the constructor's final callback).
      if (!oneshot) this.readyOnce.resolve({ ok: true, why: 'started' });
      return () => {};
    }
    return watchReadiness({ healthcheck, ready }, (argv, timeoutMs) => this.runCheck(argv, timeoutMs), {
      healthy: (how) => {
        this.ctx.log.info(`ready (${how})`);
        this.readyOnce.resolve({ ok: true, why: how });
      },
      unhealthy: (why) => {
        this.ctx.log.warn(`unhealthy: ${why}`);
        this.readyOnce.resolve({ ok: false, why });
      },
    });
  }

  /** A healthcheck's test, as the service runs (env, user, directory); null if it passed. */
  private async runCheck(argv: string[], timeoutMs: number): Promise<string | null> {
    let check: Child;
    try {
      check = await this.ctx.table.spawn({
        argv, env: this.ctx.env, cwd: this.config.workingDir, user: this.ctx.user, noNewPrivs: this.ctx.noNewPrivs, stdio: 'capture',
      });
    } catch (error) {
      return (error as Error).message;
    }
    let output = '';
    for (const stream of [check.output?.stdout, check.output?.stderr]) {
      stream?.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-HEALTH_OUTPUT); });
      stream?.on('error', () => {});
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deliver(-check.pid, SIGKILL);
    }, timeoutMs);
    const status = await check.exited;
    clearTimeout(timer);
    if (timedOut) return `timed out after ${formatMs(timeoutMs)}`;
    if (status.code === 0) return null;
    const last = output.trim().split('\n').pop();
    return `${describe(status)}${last ? `: ${last}` : ''}`;
  }

  /** The environment of its next start (a secret in it changed). */
  setEnvironment(env: Record<string, string>): void {
    this.ctx.env = env;
  }

  /**
   * Start it again (its secrets changed): its stop signal, SIGKILL after its grace period,
   * then at once a new start with the new environment, through the same loop as a restart
   * by policy. Between restarts (backoff) the pending start comes now. Resolves once it has
   * been started again; at once if it is stopping or done (a oneshot that completed).
   */
  restart(): Promise<void> {
    const child = this.child;
    if (this.stopping || !this.runCalled) return Promise.resolve();
    if (!child) {
      this.wake?.();
      return Promise.resolve();
    }
    if (this.restartAsked) return new Promise((resolve) => { const before = this.restarted; this.restarted = () => { before?.(); resolve(); }; });
    this.restartAsked = true;
    const signal = this.config.stopSignal ?? this.ctx.defaultStopSignal;
    const graceMs = this.config.stopGracePeriodMs ?? LEFTOVER_GRACE_MS;
    this.stopSent = signal;
    const target = this.ctx.groupSignals ? -child.pid : child.pid;
    deliver(target, signal);
    if (signal !== SIGCONT) deliver(target, SIGCONT);
    const timer = setTimeout(() => {
      this.ctx.log.warn(`still running ${formatMs(graceMs)} after ${signalName(signal)}; sending SIGKILL`);
      deliver(-child.pid, SIGKILL);
    }, graceMs);
    void child.exited.then(() => clearTimeout(timer));
    return new Promise((resolve) => { this.restarted = () => { this.restarted = undefined; resolve(); }; });
  }

  /** Deliver a forwarded signal; false if it is not running (between restarts, or done). */
  signal(signal: number): boolean {
    const child = this.child;
    if (!child) return false;
    return deliver(this.ctx.groupSignals ? -child.pid : child.pid, signal);
  }

  /**
   * Stop for good: its stop signal (and SIGCONT, for a stopped one), SIGKILL to its process
   * group after its grace period or at `deadline`, whichever comes first. No restart
   * follows; a pending one is cancelled. Resolves when it has ended.
   */
  async stop(deadline: number): Promise<Outcome> {
    this.stopping = true;
    this.deadline = Math.min(this.deadline, deadline);
    this.wake?.();
    this.restarted?.();
    // Never started (its dependencies failed, or the shutdown came first): nothing to stop.
    if (!this.runCalled) this.finalOnce.resolve({ code: 0, reason: 'not started', status: null });
    const child = this.child;
    if (child) {
      const signal = this.config.stopSignal ?? this.ctx.defaultStopSignal;
      const graceMs = Math.max(0, Math.min(this.config.stopGracePeriodMs ?? Infinity, deadline - Date.now()));
      this.stopSent = signal;
      this.stopSentAt = Date.now();
      this.ctx.log.info(`stopping (${signalName(signal)}; SIGKILL in ${formatMs(graceMs)} if it is still running)`);
      const target = this.ctx.groupSignals ? -child.pid : child.pid;
      deliver(target, signal);
      if (signal !== SIGCONT) deliver(target, SIGCONT);
      const timer = setTimeout(() => {
        this.ctx.log.warn(`still running ${formatMs(graceMs)} after ${signalName(signal)}; sending SIGKILL`);
        deliver(-child.pid, SIGKILL);
      }, graceMs);
      await child.exited;
      clearTimeout(timer);
    }
    return this.final;
  }

  /** The rest of its process group, after it exited: its stop signal, then SIGKILL. */
  private async stopLeftovers(child: Child): Promise<void> {
    const group = child.processGroup;
    if (group === null || !this.ctx.table.groupAlive(group)) return;
    const signal = this.config.stopSignal ?? this.ctx.defaultStopSignal;
    const members = groupMembers(group);
    this.ctx.log.info(`it left ${describeMembers(members)} in its process group ${group}; sending ${themOrIt(members)} ${signalName(signal)}`);
    deliver(-group, signal);
    deliver(-group, SIGCONT);
    const graceUntil = Date.now() + (this.config.stopGracePeriodMs ?? LEFTOVER_GRACE_MS);
    // A shutdown that starts meanwhile brings the end forward to its deadline.
    if (await groupGone(this.ctx.table, group, () => Math.min(graceUntil, this.deadline))) return;
    this.ctx.log.warn(`${describeMembers(groupMembers(group))} of its process group ${group} still running after ${signalName(signal)}; sending SIGKILL`);
    deliver(-group, SIGKILL);
    const killedAt = Date.now();
    await groupGone(this.ctx.table, group, () => killedAt + AFTER_KILL_MS);
  }
}

/** Wait for `promise`, but no longer than `ms`. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise.then(() => { clearTimeout(timer); resolve(); });
  });
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1).replace(/\.0$/, '')}s`;
}

