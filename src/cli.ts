// The command line: `init [options] [--] command [args...]`, like tini. Parsing stops at the
// first non-option, so `ENTRYPOINT ["/init"]` with any CMD reaches the child verbatim, even
// arguments that look like init's own options. Every option has an environment variable
// (tini's TINI_* habit); a flag wins over its variable.
import type { Command as CommandType } from 'commander';
import { EXIT, InitError } from './exit-codes';
import { LOG_FORMATS, LOG_LEVELS, writeFully, type LogFormat, type LogLevel } from './log';
import type { TemplateEntry } from './config/file';
import { parseBoolean, parseDuration, parseRewrites } from './config/values';
import { parseOnChangeFlag, parseThreshold, parseWait } from './config/lifetime';
import { parseRefresh } from './config/file';
import { EXPIRY_POLICIES, type ExpiryPolicy } from './lifetime/stage';
import { DEFAULT_LEASE_THRESHOLD } from './lifetime/timing';
import type { Action } from './react/wiring';

declare const SESAME_VERSION: string;
/** Debian package -> version of the libraries inside the one-file /init (build.mjs); {} for init.cjs. */
declare const SESAME_BUNDLED_PACKAGES: Record<string, string>;

/**
 * `init --version`: sesame's version, the Node it runs on, and the Debian packages whose
 * libraries the one-file /init carries (their security fixes need a new /init).
 */
export function versionText(): string {
  const packages = typeof SESAME_BUNDLED_PACKAGES === 'object' ? SESAME_BUNDLED_PACKAGES : {};
  return [
    `sesame ${typeof SESAME_VERSION === 'string' ? SESAME_VERSION : 'dev'}`,
    `node ${process.versions.node}`,
    ...Object.entries(packages).map(([name, version]) => `${name} ${version} (Debian package; its libraries are inside this file)`),
  ].join('\n');
}

/** What the user asked for, validated. Plain data: the stages after this only read it. */
export interface InitOptions {
  /** The command and its arguments, exactly as given. */
  command: string[];
  /** Forward signals to the child's whole process group instead of the child alone. */
  groupSignals: boolean;
  /** Signal number -> the number to send instead (0: do not forward). */
  rewrites: Map<number, number>;
  /** How long the child has after SIGTERM/SIGINT (and its group after it exits) before SIGKILL. */
  gracePeriodMs: number;
  /** `NAME|UID[:GROUP|GID]` to run the command as. */
  user?: string;
  /** Set no_new_privs on the child: setuid binaries and file capabilities stop working. */
  noNewPrivs: boolean;
  /** Working directory for the command (default: init's own). */
  workdir?: string;
  /** Time limit for fetching all secrets, retries included. */
  secretsTimeoutMs: number;
  /** The YAML config file, if any. */
  config?: string;
  /** Templates from --template and SESAME_TEMPLATES (the config file's are added later). */
  templates: TemplateEntry[];
  /** --check: validate everything, resolve secrets, render templates, start nothing. */
  check: boolean;
  /** --render: print the rendered templates (secrets masked), start nothing. */
  render: boolean;
  /** --show-secrets: with --render, print secret values as they are. */
  showSecrets: boolean;
  /** As given; unset means warn with a command only, info when the config has services. */
  logLevel?: LogLevel;
  logFormat: LogFormat;
  /** Static secrets are read again this often after start (ms), or never. */
  refresh: number | 'never';
  /** The single command's (and the command beside services') reaction to a changed secret. */
  onChange: Action;
  /** A secret that expires with no replacement: stop the container (69), or run on. */
  onExpiry: ExpiryPolicy;
  /** Revoke the leases and the token init created, at shutdown (and an unneeded token at once). */
  revoke: boolean;
  /** Changes are acted on once none came for quietMs, at the latest maxWaitMs after the first. */
  wait: { quietMs: number; maxWaitMs: number };
  /** Then after a random delay up to this. */
  splayMs: number;
  /** Non-renewable leases are read again at this share of their duration. */
  leaseThreshold: number;
}

/** What `--help` and the README both list: flag, variable, default, meaning. */
export const ENV = {
  groupSignals: 'SESAME_GROUP_SIGNALS',
  rewrite: 'SESAME_REWRITE',
  gracePeriod: 'SESAME_GRACE_PERIOD',
  user: 'SESAME_USER',
  noNewPrivs: 'SESAME_NO_NEW_PRIVS',
  workdir: 'SESAME_WORKDIR',
  logLevel: 'SESAME_LOG_LEVEL',
  logFormat: 'SESAME_LOG_FORMAT',
  secretsTimeout: 'SESAME_SECRETS_TIMEOUT',
  config: 'SESAME_CONFIG',
  templates: 'SESAME_TEMPLATES',
  check: 'SESAME_CHECK',
  render: 'SESAME_RENDER',
  showSecrets: 'SESAME_SHOW_SECRETS',
  refresh: 'SESAME_REFRESH',
  onChange: 'SESAME_ON_CHANGE',
  onExpiry: 'SESAME_ON_EXPIRY',
  revoke: 'SESAME_REVOKE',
  wait: 'SESAME_WAIT',
  splay: 'SESAME_SPLAY',
  leaseThreshold: 'SESAME_LEASE_THRESHOLD',
} as const;

/** Said when there is nothing to run: no command, and no services in a config file. */
export const NO_COMMAND = 'no command given (usage: init [options] [--] command [args...], or services in a --config file)';

/** Fits inside `docker stop`'s 10 s, leaving init time to SIGKILL and exit. */
export const DEFAULT_GRACE = '8s';
/** Vault Agent's static_secret_render_interval. */
export const DEFAULT_REFRESH = '5m';
/** Vault PR #20940's debounce; consul-template's wait.max is 4 x its min. */
export const DEFAULT_WAIT = '2s:8s';
/** Long enough to ride out a Vault restart or leader election, short enough to fail visibly. */
export const DEFAULT_SECRETS_TIMEOUT = '30s';

/** After the options: the product's core, which lives in variables rather than flags. Wrapped at 80. */
const HELP_AFTER = `
Secret references, in any variable's value or in the config file's secrets:
  vault:PATH#KEY[#VERSION]  a key of a Vault or OpenBao KV secret (VAULT_ADDR,
                            VAULT_TOKEN or a SESAME_VAULT_AUTH login, ...)
  keywhiz:NAME              a Keywhiz secret (SESAME_KEYWHIZ_SERVER, _CERT,
                            _KEY, _CA)
  file:/PATH                the content of a file (trailing newlines dropped)
  NAME_FILE=/run/secrets/X  fills NAME from the file, as the official images do
The command gets the values; init's own variables (SESAME_*, VAULT_*, BAO_*) are
removed from its environment and from /proc/1/environ.

Settings that are only variables (lists are comma-separated, * for all):
  SESAME_LITERAL            values that are not references (file:app.db)
  SESAME_OPTIONAL_SECRETS   references that may be missing: left unset, warned
  SESAME_FILE_VARS          NAME_FILE outside /run/secrets fills NAME for these
  SESAME_PASSTHROUGH        init's variables to give back to the command
  SESAME_VAULT_AUTH         token (default), approle, kubernetes, jwt, userpass
                            or cert; with SESAME_VAULT_ROLE, _ROLE_ID(_FILE),
                            _SECRET_ID(_FILE), _JWT_FILE, _USERNAME,
                            _PASSWORD(_FILE), _AUTH_MOUNT
  SESAME_NATIVE             another C helper file to load
Everything in detail: docs/configuration.md and docs/secrets.md.

Exit status: the command's own (with services: the main service's, or that of
the service that ended the container); 128+N if it died of signal N; 126 not
executable; 127 not found; 64 usage, 67 unknown user, 69 secret or service
dependency unavailable, 70 internal error, 71 system error, 72 /proc not
mounted, 77 not permitted, 78 configuration.
`;

function program(): CommandType {
  // Loaded only when there are flags to parse: `ENTRYPOINT ["/init"]` + CMD, and
  // `init -- cmd`, never need it, and evaluating commander costs ~2 ms of every start.
  const { Command, Option } = require('commander') as typeof import('commander');
  return new Command('init')
    .usage('[options] [--] command [args...]')
    .description('sesame: an init for containers. Fetches secrets, renders config files, runs the command (or the services of a --config file), reaps zombies, forwards signals, stops gracefully and exits with the command\'s (main service\'s) code.')
    .argument('[command...]', 'the program to run as the child, and its arguments (beside services: the main service)')
    .option('-c, --config <file>', `YAML config file: secrets, templates and services (${ENV.config})`)
    .option('-T, --template <src:dest>', `render template SRC (a file, or a directory of *.template/*.liquid files) to DEST; repeatable (${ENV.templates}, comma-separated)`, (v: string, prev: string[] = []) => [...prev, v])
    .option('--check', `check options, config, secret references, templates and services: secrets are fetched and templates rendered, nothing is written or started; prints one summary line and exits 0 if all is well (${ENV.check})`)
    .option('--render', `print the rendered templates with secret values masked, and start nothing (${ENV.render})`)
    .option('--show-secrets', `with --render, print secret values instead of masking them (${ENV.showSecrets})`)
    .option('-g, --group-signals', `forward signals to the child's whole process group (${ENV.groupSignals})`)
    .option('-r, --rewrite <from:to>', `send TO when FROM arrives, e.g. TERM:QUIT; repeatable, comma-separated, TO=0 drops it (${ENV.rewrite})`, (v: string, prev: string[] = []) => [...prev, v])
    .option('-t, --grace-period <duration>', `the whole shutdown: time the child (or all services) has after SIGTERM/SIGINT, and its process group after it exits, before SIGKILL (${ENV.gracePeriod}, default ${DEFAULT_GRACE})`)
    .option('-u, --user <user[:group]>', `run the command (and services without user:) as this user (name or uid) with its groups from /etc/group (${ENV.user})`)
    .addOption(new Option('--no-new-privs', `set no_new_privs on the child: setuid binaries cannot gain privileges (${ENV.noNewPrivs})`))
    .option('-w, --workdir <dir>', `working directory of the command and of services without working_dir: (${ENV.workdir}, default: init's own)`)
    .option('--refresh <duration>', `read secrets without a lease (KV v2, Keywhiz) again this often after start, or "never" (${ENV.refresh}, default ${DEFAULT_REFRESH})`)
    .option('--on-change <action>', `when a secret in the command's environment changes: restart, exit (69), none, or signal:NAME (${ENV.onChange}, default restart)`)
    .addOption(new Option('--on-expiry <policy>', `when a secret, lease or token expires with no replacement: exit (stop, 69) or keep (run on, warn) (${ENV.onExpiry}, default exit)`).choices(EXPIRY_POLICIES))
    .addOption(new Option('--no-revoke', `do not revoke the Vault leases and token init created when it exits (${ENV.revoke}=false)`))
    .option('--wait <min[:max]>', `act on changed secrets once none changed for MIN, at the latest after MAX (${ENV.wait}, default ${DEFAULT_WAIT})`)
    .option('--splay <duration>', `then wait a random time up to this, so that many containers do not restart at once (${ENV.splay}, default 0)`)
    .option('--lease-threshold <share>', `read a non-renewable lease again at this share of its duration, ±0.05 (${ENV.leaseThreshold}, default ${DEFAULT_LEASE_THRESHOLD})`)
    .option('--secrets-timeout <duration>', `time limit for fetching secrets, retries included (${ENV.secretsTimeout}, default ${DEFAULT_SECRETS_TIMEOUT})`)
    .addOption(new Option('-l, --log-level <level>', `init's own messages on stderr (${ENV.logLevel}, default warn; info with services)`).choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', `init's own messages as text lines or JSON objects (${ENV.logFormat}, default text)`).choices(LOG_FORMATS))
    .version(versionText(), '-V, --version', 'show the version of sesame, of Node and of the bundled libraries')
    .helpOption('-h, --help', 'show this help')
    .addHelpText('after', HELP_AFTER)
    // 80 columns whatever the terminal: the text after the options is wrapped for that.
    .configureHelp({ helpWidth: 80 })
    .passThroughOptions()
    .exitOverride()
    .configureOutput({
      // writeFully: `init --help | head` closes the pipe early, which is not an error.
      writeOut: (text) => writeFully(1, text),
      writeErr: (text) => writeFully(2, text),
      outputError: () => {}, // reported as an InitError below, in our one-line format
    });
}

function fromEnv<T>(env: NodeJS.ProcessEnv, name: string, parse: (text: string) => T): T | undefined {
  const text = env[name];
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch (error) {
    throw new InitError(`${name}: ${(error as Error).message}`, EXIT.USAGE);
  }
}

/** A parser for a variable that takes one of `choices` (commander checks the flag's). */
function oneOf<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(choices as readonly string[]).includes(text)) throw new Error(`"${text}" is not one of ${choices.join(', ')}`);
    return text as T;
  };
}

function fromFlag<T>(flag: string, text: string | undefined, parse: (text: string) => T): T | undefined {
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch (error) {
    throw new InitError(`${flag}: ${(error as Error).message}`, EXIT.USAGE);
  }
}

/**
 * Parse argv (without node and script) and the environment into options.
 * Returns a number instead when init should exit right away (--help, --version).
 */
interface Flags {
  groupSignals?: boolean; rewrite?: string[]; gracePeriod?: string; user?: string;
  newPrivs?: boolean; workdir?: string; logLevel?: LogLevel; logFormat?: LogFormat; secretsTimeout?: string; config?: string;
  template?: string[]; check?: boolean; render?: boolean; showSecrets?: boolean;
  refresh?: string; onChange?: string; onExpiry?: ExpiryPolicy; revoke?: boolean; wait?: string; splay?: string; leaseThreshold?: string;
}

/** The flags before the command, and the command; a number to exit with for --help/--version. */
function parseFlags(argv: string[]): { flags: Flags; command: string[] } | number {
  if (argv.length === 0 || !argv[0].startsWith('-')) return { flags: {}, command: argv };
  if (argv[0] === '--') return { flags: {}, command: argv.slice(1) };
  const cmd = program();
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('commander.') !== true) throw error;
    const { exitCode, message } = error as { exitCode: number; message: string };
    if (exitCode === 0) return 0; // --help, --version
    throw new InitError(`${message.replace(/^error: /, '')} (see init --help)`, EXIT.USAGE);
  }
  return { flags: cmd.opts<Flags>(), command: cmd.args };
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): InitOptions | number {
  const parsed = parseFlags(argv);
  if (typeof parsed === 'number') return parsed;
  const { flags, command } = parsed;
  // Also as variables: with ENTRYPOINT ["/init", ..., "--"], `docker run -e SESAME_CHECK=1 image`
  // is the only way to ask an image to check itself.
  const check = flags.check ?? fromEnv(env, ENV.check, parseBoolean) ?? false;
  const render = flags.render ?? fromEnv(env, ENV.render, parseBoolean) ?? false;
  const showSecrets = flags.showSecrets ?? fromEnv(env, ENV.showSecrets, parseBoolean) ?? false;
  if (showSecrets && !render) throw new InitError('--show-secrets only goes with --render', EXIT.USAGE);
  if (check && render) throw new InitError('--check and --render: choose one', EXIT.USAGE);
  const templates = [
    ...(env[ENV.templates] ?? '').split(',').map((t) => t.trim()).filter(Boolean).map((t) => templateFlag(t, ENV.templates)),
    ...(flags.template ?? []).map((t) => templateFlag(t, '--template')),
  ];

  const logLevel = flags.logLevel ?? fromEnv(env, ENV.logLevel, oneOf(LOG_LEVELS));
  const rewrites = fromEnv(env, ENV.rewrite, (v) => parseRewrites(v)) ?? new Map<number, number>();
  for (const text of flags.rewrite ?? []) fromFlag('--rewrite', text, (v) => parseRewrites(v, rewrites));

  return {
    command,
    groupSignals: flags.groupSignals ?? fromEnv(env, ENV.groupSignals, parseBoolean) ?? false,
    rewrites,
    gracePeriodMs: fromFlag('--grace-period', flags.gracePeriod, parseDuration)
      ?? fromEnv(env, ENV.gracePeriod, parseDuration) ?? parseDuration(DEFAULT_GRACE),
    user: nonEmpty(flags.user, '--user') ?? (env[ENV.user] || undefined),
    noNewPrivs: flags.newPrivs === false || (fromEnv(env, ENV.noNewPrivs, parseBoolean) ?? false),
    workdir: nonEmpty(flags.workdir, '--workdir') ?? (env[ENV.workdir] || undefined),
    config: nonEmpty(flags.config, '--config') ?? (env[ENV.config] || undefined),
    templates,
    check,
    render,
    showSecrets,
    secretsTimeoutMs: fromFlag('--secrets-timeout', flags.secretsTimeout, parseDuration)
      ?? fromEnv(env, ENV.secretsTimeout, parseDuration) ?? parseDuration(DEFAULT_SECRETS_TIMEOUT),
    logLevel,
    logFormat: flags.logFormat ?? fromEnv(env, ENV.logFormat, oneOf(LOG_FORMATS)) ?? 'text',
    refresh: fromFlag('--refresh', flags.refresh, parseRefresh) ?? fromEnv(env, ENV.refresh, parseRefresh) ?? parseRefresh(DEFAULT_REFRESH),
    onChange: fromFlag('--on-change', flags.onChange, parseOnChangeFlag) ?? fromEnv(env, ENV.onChange, parseOnChangeFlag) ?? { kind: 'restart' },
    onExpiry: flags.onExpiry ?? fromEnv(env, ENV.onExpiry, oneOf(EXPIRY_POLICIES)) ?? 'exit',
    revoke: flags.revoke === false ? false : (fromEnv(env, ENV.revoke, parseBoolean) ?? true),
    wait: fromFlag('--wait', flags.wait, parseWait) ?? fromEnv(env, ENV.wait, parseWait) ?? parseWait(DEFAULT_WAIT),
    splayMs: fromFlag('--splay', flags.splay, parseDuration) ?? fromEnv(env, ENV.splay, parseDuration) ?? 0,
    leaseThreshold: fromFlag('--lease-threshold', flags.leaseThreshold, parseThreshold) ?? fromEnv(env, ENV.leaseThreshold, parseThreshold) ?? DEFAULT_LEASE_THRESHOLD,
  };
}

/** SRC:DEST, split before the destination (which is absolute, so at the last ":/"). */
function templateFlag(text: string, where: string): TemplateEntry {
  const at = text.lastIndexOf(':/');
  if (at <= 0) throw new InitError(`${where}: "${text}" is not SRC:DEST with an absolute DEST (e.g. /etc/app/app.conf.liquid:/etc/app/app.conf)`, EXIT.USAGE);
  return { src: text.slice(0, at), dest: text.slice(at + 1), at: `${where} ${text}` };
}

/** A flag given as "" is a mistake; an empty variable means unset (compose's ${X:-}). */
function nonEmpty(value: string | undefined, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new InitError(`${where}: must not be empty`, EXIT.USAGE);
  return value;
}
