// The config file's `services:` map (src/config/services.ts through parseConfig): Compose's
// key names with Compose's forms, sesame's ready/oneshot/secrets, top-level main, signals
// and prefix. Every bad key or value is an exit-78 error that names the file and key path.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/file';
import { findCycle, type ServiceConfig, type ServicesSection } from '../../src/config/services';
import { InitError } from '../../src/exit-codes';

const PATH = '/etc/sesame.yaml';
const parse = (text: string) => parseConfig(text, PATH);

/** The services section of a document; it must have one. */
function section(text: string): ServicesSection {
  const services = parse(text).services;
  if (!services) throw new Error(`no services in: ${text}`);
  return services;
}

/** The one service of `services: {NAME: {command: run, ...}}` with `body` as its other keys. */
function one(body: string, name = 'app'): ServiceConfig {
  const { services } = section(`services:\n  ${name}:\n    command: run\n${body.split('\n').filter(Boolean).map((l) => `    ${l}\n`).join('')}`);
  expect(services).toHaveLength(1);
  return services[0];
}

/** The message and exit code parseConfig fails with. */
function failure(text: string): [string, number] {
  try {
    parse(text);
  } catch (error) {
    if (!(error instanceof InitError)) throw error;
    return [error.message, error.exitCode];
  }
  throw new Error(`parsed without error: ${text}`);
}

const SH = (text: string) => ['/bin/sh', '-c', text];

describe('parseConfig services: accepted forms', () => {
  it('reads a minimal service with every default', () => {
    const config = parse('services:\n  web:\n    command: ["nginx", "-g", "daemon off;"]\n');
    expect(config).toEqual({
      path: PATH,
      secrets: [],
      templates: [],
      services: {
        services: [{
          name: 'web',
          command: ['nginx', '-g', 'daemon off;'],
          environment: {},
          workingDir: undefined,
          user: undefined,
          dependsOn: [],
          healthcheck: undefined,
          ready: undefined,
          restart: { kind: 'no' },
          onChange: { kind: 'restart' },
          stopSignal: undefined,
          stopGracePeriodMs: undefined,
          oneshot: false,
          secrets: [],
          capture: true,
          interactive: false,
          at: 'services.web',
        }],
        main: undefined,
        signals: 'all',
        prefix: undefined,
      },
    });
  });

  it('keeps the services in the order of the file', () => {
    const { services } = section('services:\n  zeta: {command: z}\n  alpha: {command: a}\n  mid: {command: m}\n');
    expect(services.map((s) => [s.name, s.at])).toEqual([['zeta', 'services.zeta'], ['alpha', 'services.alpha'], ['mid', 'services.mid']]);
  });

  describe('command', () => {
    const cmd = (value: string) => section(`services:\n  app:\n    command: ${value}\n`).services[0].command;

    it('takes a list as argv, as written', () => {
      expect(cmd('[redis-server, --port, "6380"]')).toEqual(['redis-server', '--port', '6380']);
    });

    it('takes numbers in the list as strings', () => {
      expect(cmd('[sleep, 10]')).toEqual(['sleep', '10']);
    });

    it('runs a string through /bin/sh -c', () => {
      expect(cmd('"exec nginx -g \'daemon off;\'"')).toEqual(SH("exec nginx -g 'daemon off;'"));
      expect(cmd('sleep 5 && echo done')).toEqual(SH('sleep 5 && echo done'));
    });

    it('takes a block list', () => {
      expect(section('services:\n  a:\n    command:\n      - /usr/bin/env\n      - A=1\n').services[0].command).toEqual(['/usr/bin/env', 'A=1']);
    });
  });

  describe('text as written (YAML 1.1 readings undone where a program gets the text)', () => {
    it('keeps environment values, command words and healthcheck words as written', () => {
      const { services: [s] } = section('services:\n  app:\n    environment:\n      DEBUG: yes\n      COUNTRY: NO\n      MODE: 0755\n      T: 0x10\n      S: 1:30\n      N: ~\n    command: [echo, y, 010, on]\n    healthcheck: {test: [CMD, check, off, 1e3]}\n');
      expect(s.environment).toEqual({ DEBUG: 'yes', COUNTRY: 'NO', MODE: '0755', T: '0x10', S: '1:30', N: null });
      expect(s.command).toEqual(['echo', 'y', '010', 'on']);
      expect(s.healthcheck?.test).toEqual(['check', 'off', '1e3']);
    });

    it('accepts an empty secrets list', () => {
      expect(one('secrets: []').secrets).toEqual([]);
    });
  });

  describe('environment', () => {
    it('takes a map; numbers and booleans become strings, an empty value is null (from init\'s environment)', () => {
      const s = one('environment:\n  A: one\n  PORT: 8080\n  DEBUG: true\n  EMPTY: ""\n  PASSTHROUGH:\n  _under_1: x');
      expect(s.environment).toEqual({ A: 'one', PORT: '8080', DEBUG: 'true', EMPTY: '', PASSTHROUGH: null, _under_1: 'x' });
    });

    it('takes a list of NAME=VALUE, and NAME alone as null', () => {
      const s = one('environment: [A=1, "B=x=y", C=, NAME, "SPACED=a b"]');
      expect(s.environment).toEqual({ A: '1', B: 'x=y', C: '', NAME: null, SPACED: 'a b' });
    });

    it('is empty when absent or empty', () => {
      expect(one('').environment).toEqual({});
      expect(one('environment:').environment).toEqual({});
      expect(one('environment: {}').environment).toEqual({});
      expect(one('environment: []').environment).toEqual({});
    });
  });

  describe('depends_on', () => {
    const TWO = (deps: string) => section(`services:\n  db: {command: db, healthcheck: {test: [CMD, check]}}\n  web:\n    command: web\n    depends_on: ${deps}\n`).services[1].dependsOn;

    it('takes a list of names, each service_started', () => {
      expect(TWO('[db]')).toEqual([{ service: 'db', condition: 'service_started', required: true }]);
    });

    it('takes a map with each condition', () => {
      expect(TWO('{db: {condition: service_healthy}}')).toEqual([{ service: 'db', condition: 'service_healthy', required: true }]);
      expect(TWO('{db: {condition: service_started}}')).toEqual([{ service: 'db', condition: 'service_started', required: true }]);
      expect(TWO('{db: {condition: service_completed_successfully}}')).toEqual([{ service: 'db', condition: 'service_completed_successfully', required: true }]);
    });

    it('defaults the condition to service_started in the map form (empty entry or empty map)', () => {
      expect(TWO('{db: }')).toEqual([{ service: 'db', condition: 'service_started', required: true }]);
      expect(TWO('{db: {}}')).toEqual([{ service: 'db', condition: 'service_started', required: true }]);
    });

    it('is empty when absent or empty', () => {
      expect(one('').dependsOn).toEqual([]);
      expect(one('depends_on:').dependsOn).toEqual([]);
      expect(one('depends_on: []').dependsOn).toEqual([]);
    });

    it('accepts a dependency on a service defined later in the file', () => {
      const { services } = section('services:\n  web: {command: w, depends_on: [db]}\n  db: {command: d}\n');
      expect(services[0].dependsOn).toEqual([{ service: 'db', condition: 'service_started', required: true }]);
    });

    it('marks the target of service_completed_successfully as a oneshot', () => {
      const { services } = section([
        'services:',
        '  migrate: {command: migrate}',
        '  web: {command: web, depends_on: {migrate: {condition: service_completed_successfully}}}',
        '  other: {command: other, depends_on: [web]}',
        '',
      ].join('\n'));
      expect(services.map((s) => [s.name, s.oneshot])).toEqual([['migrate', true], ['web', false], ['other', false]]);
    });

    it('marks it whichever comes first in the file', () => {
      const { services } = section('services:\n  web: {command: web, depends_on: {migrate: {condition: service_completed_successfully}}}\n  migrate: {command: migrate}\n');
      expect(services.map((s) => [s.name, s.oneshot])).toEqual([['web', false], ['migrate', true]]);
    });

    it('accepts service_healthy on a service with a ready probe instead of a healthcheck', () => {
      const { services } = section('services:\n  db: {command: d, ready: {tcp: 5432}}\n  web: {command: w, depends_on: {db: {condition: service_healthy}}}\n');
      expect(services[1].dependsOn).toEqual([{ service: 'db', condition: 'service_healthy', required: true }]);
    });
  });

  describe('healthcheck', () => {
    const DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0, startIntervalMs: 1_000 };

    it('takes ["CMD", program, args...] as argv, with Docker\'s defaults', () => {
      expect(one('healthcheck: {test: [CMD, pg_isready, -U, postgres]}').healthcheck).toEqual({ kind: 'command', test: ['pg_isready', '-U', 'postgres'], ...DEFAULTS });
    });

    it('takes ["CMD-SHELL", "command"] through /bin/sh -c', () => {
      expect(one('healthcheck: {test: [CMD-SHELL, "curl -f http://localhost/ || exit 1"]}').healthcheck).toEqual({ kind: 'command', test: SH('curl -f http://localhost/ || exit 1'), ...DEFAULTS });
    });

    it('takes a string through /bin/sh -c', () => {
      expect(one('healthcheck: {test: "test -e /tmp/ok"}').healthcheck).toEqual({ kind: 'command', test: SH('test -e /tmp/ok'), ...DEFAULTS });
    });

    it('reads every timing', () => {
      const s = one('healthcheck:\n  test: [CMD, check]\n  interval: 1m30s\n  timeout: 500ms\n  retries: 5\n  start_period: 10\n  start_interval: 2s');
      expect(s.healthcheck).toEqual({ kind: 'command', test: ['check'], intervalMs: 90_000, timeoutMs: 500, retries: 5, startPeriodMs: 10_000, startIntervalMs: 2_000 });
    });

    it('allows start_period 0', () => {
      expect(one('healthcheck: {test: [CMD, check], start_period: 0s}').healthcheck?.startPeriodMs).toBe(0);
    });

    it('["NONE"] and disable: true mean no healthcheck', () => {
      expect(one('healthcheck: {test: [NONE]}').healthcheck).toBeUndefined();
      expect(one('healthcheck: {disable: true}').healthcheck).toBeUndefined();
      expect(one('healthcheck: {test: [CMD, check], disable: true}').healthcheck).toBeUndefined();
    });

    it('disable: false keeps the check', () => {
      expect(one('healthcheck: {test: [CMD, check], disable: false}').healthcheck?.test).toEqual(['check']);
    });
  });

  describe('ready', () => {
    const TIMING = { intervalMs: 500, timeoutMs: 60_000 };

    it.each([
      ['8080', '127.0.0.1', 8080],
      ['"8080"', '127.0.0.1', 8080],
      ['"db:5432"', 'db', 5432],
      ['db:5432', 'db', 5432],
      ['"[::1]:8080"', '::1', 8080],
      ['"10.0.0.2:1"', '10.0.0.2', 1],
      ['65535', '127.0.0.1', 65535],
    ])('tcp: %s -> %s port %d', (value, host, port) => {
      expect(one(`ready: {tcp: ${value}}`).ready).toEqual({ kind: 'tcp', host, port, ...TIMING });
    });

    it('takes http and https URLs', () => {
      expect(one('ready: {http: "http://localhost:8080/healthz"}').ready).toEqual({ kind: 'http', url: 'http://localhost:8080/healthz', ...TIMING });
      expect(one('ready: {http: "https://127.0.0.1/"}').ready).toEqual({ kind: 'http', url: 'https://127.0.0.1/', ...TIMING });
    });

    it('takes an absolute file path', () => {
      expect(one('ready: {file: /run/app/ready}').ready).toEqual({ kind: 'file', path: '/run/app/ready', ...TIMING });
    });

    it('reads interval and timeout as durations', () => {
      expect(one('ready: {file: /run/ok, interval: 100ms, timeout: 1m30s}').ready).toEqual({ kind: 'file', path: '/run/ok', intervalMs: 100, timeoutMs: 90_000 });
      expect(one('ready: {tcp: 80, interval: 2, timeout: "1.5s"}').ready).toMatchObject({ intervalMs: 2000, timeoutMs: 1500 });
    });
  });

  describe('restart', () => {
    it.each([
      ['"no"', { kind: 'no' }],
      ["'no'", { kind: 'no' }],
      ['no', { kind: 'no' }], // YAML 1.1: false
      ['false', { kind: 'no' }],
      ['on-failure', { kind: 'on-failure' }],
      ['on-failure:3', { kind: 'on-failure', max: 3 }],
      ['"on-failure:10"', { kind: 'on-failure', max: 10 }],
      ['always', { kind: 'always' }],
      ['unless-stopped', { kind: 'always' }],
    ])('restart: %s', (value, policy) => {
      expect(one(`restart: ${value}`).restart).toEqual(policy);
    });

    it('is "no" when absent or empty', () => {
      expect(one('').restart).toEqual({ kind: 'no' });
      expect(one('restart:').restart).toEqual({ kind: 'no' });
    });
  });

  describe('stop_signal and stop_grace_period', () => {
    it.each([
      ['SIGQUIT', 3],
      ['QUIT', 3],
      ['sigint', 2],
      ['SIGUSR1', 10],
      ['9', 9],
      ['"15"', 15],
      ['SIGWINCH', 28],
    ])('stop_signal: %s -> %d', (value, n) => {
      expect(one(`stop_signal: ${value}`).stopSignal).toBe(n);
    });

    it.each([
      ['"1m30s"', 90_000],
      ['1m30s', 90_000],
      ['"500ms"', 500],
      ['10', 10_000],
      ['10s', 10_000],
      ['"1.5s"', 1500],
      ['1h', 3_600_000],
      ['0', 0],
    ])('stop_grace_period: %s -> %d ms', (value, ms) => {
      expect(one(`stop_grace_period: ${value}`).stopGracePeriodMs).toBe(ms);
    });
  });

  describe('working_dir, user, oneshot, secrets', () => {
    it('reads working_dir and user; a numeric user is a string', () => {
      expect(one('working_dir: /srv/app\nuser: www-data')).toMatchObject({ workingDir: '/srv/app', user: 'www-data' });
      expect(one('user: 1000').user).toBe('1000');
      expect(one('user: "1000:1000"').user).toBe('1000:1000');
    });

    it('reads oneshot as a boolean, YAML 1.1 yes included', () => {
      expect(one('oneshot: true').oneshot).toBe(true);
      expect(one('oneshot: yes').oneshot).toBe(true);
      expect(one('oneshot: false').oneshot).toBe(false);
    });

    it('lets a oneshot restart on failure', () => {
      expect(one('oneshot: true\nrestart: on-failure:2')).toMatchObject({ oneshot: true, restart: { kind: 'on-failure', max: 2 } });
    });

    it('reads secrets that the top-level secrets: export with env:', () => {
      const { services } = section([
        'secrets:',
        '  - { ref: "vault:secret/app#db", env: DB_PASSWORD }',
        '  - { ref: "vault:secret/app#key", env: API_KEY }',
        'services:',
        '  web: {command: w, secrets: [DB_PASSWORD, API_KEY]}',
        '  worker: {command: k, secrets: [API_KEY]}',
        '  plain: {command: p}',
        '',
      ].join('\n'));
      expect(services.map((s) => [s.name, s.secrets])).toEqual([['web', ['DB_PASSWORD', 'API_KEY']], ['worker', ['API_KEY']], ['plain', []]]);
    });
  });

  describe('top level: main, signals, prefix', () => {
    const TWO = 'services:\n  a: {command: a}\n  b: {command: b}\n';

    it('defaults: no main, signals all, prefix unset', () => {
      expect(section(TWO)).toMatchObject({ main: undefined, signals: 'all', prefix: undefined });
    });

    it('reads main as a service name or "any"', () => {
      expect(section(`${TWO}main: b\n`).main).toBe('b');
      expect(section(`${TWO}main: any\n`).main).toBe('any');
    });

    it('reads signals all and main', () => {
      expect(section(`${TWO}signals: main\nmain: a\n`).signals).toBe('main');
      expect(section(`${TWO}signals: all\n`).signals).toBe('all');
    });

    it('reads prefix as a boolean, YAML 1.1 on/off included', () => {
      expect(section(`${TWO}prefix: false\n`).prefix).toBe(false);
      expect(section(`${TWO}prefix: true\n`).prefix).toBe(true);
      expect(section(`${TWO}prefix: off\n`).prefix).toBe(false);
    });

    it('has no services section without services:, or with an empty services:', () => {
      expect(parse('secrets: []\n').services).toBeUndefined();
      expect(parse('services:\n').services).toBeUndefined();
    });

    it.each(['web', 'web-1', 'web_1', 'web.internal', '0web', 'W'])('accepts the service name %s', (name) => {
      expect(one('', name).name).toBe(name);
    });
  });
});

describe('parseConfig services: errors name the file and the key path, exit 78', () => {
  const svc = (body: string) => `services:\n  app:\n    command: run\n${body.split('\n').filter(Boolean).map((l) => `    ${l}\n`).join('')}`;
  const E = (at: string, why: string) => `${PATH}: ${at}: ${why}`;
  const SERVICE_KEYS = 'command, environment, working_dir, user, depends_on, healthcheck, ready, restart, stop_signal, stop_grace_period, oneshot, secrets, on_change';
  const DURATION = (v: string) => `"${v}" is not a duration (e.g. 10s, 500ms, 1m30s, or a number of seconds)`;
  const HEALTH_FORMS = 'must be ["CMD", program, args...], ["CMD-SHELL", "command"], ["NONE"] or a string';
  const RESTART = (v: string) => `"${v}" is not one of "no", on-failure, on-failure:N, always, unless-stopped`;

  describe('unknown keys at each level', () => {
    it.each([
      ['the top level', 'service:\n  a: {command: a}\n', E('service', 'unknown key (expected one of secrets, templates, services, main, signals, prefix, certificates)')],
      ['a service', svc('image: nginx'), E('services.app.image', `unknown key (expected one of ${SERVICE_KEYS})`)],
      ['a service (Compose\'s entrypoint)', svc('entrypoint: [sh]'), E('services.app.entrypoint', `unknown key (expected one of ${SERVICE_KEYS})`)],
      ['a healthcheck', svc('healthcheck: {test: [CMD, x], intervall: 5s}'), E('services.app.healthcheck.intervall', 'unknown key (expected one of test, interval, timeout, retries, start_period, start_interval, disable)')],
      ['a ready probe', svc('ready: {tcp: 80, retries: 3}'), E('services.app.ready.retries', 'unknown key (expected one of tcp, http, file, interval, timeout)')],
      ['a depends_on entry', 'services:\n  db: {command: d}\n  web: {command: w, depends_on: {db: {condition: service_started, optional: true}}}\n', E('services.web.depends_on.db.optional', 'unknown key (expected one of condition, required)')],
      ['Compose\'s depends_on restart', 'services:\n  db: {command: d}\n  web: {command: w, depends_on: {db: {restart: true}}}\n', E('services.web.depends_on.db.restart', 'not supported: services restart by their own restart: policy')],
      ['a depends_on required that is not a boolean', 'services:\n  db: {command: d}\n  web: {command: w, depends_on: {db: {required: maybe}}}\n', E('services.web.depends_on.db.required', 'must be true or false')],
    ])('%s', (_what, text, message) => {
      expect(failure(text)).toEqual([message, 78]);
    });
  });

  describe('services and their names', () => {
    it.each([
      ['an empty services map', 'services: {}\n', E('services', 'must be a map of service name: {command: ...}')],
      ['services as a list', 'services:\n  - web\n', E('services', 'must be a map of service name: {command: ...}')],
      ['services as a string', 'services: web\n', E('services', 'must be a map of service name: {command: ...}')],
      ['a name with a space', 'services:\n  "my app": {command: a}\n', E('services.my app', 'a service name uses letters, digits, ".", "_" and "-", and starts with a letter or digit')],
      ['a name starting with -', 'services:\n  "-web": {command: a}\n', E('services.-web', 'a service name uses letters, digits, ".", "_" and "-", and starts with a letter or digit')],
      ['a name starting with .', 'services:\n  ".web": {command: a}\n', E('services..web', 'a service name uses letters, digits, ".", "_" and "-", and starts with a letter or digit')],
      ['a name with a slash', 'services:\n  "a/b": {command: a}\n', E('services.a/b', 'a service name uses letters, digits, ".", "_" and "-", and starts with a letter or digit')],
      ['an empty name', 'services:\n  "": {command: a}\n', E('services.', 'a service name uses letters, digits, ".", "_" and "-", and starts with a letter or digit')],
      ['a service that is a string', 'services:\n  web: nginx\n', E('services.web', 'must be a map with at least command')],
      ['a service that is empty', 'services:\n  web:\n', E('services.web', 'must be a map with at least command')],
      ['a service without command', 'services:\n  web: {user: www-data}\n', E('services.web.command', 'is required')],
    ])('%s', (_what, text, message) => {
      expect(failure(text)).toEqual([message, 78]);
    });
  });

  describe('bad values', () => {
    it.each([
      // command
      ['an empty command string', 'services:\n  app: {command: "  "}\n', E('services.app.command', 'must not be empty')],
      ['an empty command list', 'services:\n  app: {command: []}\n', E('services.app.command', 'must be a non-empty list of strings')],
      ['an empty command', 'services:\n  app: {command: }\n', E('services.app.command', 'must be a non-empty list of strings')],
      ['a command map', 'services:\n  app: {command: {a: b}}\n', E('services.app.command', 'must be a non-empty list of strings')],
      ['an empty program', 'services:\n  app: {command: ["", x]}\n', E('services.app.command[0]', 'must not be empty')],
      ['a non-string argument', 'services:\n  app: {command: [echo, [x]]}\n', E('services.app.command[1]', 'must be a string')],
      // environment
      ['environment as a string', svc('environment: A=1'), E('services.app.environment', 'must be a map of NAME: value or a list of NAME=VALUE')],
      ['a bad variable name in a map', svc('environment: {1A: x}'), E('services.app.environment.1A', '"1A" is not a variable name')],
      ['a bad variable name in a list', svc('environment: [A=1, "B-C=2"]'), E('services.app.environment[1]', '"B-C" is not a variable name')],
      ['an empty name in a list', svc('environment: ["=x"]'), E('services.app.environment[0]', '"" is not a variable name')],
      ['a list item that is not a string', svc('environment: [{A: 1}]'), E('services.app.environment[0]', 'must be NAME=VALUE or NAME')],
      ['a map value that is a list', svc('environment: {A: [1]}'), E('services.app.environment.A', 'must be a string, a number, a boolean or empty')],
      // working_dir, user
      ['a relative working_dir', svc('working_dir: srv'), E('services.app.working_dir', '"srv" must be an absolute path')],
      ['an empty working_dir', svc('working_dir: ""'), E('services.app.working_dir', 'must be a non-empty string')],
      ['a user that is a list', svc('user: [a]'), E('services.app.user', 'must be a non-empty string')],
      // depends_on
      ['depends_on as a string', svc('depends_on: db'), E('services.app.depends_on', 'must be a list of service names or a map of name: {condition: ...}')],
      ['a depends_on list item that is not a string', svc('depends_on: [{db: x}]'), E('services.app.depends_on[0]', 'must be a service name')],
      ['a depends_on entry that is a string', 'services:\n  db: {command: d}\n  app: {command: a, depends_on: {db: service_started}}\n', E('services.app.depends_on.db', 'must be a map with condition')],
      ['a bad condition', 'services:\n  db: {command: d}\n  app: {command: a, depends_on: {db: {condition: service_ready}}}\n', E('services.app.depends_on.db.condition', '"service_ready" is not one of service_started, service_healthy, service_completed_successfully')],
      // healthcheck
      ['a healthcheck that is a string', svc('healthcheck: "curl x"'), E('services.app.healthcheck', 'must be a map with test (and interval, timeout, retries, start_period, start_interval)')],
      ['a healthcheck without test', svc('healthcheck: {interval: 5s}'), E('services.app.healthcheck.test', 'is required (["CMD", ...], ["CMD-SHELL", "..."] or a string)')],
      ['disable: false without test', svc('healthcheck: {disable: false}'), E('services.app.healthcheck.test', 'is required (["CMD", ...], ["CMD-SHELL", "..."] or a string)')],
      ['disable that is not a boolean', svc('healthcheck: {test: [CMD, x], disable: "true"}'), E('services.app.healthcheck.disable', 'must be true or false')],
      ['an unknown test form', svc('healthcheck: {test: [SHELL, x]}'), E('services.app.healthcheck.test', HEALTH_FORMS)],
      ['CMD-SHELL with two strings', svc('healthcheck: {test: [CMD-SHELL, a, b]}'), E('services.app.healthcheck.test', HEALTH_FORMS)],
      ['CMD-SHELL alone', svc('healthcheck: {test: [CMD-SHELL]}'), E('services.app.healthcheck.test', HEALTH_FORMS)],
      ['CMD alone', svc('healthcheck: {test: [CMD]}'), E('services.app.healthcheck.test', 'must be a non-empty list of strings')],
      ['an empty test list', svc('healthcheck: {test: []}'), E('services.app.healthcheck.test', 'must be a non-empty list of strings')],
      ['an empty test string', svc('healthcheck: {test: ""}'), E('services.app.healthcheck.test', 'must not be empty')],
      ['CMD-SHELL with an empty command', svc('healthcheck: {test: [CMD-SHELL, " "]}'), E('services.app.healthcheck.test[1]', 'must not be empty')],
      ['retries 0', svc('healthcheck: {test: [CMD, x], retries: 0}'), E('services.app.healthcheck.retries', 'must be a whole number of at least 1')],
      ['retries 1.5', svc('healthcheck: {test: [CMD, x], retries: 1.5}'), E('services.app.healthcheck.retries', 'must be a whole number of at least 1')],
      ['retries as a string', svc('healthcheck: {test: [CMD, x], retries: "3"}'), E('services.app.healthcheck.retries', 'must be a whole number of at least 1')],
      ['interval 0', svc('healthcheck: {test: [CMD, x], interval: 0s}'), E('services.app.healthcheck.interval', 'must be more than 0')],
      ['timeout 0', svc('healthcheck: {test: [CMD, x], timeout: 0}'), E('services.app.healthcheck.timeout', 'must be more than 0')],
      ['start_interval 0', svc('healthcheck: {test: [CMD, x], start_interval: 0ms}'), E('services.app.healthcheck.start_interval', 'must be more than 0')],
      ['a bad interval', svc('healthcheck: {test: [CMD, x], interval: 5 seconds}'), E('services.app.healthcheck.interval', DURATION('5 seconds'))],
      ['a negative start_period', svc('healthcheck: {test: [CMD, x], start_period: -1s}'), E('services.app.healthcheck.start_period', DURATION('-1s'))],
      ['an interval that is a list', svc('healthcheck: {test: [CMD, x], interval: [5s]}'), E('services.app.healthcheck.interval', 'must be a duration such as 10s, 500ms or 1m30s')],
      // ready
      ['ready that is a string', svc('ready: "tcp:80"'), E('services.app.ready', 'must be a map with one of tcp, http or file')],
      ['ready with no probe', svc('ready: {interval: 1s}'), E('services.app.ready', 'needs exactly one of tcp, http or file')],
      ['ready with two probes', svc('ready: {tcp: 80, file: /ok}'), E('services.app.ready', 'needs exactly one of tcp, http or file')],
      ['tcp port 0', svc('ready: {tcp: 0}'), E('services.app.ready.tcp', '"0" is not PORT or HOST:PORT')],
      ['tcp port 65536', svc('ready: {tcp: 65536}'), E('services.app.ready.tcp', '"65536" is not PORT or HOST:PORT')],
      ['tcp without a port', svc('ready: {tcp: db}'), E('services.app.ready.tcp', '"db" is not PORT or HOST:PORT')],
      ['tcp with an empty port', svc('ready: {tcp: "db:"}'), E('services.app.ready.tcp', '"db:" is not PORT or HOST:PORT')],
      ['tcp IPv6 without brackets', svc('ready: {tcp: "::1:8080"}'), E('services.app.ready.tcp', '"::1:8080" is not PORT or HOST:PORT')],
      ['an http URL that is not a URL', svc('ready: {http: "localhost:8080/health"}'), E('services.app.ready.http', '"localhost:8080/health" is not an http:// or https:// URL')],
      ['an http URL of another scheme', svc('ready: {http: "ftp://localhost/"}'), E('services.app.ready.http', '"ftp://localhost/" is not an http:// or https:// URL')],
      ['a relative ready file', svc('ready: {file: run/ok}'), E('services.app.ready.file', 'must be an absolute path')],
      ['a ready file that is a number', svc('ready: {file: 1}'), E('services.app.ready.file', 'must be an absolute path')],
      ['ready interval 0', svc('ready: {tcp: 80, interval: 0}'), E('services.app.ready.interval', 'must be more than 0')],
      ['ready timeout 0', svc('ready: {tcp: 80, timeout: 0s}'), E('services.app.ready.timeout', 'must be more than 0')],
      ['a bad ready timeout', svc('ready: {tcp: 80, timeout: soon}'), E('services.app.ready.timeout', DURATION('soon'))],
      // restart
      ['restart yes (YAML 1.1 true)', svc('restart: yes'), E('services.app.restart', RESTART('true'))],
      ['restart on-failure:-1', svc('restart: on-failure:-1'), E('services.app.restart', RESTART('on-failure:-1'))],
      ['restart on-failure:x', svc('restart: "on-failure:x"'), E('services.app.restart', RESTART('on-failure:x'))],
      ['restart never', svc('restart: never'), E('services.app.restart', RESTART('never'))],
      ['restart as a number', svc('restart: 3'), E('services.app.restart', RESTART('3'))],
      // stop_signal, stop_grace_period
      ['an unknown stop_signal', svc('stop_signal: SIGFOO'), E('services.app.stop_signal', 'unknown signal "SIGFOO" (expected a name like TERM or a number like 15)')],
      ['stop_signal 0', svc('stop_signal: 0'), E('services.app.stop_signal', 'signal number 0 is out of range 1-64')],
      ['stop_signal 65', svc('stop_signal: 65'), E('services.app.stop_signal', 'signal number 65 is out of range 1-64')],
      ['a bad stop_grace_period', svc('stop_grace_period: 10x'), E('services.app.stop_grace_period', DURATION('10x'))],
      ['a stop_grace_period with a trailing unit-less number', svc('stop_grace_period: 1m30'), E('services.app.stop_grace_period', DURATION('1m30'))],
      ['a stop_grace_period map', svc('stop_grace_period: {s: 1}'), E('services.app.stop_grace_period', 'must be a duration such as 10s, 500ms or 1m30s')],
      // oneshot, secrets
      ['oneshot as a string', svc('oneshot: "true"'), E('services.app.oneshot', 'must be true or false')],
      ['oneshot as a number', svc('oneshot: 1'), E('services.app.oneshot', 'must be true or false')],
      ['secrets as a string', svc('secrets: DB'), E('services.app.secrets', 'must be a non-empty list of strings')],
      ['a secret that is not a variable name', svc('secrets: [db-password]'), E('services.app.secrets[0]', '"db-password" is not a variable name')],
    ])('%s', (_what, text, message) => {
      expect(failure(text)).toEqual([message, 78]);
    });
  });

  describe('between services', () => {
    it.each([
      ['an unknown dependency (list)', 'services:\n  web: {command: w, depends_on: [db]}\n', E('services.web.depends_on.db', 'no service named "db"')],
      ['an unknown dependency (map)', 'services:\n  web: {command: w, depends_on: {db: {condition: service_healthy}}}\n', E('services.web.depends_on.db', 'no service named "db"')],
      ['a self-dependency', 'services:\n  web: {command: w, depends_on: [web]}\n', E('services.web.depends_on.web', 'a service cannot depend on itself')],
      ['a self-dependency (map)', 'services:\n  a: {command: a}\n  web: {command: w, depends_on: {web: {condition: service_started}}}\n', E('services.web.depends_on.web', 'a service cannot depend on itself')],
      ['service_healthy without a check', 'services:\n  db: {command: d}\n  web: {command: w, depends_on: {db: {condition: service_healthy}}}\n', E('services.web.depends_on.db', 'service_healthy needs a healthcheck or ready probe on db')],
      ['service_healthy on a disabled check', 'services:\n  db: {command: d, healthcheck: {test: [NONE]}}\n  web: {command: w, depends_on: {db: {condition: service_healthy}}}\n', E('services.web.depends_on.db', 'service_healthy needs a healthcheck or ready probe on db')],
      ['a oneshot that restarts always', 'services:\n  init: {command: i, oneshot: true, restart: always}\n', E('services.init.restart', 'a oneshot service cannot restart always (use "no" or on-failure[:N])')],
      ['a oneshot that restarts unless-stopped', 'services:\n  init: {command: i, oneshot: true, restart: unless-stopped}\n', E('services.init.restart', 'a oneshot service cannot restart always (use "no" or on-failure[:N])')],
      ['a completion target that restarts always (dependant first)', 'services:\n  web: {command: w, depends_on: {init: {condition: service_completed_successfully}}}\n  init: {command: i, restart: always}\n', E('services.init.restart', 'a oneshot service cannot restart always (use "no" or on-failure[:N])')],
      ['a secret not in secrets:', 'secrets:\n  - { ref: "vault:a#b", env: A }\nservices:\n  web: {command: w, secrets: [A, B]}\n', E('services.web.secrets[1]', 'no entry in secrets: has env: B')],
      ['a secret with no secrets: at all', 'services:\n  web: {command: w, secrets: [A]}\n', E('services.web.secrets[0]', 'no entry in secrets: has env: A')],
      ['a secret that is a file: entry', 'secrets:\n  - { ref: "vault:a#b", file: /run/a }\nservices:\n  web: {command: w, secrets: [A]}\n', E('services.web.secrets[0]', 'no entry in secrets: has env: A')],
      ['a secret that is a template-only name: entry', 'secrets:\n  - { ref: "vault:a#b", name: A }\nservices:\n  web: {command: w, secrets: [A]}\n', E('services.web.secrets[0]', 'no entry in secrets: has env: A')],
    ])('%s', (_what, text, message) => {
      expect(failure(text)).toEqual([message, 78]);
    });

    // Regression: the check once ran in the loop that marks service_completed_successfully
    // targets as oneshots, so it depended on the order of the services in the file.
    it('a completion target that restarts always (target first)', () => {
      const text = 'services:\n  init: {command: i, restart: always}\n  web: {command: w, depends_on: {init: {condition: service_completed_successfully}}}\n';
      expect(failure(text)).toEqual([E('services.init.restart', 'a oneshot service cannot restart always (use "no" or on-failure[:N])'), 78]);
    });

    it.each([
      ['a 2-cycle', 'services:\n  a: {command: a, depends_on: [b]}\n  b: {command: b, depends_on: [a]}\n', 'a -> b -> a'],
      ['a 3-cycle', 'services:\n  a: {command: a, depends_on: [b]}\n  b: {command: b, depends_on: [c]}\n  c: {command: c, depends_on: [a]}\n', 'a -> b -> c -> a'],
      ['a cycle behind a service that is not in it', 'services:\n  x: {command: x, depends_on: [a]}\n  a: {command: a, depends_on: [b]}\n  b: {command: b, depends_on: [a]}\n', 'a -> b -> a'],
      ['a cycle through the map form', 'services:\n  a: {command: a, depends_on: {b: {condition: service_started}}}\n  b: {command: b, depends_on: {c: }}\n  c: {command: c, depends_on: [b]}\n', 'b -> c -> b'],
    ])('%s', (_what, text, cycle) => {
      expect(failure(text)).toEqual([E('services', `dependency cycle: ${cycle}`), 78]);
    });
  });

  describe('top level', () => {
    const TWO = 'services:\n  a: {command: a}\n  b: {command: b}\n';
    it.each([
      ['main that is not a service', `${TWO}main: c\n`, E('main', '"c" is not a service name or "any"')],
      ['main that is a number', `${TWO}main: 1\n`, E('main', '"1" is not a service name or "any"')],
      ['main that is a list', `${TWO}main: [a]\n`, E('main', '"a" is not a service name or "any"')],
      ['signals that is not all or main', `${TWO}signals: none\n`, E('signals', '"none" is not all or main')],
      ['signals as a boolean', `${TWO}signals: true\n`, E('signals', '"true" is not all or main')],
      ['prefix as a string', `${TWO}prefix: "yes"\n`, E('prefix', 'must be true or false')],
      ['prefix as a number', `${TWO}prefix: 1\n`, E('prefix', 'must be true or false')],
      ['main without services', 'main: web\n', E('main', 'only goes with services')],
      ['signals without services', 'signals: main\n', E('signals', 'only goes with services')],
      ['prefix without services', 'prefix: false\n', E('prefix', 'only goes with services')],
      ['main with an empty services:', 'services:\nmain: web\n', E('main', 'only goes with services')],
    ])('%s', (_what, text, message) => {
      expect(failure(text)).toEqual([message, 78]);
    });
  });

  it('reports the first bad service in file order', () => {
    expect(failure('services:\n  a: {command: a}\n  b: {command: b, restart: sometimes}\n  c: {command: c, user: ""}\n')).toEqual([E('services.b.restart', RESTART('sometimes')), 78]);
  });
});

describe('findCycle', () => {
  const s = (name: string, ...deps: string[]): ServiceConfig => ({
    name,
    command: [name],
    environment: {},
    dependsOn: deps.map((service) => ({ service, condition: 'service_started', required: true })),
    restart: { kind: 'no' },
    onChange: { kind: 'restart' },
    oneshot: false,
    secrets: [],
    capture: true,
    interactive: false,
    at: `services.${name}`,
  });

  it('finds none in an empty list, independent services, a chain or a diamond', () => {
    expect(findCycle([])).toBeUndefined();
    expect(findCycle([s('a'), s('b'), s('c')])).toBeUndefined();
    expect(findCycle([s('a', 'b'), s('b', 'c'), s('c')])).toBeUndefined();
    expect(findCycle([s('top', 'l', 'r'), s('l', 'bottom'), s('r', 'bottom'), s('bottom')])).toBeUndefined();
  });

  it('names a cycle in order, the first name repeated last', () => {
    expect(findCycle([s('a', 'b'), s('b', 'a')])).toEqual(['a', 'b', 'a']);
    expect(findCycle([s('a', 'b'), s('b', 'c'), s('c', 'a')])).toEqual(['a', 'b', 'c', 'a']);
  });

  it('finds a self-dependency', () => {
    expect(findCycle([s('a'), s('b', 'b')])).toEqual(['b', 'b']);
  });

  it('leaves out the services that lead into the cycle', () => {
    expect(findCycle([s('x', 'y'), s('y', 'a'), s('a', 'b'), s('b', 'c'), s('c', 'a')])).toEqual(['a', 'b', 'c', 'a']);
  });

  it('finds a cycle reached only from a later service', () => {
    expect(findCycle([s('ok'), s('p', 'q'), s('q', 'p')])).toEqual(['p', 'q', 'p']);
  });

  it('ignores dependencies on services that do not exist', () => {
    expect(findCycle([s('a', 'ghost')])).toBeUndefined();
  });
});
