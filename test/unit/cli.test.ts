import { describe, expect, it } from 'vitest';
import { parseCommandLine, type InitOptions } from '../../src/cli';
import { InitError } from '../../src/exit-codes';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseCommandLine(argv, env) as InitOptions;

describe('parseCommandLine', () => {
  it('stops at the first non-option', () => {
    const o = parse(['-g', 'nginx', '-g', 'daemon off;']);
    expect(o.command).toEqual(['nginx', '-g', 'daemon off;']);
    expect(o.groupSignals).toBe(true);
  });

  it('has defaults that fit docker stop', () => {
    const o = parse(['app']);
    expect(o).toMatchObject({ groupSignals: false, gracePeriodMs: 8000, noNewPrivs: false, logLevel: undefined, logFormat: 'text', user: undefined, workdir: undefined });
    expect(o.rewrites.size).toBe(0);
    // docker stop sends the image's STOPSIGNAL: SIGQUIT in the official nginx and php images.
    expect([...o.stopSignals].sort((a, b) => a - b)).toEqual([2, 3, 15]);
  });

  it('takes the stop signals from --stop-signals or SESAME_STOP_SIGNALS', () => {
    expect([...parse(['--stop-signals', 'TERM,INT', 'x']).stopSignals]).toEqual([15, 2]);
    expect([...parse(['x'], { SESAME_STOP_SIGNALS: 'SIGTERM, 10' }).stopSignals]).toEqual([15, 10]);
    expect([...parse(['--stop-signals', 'HUP', 'x'], { SESAME_STOP_SIGNALS: 'TERM' }).stopSignals]).toEqual([1]);
  });

  it('reads every option from its environment variable', () => {
    const o = parse(['app'], {
      SESAME_GROUP_SIGNALS: 'yes', SESAME_REWRITE: 'TERM:QUIT', SESAME_GRACE_PERIOD: '20s', SESAME_USER: 'www-data',
      SESAME_NO_NEW_PRIVS: '1', SESAME_WORKDIR: '/srv', SESAME_LOG_LEVEL: 'debug',
    });
    expect(o).toMatchObject({ groupSignals: true, gracePeriodMs: 20_000, user: 'www-data', noNewPrivs: true, workdir: '/srv', logLevel: 'debug' });
    expect(o.rewrites.get(15)).toBe(3);
  });

  it('refuses a rewrite that could never apply, and conflicting ones; a flag rule wins over the variable (issue 13)', () => {
    const refused = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
      try {
        parseCommandLine(argv, env);
      } catch (error) {
        expect(error).toBeInstanceOf(InitError);
        expect((error as InitError).exitCode).toBe(64);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused(['-r', 'KILL:TERM', 'x'])).toBe('--rewrite: SIGKILL cannot be caught: a rewrite from it would never apply');
    expect(refused(['-r', 'SEGV:TERM', 'x'])).toMatch(/^--rewrite: SIGSEGV is a synchronous fault/);
    expect(refused(['-r', 'TERM:QUIT', '-r', 'TERM:INT', 'x'])).toBe('--rewrite: "TERM:INT" conflicts with SIGTERM:SIGQUIT given before: one rule per signal');
    expect(refused(['x'], { SESAME_REWRITE: 'TERM:QUIT,TERM:0' })).toBe('SESAME_REWRITE: "TERM:0" conflicts with SIGTERM:SIGQUIT given before: one rule per signal');
    expect([...parse(['-r', 'TERM:INT', 'x'], { SESAME_REWRITE: 'TERM:QUIT,HUP:0' }).rewrites].sort()).toEqual([[1, 0], [15, 2]]);
  });

  it('lets a flag win over its variable', () => {
    const o = parse(['-t', '1s', '-u', 'app', '-l', 'error', 'x'], { SESAME_GRACE_PERIOD: '20s', SESAME_USER: 'root', SESAME_LOG_LEVEL: 'debug' });
    expect(o).toMatchObject({ gracePeriodMs: 1000, user: 'app', logLevel: 'error' });
  });

  it('takes --check, --render and --show-secrets from variables too, with no command needed', () => {
    expect(parse([], { SESAME_CHECK: '1' })).toMatchObject({ check: true, render: false, command: [] });
    expect(parse(['nginx'], { SESAME_RENDER: 'true', SESAME_SHOW_SECRETS: 'yes' })).toMatchObject({ render: true, showSecrets: true });
    expect(() => parseCommandLine(['x'], { SESAME_SHOW_SECRETS: '1' })).toThrow('--show-secrets only goes with --render');
    expect(() => parseCommandLine(['x'], { SESAME_CHECK: 'maybe' })).toThrow('SESAME_CHECK: "maybe" is not a boolean');
  });

  it('treats an empty variable as unset', () => {
    expect(parse(['x'], { SESAME_USER: '', SESAME_WORKDIR: '' })).toMatchObject({ user: undefined, workdir: undefined });
  });

  it('returns 0 for --help and --version instead of options', () => {
    // (they print to fd 1; the PID-1 tests check the text)
    expect(parseCommandLine(['--version'], {})).toBe(0);
  });

  it.each([
    [['--log-level', 'loud', 'x'], {}, /argument 'loud' is invalid/],
    [['x'], { SESAME_LOG_LEVEL: 'loud' }, /^SESAME_LOG_LEVEL: "loud" is not one of error, warn, info, debug$/],
    [['x'], { SESAME_NO_NEW_PRIVS: 'maybe' }, /^SESAME_NO_NEW_PRIVS: "maybe" is not a boolean/],
    [['x'], { SESAME_REWRITE: 'TERM' }, /^SESAME_REWRITE: "TERM" is not FROM:TO/],
    [['-w', '', 'x'], {}, /^--workdir: must not be empty$/],
    [['--stop-signals', 'TERM,KILL', 'x'], {}, /^--stop-signals: SIGKILL cannot be a stop signal/],
    [['x'], { SESAME_STOP_SIGNALS: ',' }, /^SESAME_STOP_SIGNALS: no signal given/],
    [['x'], { SESAME_STOP_SIGNALS: 'TERM,BOGUS' }, /^SESAME_STOP_SIGNALS: unknown signal "BOGUS"/],
  ])('rejects %j %j with a usage error', (argv, env, message) => {
    try {
      parseCommandLine(argv, env);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InitError);
      expect((error as InitError).exitCode).toBe(64);
      expect((error as InitError).message).toMatch(message);
    }
  });
});
