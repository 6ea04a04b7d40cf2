// The demo's Vault: a STAND-IN, not HashiCorp Vault or OpenBao. It is the project's own test
// server (test/support/vault-server.ts), which answers the HTTP API as Vault does, so that the
// demo shows a real AppRole login and a KV v2 read without any server installed.
//
//   node examples/demo/vault-stand-in.mjs DIR
//
// writes DIR/vault-addr (its http://127.0.0.1:PORT address), DIR/role-id and DIR/secret-id
// (an AppRole whose policy reads secret/data/demo), stays up until SIGTERM, and then prints
// what it was asked, as an audit log would.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = process.argv[2];
if (!dir) {
  console.error('usage: vault-stand-in.mjs DIR');
  process.exit(64);
}

// TypeScript, bundled in memory: the demo needs nothing but what `npm ci` installed.
const bundled = await build({
  entryPoints: [join(root, 'test/support/vault-server.ts')],
  bundle: true, platform: 'node', format: 'cjs', write: false, logLevel: 'error',
});
const module = { exports: {} };
new Function('module', 'exports', 'require', bundled.outputFiles[0].text)(module, module.exports, (await import('node:module')).createRequire(import.meta.url));
const { startVault } = module.exports;

const vault = await startVault({ rootToken: `demo-root-${process.pid}` });
vault.kvPut('secret', 'demo', { db_password: 'demo-db-password' });
vault.addPolicy('demo-app', ['secret/data/demo']);
const role = vault.addAppRole('demo', { policies: ['demo-app'] });
writeFileSync(join(dir, 'role-id'), `${role.roleId}\n`);
writeFileSync(join(dir, 'secret-id'), `${role.secretId}\n`, { mode: 0o600 });
writeFileSync(join(dir, 'vault-addr'), vault.url);
console.log(`vault  | a Vault STAND-IN (the project's test server, not a real Vault) on ${vault.url}: secret/demo, AppRole "demo"`);

const stop = async () => {
  const asked = vault.requests.map((r) => `${r.method} ${r.path} -> ${r.status}`);
  console.log(`vault  | the stand-in was asked: ${asked.length ? asked.join(', ') : 'nothing'}`);
  await vault.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', () => {}); // ^C is for init; the demo script stops the stand-in afterwards
