// init as PID 1 against a real Keywhiz: opt-in, never in CI. SESAME_TEST_KEYWHIZ is the
// server's URL (https://localhost:4444), SESAME_TEST_KEYWHIZ_CERTS a directory holding
// client.crt + client.key and noSecretsClient.crt + noSecretsClient.key (Keywhiz's test
// client certificates, from server/src/test/resources/clients/*.p12) and ca.pem (the CA in
// its dev_and_test_truststore.p12). The server runs its development configuration with the
// `db-seed` data; test/support/KEYWHIZ-SERVER.md says how it was built and run.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/exit-codes';
import { runAsPid1, type Finished } from '../support/pid1';

const URL_ = process.env.SESAME_TEST_KEYWHIZ;
const CERTS = process.env.SESAME_TEST_KEYWHIZ_CERTS ?? '';
if (!URL_) console.log('keywhiz-real.test.ts: skipped: set SESAME_TEST_KEYWHIZ (and SESAME_TEST_KEYWHIZ_CERTS) to run init against a real Keywhiz');
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe.skipIf(!URL_)('init against a real Keywhiz (development data)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-keywhiz-real-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (client: string, env: NodeJS.ProcessEnv, args: string[] = ['--', 'sh', '-c', 'printf "%s|%s" "$A" "$B"']): Promise<Finished> =>
    runAsPid1(['--secrets-timeout', '10s', ...args], {
      env: { PATH, SESAME_KEYWHIZ_SERVER: URL_, SESAME_KEYWHIZ_CA: join(CERTS, 'ca.pem'), SESAME_KEYWHIZ_CERT: join(CERTS, `${client}.crt`), SESAME_KEYWHIZ_KEY: join(CERTS, `${client}.key`), ...env },
    });

  it('two secrets in one batch, decoded', async () => {
    const r = await run('client', { A: 'keywhiz:General_Password', B: 'keywhiz:Nobody_PgPass' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('asddas|somehost.someplace.com:5432:somedatabase:misterawesome:hell0McFly\n'); // the secret ends in a newline
  });

  it('file metadata: mode and owner from Keywhiz, the file named by the secret', async () => {
    const out = join(dir, 'out');
    const config = join(dir, 'kw.yaml');
    writeFileSync(config, `secrets:\n  - ref: keywhiz:Nobody_PgPass\n    file: ${out}/\n`);
    const r = await run('client', {}, ['-c', config, '--', 'true']);
    expect(r.stderr).toBe('');
    expect(readdirSync(out)).toEqual(['Nobody_PgPass']);
    const st = statSync(join(out, 'Nobody_PgPass'));
    expect([st.mode & 0o777, st.uid]).toEqual([0o400, 65534]);
  });

  it('403 (not assigned): 77; 404 (no such secret): 69; 401 (unknown client): 77', async () => {
    const forbidden = await run('client', { A: 'keywhiz:Hacking_Password' });
    expect(forbidden.stderr).toBe('sesame: error: A: keywhiz:Hacking_Password: secret Hacking_Password is not assigned to this client\n');
    expect(forbidden.code).toBe(EXIT.NO_PERMISSION);
    const missing = await run('client', { A: 'keywhiz:NoSuch' });
    expect(missing.stderr).toBe('sesame: error: A: keywhiz:NoSuch: no secret NoSuch in Keywhiz\n');
    expect(missing.code).toBe(EXIT.UNAVAILABLE);
    const unknown = await run('noSecretsClient', { A: 'keywhiz:General_Password' });
    expect(unknown.stderr).toBe('sesame: error: A: keywhiz:General_Password: Keywhiz does not accept this client certificate (unknown or disabled client)\n');
    expect(unknown.code).toBe(EXIT.NO_PERMISSION);
  });
});
