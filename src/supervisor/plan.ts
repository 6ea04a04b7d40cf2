// From the config file's services (and the command line's command, if there is one) to
// what supervise() runs: the main service, each service's user and environment. Every
// mistake here is found before any secret is fetched or anything starts.
import { copyEnvironment } from '../bytes';
import type { ConfigFile } from '../config/file';
import { COMMAND_SERVICE, type ServiceConfig } from '../config/services';
import type { InitOptions } from '../cli';
import { EXIT, InitError } from '../exit-codes';
import type { Prepared, SuperviseOptions } from './supervise';
import { type ResolvedUser, resolveUser } from './user';

export interface ServicesPlan {
  configs: ServiceConfig[];
  options: SuperviseOptions;
  /** Each service's environment, from what every child would get (secrets included). */
  environments(childEnv: Record<string, string>): Prepared[];
}

/**
 * A command on init's command line (CMD) beside services becomes the main service
 * "command": it starts once every other service is ready (a oneshot: completed), gets the
 * terminal and init's stdin, every secret the config exports, and its exit ends the
 * container; the services are its sidecars (`docker run -it image sh` works with them).
 */
function commandService(options: InitOptions, others: ServiceConfig[], secretNames: string[]): ServiceConfig {
  return {
    name: COMMAND_SERVICE,
    command: options.command,
    environment: {},
    workingDir: options.workdir,
    user: options.user,
    dependsOn: others.map((s) => ({
      service: s.name,
      condition: s.oneshot ? 'service_completed_successfully' : s.healthcheck || s.ready ? 'service_healthy' : 'service_started',
      required: true,
    })),
    restart: { kind: 'no' },
    oneshot: false,
    secrets: secretNames,
    capture: false,
    interactive: true,
    onChange: options.onChange,
    at: 'the command line',
  };
}

/** `user`: --user, already resolved by the caller (the command's own user). */
export function planServices(config: ConfigFile, options: InitOptions, user?: ResolvedUser): ServicesPlan {
  const section = config.services;
  if (!section) throw new Error('planServices without services');
  const fail = (at: string, why: string): never => {
    throw new InitError(`${config.path}: ${at}: ${why}`, EXIT.CONFIG);
  };
  const secretNames = config.secrets.flatMap((s) => (s.env ? [s.env] : []));
  // --workdir (SESAME_WORKDIR) is every service's default, as --user is.
  const configs: ServiceConfig[] = section.services.map((s) => ({ ...s, workingDir: s.workingDir ?? options.workdir }));
  let main = section.main === 'any' ? undefined : section.main;
  if (options.command.length) {
    if (configs.some((s) => s.name === COMMAND_SERVICE)) fail(`services.${COMMAND_SERVICE}`, `the name "${COMMAND_SERVICE}" is taken by the command on init's command line; rename the service, or drop the command`);
    if (section.main) fail('main', `"${section.main}": the command on init's command line is the main service; remove main or the command`);
    configs.push(commandService(options, configs, secretNames));
    main = COMMAND_SERVICE;
  } else if (!section.main) {
    // One long-running service is the main one, whatever oneshots run before it.
    const longRunning = configs.filter((s) => !s.oneshot);
    if (longRunning.length === 1) main = longRunning[0].name;
  }
  if (section.signals === 'main' && !main) fail('signals', 'main needs a main service (set main: NAME)');

  // Looked up once per distinct user, before anything is fetched: a missing one is exit 67.
  const users = new Map<string, ResolvedUser>(options.user && user ? [[options.user, user]] : []);
  for (const s of configs) {
    const spec = s.user ?? options.user;
    if (spec && !users.has(spec)) users.set(spec, resolveUser(spec));
  }
  return {
    configs,
    options: {
      main,
      signals: section.signals,
      // Names are worth their width only when output from several programs mixes.
      prefix: section.prefix ?? configs.length > 1,
      budgetMs: options.gracePeriodMs,
      groupSignals: options.groupSignals,
      rewrites: options.rewrites,
      stopSignals: options.stopSignals,
      noNewPrivs: options.noNewPrivs,
    },
    environments: (childEnv) => configs.map((s) => {
      const user = users.get(s.user ?? options.user ?? '');
      const env = copyEnvironment();
      // The config's secrets go only to the services that list them (Compose's service-level
      // `secrets:`); everything else every child gets.
      for (const [k, v] of Object.entries(childEnv)) if (!secretNames.includes(k) || s.secrets.includes(k)) env[k] = v;
      for (const [k, v] of Object.entries(s.environment)) {
        if (v !== null) env[k] = v;
        else if (childEnv[k] !== undefined && !secretNames.includes(k)) env[k] = childEnv[k];
      }
      if (user) env.HOME = user.home;
      return { config: s, env, user };
    }),
  };
}
