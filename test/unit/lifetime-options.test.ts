// The options for secrets over time: flags, their variables, defaults, and the config keys,
// each mistake one line naming the flag, variable or key path (exit 64 or 78).
import { describe, expect, it } from 'vitest';
import { parseCommandLine, type InitOptions } from '../../src/cli';
import { parseConfig } from '../../src/config/file';
import { InitError } from '../../src/exit-codes';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseCommandLine(argv, env) as InitOptions;
const PATH = '/etc/sesame.yaml';

function failure(run: () => unknown): [string, number] {
  try {
    run();
  } catch (error) {
    if (error instanceof InitError) return [error.message, error.exitCode];
    throw error;
  }
  throw new Error('did not fail');
}

describe('flags and variables', () => {
  it('defaults: refresh 5m, restart, exit, revoke, 2s:8s, no splay, 0.9', () => {
    expect(parse(['app'])).toMatchObject({
      refresh: 300_000, onChange: { kind: 'restart' }, onExpiry: 'exit', revoke: true,
      wait: { quietMs: 2000, maxWaitMs: 8000 }, splayMs: 0, leaseThreshold: 0.9,
    });
  });

  it('reads each from its variable, and a flag wins', () => {
    const env = {
      SESAME_REFRESH: 'never', SESAME_ON_CHANGE: 'signal:HUP', SESAME_ON_EXPIRY: 'keep', SESAME_REVOKE: 'false',
      SESAME_WAIT: '5s', SESAME_SPLAY: '30s', SESAME_LEASE_THRESHOLD: '0.8',
    };
    expect(parse(['app'], env)).toMatchObject({
      refresh: 'never', onChange: { kind: 'signal', signal: 1 }, onExpiry: 'keep', revoke: false,
      wait: { quietMs: 5000, maxWaitMs: 20_000 }, splayMs: 30_000, leaseThreshold: 0.8,
    });
    expect(parse(['--refresh', '1m', '--on-change', 'exit', '--on-expiry', 'exit', '--wait', '1s:3s', '--', 'app'], env)).toMatchObject({
      refresh: 60_000, onChange: { kind: 'exit' }, onExpiry: 'exit', wait: { quietMs: 1000, maxWaitMs: 3000 },
    });
    expect(parse(['--no-revoke', 'app']).revoke).toBe(false);
  });

  it('names what was wrong, exit 64', () => {
    expect(failure(() => parse(['--refresh', '0s', 'app']))).toEqual(['--refresh: "0s" must be more than 0 (or never)', 64]);
    expect(failure(() => parse(['app'], { SESAME_ON_CHANGE: 'reload' }))).toEqual(['SESAME_ON_CHANGE: "reload" is not one of restart, exit, none, signal:NAME (e.g. signal:HUP)', 64]);
    expect(failure(() => parse(['app'], { SESAME_ON_CHANGE: 'signal:NOPE' }))[1]).toBe(64);
    expect(failure(() => parse(['app'], { SESAME_ON_EXPIRY: 'later' }))).toEqual(['SESAME_ON_EXPIRY: "later" is not one of exit, keep', 64]);
    expect(failure(() => parse(['--wait', '5s:1s', 'app']))).toEqual(['--wait: "5s:1s": MAX must not be less than MIN', 64]);
    expect(failure(() => parse(['app'], { SESAME_LEASE_THRESHOLD: '1.5' }))).toEqual(['SESAME_LEASE_THRESHOLD: "1.5" is not a share between 0.5 and 0.95 (e.g. 0.9)', 64]);
    expect(failure(() => parse(['app'], { SESAME_REVOKE: 'perhaps' }))[0]).toBe('SESAME_REVOKE: "perhaps" is not a boolean (use true or false)');
  });
});

describe('config keys', () => {
  const config = (text: string) => parseConfig(text, PATH);

  it('reads refresh, on_change and service', () => {
    const c = config([
      'secrets:',
      '  - {ref: "vault:secret/a#k", env: A, refresh: 1m}',
      '  - {ref: "vault:secret/b#k", env: B, refresh: never}',
      'templates:',
      '  - {src: /t, dest: /d, service: web, on_change: {signal: SIGHUP}}',
      '  - {src: /t2, dest: /d2, on_change: {command: [nginx, -s, reload], timeout: 5s}}',
      'services:',
      '  web: {command: [web], on_change: none}',
      '  app: {command: [app]}',
    ].join('\n'));
    expect(c.secrets.map((s) => s.refresh)).toEqual([60_000, 'never']);
    expect(c.templates.map((t) => [t.service, t.onChange])).toEqual([
      ['web', { kind: 'signal', signal: 1 }],
      [undefined, { kind: 'command', argv: ['nginx', '-s', 'reload'], timeoutMs: 5000 }],
    ]);
    expect(c.services?.services.map((s) => s.onChange)).toEqual([{ kind: 'none' }, { kind: 'restart' }]);
  });

  it('names the key path, exit 78', () => {
    const cases: Array<[string, string]> = [
      ['secrets:\n  - {ref: "vault:secret/a#k", env: A, refresh: soon}\n', 'secrets[0].refresh: "soon" is not a duration (e.g. 10s, 500ms, 1m30s, or a number of seconds)'],
      ['services:\n  web: {command: [web], on_change: reload}\n', 'services.web.on_change: "reload" is not one of restart, none, {signal: NAME} or {command: [program, args...]}'],
      ['services:\n  web: {command: [web], on_change: {signal: HUP, command: [x]}}\n', 'services.web.on_change: needs exactly one of signal or command'],
      ['services:\n  web: {command: [web], on_change: {signal: NOPE}}\n', 'services.web.on_change.signal: unknown signal "NOPE" (expected a name like TERM or a number like 15)'],
      ['services:\n  web: {command: [web], on_change: {command: []}}\n', 'services.web.on_change.command: must be a non-empty list: [program, args...]'],
      ['templates:\n  - {src: /t, dest: /d, service: web}\n', 'templates[0].service: only goes with services (without them, on_change acts on the command)'],
      ['templates:\n  - {src: /t, dest: /d, service: db}\nservices:\n  web: {command: [web]}\n', 'templates[0].service: no service named "db"'],
      ['templates:\n  - {src: /t, dest: /d, on_change: restart}\nservices:\n  web: {command: [web]}\n', 'templates[0].on_change: restart needs service: (which service to restart)'],
      ['services:\n  web: {command: [web], on_change: exit}\n', 'services.web.on_change: "exit" is not one of restart, none, {signal: NAME} or {command: [program, args...]}'],
    ];
    for (const [text, why] of cases) expect(failure(() => config(text))).toEqual([`${PATH}: ${why}`, 78]);
  });
});
