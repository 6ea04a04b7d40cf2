// npm run bench (second part): what secrets cost at start-up. dist/init starts /bin/true
// with 0, 1, 50 and 200 Vault references, served over loopback by the Vault test server
// (test/support/vault-server.ts, bundled here with esbuild), plus one file: reference for a
// start that needs no network and no node-vault. Medians of interleaved runs, as ratios to
// the start without secrets; and the one-off cost of evaluating the node-vault chunk,
// which only a start with a vault: reference pays.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { CACHE, INIT, NODE, ROOT, compile, table } from './common.mjs';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 8 : 25;
const WARMUP = 3;

mkdirSync(CACHE, { recursive: true });
const runner = compile(join(ROOT, 'bench/programs/runner.c'), 'runner');
const serverBundle = join(CACHE, 'vault-server.cjs');
await build({ entryPoints: [join(ROOT, 'test/support/vault-server.ts')], outfile: serverBundle, bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' });
const { startVault } = await import(serverBundle);

const vault = await startVault();
for (let i = 0; i < 200; i++) vault.kvPut('secret', `app${i}`, { value: `secret-${i}` });
vault.kvPut('secret', 'many', Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, `v${i}`])));
const dir = mkdtempSync(join(tmpdir(), 'sesame-bench-'));
writeFileSync(join(dir, 'secret'), 'from-a-file\n');

const base = [`PATH=${process.env.PATH}`];
const vaultEnv = [`VAULT_ADDR=${vault.url}`, `VAULT_TOKEN=${vault.rootToken}`];
const refs = (n, path) => Array.from({ length: n }, (_, i) => `S${i}=vault:secret/${path ? `${path}#k${i}` : `app${i}#value`}`);
const CASES = [
  ['no secrets', base],
  ['1 file: secret', [...base, `S0=file:${join(dir, 'secret')}`]],
  ['1 Vault secret', [...base, ...vaultEnv, ...refs(1)]],
  ['50 Vault secrets, 50 paths', [...base, ...vaultEnv, ...refs(50)]],
  ['200 Vault secrets, 200 paths', [...base, ...vaultEnv, ...refs(200)]],
  ['200 Vault secrets, 1 path', [...base, ...vaultEnv, ...refs(200, 'many')]],
];

// The runner must run beside the event loop that serves Vault: spawn, never spawnSync.
const commands = CASES.flatMap(([, env], i) => [...(i ? [':::'] : []), 'env', '-i', ...env, INIT, '--', '/bin/true']);
const output = await new Promise((resolve, reject) => {
  const child = spawn(runner, ['startup', String(ROUNDS + WARMUP), String(WARMUP), ...commands], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout.on('data', (d) => { text += d; });
  child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`runner exited ${code}`))));
});
const times = CASES.map(() => []);
for (const line of output.trim().split('\n')) {
  const [index, wallNs, , status] = line.split(' ').map(Number);
  if (status !== 0) throw new Error(`case "${CASES[index][0]}" exited with status ${status}`);
  times[index].push(wallNs / 1e6);
}
// The upper middle sample, not common.mjs's interpolated median (they differ for an even n, such as
// --quick's 8): kept as it was, so that this bench's numbers stay comparable with earlier runs.
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// node-vault's chunk, evaluated alone in the pinned Node: what a vault: start pays once.
const chunkMs = median(Array.from({ length: 9 }, () => Number(execFileSync(NODE, ['-e', `
  const t = process.hrtime.bigint(); require(${JSON.stringify(join(ROOT, 'dist/init-node-vault.cjs'))});
  console.log(Number(process.hrtime.bigint() - t) / 1e6);`], { encoding: 'utf8' }))));
await vault.stop();

const floor = median(times[0]);
const rows = CASES.map(([name], i) => [name, median(times[i]).toFixed(2), (median(times[i]) / floor).toFixed(2)]);
console.log(`\n## Secrets at start-up (n=${ROUNDS} each, interleaved; Vault test server on loopback)\n`);
console.log(table(['start of dist/init -- /bin/true', '>median ms', '>ratio'], rows));
console.log(`\nnode-vault chunk (node-vault, axios, tv4, mustache), evaluated alone: ${chunkMs.toFixed(1)} ms median of 9;`);
console.log('paid only by a start that has a vault: reference (the no-secret and file: starts never load it).');
console.log(`command: node bench/secrets.mjs${quick ? ' --quick' : ''}`);
