// The config file's `services:` map: several programs in one container, with Docker
// Compose's key names wherever the concept is the same (command, environment, working_dir,
// user, depends_on, healthcheck, restart, stop_signal, stop_grace_period), so that users
// already know them. sesame's own additions: `ready` (simple readiness probes), `oneshot`,
// `secrets` (which config secrets a service gets), and top-level `main`, `signals` and
// `prefix`. Everything is checked here, before anything starts; errors name the key path.
import { parseDuration, parseSignal } from './values';
import { checkKeys, type Fail, isMap, str } from './keys';
import { parseAction } from './lifetime';
import type { Action } from '../react/wiring';

export type Condition = 'service_started' | 'service_healthy' | 'service_completed_successfully';
const CONDITIONS: readonly Condition[] = ['service_started', 'service_healthy', 'service_completed_successfully'];

export type RestartPolicy =
  | { kind: 'no' }
  /** Restart after a non-zero exit or a signal death, at most `max` times in a row (unlimited if absent). */
  | { kind: 'on-failure'; max?: number }
  /** Restart whatever the exit (Compose's `unless-stopped` means the same inside one container). */
  | { kind: 'always' };

/** Docker's HEALTHCHECK: a command run inside the service's environment; exit 0 = healthy. */
export interface HealthCheck {
  kind: 'command';
  /** argv; CMD-SHELL and a plain string become ["/bin/sh", "-c", text]. */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  /** Between checks until the first success (Docker: only within start_period). */
  startIntervalMs: number;
}

/** sesame's readiness probes: checked until the first success, then never again. */
export interface ReadyProbe {
  kind: 'tcp' | 'http' | 'file';
  /** tcp: host and port; http: the URL; file: the path. */
  host?: string;
  port?: number;
  url?: string;
  path?: string;
  intervalMs: number;
  /** How long the service may take to become ready before it counts as failed. */
  timeoutMs: number;
}

export interface Dependency {
  service: string;
  condition: Condition;
  /** Compose's `required: false`: start anyway if the dependency fails its condition. */
  required: boolean;
}

export interface ServiceConfig {
  name: string;
  /** argv; a string command becomes ["/bin/sh", "-c", text]. */
  command: string[];
  /** Values to set; null takes the value from init's environment (Compose's `- NAME`). */
  environment: Record<string, string | null>;
  workingDir?: string;
  user?: string;
  dependsOn: Dependency[];
  healthcheck?: HealthCheck;
  ready?: ReadyProbe;
  restart: RestartPolicy;
  stopSignal?: number;
  stopGracePeriodMs?: number;
  /** Expected to run to completion: exit 0 lets its dependants start, anything else ends the container. */
  oneshot: boolean;
  /** Variables from the top-level `secrets:` (their `env:` names) this service receives. */
  secrets: string[];
  /** Output through init, line by line (false: the service writes to init's 1 and 2 itself). */
  capture: boolean;
  /** Hand it the terminal and init's stdin (only the command given on init's command line). */
  interactive: boolean;
  /** What a change of a secret in its environment does (default restart). */
  onChange: Action;
  /** "services.web", for messages. */
  at: string;
}

export interface ServicesSection {
  services: ServiceConfig[];
  /** The service whose exit ends the container and gives the exit code; "any": the first to end. */
  main?: string;
  /** Where signals other than SIGTERM/SIGINT go: every running service, or the main one. */
  signals: 'all' | 'main';
  /** Prefix each output line with the service name (default: when there is more than one). */
  prefix?: boolean;
}

const SERVICE_KEYS = ['command', 'environment', 'working_dir', 'user', 'depends_on', 'healthcheck', 'ready', 'restart',
  'stop_signal', 'stop_grace_period', 'oneshot', 'secrets', 'on_change'] as const;
const HEALTHCHECK_KEYS = ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'] as const;
const READY_KEYS = ['tcp', 'http', 'file', 'interval', 'timeout'] as const;
/** Compose's defaults (docs.docker.com/reference/dockerfile/#healthcheck), start_interval aside. */
const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0, startIntervalMs: 1_000 };
const READY_DEFAULTS = { intervalMs: 500, timeoutMs: 60_000 };
/** The name the command from init's command line gets when the config also has services. */
export const COMMAND_SERVICE = 'command';

function duration(value: unknown, at: string, fail: Fail): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') fail(at, 'must be a duration such as 10s, 500ms or 1m30s');
  try {
    return parseDuration(String(value));
  } catch (error) {
    return fail(at, (error as Error).message);
  }
}

function stringList(value: unknown, at: string, fail: Fail): string[] {
  if (!Array.isArray(value) || value.length === 0) fail(at, 'must be a non-empty list of strings');
  return (value as unknown[]).map((item, i) => {
    if (typeof item === 'number') return String(item);
    if (typeof item !== 'string') fail(`${at}[${i}]`, 'must be a string');
    return item as string;
  });
}

function command(value: unknown, at: string, fail: Fail): string[] {
  if (typeof value === 'string') {
    if (!value.trim()) fail(at, 'must not be empty');
    return ['/bin/sh', '-c', value];
  }
  const argv = stringList(value, at, fail);
  if (!argv[0]) fail(`${at}[0]`, 'must not be empty');
  return argv;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Compose's two forms: a map (null = from init's environment) or a list of NAME=VALUE / NAME. */
function environment(value: unknown, at: string, fail: Fail): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (value === undefined || value === null) return out;
  const set = (name: string, v: string | null, where: string) => {
    if (!ENV_NAME.test(name)) fail(where, `"${name}" is not a variable name`);
    out[name] = v;
  };
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (typeof item !== 'string') fail(`${at}[${i}]`, 'must be NAME=VALUE or NAME');
      const eq = (item as string).indexOf('=');
      if (eq < 0) set(item as string, null, `${at}[${i}]`);
      else set((item as string).slice(0, eq), (item as string).slice(eq + 1), `${at}[${i}]`);
    });
    return out;
  }
  if (!isMap(value)) fail(at, 'must be a map of NAME: value or a list of NAME=VALUE');
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) fail(`${at}.${name}`, 'must be a string, a number, a boolean or empty');
    set(name, v === null ? null : String(v), `${at}.${name}`);
  }
  return out;
}

function restart(value: unknown, at: string, fail: Fail): RestartPolicy {
  // YAML 1.1 (Compose's) reads an unquoted `no` as false.
  if (value === undefined || value === null || value === false || value === 'no') return { kind: 'no' };
  if (value === 'always' || value === 'unless-stopped') return { kind: 'always' };
  if (value === 'on-failure') return { kind: 'on-failure' };
  const m = typeof value === 'string' ? /^on-failure:(\d+)$/.exec(value) : null;
  if (m) return { kind: 'on-failure', max: Number(m[1]) };
  return fail(at, `"${value}" is not one of "no", on-failure, on-failure:N, always, unless-stopped`);
}

function healthcheck(value: unknown, at: string, fail: Fail): HealthCheck | undefined {
  if (!isMap(value)) fail(at, 'must be a map with test (and interval, timeout, retries, start_period, start_interval)');
  const v = value as Record<string, unknown>;
  checkKeys(v, HEALTHCHECK_KEYS, at, fail);
  if (v.disable !== undefined && typeof v.disable !== 'boolean') fail(`${at}.disable`, 'must be true or false');
  if (v.disable === true) return undefined;
  let test: string[];
  if (typeof v.test === 'string') {
    test = command(v.test, `${at}.test`, fail);
  } else if (Array.isArray(v.test)) {
    const list = stringList(v.test, `${at}.test`, fail);
    const [kind, ...rest] = list;
    if (kind === 'NONE') return undefined;
    if (kind === 'CMD') test = command(rest, `${at}.test`, fail);
    else if (kind === 'CMD-SHELL' && rest.length === 1) test = command(rest[0], `${at}.test[1]`, fail);
    else return fail(`${at}.test`, 'must be ["CMD", program, args...], ["CMD-SHELL", "command"], ["NONE"] or a string');
  } else {
    return fail(`${at}.test`, 'is required (["CMD", ...], ["CMD-SHELL", "..."] or a string)');
  }
  if (v.retries !== undefined && (!Number.isInteger(v.retries) || (v.retries as number) < 1)) fail(`${at}.retries`, 'must be a whole number of at least 1');
  const positive = (key: string, fallback: number) => {
    const ms = duration(v[key], `${at}.${key}`, fail) ?? fallback;
    if (ms <= 0 && key !== 'start_period') fail(`${at}.${key}`, 'must be more than 0');
    return ms;
  };
  return {
    kind: 'command',
    test,
    intervalMs: positive('interval', HEALTH_DEFAULTS.intervalMs),
    timeoutMs: positive('timeout', HEALTH_DEFAULTS.timeoutMs),
    retries: (v.retries as number | undefined) ?? HEALTH_DEFAULTS.retries,
    startPeriodMs: positive('start_period', HEALTH_DEFAULTS.startPeriodMs),
    startIntervalMs: positive('start_interval', HEALTH_DEFAULTS.startIntervalMs),
  };
}

function ready(value: unknown, at: string, fail: Fail): ReadyProbe {
  if (!isMap(value)) fail(at, 'must be a map with one of tcp, http or file');
  const v = value as Record<string, unknown>;
  checkKeys(v, READY_KEYS, at, fail);
  const kinds = (['tcp', 'http', 'file'] as const).filter((k) => v[k] !== undefined);
  if (kinds.length !== 1) fail(at, 'needs exactly one of tcp, http or file');
  const timing = {
    intervalMs: duration(v.interval, `${at}.interval`, fail) ?? READY_DEFAULTS.intervalMs,
    timeoutMs: duration(v.timeout, `${at}.timeout`, fail) ?? READY_DEFAULTS.timeoutMs,
  };
  if (timing.intervalMs <= 0) fail(`${at}.interval`, 'must be more than 0');
  if (timing.timeoutMs <= 0) fail(`${at}.timeout`, 'must be more than 0');
  const kind = kinds[0];
  const raw = v[kind];
  if (kind === 'tcp') {
    // 8080, "8080", "host:8080", "[::1]:8080"
    const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(String(raw));
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port >= 1 && port <= 65535)) fail(`${at}.tcp`, `"${raw}" is not PORT or HOST:PORT`);
    return { kind, host: (m as RegExpExecArray)[1]?.replace(/^\[|\]$/g, '') ?? '127.0.0.1', port, ...timing };
  }
  if (kind === 'http') {
    let url: URL | undefined;
    try {
      url = new URL(String(raw));
    } catch { /* reported below */ }
    if (!url || !['http:', 'https:'].includes(url.protocol)) fail(`${at}.http`, `"${raw}" is not an http:// or https:// URL`);
    return { kind, url: String(raw), ...timing };
  }
  if (typeof raw !== 'string' || !raw.startsWith('/')) fail(`${at}.file`, 'must be an absolute path');
  return { kind, path: raw as string, ...timing };
}

function dependsOn(value: unknown, at: string, fail: Fail): Dependency[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      if (typeof item !== 'string' || !item) fail(`${at}[${i}]`, 'must be a service name');
      return { service: item as string, condition: 'service_started' as Condition, required: true };
    });
  }
  if (!isMap(value)) fail(at, 'must be a list of service names or a map of name: {condition: ...}');
  return Object.entries(value as Record<string, unknown>).map(([service, spec]) => {
    const where = `${at}.${service}`;
    if (spec === null) return { service, condition: 'service_started' as Condition, required: true };
    if (!isMap(spec)) fail(where, 'must be a map with condition');
    const d = spec as Record<string, unknown>;
    // Compose's restart: true restarts the dependant when Compose restarts the dependency;
    // inside one container nothing restarts a dependency from outside, so it has no meaning.
    if (d.restart !== undefined) fail(`${where}.restart`, 'not supported: services restart by their own restart: policy');
    checkKeys(d, ['condition', 'required'], where, fail);
    const condition = d.condition ?? 'service_started';
    if (!CONDITIONS.includes(condition as Condition)) fail(`${where}.condition`, `"${condition}" is not one of ${CONDITIONS.join(', ')}`);
    if (d.required !== undefined && typeof d.required !== 'boolean') fail(`${where}.required`, 'must be true or false');
    return { service, condition: condition as Condition, required: d.required !== false };
  });
}

function service(name: string, value: unknown, at: string, fail: Fail): ServiceConfig {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) fail(at, 'a service name uses letters, digits, ".", "_" and "-", and starts with a letter or digit');
  if (!isMap(value)) fail(at, 'must be a map with at least command');
  const v = value as Record<string, unknown>;
  checkKeys(v, SERVICE_KEYS, at, fail);
  if (v.command === undefined) fail(`${at}.command`, 'is required');
  const workingDir = str(v.working_dir, `${at}.working_dir`, fail);
  if (workingDir && !workingDir.startsWith('/')) fail(`${at}.working_dir`, `"${workingDir}" must be an absolute path`);
  let stopSignal: number | undefined;
  if (v.stop_signal !== undefined && v.stop_signal !== null) {
    try {
      stopSignal = parseSignal(String(v.stop_signal));
    } catch (error) {
      fail(`${at}.stop_signal`, (error as Error).message);
    }
  }
  if (v.oneshot !== undefined && typeof v.oneshot !== 'boolean') fail(`${at}.oneshot`, 'must be true or false');
  const secrets = v.secrets === undefined || v.secrets === null || (Array.isArray(v.secrets) && v.secrets.length === 0) ? [] : stringList(v.secrets, `${at}.secrets`, fail);
  secrets.forEach((s, i) => { if (!ENV_NAME.test(s)) fail(`${at}.secrets[${i}]`, `"${s}" is not a variable name`); });
  return {
    name,
    command: command(v.command, `${at}.command`, fail),
    environment: environment(v.environment, `${at}.environment`, fail),
    workingDir,
    user: str(typeof v.user === 'number' ? String(v.user) : v.user, `${at}.user`, fail),
    dependsOn: dependsOn(v.depends_on, `${at}.depends_on`, fail),
    healthcheck: v.healthcheck === undefined ? undefined : healthcheck(v.healthcheck, `${at}.healthcheck`, fail),
    ready: v.ready === undefined ? undefined : ready(v.ready, `${at}.ready`, fail),
    restart: restart(v.restart, `${at}.restart`, fail),
    stopSignal,
    stopGracePeriodMs: duration(v.stop_grace_period, `${at}.stop_grace_period`, fail),
    oneshot: v.oneshot === true,
    secrets,
    capture: true,
    interactive: false,
    onChange: v.on_change === undefined || v.on_change === null ? { kind: 'restart' } : parseAction(v.on_change, `${at}.on_change`, fail),
    at,
  };
}

/** The dependency cycle through `services`, as names in order (first repeated last), if any. */
export function findCycle(services: ServiceConfig[]): string[] | undefined {
  const byName = new Map(services.map((s) => [s.name, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    path.push(name);
    for (const dep of byName.get(name)?.dependsOn ?? []) {
      const cycle = visit(dep.service);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const s of services) {
    const cycle = visit(s.name);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Parse and check `services`, `main`, `signals` and `prefix` of the config file's top level. */
export function parseServices(top: Record<string, unknown>, secretEnvNames: string[], fail: Fail): ServicesSection | undefined {
  if (top.services === undefined || top.services === null) {
    for (const key of ['main', 'signals', 'prefix']) if (top[key] !== undefined) fail(key, 'only goes with services');
    return undefined;
  }
  if (!isMap(top.services) || Object.keys(top.services).length === 0) fail('services', 'must be a map of service name: {command: ...}');
  const services = Object.entries(top.services as Record<string, unknown>).map(([name, v]) => service(name, v, `services.${name}`, fail));
  const byName = new Map(services.map((s) => [s.name, s]));
  for (const s of services) {
    for (const dep of s.dependsOn) {
      const target = byName.get(dep.service);
      const where = `${s.at}.depends_on.${dep.service}`;
      if (!target) fail(where, `no service named "${dep.service}"`);
      if (dep.service === s.name) fail(where, 'a service cannot depend on itself');
      if (dep.condition === 'service_healthy' && !(target as ServiceConfig).healthcheck && !(target as ServiceConfig).ready) {
        fail(where, `service_healthy needs a healthcheck or ready probe on ${dep.service}`);
      }
      if (dep.condition === 'service_completed_successfully') {
        // Compose's one-off containers: completing is what they are for.
        (target as ServiceConfig).oneshot = true;
      }
    }
    s.secrets.forEach((name, i) => {
      if (!secretEnvNames.includes(name)) fail(`${s.at}.secrets[${i}]`, `no entry in secrets: has env: ${name}`);
    });
  }
  // Only now is every service_completed_successfully target marked, wherever it is in the file.
  for (const s of services) {
    if (s.oneshot && s.restart.kind === 'always') fail(`${s.at}.restart`, 'a oneshot service cannot restart always (use "no" or on-failure[:N])');
  }
  const cycle = findCycle(services);
  if (cycle) fail('services', `dependency cycle: ${cycle.join(' -> ')}`);
  let main: string | undefined;
  if (top.main !== undefined) {
    if (typeof top.main !== 'string' || (top.main !== 'any' && !byName.has(top.main))) {
      fail('main', `"${top.main}" is not a service name or "any"`);
    }
    main = top.main as string;
  }
  const signals = top.signals ?? 'all';
  if (signals !== 'all' && signals !== 'main') fail('signals', `"${signals}" is not all or main`);
  if (top.prefix !== undefined && typeof top.prefix !== 'boolean') fail('prefix', 'must be true or false');
  return { services, main, signals: signals as 'all' | 'main', prefix: top.prefix as boolean | undefined };
}
