// The PID 1 algorithm for one child, tini's whole job:
//   start the child -> forward every signal -> wait for it (reaping everything else on the
//   way) -> stop what is left of its process group -> exit with its code.
import { constants } from 'node:os';
import type { InitOptions } from '../cli';
import type { Log } from '../log';
import { signalName } from '../config/values';
import { FORWARDED_SIGNALS, routeSignals } from './early-signals';
import { AFTER_KILL_MS, type Child, type ChildSpec, deliver, describeMembers, exitCodeOf, themOrIt, groupGone, groupMembers, type ProcessTable } from './processes';

const { SIGTERM, SIGINT, SIGKILL, SIGCONT } = constants.signals;

/** What the react step may do to the one command (react/react.ts Reactions, minus commands). */
export interface CommandControl {
  setEnvironment(env: Record<string, string>): void;
  /** Stop it (its stop signal, the grace period, SIGKILL) and start it again with the new environment. */
  restart(): Promise<void>;
  signal(signal: number): boolean;
  /** Stop it as `docker stop` would; init then exits with `code`, not the command's. */
  exit(why: string, code: number): void;
}

export async function runChild(spec: ChildSpec, options: InitOptions, table: ProcessTable, log: Log, control?: (handle: CommandControl) => void): Promise<number> {
  const sendAs = (received: number) => options.rewrites.get(received) ?? received;
  const fast = table.handlerForwarding;
  // With the native helper the signal handler itself forwards, as tini does: the trip
  // through libuv's pipe and the event loop more than doubled the latency. JavaScript
  // still hears of every signal, for the log and the grace period, and delivers whatever
  // the handler could not (before the target is set, after the child exits).
  for (const name of FORWARDED_SIGNALS) {
    const n = constants.signals[name];
    fast?.interceptSignal(n, sendAs(n), n === SIGTERM || n === SIGINT);
  }
  let env = spec.env;
  let child = await table.spawn(spec);
  log.debug(`started ${spec.argv[0]} as pid ${child.pid}`);
  let deadline = new KillDeadline(child, table, options.gracePeriodMs, log);
  let running = true;
  /** Set by a restart for changed secrets: the coming exit is init's doing. */
  let restarting: (() => void) | null = null;
  let exitWith: number | null = null;
  let stopping = false;
  const target = () => ((options.groupSignals || !running) && child.processGroup !== null ? -child.processGroup : child.pid);
  const stopSignal = options.rewrites.get(SIGTERM) || SIGTERM;

  routeSignals((signal) => {
    const received = constants.signals[signal];
    const send = sendAs(received);
    if (received === SIGTERM || received === SIGINT) stopping = true;
    if (send === 0) return log.debug(`${signal} not forwarded (rewritten to 0)`);
    // Once the child is gone only its leftover group can receive anything.
    if (!running && child.processGroup === null) return;
    const to = target();
    if (!fast?.takeForwarded(received)) {
      deliver(to, send);
      // A stopped child (^Z, SIGSTOP) keeps every signal but SIGKILL pending until it is
      // continued, so `docker stop` would wait out the grace period: continue it, as the
      // shell's kill and systemd do.
      if (received === SIGTERM || received === SIGINT) deliver(to, SIGCONT);
    }
    if (received === SIGTERM || received === SIGINT) deadline.arm();
    log.debug(`forwarded ${signal}${send !== received ? ` as ${signalName(send)}` : ''} to ${to < 0 ? `process group ${-to}` : `pid ${to}`}`);
  });
  fast?.setForwardTarget(target());

  /** Ask the running child to stop, as a forwarded SIGTERM would. */
  const askToStop = () => {
    deliver(target(), stopSignal);
    deliver(target(), SIGCONT);
    deadline.arm();
  };
  control?.({
    setEnvironment: (next) => { env = next; },
    restart: () => {
      if (!running || stopping || exitWith !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const before = restarting;
        restarting = () => { before?.(); resolve(); };
        if (!before) askToStop();
      });
    },
    signal: (signal) => running && deliver(target(), signal),
    exit: (why, code) => {
      if (exitWith !== null || stopping) return;
      exitWith = code;
      log.debug(`stopping ${spec.argv[0]}: ${why}`);
      if (running) askToStop();
    },
  });

  for (;;) {
    const status = await child.exited;
    running = false;
    fast?.setForwardTarget(0);
    log.debug(`pid ${child.pid} exited with ${status.signal ? signalName(status.signal) : `code ${status.code}`}`);
    await stopLeftovers(child, options, table, deadline, log);
    deadline.cancel();
    const again = restarting as (() => void) | null;
    restarting = null;
    if (!again || stopping || exitWith !== null) {
      again?.();
      return exitWith ?? exitCodeOf(status);
    }
    child = await table.spawn({ ...spec, env });
    running = true;
    deadline = new KillDeadline(child, table, options.gracePeriodMs, log);
    fast?.setForwardTarget(target());
    log.info(`started ${spec.argv[0]} again with the changed secrets (pid ${child.pid})`);
    again();
  }
}

/**
 * One grace period per shutdown: it starts with the first SIGTERM/SIGINT forwarded, or when
 * the child exits, whichever comes first, and everything after shares what is left of it,
 * so the whole shutdown fits inside `docker stop`'s window. When it runs out, SIGKILL goes
 * to the child's process group (or to the child, if it has none).
 */
class KillDeadline {
  private at: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Set once the child itself has exited: from then on only its group is left. */
  childExited = false;

  constructor(
    private readonly child: Child,
    private readonly table: ProcessTable,
    private readonly graceMs: number,
    private readonly log: Log,
  ) {}

  arm(): void {
    if (this.at !== null) return;
    this.at = Date.now() + this.graceMs;
    this.timer = setTimeout(() => this.expire(), this.graceMs);
  }

  remainingMs(): number {
    this.arm();
    return Math.max(0, (this.at as number) - Date.now());
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private expire(): void {
    const { pid, processGroup } = this.child;
    if (this.childExited) {
      if (processGroup === null || !this.table.groupAlive(processGroup)) return;
      this.log.warn(`process group ${processGroup} still running ${this.graceMs} ms into the shutdown; sending SIGKILL`);
    } else {
      this.log.warn(`pid ${pid} still running ${this.graceMs} ms after being asked to stop; sending SIGKILL${processGroup ? ' to its process group' : ''}`);
    }
    deliver(processGroup ? -processGroup : pid, SIGKILL);
  }
}

/** After the child exits: SIGTERM (or its rewrite) to the rest of its group, grace, SIGKILL. */
async function stopLeftovers(child: Child, options: InitOptions, table: ProcessTable, deadline: KillDeadline, log: Log): Promise<void> {
  const group = child.processGroup;
  deadline.childExited = true;
  if (group === null || !table.groupAlive(group)) return;
  const stopSignal = options.rewrites.get(SIGTERM) || SIGTERM;
  const members = groupMembers(group);
  log.info(`pid ${child.pid} exited and left ${describeMembers(members)} in its process group ${group}; sending ${themOrIt(members)} ${signalName(stopSignal)}`);
  deliver(-group, stopSignal);
  deliver(-group, SIGCONT); // the stopped ones would not see it otherwise (see above)
  // The deadline's timer sends SIGKILL when the grace period is over; wait a little past it.
  const until = Date.now() + deadline.remainingMs() + AFTER_KILL_MS;
  if (!(await groupGone(table, group, () => until))) {
    log.warn(`process group ${group} survived SIGKILL (a process in uninterruptible sleep?); exiting anyway`);
  }
}
