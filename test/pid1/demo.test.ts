// The README's first command ends in examples/demo/run.sh: it must keep working, on its own
// and with ^C typed on a terminal (the "clean shutdown on ^C").
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';
import { startOnPty } from '../support/pty';

const RUN = join(ROOT, 'examples/demo/run.sh');

describe('the demo (npm run demo)', () => {
  it('runs a oneshot, then the api once it is done, then the client once the api is ready, and stops in reverse order', () => {
    const r = spawnSync('sh', [RUN], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEMO_PORT: '18091' } });
    const out = r.stdout;
    const order = (...texts: string[]) => texts.map((t) => {
      const at = (out + r.stderr).indexOf(t);
      expect(at, t).toBeGreaterThanOrEqual(0);
      return at;
    });
    // Output of the services, prefixed and whole lines.
    const [migrated, apiConfig, listening, client] = order('migrate | schema is up to date', 'api     | config rendered by init:', 'api     | listening on 127.0.0.1:18091', 'client  | I am pid');
    expect(migrated).toBeLessThan(apiConfig);
    expect(listening).toBeLessThan(client);
    expect(out).toContain('api     | config rendered by init: ');
    expect(out).toMatch(/api {5}\| config rendered by init: \S+ \(has the database password\)/);
    expect(out).toContain('api     | database password in my environment: no');
    expect(out).toContain('client  | API_TOKEN in my environment: no (only the api service gets it)');
    expect(out).toContain('my parent is pid 1 (init)');
    expect(out.match(/client {2}\| GET \/hello -> 200 hello from pid \d+/g)).toHaveLength(5);
    expect(out).toContain('client  | left 10 orphans behind; zombies now: 0');
    expect(out).toContain('api     | SIGTERM: closing the server');
    // The password came from the Vault stand-in, through an AppRole login, in three requests;
    // the secret_id file was deleted once init had logged in.
    expect(out).toMatch(/vault {2}\| a Vault STAND-IN \(the project's test server, not a real Vault\) on http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toContain('vault  | the stand-in was asked: POST /v1/auth/approle/login -> 200, GET /v1/sys/internal/ui/mounts/secret/demo -> 200, GET /v1/secret/data/demo -> 200');
    expect(out).toContain('demo: the secret_id file is gone: init deleted it after logging in');
    // init's own lines: readiness before the client starts, the api stopped after the client.
    const err = r.stderr;
    expect(err.indexOf('sesame: api: ready (http://127.0.0.1:18091/health answers)')).toBeLessThan(err.indexOf('sesame: client: started'));
    expect(err.indexOf('sesame: client: exited with code 0')).toBeLessThan(err.indexOf('sesame: api: stopping (SIGTERM'));
    expect(out).toMatch(/demo: init exited with 0\n$/);
    expect(r.status).toBe(0);
  }, 40_000);

  it('stops everything cleanly on ^C, the client first, and exits with the client\'s code', async () => {
    const session = startOnPty(['sh', RUN], { env: { ...process.env, DEMO_PORT: '18092' }, timeoutS: 30 });
    await session.expect(/client {2}\| GET \/hello -> 200/, 20_000);
    session.send('\x03');
    await session.expect(/sesame: SIGINT received; stopping/);
    await session.expect(/client {2}\| got SIGTERM from init, exiting with 143/);
    await session.expect(/api {5}\| SIGTERM: closing the server/);
    await session.expect(/demo: init exited with 143/);
    const done = await session.done;
    expect(done.screen).not.toContain('sending SIGKILL');
    expect(done.report?.exit).toBe(0);
  }, 40_000);
});
