// From the config's services (and the command line's command) to what supervise() runs
// (src/supervisor/plan.ts): which service is main, the "command" service, signals, prefix,
// and each service's environment (config secrets only where listed).
import { describe, expect, it } from 'vitest';
import { parseCommandLine, type InitOptions } from '../../src/cli';
import { parseConfig } from '../../src/config/file';
import { InitError } from '../../src/exit-codes';
import { planServices } from '../../src/supervisor/plan';

const PATH = '/etc/sesame.yaml';

function options(command: string[] = [], extra: Partial<InitOptions> = {}): InitOptions {
  return {
    command,
    groupSignals: false,
    rewrites: new Map(),
    gracePeriodMs: 8000,
    noNewPrivs: false,
    secretsTimeoutMs: 60_000,
    templates: [],
    check: false,
    render: false,
    showSecrets: false,
    logFormat: 'text',
    refresh: 300_000,
    onChange: { kind: 'restart' },
    onExpiry: 'exit',
    revoke: true,
    wait: { quietMs: 2000, maxWaitMs: 8000 },
    splayMs: 0,
    leaseThreshold: 0.9,
    ...extra,
  };
}

const plan = (yaml: string, command: string[] = [], extra: Partial<InitOptions> = {}) => planServices(parseConfig(yaml, PATH), options(command, extra));

/** The message and exit code planServices fails with. */
function failure(yaml: string, command: string[] = []): [string, number] {
  try {
    plan(yaml, command);
  } catch (error) {
    if (!(error instanceof InitError)) throw error;
    return [error.message, error.exitCode];
  }
  throw new Error(`planned without error: ${yaml}`);
}

describe('planServices: the main service', () => {
  it('makes the only service main', () => {
    expect(plan('services:\n  web: {command: w}\n').options.main).toBe('web');
  });

  it('makes the one long-running service main, whatever oneshots run before it', () => {
    const yaml = [
      'services:',
      '  migrate: {command: m, oneshot: true}',
      '  seed: {command: s}',
      '  web: {command: w, depends_on: {seed: {condition: service_completed_successfully}, migrate: {condition: service_completed_successfully}}}',
      '',
    ].join('\n');
    expect(plan(yaml).options.main).toBe('web');
  });

  it('has no main with several long-running services and no main:', () => {
    expect(plan('services:\n  a: {command: a}\n  b: {command: b}\n').options.main).toBeUndefined();
  });

  it('has no main with only oneshots', () => {
    expect(plan('services:\n  a: {command: a, oneshot: true}\n  b: {command: b, oneshot: true}\n').options.main).toBeUndefined();
  });

  it('takes main: NAME', () => {
    expect(plan('services:\n  a: {command: a}\n  b: {command: b}\nmain: b\n').options.main).toBe('b');
  });

  it('takes main: any as no main, even with one long-running service', () => {
    expect(plan('services:\n  a: {command: a}\n  b: {command: b}\nmain: any\n').options.main).toBeUndefined();
    expect(plan('services:\n  a: {command: a}\nmain: any\n').options.main).toBeUndefined();
  });

  it('makes the command on the command line the main service "command", after the others', () => {
    const yaml = [
      'services:',
      '  migrate: {command: m, oneshot: true}',
      '  db: {command: d, healthcheck: {test: [CMD, pg_isready]}}',
      '  cache: {command: c, ready: {tcp: 6379}}',
      '  worker: {command: k}',
      '',
    ].join('\n');
    const p = plan(yaml, ['sh', '-c', 'echo hi'], { user: '1000', workdir: '/srv' });
    expect(p.options.main).toBe('command');
    expect(p.configs.map((s) => s.name)).toEqual(['migrate', 'db', 'cache', 'worker', 'command']);
    expect(p.configs[4]).toEqual({
      name: 'command',
      command: ['sh', '-c', 'echo hi'],
      environment: {},
      workingDir: '/srv',
      user: '1000',
      dependsOn: [
        { service: 'migrate', condition: 'service_completed_successfully', required: true },
        { service: 'db', condition: 'service_healthy', required: true },
        { service: 'cache', condition: 'service_healthy', required: true },
        { service: 'worker', condition: 'service_started', required: true },
      ],
      restart: { kind: 'no' },
      oneshot: false,
      secrets: [],
      capture: false,
      interactive: true,
      onChange: { kind: 'restart' },
      at: 'the command line',
    });
  });

  it('waits for completion of a service that is a oneshot because another waits for it to complete', () => {
    const yaml = 'services:\n  init: {command: i}\n  web: {command: w, depends_on: {init: {condition: service_completed_successfully}}}\n';
    expect(plan(yaml, ['sh']).configs[2].dependsOn).toEqual([
      { service: 'init', condition: 'service_completed_successfully', required: true },
      { service: 'web', condition: 'service_started', required: true },
    ]);
  });

  it('gives the command every secret the config exports with env:', () => {
    const yaml = [
      'secrets:',
      '  - { ref: "vault:a#b", env: A }',
      '  - { ref: "vault:a#c", file: /run/c }',
      '  - { ref: "vault:a#d", env: D }',
      '  - { ref: "vault:a#e", name: e }',
      'services:',
      '  side: {command: s}',
      '',
    ].join('\n');
    expect(plan(yaml, ['app']).configs[1].secrets).toEqual(['A', 'D']);
  });

  it('does not change the config it was given', () => {
    const config = parseConfig('services:\n  a: {command: a}\n', PATH);
    planServices(config, options(['sh']));
    expect(config.services?.services.map((s) => s.name)).toEqual(['a']);
  });

  it('refuses main: together with a command', () => {
    expect(failure('services:\n  a: {command: a}\nmain: a\n', ['sh'])).toEqual([
      `${PATH}: main: "a": the command on init's command line is the main service; remove main or the command`, 78,
    ]);
    expect(failure('services:\n  a: {command: a}\nmain: any\n', ['sh'])).toEqual([
      `${PATH}: main: "any": the command on init's command line is the main service; remove main or the command`, 78,
    ]);
  });

  it('refuses a service named "command" beside a command', () => {
    expect(failure('services:\n  command: {command: a}\n', ['sh'])).toEqual([
      `${PATH}: services.command: the name "command" is taken by the command on init's command line; rename the service, or drop the command`, 78,
    ]);
  });

  it('accepts a service named "command" without a command', () => {
    expect(plan('services:\n  command: {command: a}\n').options.main).toBe('command');
  });
});

describe('planServices: signals and prefix', () => {
  it('refuses signals: main without a main service', () => {
    const message = `${PATH}: signals: main needs a main service (set main: NAME)`;
    expect(failure('services:\n  a: {command: a}\n  b: {command: b}\nsignals: main\n')).toEqual([message, 78]);
    expect(failure('services:\n  a: {command: a}\n  b: {command: b}\nsignals: main\nmain: any\n')).toEqual([message, 78]);
  });

  it('accepts signals: main with main:, a single long-running service, or a command', () => {
    expect(plan('services:\n  a: {command: a}\n  b: {command: b}\nsignals: main\nmain: a\n').options).toMatchObject({ main: 'a', signals: 'main' });
    expect(plan('services:\n  a: {command: a}\nsignals: main\n').options).toMatchObject({ main: 'a', signals: 'main' });
    expect(plan('services:\n  a: {command: a}\n  b: {command: b}\nsignals: main\n', ['sh']).options).toMatchObject({ main: 'command', signals: 'main' });
  });

  it('prefixes by default when there is more than one service (the command counts)', () => {
    expect(plan('services:\n  a: {command: a}\n').options.prefix).toBe(false);
    expect(plan('services:\n  a: {command: a}\n  b: {command: b}\n').options.prefix).toBe(true);
    // The command writes to the terminal itself, unprefixed; the sidecar's lines say whose they are.
    expect(plan('services:\n  a: {command: a}\n', ['sh']).options.prefix).toBe(true);
    expect(plan('services:\n  a: {command: a}\n  b: {command: b}\n', ['sh']).options.prefix).toBe(true);
  });

  it('takes prefix: from the config either way', () => {
    expect(plan('services:\n  a: {command: a}\nprefix: true\n').options.prefix).toBe(true);
    expect(plan('services:\n  a: {command: a}\n  b: {command: b}\nprefix: false\n').options.prefix).toBe(false);
  });

  it('passes the command line\'s supervision options through', () => {
    const rewrites = new Map([[15, 3]]);
    expect(plan('services:\n  a: {command: a}\n', [], { gracePeriodMs: 20_000, groupSignals: true, rewrites, noNewPrivs: true }).options).toEqual({
      main: 'a', signals: 'all', prefix: false, budgetMs: 20_000, groupSignals: true, rewrites, noNewPrivs: true,
    });
  });
});

describe('planServices: environments', () => {
  const YAML = [
    'secrets:',
    '  - { ref: "vault:secret/app#db", env: DB_PASSWORD }',
    '  - { ref: "vault:secret/app#key", env: API_KEY }',
    'services:',
    '  web:',
    '    command: w',
    '    secrets: [DB_PASSWORD]',
    '    environment: {MODE: web, PORT: 8080, FROM_INIT: , API_KEY: , MISSING: }',
    '  worker:',
    '    command: k',
    '    secrets: [API_KEY, DB_PASSWORD]',
    '    environment: [MODE=worker, DB_PASSWORD]',
    '  plain:',
    '    command: p',
    '    environment: [FROM_INIT, DB_PASSWORD=literal]',
    '',
  ].join('\n');
  const CHILD_ENV = { PATH: '/usr/bin:/bin', FROM_INIT: 'init-value', DB_PASSWORD: 's3cret', API_KEY: 'k3y', MODE: 'none' };

  const envs = (yaml = YAML, command: string[] = [], childEnv: Record<string, string> = CHILD_ENV) =>
    Object.fromEntries(plan(yaml, command).environments(childEnv).map((p) => [p.config.name, p.env]));

  it('gives config secrets only to the services that list them, and everything else to all', () => {
    expect(envs()).toEqual({
      web: { PATH: '/usr/bin:/bin', FROM_INIT: 'init-value', DB_PASSWORD: 's3cret', MODE: 'web', PORT: '8080' },
      worker: { PATH: '/usr/bin:/bin', FROM_INIT: 'init-value', DB_PASSWORD: 's3cret', API_KEY: 'k3y', MODE: 'worker' },
      plain: { PATH: '/usr/bin:/bin', FROM_INIT: 'init-value', DB_PASSWORD: 'literal', MODE: 'none' },
    });
  });

  it('NAME: null takes the value from the child environment, never a config secret\'s', () => {
    const { web } = envs();
    expect(web.FROM_INIT).toBe('init-value');
    // API_KEY is a config secret web does not list: `API_KEY:` does not let it in.
    expect(web).not.toHaveProperty('API_KEY');
    // Absent from the child environment: left out, not set to "".
    expect(web).not.toHaveProperty('MISSING');
  });

  it('NAME: null for a secret the service does list keeps it', () => {
    expect(envs().worker.DB_PASSWORD).toBe('s3cret');
  });

  it('NAME: null takes a variable that is not a config secret even if it looks like one', () => {
    const yaml = 'services:\n  a: {command: a, environment: [TOKEN]}\n';
    expect(envs(yaml, [], { TOKEN: 'from-env-ref' }).a).toEqual({ TOKEN: 'from-env-ref' });
  });

  it('gives the command every config secret and the whole child environment', () => {
    const { command } = envs(YAML, ['sh']);
    expect(command).toEqual(CHILD_ENV);
  });

  it('does not change the child environment it was given', () => {
    const childEnv = { ...CHILD_ENV };
    envs(YAML, [], childEnv);
    expect(childEnv).toEqual(CHILD_ENV);
  });

  it('sets HOME for a service with a user, from /etc/passwd or / for an unknown uid', () => {
    const yaml = 'services:\n  root: {command: a, user: root}\n  nobody: {command: b, user: "4242424"}\n  none: {command: c}\n';
    const prepared = plan(yaml).environments({ HOME: '/init-home' });
    expect(prepared.map((p) => [p.config.name, p.env.HOME, p.user?.uid])).toEqual([
      ['root', '/root', 0],
      ['nobody', '/', 4242424],
      ['none', '/init-home', undefined],
    ]);
  });

  it('runs services without a user of their own as --user', () => {
    const prepared = plan('services:\n  a: {command: a}\n  b: {command: b, user: root}\n', [], { user: '4242424' }).environments({});
    expect(prepared.map((p) => [p.config.name, p.user?.uid, p.env.HOME])).toEqual([['a', 4242424, '/'], ['b', 0, '/root']]);
  });

  it('looks users up when planning: a missing one fails before anything runs', () => {
    expect(() => plan('services:\n  a: {command: a, user: no-such-user-here}\n')).toThrow(InitError);
  });
});

describe('planServices: --workdir', () => {
  it('is the working directory of every service without working_dir', () => {
    const config = parseConfig('services:\n  a: {command: a}\n  b: {command: b, working_dir: /srv}\n', '/etc/sesame.yaml');
    const options = parseCommandLine(['-w', '/app', '-c', '/etc/sesame.yaml'], {}) as InitOptions;
    const { configs } = planServices(config, options);
    expect(configs.map((s) => [s.name, s.workingDir])).toEqual([['a', '/app'], ['b', '/srv']]);
  });
});
