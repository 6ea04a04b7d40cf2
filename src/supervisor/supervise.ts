// Several services in one container, supervisord's job done the way its users asked for
// (reference: stop the container when a program dies, start in order after readiness,
// output on the container's stdout, real exit codes, grace periods that hold):
//   start each service once its depends_on conditions hold -> forward signals -> on
//   SIGTERM/SIGINT, the main service's exit, or a failure: stop everything in reverse
//   dependency order inside one time budget -> exit with the main service's code, or with
//   the code of the failure that ended the container.
import { constants } from 'node:os';
import type { ServiceConfig } from '../config/services';
import { signalName } from '../config/values';
import { EXIT } from '../exit-codes';
import type { Log } from '../log';
import { routeSignals } from './early-signals';
import { prefixes } from './output';
import { AFTER_KILL_MS, type ProcessTable } from './processes';
import { formatMs, type Outcome, Service } from './service';
import type { ResolvedUser } from './user';

const { SIGTERM, SIGINT } = constants.signals;

export interface SuperviseOptions {
  /** The main service (its exit ends the container and gives the code); undefined: any service's. */
  main?: string;
  signals: 'all' | 'main';
  prefix: boolean;
  /** The whole shutdown, every service's grace period inside it (init's -t). */
  budgetMs: number;
  groupSignals: boolean;
  rewrites: Map<number, number>;
  noNewPrivs: boolean;
}

/** Everything a service needs that the config does not say: its environment and user. */
export interface Prepared {
  config: ServiceConfig;
  env: Record<string, string>;
  user?: ResolvedUser;
}

/** What the react step may do to running services (react/react.ts Reactions, minus commands). */
export interface ServiceControl {
  setEnvironment(service: string, env: Record<string, string>): void;
  restart(service: string): Promise<void>;
  signal(service: string, signal: number): boolean;
  /** Stop the container gracefully; init exits with `code`. */
  exit(why: string, code: number): void;
}

/** Why the container is ending. */
type End =
  | { kind: 'completed' }
  | { kind: 'signal'; signal: number }
  | { kind: 'service'; service: string; outcome: Outcome }
  | { kind: 'failure'; service: string; code: number; reason: string };

export async function supervise(prepared: Prepared[], options: SuperviseOptions, table: ProcessTable, log: Log, control?: (handle: ServiceControl) => void): Promise<number> {
  const captured = prepared.filter((p) => p.config.capture).map((p) => p.config.name);
  const prefixOf = prefixes(captured, options.prefix);
  const stopSignal = options.rewrites.get(SIGTERM) || SIGTERM;
  const services = new Map(prepared.map((p) => [p.config.name, new Service(p.config, {
    table,
    log: log.about(p.config.name),
    env: p.env,
    user: p.user,
    noNewPrivs: options.noNewPrivs,
    groupSignals: options.groupSignals,
    prefix: prefixOf.get(p.config.name) ?? '',
    defaultStopSignal: stopSignal,
  })]));

  let end: End | null = null;
  let ended!: () => void;
  const ending = new Promise<void>((resolve) => { ended = resolve; });
  const finish = (why: End) => {
    if (end) return;
    end = why;
    ended();
  };

  routeSignals((name) => {
    const received = constants.signals[name];
    if (received === SIGTERM || received === SIGINT) {
      if (end) return log.debug(`${name} received while stopping`);
      log.info(`${name} received; stopping`);
      return finish({ kind: 'signal', signal: received });
    }
    const send = options.rewrites.get(received) ?? received;
    if (send === 0) return log.debug(`${name} not forwarded (rewritten to 0)`);
    const targets = options.signals === 'main' && options.main ? [services.get(options.main) as Service] : [...services.values()];
    for (const service of targets) {
      if (service.signal(send)) log.debug(`forwarded ${name}${send !== received ? ` as ${signalName(send)}` : ''} to ${service.name}`);
      else log.about(service.name).debug(`${name} not delivered: not running`);
    }
  });

  control?.({
    setEnvironment: (name, env) => services.get(name)?.setEnvironment(env),
    restart: async (name) => services.get(name)?.restart(),
    signal: (name, signal) => services.get(name)?.signal(signal) ?? false,
    exit: (why, code) => {
      if (end) return;
      finish({ kind: 'failure', service: '', code, reason: why });
    },
  });

  // Start each service when its dependencies allow, all at once otherwise.
  const dependencyFailed = (name: string, why: string) => {
    if (end) return;
    log.about(name).error(`dependency failed: ${why}`);
    finish({ kind: 'failure', service: name, code: EXIT.UNAVAILABLE, reason: why });
  };

  // A service that fails its readiness with nobody waiting on it is only logged, as Docker
  // only marks such a container unhealthy; a dependant waiting on it ends the container.
  for (const service of services.values()) void startWhenReady(service);
  // Only oneshots, all completed (a failure would have ended the container already).
  void Promise.all([...services.values()].map((s) => s.final)).then(() => {
    if (end) return;
    log.info('every service has completed');
    finish({ kind: 'completed' });
  });

  async function startWhenReady(service: Service): Promise<void> {
    for (const dep of service.config.dependsOn) {
      const target = services.get(dep.service) as Service;
      const ok = dep.condition === 'service_started' ? await target.started
        : dep.condition === 'service_healthy' ? (await target.ready).ok
        : await target.completed;
      if (end) return;
      if (!ok && !dep.required) {
        log.about(service.name).warn(`starting without ${dep.service}: it did not reach ${dep.condition} (required: false)`);
        continue;
      }
      if (!ok) {
        log.about(service.name).info(`not started: ${dep.service} did not reach ${dep.condition}`);
        // Running but not ready: that ends the container here. One that ended instead is
        // reported by its own outcome, with its own code.
        if (dep.condition === 'service_healthy' && target.pid !== null) dependencyFailed(dep.service, (await target.ready).why);
        return;
      }
    }
    if (end) return;
    const outcome = await service.run();
    if (end) return;
    if (service.config.oneshot && outcome.reason === 'completed' && service.name !== options.main) return;
    if (outcome.status === null) {
      log.about(service.name).error(outcome.reason);
      return finish({ kind: 'failure', service: service.name, code: outcome.code, reason: outcome.reason });
    }
    const about = log.about(service.name);
    const stopping = `stopping the container (exit code ${outcome.code})`;
    if (outcome.gaveUp) about.error(`${outcome.reason}; ${stopping}`);
    else if (service.name === options.main) about.info(`the main service ended; ${stopping}`);
    else if (service.config.oneshot) about.error(`did not complete (${outcome.reason}); ${stopping}`);
    else about[outcome.code ? 'error' : 'info'](`ended and is not restarted (restart: ${service.config.restart.kind}); ${stopping}`);
    finish({ kind: 'service', service: service.name, outcome });
  }

  await ending;
  const outcomes = await stopAll(services, Date.now() + options.budgetMs, log);
  return exitCode(end as unknown as End, outcomes, options, log);
}

/** Each service after every service that depends on it, all inside one deadline. */
async function stopAll(services: Map<string, Service>, deadline: number, log: Log): Promise<Map<string, Outcome>> {
  const dependants = new Map<string, Service[]>();
  for (const service of services.values()) {
    for (const dep of service.config.dependsOn) dependants.set(dep.service, [...(dependants.get(dep.service) ?? []), service]);
  }
  const stopping = new Map<string, Promise<Outcome>>();
  const stop = (service: Service): Promise<Outcome> => {
    let promise = stopping.get(service.name);
    if (!promise) {
      promise = Promise.all((dependants.get(service.name) ?? []).map(stop)).then(() => service.stop(deadline));
      stopping.set(service.name, promise);
    }
    return promise;
  };
  const all = Promise.all([...services.values()].map(async (s) => [s.name, await stop(s)] as const));
  const late = new Promise<null>((resolve) => setTimeout(() => resolve(null), Math.max(0, deadline - Date.now()) + AFTER_KILL_MS).unref());
  const done = await Promise.race([all, late]);
  if (!done) {
    const left = [...services.values()].filter((s) => s.pid !== null).map((s) => `${s.name} (pid ${s.pid})`);
    log.warn(`survived SIGKILL (uninterruptible sleep?): ${left.join(', ')}; exiting anyway`);
    return new Map();
  }
  log.debug(`all services stopped with ${formatMs(Math.max(0, deadline - Date.now()))} of the budget left`);
  return new Map(done);
}

/**
 * The main service's code when there is one and it ran; the code of the failure or the
 * service that ended the container; after SIGTERM/SIGINT with no main service, 0 if every
 * service stopped cleanly (exit 0, or the signal it was sent), else the first one's code.
 */
function exitCode(end: End, outcomes: Map<string, Outcome>, options: SuperviseOptions, log: Log): number {
  if (end.kind === 'completed') return 0;
  if (end.kind === 'failure') return end.code;
  if (end.kind === 'service') return end.outcome.code;
  const main = options.main ? outcomes.get(options.main) : undefined;
  if (main?.status) return main.code;
  if (options.main) return 128 + end.signal;
  for (const [name, outcome] of outcomes) {
    const { status } = outcome;
    if (!status) continue;
    if (status.code === 0 || (status.signal !== null && status.signal === outcome.stopSignal)) continue;
    log.about(name).debug(`did not stop cleanly (${outcome.reason}): init exits with ${outcome.code}`);
    return outcome.code;
  }
  return 0;
}
