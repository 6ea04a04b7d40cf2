// The application's NODE_* (and UV_*, OPENSSL_*) variables are not init's: they must not
// change how init runs or stop it, and its children must get them unchanged. Node reads
// many of them at start-up (NODE_OPTIONS, NODE_EXTRA_CA_CERTS, NODE_REPL_EXTERNAL_MODULE,
// NODE_ICU_DATA, NODE_DEBUG_NATIVE, NODE_TLS_REJECT_UNAUTHORIZED, UV_THREADPOOL_SIZE,
// OPENSSL_CONF, ...), before any of init's code runs; the one-file /init's entry stub hides
// them from Node and init hands them back to the children.
// Regression: NODE_REPL_EXTERNAL_MODULE made init exit 9 before starting anything, and
// NODE_EXTRA_CA_CERTS made init trust another CA for Vault.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki } from '../support/certs';
import { runAsPid1 } from '../support/pid1';
import { startVault, type VaultServer } from '../support/vault-server';

const pki = makePki();
const PATH = process.env.PATH as string;
let vault: VaultServer;
beforeAll(async () => {
  vault = await startVault({ tls: { key: pki.server.key, cert: pki.server.cert } });
  vault.kvPut('secret', 'app', { password: 'from-vault' });
});
afterAll(async () => {
  await vault?.stop();
});

const APPLICATION = (dir: string) => {
  const preload = join(dir, 'preload.js');
  writeFileSync(preload, 'process.stdout.write("preload ran in init\\n");\n');
  return {
    NODE_REPL_EXTERNAL_MODULE: preload,
    NODE_OPTIONS: `--require ${preload}`,
    NODE_EXTRA_CA_CERTS: pki.ca.certPath, // would make init trust the test CA
    NODE_TLS_REJECT_UNAUTHORIZED: '0',
    NODE_DEBUG: 'tls',
    UV_THREADPOOL_SIZE: '1',
    OPENSSL_CONF: '/nonexistent/openssl.cnf',
  };
};
const PRINT = 'for v in NODE_REPL_EXTERNAL_MODULE NODE_OPTIONS NODE_EXTRA_CA_CERTS NODE_TLS_REJECT_UNAUTHORIZED NODE_DEBUG UV_THREADPOOL_SIZE OPENSSL_CONF; do eval "echo $v=\\${$v-unset}"; done';

describe('NODE_* variables of the application', () => {
  it('start init normally, and reach the child unchanged', async () => {
    const app = APPLICATION(pki.dir);
    const r = await runAsPid1(['--', 'sh', '-c', `echo "db=$DB"; ${PRINT}`], {
      env: { PATH, VAULT_ADDR: vault.url, VAULT_TOKEN: 'root', VAULT_CACERT: pki.ca.certPath, DB: 'vault:secret/app#password', ...app },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`db=from-vault\n${Object.entries(app).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
    expect(r.code).toBe(0);
  });

  it('NODE_EXTRA_CA_CERTS does not change whom init trusts for Vault', async () => {
    // No VAULT_CACERT: the test CA is not trusted, with or without NODE_EXTRA_CA_CERTS.
    const base = { PATH, VAULT_ADDR: vault.url, VAULT_TOKEN: 'root', DB: 'vault:secret/app#password' };
    const without = await runAsPid1(['--', 'true'], { env: base });
    const withExtra = await runAsPid1(['--', 'true'], { env: { ...base, NODE_EXTRA_CA_CERTS: pki.ca.certPath } });
    expect(without.code).toBe(69);
    expect(without.stderr).toMatch(/certificate/);
    expect(withExtra.code).toBe(without.code);
    expect(withExtra.stderr).toBe(without.stderr);
  });
});
