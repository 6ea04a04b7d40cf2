// Issued certificates and watched file secrets with the built init as PID 1: a certificate
// issued by the Vault test server's PKI engine (real X.509), rotated at 2/3 of a few
// seconds, the named service sent SIGHUP once per rotation, the certificate reused when
// init starts again; a Kubernetes-style `..data` swap of a mounted secret seen and acted on.
// No key or certificate text in any line at debug level. Assertions are about counts (what
// the server issued, what the service wrote), not about how long things took, except the
// bound the issue sets: a swap is seen within 2 s.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kubernetesVolume } from '../support/atomic-writer';
import { makePki } from '../support/certs';
import { startAsPid1, type Running } from '../support/pid1';
import { startVault, type PkiEngine, type VaultServer } from '../support/vault-server';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const FAST = ['--wait', '100ms:300ms'];

const dirs: string[] = [];
const servers: VaultServer[] = [];
const inits: Running[] = [];
afterEach(async () => {
  for (const init of inits.splice(0)) if (init.process.exitCode === null && init.process.signalCode === null) init.process.kill('SIGKILL');
  for (const server of servers.splice(0)) await server.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-certs-'));
  dirs.push(dir);
  return dir;
}

function start(args: string[], env: NodeJS.ProcessEnv): Running {
  const init = startAsPid1(args, { env: { PATH, ...env } });
  inits.push(init);
  return init;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

async function until(ready: () => boolean, what: string, init?: Running, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}; stderr: ${init?.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Text a log line must never hold: PEM markers and the body lines of every key and certificate seen. */
function secretsIn(pems: string[]): string[] {
  const out = new Set(['PRIVATE KEY', 'BEGIN CERTIFICATE']);
  for (const pem of pems) for (const line of pem.split('\n')) if (line && !line.startsWith('-----')) out.add(line);
  return [...out];
}

describe('issued certificates, as PID 1', () => {
  it('issues at start, rotates at 2/3 with one SIGHUP to the named service per rotation, and reuses it across a restart of init', { timeout: 90_000 }, async () => {
    const vault = await startVault();
    servers.push(vault);
    const engine: PkiEngine = vault.enablePki('pki', { ca: makePki().ca });
    engine.addRole('web', { allowedDomains: ['example.test'], allowSubdomains: true, keyType: 'ec', maxTtl: '1h', notBeforeDuration: 0 });
    const dir = scratch();
    const events = join(dir, 'events');
    const cert = join(dir, 'tls', 'web.crt');
    const key = join(dir, 'tls', 'web.key');
    // The service notes each start and each SIGHUP with the serial it then finds on disk.
    const serial = `openssl x509 -noout -serial -in ${cert} | cut -d= -f2`;
    const web = `trap 'exit 0' TERM; trap 'echo "hup $(${serial})" >> ${events}' HUP; echo "start $(${serial})" >> ${events}; while :; do sleep 1 & wait; done`;
    const config = join(dir, 'sesame.yaml');
    writeFileSync(config, [
      'certificates:',
      '  - name: web-tls',
      '    path: pki/issue/web',
      '    common_name: www.example.test',
      '    alt_names: [api.example.test]',
      '    ip_sans: [127.0.0.1]',
      '    ttl: 9s',
      `    cert: ${cert}`,
      `    key: ${key}`,
      `    ca: ${join(dir, 'tls', 'ca.crt')}`,
      '    on_change: {signal: SIGHUP}',
      '    service: web',
      'services:',
      '  web:',
      `    command: ["/bin/sh", "-c", ${JSON.stringify(web)}]`,
      '',
    ].join('\n'));
    const env = { VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken };
    const seen: string[] = [];
    const note = () => {
      for (const path of [cert, key]) {
        try {
          const text = readFileSync(path, 'utf8');
          if (!seen.includes(text)) seen.push(text);
        } catch { /* mid-rename */ }
      }
    };

    const first = start(['--config', config, '--log-level', 'debug', ...FAST], env);
    await until(() => lines(events).length === 1, 'the service started', first);
    note();
    expect(engine.issued.length).toBe(1);
    expect((statSync(key).mode & 0o777).toString(8)).toBe('600');
    expect(lines(events)[0]).toBe(`start ${new X509Certificate(readFileSync(cert)).serialNumber}`);
    // Two rotations, each followed by exactly one SIGHUP that finds the new certificate.
    await until(() => { note(); return lines(events).filter((l) => l.startsWith('hup')).length >= 2; }, 'two rotations', first, 40_000);
    expect(engine.issued.length).toBe(3);
    const hups = lines(events).filter((l) => l.startsWith('hup'));
    expect(hups).toEqual(engine.issued.slice(1).map((c) => `hup ${c.serial.replace(/:/g, '').toUpperCase()}`));
    // Each rotation came after about 2/3 of the 9 s validity (6 s ±3%; the server's times are
    // whole seconds), not at once.
    for (let i = 1; i < engine.issued.length; i++) expect(engine.issued[i].notBefore - engine.issued[i - 1].notBefore).toBeGreaterThanOrEqual(4000);
    expect(lines(events).filter((l) => l.startsWith('start'))).toHaveLength(1);
    await first.signal('SIGTERM');
    const firstDone = await first.done;
    expect(firstDone.code).toBe(0);
    expect(firstDone.stderr).toMatch(/certificate web-tls: issued a new one \(serial [0-9a-f]+, valid until/);

    // init starts again with the certificate on disk still inside its first 2/3: reused, not issued.
    const issuedBefore = engine.issued.length;
    const onDisk = new X509Certificate(readFileSync(cert)).serialNumber;
    const second = start(['--config', config, '--log-level', 'debug', ...FAST], env);
    await until(() => lines(events).filter((l) => l.startsWith('start')).length === 2, 'the service started again', second);
    await second.signal('SIGTERM');
    const secondDone = await second.done;
    if (!/reusing/.test(secondDone.stderr)) {
      // Only if the machine was so slow that the certificate passed 2/3 before init got to it.
      expect(secondDone.stderr).toMatch(/past 67% of its validity/);
    } else {
      expect(lines(events).at(-1)).toBe(`start ${onDisk}`);
      expect(engine.issued.length).toBe(issuedBefore);
      expect(secondDone.stderr).toMatch(/certificate web-tls: reusing .*web\.crt/);
    }
    for (const text of secretsIn(seen)) {
      expect(firstDone.stderr).not.toContain(text);
      expect(secondDone.stderr).not.toContain(text);
    }
  });

  it('stops at start with one line and 78 when the role refuses the name, before any service starts', async () => {
    const vault = await startVault();
    servers.push(vault);
    vault.enablePki('pki', { ca: makePki().ca }).addRole('web', { allowedDomains: ['example.test'], allowSubdomains: true, keyType: 'ec' });
    const dir = scratch();
    const config = join(dir, 'sesame.yaml');
    writeFileSync(config, ['certificates:', '  - path: pki/issue/web', '    common_name: evil.org', `    cert: ${dir}/c.pem`, `    key: ${dir}/k.pem`, ''].join('\n'));
    const done = await start(['--config', config, '--', '/bin/sh', '-c', `touch ${dir}/started`], { VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken }).done;
    expect(done.code).toBe(78);
    expect(done.stderr).toBe(`sesame: error: ${config}: certificates[0]: certificate evil.org: Vault answered 400 to POST /v1/pki/issue/web: common name evil.org not allowed by this role\n`);
    expect(existsSync(join(dir, 'started'))).toBe(false);
  });

  it('waits for a Vault that answers 503 at start for as long as --secrets-timeout allows, not a call budget of 5 s', { timeout: 60_000 }, async () => {
    const vault = await startVault();
    servers.push(vault);
    vault.enablePki('pki', { ca: makePki().ca }).addRole('web', { allowedDomains: ['example.test'], allowSubdomains: true, keyType: 'ec' });
    // 503 for every issue during the first 7 s (the retries' backoff takes init past it).
    const until7s = Date.now() + 7000;
    const fault = { path: 'pki/issue/web', status: 503, times: 1000 };
    vault.faults.push(fault);
    const timer = setTimeout(() => { fault.times = 0; }, until7s - Date.now());
    const dir = scratch();
    const config = join(dir, 'sesame.yaml');
    writeFileSync(config, ['certificates:', '  - path: pki/issue/web', '    common_name: www.example.test', `    cert: ${dir}/c.pem`, `    key: ${dir}/k.pem`, ''].join('\n'));
    const done = await start(['--config', config, '--secrets-timeout', '40s', '--', '/bin/sh', '-c', `test -s ${dir}/c.pem && touch ${dir}/started`], { VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken }).done;
    clearTimeout(timer);
    expect(done.stderr).toMatch(/waiting for Vault at .*retrying for up to \d+ s \(--secrets-timeout\)/);
    expect(done.code).toBe(0);
    expect(existsSync(join(dir, 'started'))).toBe(true);
    expect(Date.now()).toBeGreaterThan(until7s);
  });
});

describe('watched file secrets, as PID 1', () => {
  it('sees a Kubernetes ..data swap within 2 s and restarts the command once with the new value', { timeout: 60_000 }, async () => {
    const dir = scratch();
    const volume = kubernetesVolume(join(dir), { password: 'hunter2\n' });
    const events = join(dir, 'events');
    const init = start([...FAST, '--log-level', 'debug', '--', '/bin/sh', '-c', `echo "start $DB_PASSWORD" >> ${events}; trap 'exit 0' TERM; sleep 1000 & wait`], {
      DB_PASSWORD_FILE: join(dir, 'password'), SESAME_FILE_VARS: 'DB_PASSWORD',
    });
    await until(() => lines(events).length === 1, 'the command started', init);
    expect(lines(events)).toEqual(['start hunter2']);
    volume.update({ password: 'swordfish\n' });
    const swapped = Date.now();
    await until(() => /secret changed: DB_PASSWORD/.test(init.stderr()), 'the change was seen', init, 2000);
    expect(Date.now() - swapped).toBeLessThan(2000);
    await until(() => lines(events).length === 2, 'the restart', init);
    expect(lines(events)).toEqual(['start hunter2', 'start swordfish']);
    // The same content again (another key of the volume changed): nothing happens.
    volume.update({ password: 'swordfish\n', other: 'x' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(lines(events)).toEqual(['start hunter2', 'start swordfish']);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(0);
    expect(done.stderr).not.toContain('hunter2');
    expect(done.stderr).not.toContain('swordfish');
  });
});
