// npm run bench (second part): what secrets and templates cost at start-up, and what PID 1
// costs at rest once they are in place.
//
//   node bench/secrets.mjs [--quick] [--json FILE] [--previous FILE]
//
// 1. Start-up: dist/init starts /bin/true with no secrets, a file: secret, 1 to 200 Vault
//    references (served over loopback by the Vault test server, test/support/vault-server.ts,
//    bundled here with esbuild; plain HTTP and TLS), one Keywhiz secret (the Keywhiz test
//    server, mutual TLS), and a Liquid and an envsubst template; medians of interleaved runs
//    (bench/programs/runner.c), as ratios to the start without secrets. envconsul and
//    `bao agent` (exec mode) read the same secrets from the same server when their binaries
//    are found: SESAME_ENVCONSUL / SESAME_BAO, or envconsul / bao on PATH; the bench prints
//    one line for each one that is absent and goes on.
// 2. At rest, as PID 1 of a PID namespace with `sleep` as the child: VmRSS and private memory
//    (RssAnon + RssShmem) 1 s after start and once at rest, and wake-ups (voluntary context
//    switches, summed over threads) per minute at rest.
// --previous: another build of init (e.g. one made from an earlier commit) runs the
// start-ups beside dist/init, interleaved, and gets a table of its own against this one.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import {
  CACHE, INIT, NODE, ROOT, childrenOf, commandLine, compile, describeMachine, findInPath, fixed, median, memoryOf, mib, parseCli, progress, sleep,
  startSession, stopSession, stopSessionsOnExit, table, wakeupsOf, until,
} from './common.mjs';

const cli = parseCli('usage: node bench/secrets.mjs [--quick] [--json FILE] [--previous FILE]');
const PREVIOUS = cli.previous ? realpathSync(cli.previous) : null;
const ROUNDS = cli.quick ? 8 : 25;
const WARMUP = 3;
const IDLE = cli.quick ? { rounds: 1, restMs: 20_000, windowMs: 10_000 } : { rounds: 2, restMs: 30_000, windowMs: 30_000 };
stopSessionsOnExit(() => rmSync(dir, { recursive: true, force: true }));

mkdirSync(CACHE, { recursive: true });
const runner = compile(join(ROOT, 'bench/programs/runner.c'), 'runner');
const bundleSupport = async (name) => {
  const out = join(CACHE, `${name}.cjs`);
  await build({ entryPoints: [join(ROOT, `test/support/${name}.ts`)], outfile: out, bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' });
  return import(out);
};
const [{ startVault }, { startKeywhiz }, { makePki }] = await Promise.all(['vault-server', 'keywhiz-server', 'certs'].map(bundleSupport));

const dir = mkdtempSync(join(tmpdir(), 'sesame-bench-'));
const pki = makePki({ dir: join(dir, 'pki') });
const vault = await startVault();
const vaultTls = await startVault({ tls: { cert: pki.server.cert, key: pki.server.key } });
for (const v of [vault, vaultTls]) for (let i = 0; i < 200; i++) v.kvPut('secret', `app${i}`, { value: `secret-${i}` });
vault.kvPut('secret', 'many', Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, `v${i}`])));
const app = pki.client('app');
const keywhiz = await startKeywhiz({ pki, clients: { app: { secrets: ['db-password'] } }, secrets: { 'db-password': { content: 'hunter2' } } });
writeFileSync(join(dir, 'secret'), 'from-a-file\n');
writeFileSync(join(dir, 'app.conf.liquid'), 'listen {{ env.PORT }};\nserver_name {{ env.HOST | default: "localhost" }};\n');
writeFileSync(join(dir, 'app.conf.template'), 'listen ${PORT};\nserver_name ${HOST};\n');
mkdirSync(join(dir, 'out'));

// ---- What runs: sesame's cases, then the peers that are present.
const base = [`PATH=${process.env.PATH}`];
const vaultEnv = (v = vault) => [`VAULT_ADDR=${v.url}`, `VAULT_TOKEN=${v.rootToken}`, ...(v === vaultTls ? [`VAULT_CACERT=${pki.ca.certPath}`] : [])];
const refs = (n, path) => Array.from({ length: n }, (_, i) => `S${i}=vault:secret/${path ? `${path}#k${i}` : `app${i}#value`}`);
const sesame = (env, cmd, args = [], init = INIT) => ['env', '-i', ...base, ...env, init, ...args, '--', ...cmd];
const keywhizEnv = [`SESAME_KEYWHIZ_SERVER=${keywhiz.url}`, `SESAME_KEYWHIZ_CERT=${app.certPath}`, `SESAME_KEYWHIZ_KEY=${app.keyPath}`, `SESAME_KEYWHIZ_CA=${pki.ca.certPath}`, 'S0=keywhiz:db-password'];
const templateEnv = ['PORT=8080', 'HOST=example.org'];

const CASES = [
  { id: 'none', name: 'no secrets', env: [] },
  { id: 'file', name: '1 file: secret', env: [`S0=file:${join(dir, 'secret')}`] },
  { id: 'vault1', name: '1 Vault secret', env: [...vaultEnv(), ...refs(1)], target: 1.3 },
  { id: 'vault20', name: '20 Vault secrets, 20 paths', env: [...vaultEnv(), ...refs(20)] },
  { id: 'vault50', name: '50 Vault secrets, 50 paths', env: [...vaultEnv(), ...refs(50)], target: 1.6 },
  { id: 'vault200', name: '200 Vault secrets, 200 paths', env: [...vaultEnv(), ...refs(200)], target: 2.5 },
  { id: 'vault200x1', name: '200 Vault secrets, 1 path', env: [...vaultEnv(), ...refs(200, 'many')], target: 1.3 },
  { id: 'vaultTls', name: '1 Vault secret over TLS', env: [...vaultEnv(vaultTls), ...refs(1)] },
  { id: 'keywhiz', name: '1 Keywhiz secret (mutual TLS)', env: keywhizEnv, target: 1.3 },
  { id: 'liquid', name: '1 Liquid template', env: templateEnv, args: ['--template', `${join(dir, 'app.conf.liquid')}:${join(dir, 'out/liquid.conf')}`], target: 1.3 },
  { id: 'envsubst', name: '1 envsubst template', env: templateEnv, args: ['--template', `${join(dir, 'app.conf.template')}:${join(dir, 'out/envsubst.conf')}`], target: 1.3 },
];

/** A peer binary: its variable, else PATH; one line when absent. */
function peer(name, variable) {
  const bin = process.env[variable] || findInPath(name);
  if (!bin) progress(`${name} not found: set ${variable}=/path/to/${name} or put it on PATH to compare with it; skipping it`);
  return bin;
}
const envconsul = peer('envconsul', 'SESAME_ENVCONSUL');
const bao = peer('bao', 'SESAME_BAO');
const envconsulArgv = (n, cmd) => ['env', '-i', ...base, envconsul, '-once', '-vault-addr', vault.url, '-vault-token', vault.rootToken,
  '-vault-renew-token=false', ...Array.from({ length: n }, (_, i) => ['-secret', `secret/app${i}`]).flat(), ...cmd];
// bao agent in exec mode: a token file for auto-auth, one env_template per variable.
function baoAgentArgv(n, cmd, once) {
  writeFileSync(join(dir, 'bao-token'), vault.rootToken);
  const config = join(dir, `bao-agent-${n}-${once ? 'once' : 'idle'}.hcl`);
  writeFileSync(config, [
    `vault { address = "${vault.url}" }`,
    `auto_auth { method "token_file" { config = { token_file_path = "${join(dir, 'bao-token')}" } } }`,
    'template_config { exit_on_retry_failure = true }',
    ...Array.from({ length: n }, (_, i) => `env_template "S${i}" {\n  contents = "{{ with secret \\"secret/data/app${i}\\" }}{{ .Data.data.value }}{{ end }}"\n  error_on_missing_key = true\n}`),
    `exec {\n  command = [${cmd.map((c) => JSON.stringify(c)).join(', ')}]\n  restart_on_secret_changes = "never"\n}`,
  ].join('\n'));
  return ['env', '-i', ...base, bao, 'agent', `-config=${config}`];
}
const PEERS = [
  ...(envconsul ? [
    { id: 'envconsul1', name: 'envconsul 0.13, 1 Vault secret', argv: envconsulArgv(1, ['/bin/true']), vs: 'vault1' },
    { id: 'envconsul20', name: 'envconsul 0.13, 20 secrets on 20 paths', argv: envconsulArgv(20, ['/bin/true']), vs: 'vault20' },
  ] : []),
  ...(bao ? [{ id: 'bao1', name: 'bao agent (exec mode), 1 Vault secret', argv: baoAgentArgv(1, ['/bin/true'], true), vs: 'vault1' }] : []),
];

// ---- 1. Start-up.
const startupEntries = [
  { id: 'node', name: `node -e 0 (floor)`, argv: [NODE, '-e', '0'] },
  ...CASES.map((c) => ({ ...c, argv: sesame(c.env, ['/bin/true'], c.args) })),
  ...PEERS,
  ...(PREVIOUS ? CASES.map((c) => ({ id: `previous-${c.id}`, name: `previous build: ${c.name}`, argv: sesame(c.env, ['/bin/true'], c.args, PREVIOUS) })) : []),
];
progress(`start-up: ${ROUNDS} rounds of ${startupEntries.length} commands`);
// The runner must run beside the event loop that serves Vault: spawn, never spawnSync.
const commands = startupEntries.flatMap((e, i) => [...(i ? [':::'] : []), ...e.argv]);
const output = await new Promise((resolve, reject) => {
  const child = spawn(runner, ['startup', String(ROUNDS + WARMUP), String(WARMUP), ...commands], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout.on('data', (d) => { text += d; });
  child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`runner exited ${code}`))));
});
const times = startupEntries.map(() => []);
for (const line of output.trim().split('\n')) {
  const [index, wallNs, , status] = line.split(' ').map(Number);
  if (status !== 0) throw new Error(`"${startupEntries[index].name}" exited with status ${status}`);
  times[index].push(wallNs / 1e6);
}
// The rendered files are the templates' output: check them, so that a row is a real render.
for (const f of ['liquid', 'envsubst']) {
  const text = readFileSync(join(dir, `out/${f}.conf`), 'utf8');
  if (text !== 'listen 8080;\nserver_name example.org;\n') throw new Error(`the ${f} template rendered ${JSON.stringify(text)}`);
}
const ms = Object.fromEntries(startupEntries.map((e, i) => [e.id, median(times[i])]));

// ---- 2. At rest as PID 1.
const idleEntries = [
  { id: 'none', name: 'sesame, no secrets', argv: sesame([], ['sleep', '1000']) },
  { id: 'vault1', name: 'sesame, 1 Vault secret', argv: sesame([...vaultEnv(), ...refs(1)], ['sleep', '1000']), target: 14 },
  { id: 'vault200', name: 'sesame, 200 Vault secrets, 200 paths', argv: sesame([...vaultEnv(), ...refs(200)], ['sleep', '1000']), target: 14 },
  { id: 'vaultTls', name: 'sesame, 1 Vault secret over TLS', argv: sesame([...vaultEnv(vaultTls), ...refs(1)], ['sleep', '1000']), target: 14 },
  { id: 'keywhiz', name: 'sesame, 1 Keywhiz secret', argv: sesame(keywhizEnv, ['sleep', '1000']) },
  ...(envconsul ? [{ id: 'envconsul', name: 'envconsul 0.13, 1 Vault secret (watching)', argv: envconsulArgv(1, ['sleep', '1000']).filter((a) => a !== '-once') }] : []),
  ...(bao ? [{ id: 'bao', name: 'bao agent (exec mode), 1 Vault secret', argv: baoAgentArgv(1, ['sleep', '1000'], false) }] : []),
];
idleEntries[0].target = 12;
progress(`at rest as PID 1: ${IDLE.rounds} round(s) of ${idleEntries.length}, ${IDLE.restMs / 1000} s to rest, ${IDLE.windowMs / 1000} s of wake-ups`);
const idle = idleEntries.map(() => ({ early: [], rest: [], wakeupsPerMin: [], failures: 0 }));
for (let round = 0; round < IDLE.rounds; round++) {
  const t0 = performance.now();
  const running = idleEntries.map((e) => startSession(e.argv));
  try {
    // The init is the namespace's PID 1 (unshare's child), at rest once its child (sleep) runs.
    await Promise.all(running.map(async (s) => {
      s.init = await until(() => childrenOf(s.unshare.pid)[0]);
      const isSleep = (pid) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep'; } catch { return false; } };
      // envconsul runs its command through sh -c: sleep is then a grandchild.
      s.ready = Boolean(s.init) && Boolean(await until(() => [...childrenOf(s.init), ...childrenOf(s.init).flatMap(childrenOf)].find(isSleep), 15_000));
    }));
    const read = (what) => running.forEach((s, i) => { try { if (s.ready) idle[i][what].push(memoryOf(s.init)); } catch { /* gone */ } });
    await sleep(Math.max(0, t0 + 1000 - performance.now()));
    read('early');
    await sleep(Math.max(0, t0 + IDLE.restMs - performance.now()));
    read('rest');
    const before = running.map((s) => (s.ready ? wakeupsOf(s.init) : NaN));
    await sleep(IDLE.windowMs);
    running.forEach((s, i) => {
      if (!s.ready) { idle[i].failures++; return; }
      idle[i].wakeupsPerMin.push(((wakeupsOf(s.init) - before[i]) * 60_000) / IDLE.windowMs);
    });
  } finally {
    await Promise.all(running.map(stopSession));
  }
}
await Promise.all([vault.stop(), vaultTls.stop(), keywhiz.stop()]);

// ---- Report.
const out = [];
const floor = ms.none;
out.push(`## Secrets and templates at start-up (n=${ROUNDS} each, interleaved; test servers on loopback)`, '');
out.push(`command: ${commandLine(import.meta.url)}`, `machine: ${describeMachine()}`, '');
out.push(table(['start -- /bin/true', '>median ms', '>ratio to no secrets'], startupEntries.map((e) => [e.name, fixed(ms[e.id], 2), fixed(ms[e.id] / floor, 2)])), '');
const targets = [];
const target = (name, value, limit, unit = '×', digits = 2) => targets.push([name, `${fixed(value, digits)}${unit}`, `≤ ${limit}${unit}`, Number.isFinite(value) ? (value <= limit ? 'PASS' : 'FAIL') : 'n/a']);
target('no secrets vs `node -e 0`', ms.none / ms.node, 1.2);
for (const c of CASES.filter((c) => c.target)) target(`${c.name} vs no secrets`, ms[c.id] / floor, c.target);
const ids = Object.fromEntries(idleEntries.map((e, i) => [e.id, i]));
const restPrivate = (id) => mib(median(idle[ids[id]]?.rest.map((m) => m.privateKb) ?? []));
for (const e of idleEntries.filter((e) => e.target)) target(`${e.name}: private memory at rest`, restPrivate(e.id), e.target, ' MiB', 1);
target('sesame at rest, nothing scheduled: wake-ups per minute', median(idle[0].wakeupsPerMin), 0, '', 1);

out.push(`## At rest as PID 1: \`unshare --pid --fork --mount-proc X -- sleep 1000\` (median of ${IDLE.rounds})`, '');
out.push(table(['PID 1', '>VmRSS MiB 1 s', '>private MiB 1 s', `>VmRSS MiB ${IDLE.restMs / 1000} s`, `>private MiB ${IDLE.restMs / 1000} s`, '>threads', '>wake-ups/min'], idleEntries.map((e, i) => {
  const r = idle[i];
  const med = (xs, k) => median(xs.map((m) => m[k]));
  return [e.name + (r.failures ? ` (FAILED ${r.failures}×)` : ''), fixed(mib(med(r.early, 'vmRssKb')), 1), fixed(mib(med(r.early, 'privateKb')), 1),
    fixed(mib(med(r.rest, 'vmRssKb')), 1), fixed(mib(med(r.rest, 'privateKb')), 1), fixed(med(r.rest, 'threads'), 0), fixed(median(r.wakeupsPerMin), 1)];
})), '');
out.push(`private = RssAnon + RssShmem (/proc/PID/status): what this process alone costs; VmRSS adds the file-backed`);
out.push(`pages of its binary, shared with every other process running it. wake-ups: voluntary context switches of all`);
out.push(`its threads (/proc/PID/task/TID/status) from ${IDLE.restMs / 1000} s to ${(IDLE.restMs + IDLE.windowMs) / 1000} s after start, per minute. The Vault client is`);
out.push('closed once the secrets are read; V8 returns the memory of the start-up on its own within ~8 s (garbage collection).', '');

if (PEERS.length) {
  out.push('## Against the peers (same server, same run)', '');
  out.push(table(['sesame', '>ms', 'peer', '>ms', '>sesame / peer'], PEERS.map((p) => [CASES.find((c) => c.id === p.vs).name, fixed(ms[p.vs], 2), p.name, fixed(ms[p.id], 2), `${fixed(ms[p.vs] / ms[p.id], 2)}×`])), '');
}
if (PREVIOUS) {
  out.push(`## Against the previous build (${PREVIOUS}), same run`, '');
  out.push(table(['start -- /bin/true', '>this build ms', '>previous ms', '>this / previous', '>ratio to no secrets', '>previous ratio'], CASES.map((c) => [c.name, fixed(ms[c.id], 2), fixed(ms[`previous-${c.id}`], 2),
    `${fixed(ms[c.id] / ms[`previous-${c.id}`], 2)}×`, fixed(ms[c.id] / floor, 2), fixed(ms[`previous-${c.id}`] / ms['previous-none'], 2)])), '');
}
out.push('## Targets (this run)', '');
out.push(table(['target', '>value', '>limit', 'result'], targets), '');
console.log(out.join('\n'));

if (cli.json) {
  writeFileSync(cli.json, `${JSON.stringify({ date: new Date().toISOString(), command: commandLine(import.meta.url), quick: cli.quick,
    startup: startupEntries.map((e, i) => ({ id: e.id, name: e.name, command: e.argv, ms: times[i] })),
    idle: idleEntries.map((e, i) => ({ id: e.id, name: e.name, ...idle[i] })), targets }, null, 2)}\n`);
  progress(`raw numbers written to ${cli.json}`);
}
