// Entry point of /init. The first import installs the signal listeners: nothing may run
// before them (see early-signals.ts). Then the flow of DESIGN.md: options -> plan ->
// secrets -> env -> supervise -> exit code.
import { pendingTermination, setStopSignals, termination } from './supervisor/early-signals';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { NO_COMMAND, parseCommandLine, type InitOptions } from './cli';
import { copyEnvironment, readEnvironment } from './bytes';
import { checkEnvironmentSizes, childEnvironment, removedNames, scrubOwnEnvironment } from './env';
import { EXIT, InitError } from './exit-codes';
import { createLog, writeFully, type Log } from './log';
import { flushHeldOutput, neverBlockOutput, useNativeSend } from './output';
import { copiedAssets } from './commonjs';
import { loadNativeOnce, type Native, sidecarPath } from './native/binding';
import { hiddenVariables } from './native/onefile';
import { loadConfig } from './config/file';
import { mergePlans, planFromConfig, planFromEnv } from './secrets/plan';
import { secretFiles, writeSecretFiles } from './secrets/write';
import { checkDestinations, printAll, renderAll, templateContext, writeAll } from './template/apply';
import { standInContext } from './template/context';
import { standIn } from './template/mask';
import { resolvePlan, type Resolution } from './secrets/resolve';
import { LibuvProcessTable, NativeProcessTable, type ChildSpec, type ProcessTable } from './supervisor/processes';
import { runChild } from './supervisor/single';
import { type Prepared, supervise, type SuperviseOptions } from './supervisor/supervise';
import { resolveUser } from './supervisor/user';
import { planServices } from './supervisor/plan';
import { checkCommand, checkWorkingDir, whoOf } from './supervisor/command-check';
import { COMMAND_SERVICE } from './config/services';
import { lifetimesFor } from './lifetime/build';
import { prepareCertificates } from './lifetime/certificates';
import { realClock } from './lifetime/clock';
import type { Lifetime, SecretName } from './lifetime/lifetime';
import { LifetimeStage } from './lifetime/stage';
import { collectAfterWork } from './lifetime/memory';
import { buildWiring, envSecretNames } from './react/plan';
import { Reactor, type Reactions, type ReactState } from './react/react';
import type { Wiring } from './react/wiring';
import { secretName } from './secrets/plan';
import type { Sources } from './secrets/resolve';
import { deliver } from './supervisor/processes';
import { formatMs } from './supervisor/service';
import { signalName } from './config/values';

declare const SESAME_SEA: boolean;
const isSea = typeof SESAME_SEA === 'boolean' && SESAME_SEA;

/** What keeps the secrets valid while it runs; absent when nothing has a lifetime. */
interface Life {
  lifetimes: Lifetime[];
  initial: Map<SecretName, Buffer>;
  wiring: Wiring;
  state: ReactState;
}

/** What to run: one command (tini's job), or services (supervisord's). */
type Launch = ({ kind: 'command'; spec: ChildSpec } | { kind: 'services'; prepared: Prepared[]; options: SuperviseOptions }) & { life?: Life };

/**
 * Everything up to the children: plan the secrets, take init's credentials out of its own
 * environment, resolve the secrets (racing the stop signals), render the templates, then write the
 * secret files and rendered files and build each child's environment. Returns the signal
 * instead when a stop signal came first, or an exit code for --check and --render.
 */
async function prepare(options: InitOptions, env: NodeJS.ProcessEnv, log: Log, native: Native | null): Promise<Launch | NodeJS.Signals | number> {
  const config = options.config ? loadConfig(options.config) : undefined;
  if (!options.command.length && !config?.services && !options.check && !options.render) throw new InitError(NO_COMMAND, EXIT.USAGE);
  const plan = config ? mergePlans(planFromEnv(env), planFromConfig(config)) : planFromEnv(env);
  const user = options.user ? resolveUser(options.user) : undefined;
  if (user?.unknownUid) {
    log.info(`--user ${user.spec}: uid ${user.uid} is not in /etc/passwd; running it with gid 0 and HOME=/, as Docker does (give a group, --user ${user.uid}:GID, for another)`);
  }
  // Services, their users and dependencies are checked before any secret is fetched.
  const services = config?.services ? planServices(config, options, user) : undefined;
  scrubOwnEnvironment(removedNames(env, plan), log, selfMemFd, native);
  let resolution: Resolution = new Map();
  // Kept for the lifetime stage, unless nothing will run (--check, --render).
  const sources: Sources | undefined = options.check || options.render ? undefined : {};
  if (plan.requests.length) {
    const resolved = await Promise.race([resolvePlan(plan, { env, timeoutMs: options.secretsTimeoutMs, log, sources }), termination()]);
    if (typeof resolved === 'string') return resolved;
    resolution = resolved;
    log.debug(`resolved ${resolution.size} of ${plan.requests.length} secret references`);
  }
  const childEnv = childEnvironment(env, plan, resolution);
  // Before rendering: templates see the environment the child will get.
  if (user) childEnv.HOME = user.home;
  const servicesPrepared = services?.environments(childEnv);
  // No execve would take a variable over 128 KiB: say which one, before anything starts.
  if (servicesPrepared) for (const p of servicesPrepared) checkEnvironmentSizes(p.env, `services.${p.config.name}`);
  else checkEnvironmentSizes(childEnv);
  // A config file's entries are named with the file, as its other errors are.
  const templates = [...options.templates, ...(config?.templates ?? []).map((t) => ({ ...t, at: `${config?.path}: ${t.at}` }))];
  // All templates render (in memory) and every owner is looked up before anything is
  // written, so a bad one changes nothing, and --check finds it.
  const context = templateContext(childEnv, resolution);
  const shown = options.render && !options.showSecrets ? standInContext(context, standIn) : undefined;
  const rendered = templates.length ? renderAll(templates, context, log, shown, options.templateLimits) : [];
  const files = secretFiles(resolution);
  checkDestinations(rendered, files.map((f) => ({ path: f.path, at: f.request.origin })));
  if (options.render) {
    printAll(rendered, options.showSecrets);
    return 0;
  }
  if (options.check) {
    // The commands too, each as its child would look it up: its PATH, working directory, user.
    if (services) checkServiceCommands(services.environments(childEnv), config?.path);
    else if (options.command.length) {
      const problem = checkCommand(options.command[0], childEnv, options.workdir, whoOf(user));
      if (problem) throw new InitError(problem.reason, problem.exitCode);
    }
    // One line on stdout, so that a CI log shows what was checked; the optional secrets that
    // were missing are counted apart (each also had its warning on stderr).
    const missing = plan.requests.length - resolution.size;
    const optional = missing ? `, ${missing} optional one(s) missing` : '';
    const checked = services ? `, ${services.configs.length} service(s) checked` : '';
    const certs = config?.certificates?.length ? `, ${config.certificates.length} certificate(s) not issued (--check issues none)` : '';
    writeFully(1, `sesame: check passed: ${resolution.size} secret reference(s) resolved${optional}, ${rendered.length} template(s) rendered${checked}${certs}\n`);
    return 0;
  }
  writeSecretFiles(files, log);
  writeAll(rendered, log);
  // Issued certificates: the one on disk if still good, else a new one, before any child starts.
  const certificates = sources && config?.certificates?.length
    ? await prepareCertificates(config.certificates, config.path, sources, env, Date.now() + options.secretsTimeoutMs, log)
    : undefined;
  const lifetimes = sources ? [...(certificates?.lifetimes ?? []), ...await lifetimesFor(plan, resolution, sources, {
    refresh: options.refresh, threshold: options.leaseThreshold, revoke: options.revoke, env, log, tokenNeeded: !!certificates,
  })] : [];
  const launch: Launch = services
    ? { kind: 'services', prepared: servicesPrepared ?? services.environments(childEnv), options: services.options }
    : { kind: 'command', spec: { argv: options.command, env: childEnv, cwd: options.workdir, user, noNewPrivs: options.noNewPrivs } };
  if (!lifetimes.length) return launch;
  const secretEnv = envSecretNames(plan, resolution);
  const environments = (next: Record<string, string>): Map<string, Record<string, string>> => {
    if (services) return new Map(services.environments(next).map((p) => [p.config.name, p.env]));
    return new Map([['', user ? Object.assign(copyEnvironment(next), { HOME: user.home }) : next]]);
  };
  const consumers = launch.kind === 'services'
    ? launch.prepared.map((p) => ({ service: p.config.name, env: p.env, action: p.config.onChange }))
    : [{ service: '', env: childEnv, action: options.onChange }];
  // forEach: no iteration objects for each secret (docs/development.md).
  const initial = new Map<string, Buffer>();
  resolution.forEach((resolved, request) => initial.set(secretName(request), resolved.value));
  for (const c of certificates?.lifetimes ?? []) c.values().forEach((value, name) => initial.set(name, value));
  launch.life = {
    lifetimes,
    initial,
    wiring: { ...buildWiring(consumers, templates, secretEnv), files: certificates?.wires ?? [] },
    state: {
      childEnv: copyEnvironment(childEnv),
      templateSecrets: { ...(context.secrets as Record<string, string>) },
      secretEnv: new Set(context.secretEnv),
      rendered,
      files,
      environments,
    },
  };
  return launch;
}

/** How long revoking leases and the token may take at the end, inside the shutdown. */
const REVOKE_MS = 1500;

/** A command of an on_change, once, as a child of init (the addon's spawn path). */
async function runOnce(table: ProcessTable, argv: string[], env: Record<string, string>, timeoutMs: number): Promise<string | null> {
  let child;
  try {
    child = await table.spawn({ argv, env, noNewPrivs: false });
  } catch (error) {
    return (error as Error).message;
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    deliver(child.processGroup ? -child.processGroup : child.pid, constants.signals.SIGKILL);
  }, timeoutMs);
  const status = await child.exited;
  clearTimeout(timer);
  if (timedOut) return `timed out after ${formatMs(timeoutMs)}; killed`;
  if (status.signal) return `killed by ${signalName(status.signal)}`;
  return status.code === 0 ? null : `exited with code ${status.code}`;
}

/**
 * Run the children with the secrets kept alive: the lifetime stage's change events go to
 * the react step, which acts through the supervisor's own paths. After every child has
 * exited, the clocks stop and what init created in Vault is revoked (bounded).
 */
async function runWithLife(launch: Launch, options: InitOptions, table: ProcessTable, native: Native | null, log: Log): Promise<number> {
  const life = launch.life;
  settle(native, !!life, log);
  if (!life) {
    return launch.kind === 'services' ? supervise(launch.prepared, launch.options, table, log) : runChild(launch.spec, options, table, log);
  }
  // What changed and what was done is worth a line even at the command's default level.
  const lifeLog = options.logLevel ? log : createLog('info', options.logFormat);
  const stage = new LifetimeStage(life.lifetimes, life.initial, {
    clock: realClock, log: lifeLog, quietMs: options.wait.quietMs, maxWaitMs: options.wait.maxWaitMs, splayMs: options.splayMs, expiry: options.onExpiry,
    afterWork: collectAfterWork(realClock, native),
  });
  const begin = (reactions: Reactions) => {
    const reactor = new Reactor(life.wiring, life.state, reactions, lifeLog);
    stage.start((event) => reactor.apply(event), (why) => reactions.exit(why));
  };
  const run = (argv: string[], timeoutMs: number) => runOnce(table, argv, life.state.childEnv, timeoutMs);
  let code: number;
  try {
    code = launch.kind === 'services'
      ? await supervise(launch.prepared, launch.options, table, log, (c) => begin({
        setEnvironment: c.setEnvironment, restart: c.restart, signal: c.signal, run, exit: (why) => c.exit(why, EXIT.UNAVAILABLE),
      }))
      : await runChild(launch.spec, options, table, log, (c) => begin({
        setEnvironment: (_name, env) => c.setEnvironment(env), restart: () => c.restart(), signal: (_name, signal) => c.signal(signal), run,
        exit: (why) => c.exit(why, EXIT.UNAVAILABLE),
      }));
  } finally {
    stage.stop();
  }
  if (options.revoke) {
    const deadline = Date.now() + REVOKE_MS;
    await Promise.race([stage.revoke(deadline), new Promise((resolve) => setTimeout(resolve, REVOKE_MS + 100).unref())]);
  }
  return code;
}

/** The environment's entries as the helper read them (undefined without it). */
let environ: Buffer[] | undefined;

/** /proc/self/mem as the helper opened it before making init undumpable (-1: none). */
let selfMemFd = -1;

/** --check: every service's command and healthcheck command would start (command-check.ts). */
function checkServiceCommands(prepared: Prepared[], configPath: string | undefined): void {
  for (const { config, env, user } of prepared) {
    const where = (at: string) => (config.name === COMMAND_SERVICE ? '' : `${configPath}: ${at}: `);
    const dir = config.workingDir === undefined ? undefined : checkWorkingDir(config.workingDir, whoOf(user));
    if (dir) throw new InitError(`${where(`${config.at}.working_dir`)}${dir.reason}`, dir.exitCode);
    const commands: Array<[string, string[]]> = [[`${config.at}.command`, config.command]];
    if (config.healthcheck) commands.push([`${config.at}.healthcheck.test`, config.healthcheck.test]);
    for (const [at, argv] of commands) {
      const problem = checkCommand(argv[0], env, config.workingDir, whoOf(user));
      if (problem) throw new InitError(`${where(at)}${problem.reason}`, problem.exitCode);
    }
  }
}

/** How init ends: Node's exit, or the helper's _exit once it is loaded (~2 ms faster). */
let exit: (code: number) => never = (code) => process.exit(code);

function processTable(env: NodeJS.ProcessEnv, log: Log): { table: ProcessTable; native: Native | null } {
  // Only init's own SESAME_NATIVE* and TMPDIR are read from `env` here.
  // In the one-file /init its loader loaded it already (sea-loader.ts).
  const load = loadNativeOnce(env, isSea);
  if (!load.native) {
    log.warn(`native helper not loaded (${load.reason}): orphans will not be reaped, the child gets no terminal job control, `
      + `--user sets no supplementary groups${isSea ? ', SIGUSR1 is not forwarded' : `; ship ${sidecarPath()} beside init.cjs`}`);
    return { table: new LibuvProcessTable(log), native: null };
  }
  log.debug(`native helper loaded from ${load.from}`);
  if (load.native.undumpableErrno) log.warn(`could not make init undumpable (prctl: errno ${load.native.undumpableErrno}): a core dump of init would hold its secrets`);
  // Node calls its main thread "MainThread": that is what ps, docker top and /proc/1/comm
  // would show for PID 1. The executable's name instead, as tini's shows "tini".
  load.native.setName(processName());
  // Everything init writes is written synchronously (or, once children run, held by
  // output.ts, which finish() flushes first), so Node's own exit has nothing to flush.
  exit = load.native.exit;
  useNativeSend(load.native.sendNoWait);
  selfMemFd = load.native.selfMemFd;
  environ = load.native.environ();
  // The executable runs with --disable-sigusr1, which leaves SIGUSR1 blocked (build.mjs).
  if (isSea) load.native.unblockSignal(constants.signals.SIGUSR1);
  // Ignored, not handled, as tini does: handing the terminal to the child and writing to it
  // from the background must never stop init (PID 1 or not).
  load.native.ignoreSignal(constants.signals.SIGTTIN);
  load.native.ignoreSignal(constants.signals.SIGTTOU);
  // Not PID 1 (e.g. under `docker run --init` or a shell): become a subreaper so orphans
  // come to init, not to whoever is PID 1.
  if (process.pid !== 1) load.native.setSubreaper();
  return { table: new NativeProcessTable(load.native, log), native: load.native };
}

/** "init" for /init (or dist/init.cjs), whatever the image calls it otherwise. */
function processName(): string {
  const file = isSea ? process.execPath : (process.argv[1] ?? 'sesame');
  return basename(file).replace(/\.c?js$/, '') || 'sesame';
}

async function main(log: { current: Log }): Promise<number> {
  // In a single executable argv[1] is the executable again; under node it is init.cjs.
  const options = parseCommandLine(process.argv.slice(2), process.env);
  if (typeof options === 'number') return options;
  log.current = createLog(options.logLevel ?? 'warn', options.logFormat);
  if ((globalThis as { sesameCodeCacheRejected?: boolean }).sesameCodeCacheRejected) log.current.debug('V8 rejected the code cache: start-up is slower');
  if ((globalThis as { sesameFlagsKept?: boolean }).sesameFlagsKept) log.current.debug('--no-rehash-snapshot could not be set back (no addon): Node\'s builtins load without their code cache');
  const copied = copiedAssets();
  if (copied.length) log.current.debug(`${copied.join(', ')} copied into V8's heap (no addon, or a Node without external strings): more memory for init's whole life`);
  setStopSignals(options.stopSignals);
  const { table, native } = processTable(process.env, log.current);
  // A copy, as bytes: process.env loses init's credentials below, the sources still need
  // them, and the children get every variable exactly as init did (bytes.ts). In the
  // one-file /init it also gets back what the entry stub hid from Node (NODE_*, UV_*,
  // OPENSSL_*): the application's variables, for the children, never read by init itself.
  const env = isSea ? copyEnvironment(hiddenVariables(), readEnvironment(environ)) : readEnvironment(environ);
  // The application's, not init's: Node would read it in every TLS connection init makes to
  // a secret source (and print a warning). The child still gets it from env.
  delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  started = table;
  const prepared = await prepare(options, env, log.current, native);
  if (typeof prepared === 'number') return prepared;
  // With services, start, ready, exit and restart lines are worth seeing by default.
  if (typeof prepared === 'object' && prepared.kind === 'services' && !options.logLevel) log.current = createLog('info', options.logFormat);
  // A stop signal any time before the child exists (prepare stops early when one
  // comes during the secrets): the container is being stopped, so the child is not started
  // at all. One turn of the event loop first, so that one that came during synchronous
  // work is seen too.
  await new Promise((resolve) => setImmediate(resolve));
  const stop = pendingTermination();
  if (stop || typeof prepared === 'string') {
    const what = typeof prepared === 'object' && prepared.kind === 'services' ? 'any service' : options.command[0];
    log.current.info(`${stop ?? prepared} received while starting; not starting ${what}`);
    return 128 + constants.signals[(stop ?? prepared) as NodeJS.Signals];
  }
  // From here a reader that stops reading init's stdout or stderr must not stop PID 1.
  neverBlockOutput();
  try {
    return await runWithLife(prepared, options, table, native, log.current);
  } finally {
    table.reapNow();
  }
}

/** The table of children, once there is one: what a last-resort exit must not leave behind. */
let started: ProcessTable | undefined;

/**
 * Half a second after the children start, once: what the start used and no longer needs is
 * given back (native.releaseMemory: V8's low-memory collection, malloc_trim), ~1 MiB of
 * private memory that a PID 1 would otherwise hold for the container's whole life
 * (docs/benchmarks.md), for ~10 ms of CPU once. The timer does not keep init alive, and
 * it is the only one a start without lifetimes arms: after it, nothing wakes init but its
 * children and signals. Without the helper, nothing is done.
 *
 * The start's bytecode goes with it (BYTECODE_OLD_AGE).
 *
 * With lifetimes, V8's optimizing compilers are turned off first: PID 1 mostly waits, and
 * what it runs later (renewals, refreshes, re-renders) gains little from optimized code,
 * which costs memory that stays. Measured with 100 leases renewed every ~10 s for 150 s:
 * RSS +8.7 MiB without this (3.5 MiB of optimized code and feedback, 5 MiB of the
 * compilers' own pages of the binary), +1.6 MiB with it, CPU 1.00 -> 1.16 s. Not a flag at
 * start (build.mjs EXEC_ARGV says why), and not before the start is done. Through the
 * helper when it can: node:v8 alone would stay resident at ~0.6 MiB.
 */
const REST_AFTER_MS = 500;
/**
 * Full collections a function's bytecode survives unused before V8 drops it: 0 for the
 * release, so that the start's bytecode (options, config, the first reads: run once) goes
 * with it, ~0.13 MiB; what runs again is compiled again from the source, which V8 keeps
 * anyway. Then V8's default again, so that later collections (after lifetime work) do not
 * make every renewal compile its code anew.
 */
const BYTECODE_OLD_AGE = { release: 0, after: 6 } as const;
function settle(native: Native | null, lifetimes: boolean, log: Log): void {
  if (!native && !lifetimes) return;
  setTimeout(() => {
    if (lifetimes && !native?.setV8Flags('--no-opt --no-maglev')) {
      (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--no-opt --no-maglev');
    }
    if (!native) return;
    const t0 = process.hrtime.bigint(); // not performance.now(): that global loads perf_hooks
    native.setV8Flags(`--bytecode-old-age=${BYTECODE_OLD_AGE.release}`);
    const v8 = native.releaseMemory(true);
    native.setV8Flags(`--bytecode-old-age=${BYTECODE_OLD_AGE.after}`);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    log.debug(`memory the start no longer needs given back (${v8 ? "V8's low-memory collection, " : "V8's call not found: only "}malloc_trim) in ${ms.toFixed(1)} ms`);
  }, REST_AFTER_MS).unref();
}

/** What output is still held for a stalled reader gets this long before init exits. */
const FLUSH_MS = 2000;

/** Exit with `code`, after what is held for stdout and stderr has been written, or given up on. */
function finish(code: number): never {
  flushHeldOutput(Date.now() + FLUSH_MS);
  return exit(code);
}

/** A failure nothing else caught: one line, every child killed, 70. Never Node's trace and exit 1. */
function internalError(error: unknown): never {
  log.current.error(`internal error: ${(error as Error)?.stack ?? error}`);
  started?.killAll();
  return finish(EXIT.SOFTWARE);
}

const log = { current: createLog() };
process.on('uncaughtException', internalError);
process.on('unhandledRejection', internalError);
main(log).then(
  (code) => finish(code),
  (error: unknown) => {
    if (error instanceof InitError) {
      log.current.error(error.message);
      started?.killAll();
      finish(error.exitCode);
    }
    internalError(error);
  },
);
