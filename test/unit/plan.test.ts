import { describe, expect, it } from 'vitest';
import { InitError } from '../../src/exit-codes';
import { planFromEnv } from '../../src/secrets/plan';

describe('planFromEnv', () => {
  it('plans each reference for the variable that holds it, and marks it consumed', () => {
    const plan = planFromEnv({ DB: 'vault:secret/app#db', KEY: 'keywhiz:api', PLAIN: 'hello', PATH: '/bin' });
    expect(plan.requests.map((r) => [r.origin, r.ref.scheme, r.target])).toEqual([
      ['DB', 'vault', { kind: 'env', name: 'DB' }],
      ['KEY', 'keywhiz', { kind: 'env', name: 'KEY' }],
    ]);
    expect(plan.consumed).toEqual(['DB', 'KEY']);
  });

  it('fills NAME from NAME_FILE under /run/secrets, and consumes both', () => {
    const plan = planFromEnv({ POSTGRES_PASSWORD_FILE: '/run/secrets/pg' });
    expect(plan.requests).toHaveLength(1);
    expect(plan.requests[0]).toMatchObject({ origin: 'POSTGRES_PASSWORD_FILE', target: { kind: 'env', name: 'POSTGRES_PASSWORD' }, ref: { scheme: 'file', path: '/run/secrets/pg' } });
    expect(plan.consumed).toEqual(['POSTGRES_PASSWORD_FILE', 'POSTGRES_PASSWORD']);
  });

  it('leaves other NAME_FILE variables alone unless SESAME_FILE_VARS names them', () => {
    expect(planFromEnv({ LOG_FILE: '/var/log/app.log', PID_FILE: '/run/app.pid' }).requests).toEqual([]);
    const plan = planFromEnv({ API_KEY_FILE: '/etc/app/key', LOG_FILE: '/var/log/app.log', SESAME_FILE_VARS: 'API_KEY' });
    expect(plan.requests.map((r) => r.target)).toEqual([{ kind: 'env', name: 'API_KEY' }]);
    expect(planFromEnv({ A_FILE: '/x/a', SESAME_FILE_VARS: '*' }).requests).toHaveLength(1);
  });

  it('refuses NAME and NAME_FILE both set', () => {
    expect(() => planFromEnv({ PW: 'x', PW_FILE: '/run/secrets/pw' })).toThrow(new InitError('both PW and PW_FILE are set: keep one', 78));
  });

  it('skips variables listed in SESAME_LITERAL and init\'s own variables', () => {
    const plan = planFromEnv({ DATABASE_URL: 'file:/data/app.db', SESAME_LITERAL: 'DATABASE_URL', SESAME_X: 'vault:a/b#c' });
    expect(plan.requests).toEqual([]);
  });

  it('marks SESAME_OPTIONAL_SECRETS as optional, or all with *', () => {
    const env = { A: 'file:/a', B: 'file:/b', SESAME_OPTIONAL_SECRETS: 'B' };
    expect(planFromEnv(env).requests.map((r) => r.optional)).toEqual([false, true]);
    expect(planFromEnv({ ...env, SESAME_OPTIONAL_SECRETS: '*' }).requests.map((r) => r.optional)).toEqual([true, true]);
  });

  it('reports a malformed reference before anything is fetched', () => {
    expect(() => planFromEnv({ OK: 'vault:secret/a#b', BAD: 'vault:secret/app' })).toThrow(/^BAD: missing #key/);
  });
});
