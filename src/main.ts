// Entry point of /init. The first import installs the signal listeners: nothing may run
// before them (see early-signals.ts). Then the flow of DESIGN.md: options -> plan ->
// secrets -> env -> supervise -> exit code.
import { pendingTermination, setStopSignals, termination } from './supervisor/early-signals';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { NO_COMMAND, parseCommandLine, type InitOptions } from './cli';
import { childEnvironment, removedNames, scrubOwnEnvironment } from './env';
import { EXIT, InitError } from './exit-codes';
import { createLog, writeFully, type Log } from './log';
import { loadNative, type Native, sidecarPath } from './native/binding';
import { hiddenVariables } from './native/onefile';
import { loadConfig } from './config/file';
import { mergePlans, planFromConfig, planFromEnv } from './secrets/plan';
import { secretFiles, writeSecretFiles } from './secrets/write';
import { printAll, renderAll, templateContext, writeAll } from './template/apply';
import { resolvePlan, type Resolution } from './secrets/resolve';
import { LibuvProcessTable, NativeProcessTable, type ChildSpec, type ProcessTable } from './supervisor/processes';
import { runChild } from './supervisor/single';
import { type Prepared, supervise, type SuperviseOptions } from './supervisor/supervise';
import { resolveUser } from './supervisor/user';
import { planServices } from './supervisor/plan';

declare const SESAME_SEA: boolean;
const isSea = typeof SESAME_SEA === 'boolean' && SESAME_SEA;

/** What to run: one command (tini's job), or services (supervisord's). */
type Launch = { kind: 'command'; spec: ChildSpec } | { kind: 'services'; prepared: Prepared[]; options: SuperviseOptions };

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
  // Services, their users and dependencies are checked before any secret is fetched.
  const services = config?.services ? planServices(config, options, user) : undefined;
  scrubOwnEnvironment(removedNames(env, plan), log, native);
  let resolution: Resolution = new Map();
  if (plan.requests.length) {
    const resolved = await Promise.race([resolvePlan(plan, { env, timeoutMs: options.secretsTimeoutMs, log }), termination()]);
    if (typeof resolved === 'string') return resolved;
    resolution = resolved;
    log.debug(`resolved ${resolution.size} of ${plan.requests.length} secret references`);
  }
  const childEnv = childEnvironment(env, plan, resolution);
  // Before rendering: templates see the environment the child will get.
  if (user) childEnv.HOME = user.home;
  // A config file's entries are named with the file, as its other errors are.
  const templates = [...options.templates, ...(config?.templates ?? []).map((t) => ({ ...t, at: `${config?.path}: ${t.at}` }))];
  // All templates render (in memory) and every owner is looked up before anything is
  // written, so a bad one changes nothing, and --check finds it.
  const rendered = templates.length ? renderAll(templates, templateContext(childEnv, resolution), log) : [];
  const files = secretFiles(resolution);
  if (options.render) {
    printAll(rendered, options.showSecrets);
    return 0;
  }
  if (options.check) {
    // One line on stdout, so that a CI log shows what was checked; the optional secrets that
    // were missing are counted apart (each also had its warning on stderr).
    const missing = plan.requests.length - resolution.size;
    const optional = missing ? `, ${missing} optional one(s) missing` : '';
    const checked = services ? `, ${services.configs.length} service(s) checked` : '';
    writeFully(1, `sesame: check passed: ${resolution.size} secret reference(s) resolved${optional}, ${rendered.length} template(s) rendered${checked}\n`);
    return 0;
  }
  writeSecretFiles(files, log);
  writeAll(rendered, log);
  if (services) return { kind: 'services', prepared: services.environments(childEnv), options: services.options };
  return { kind: 'command', spec: { argv: options.command, env: childEnv, cwd: options.workdir, user, noNewPrivs: options.noNewPrivs } };
}

/** How init ends: Node's exit, or the helper's _exit once it is loaded (~2 ms faster). */
let exit: (code: number) => never = (code) => process.exit(code);

function processTable(env: NodeJS.ProcessEnv, log: Log): { table: ProcessTable; native: Native | null } {
  const load = loadNative(env, isSea);
  if (!load.native) {
    log.warn(`native helper not loaded (${load.reason}): orphans will not be reaped, the child gets no terminal job control, `
      + `--user sets no supplementary groups${isSea ? ', SIGUSR1 is not forwarded' : `; ship ${sidecarPath()} beside init.cjs`}`);
    return { table: new LibuvProcessTable(log), native: null };
  }
  log.debug(`native helper loaded from ${load.from}`);
  // Node calls its main thread "MainThread": that is what ps, docker top and /proc/1/comm
  // would show for PID 1. The executable's name instead, as tini's shows "tini".
  load.native.setName(processName());
  // Everything init writes is written synchronously, so nothing is left to flush.
  exit = load.native.exit;
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
  // A copy: process.env loses init's credentials below, the sources still need them. In the
  // one-file /init it also gets back what the entry stub hid from Node (NODE_*, UV_*,
  // OPENSSL_*): the application's variables, for the children, never read by init itself.
  const env = isSea ? { ...process.env, ...hiddenVariables() } : { ...process.env };
  // The application's, not init's: Node would read it in every TLS connection init makes to
  // a secret source (and print a warning). The child still gets it from env.
  delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  setStopSignals(options.stopSignals);
  const { table, native } = processTable(env, log.current);
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
  try {
    if (prepared.kind === 'services') return await supervise(prepared.prepared, prepared.options, table, log.current);
    return await runChild(prepared.spec, options, table, log.current);
  } finally {
    table.reapNow();
  }
}

const log = { current: createLog() };
main(log).then(
  (code) => exit(code),
  (error: unknown) => {
    if (error instanceof InitError) {
      log.current.error(error.message);
      exit(error.exitCode);
    }
    log.current.error(`internal error: ${(error as Error)?.stack ?? error}`);
    exit(EXIT.SOFTWARE);
  },
);
