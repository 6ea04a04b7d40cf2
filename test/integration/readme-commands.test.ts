// The README's quick start, run as written: its shell blocks are taken from README.md itself
// (so a change there is tested), with the Vault test server standing in for `vault server
// -dev` and a temporary directory for /tmp. What the README says the commands print is what
// they print.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';
import { startVault, type VaultServer } from '../support/vault-server';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The first ```sh block after `marker`. */
function shBlock(marker: string): string {
  const at = readme.indexOf(marker);
  expect(at, marker).toBeGreaterThan(0);
  const start = readme.indexOf('```sh\n', at) + '```sh\n'.length;
  return readme.slice(start, readme.indexOf('```\n', start));
}

let vault: VaultServer;
const dir = mkdtempSync(join(tmpdir(), 'sesame-readme-'));
beforeAll(async () => {
  vault = await startVault();
  // `vault kv put secret/app password=s3cret`, as the quick start does.
  vault.kvPut('secret', 'app', { password: 's3cret' });
});
afterAll(async () => {
  await vault.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Run a script (asynchronously: the Vault test server answers from this process). */
function sh(script: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', script], { cwd: ROOT, timeout: 20_000, env: { PATH: process.env.PATH, VAULT_ADDR: vault.url, VAULT_TOKEN: 'root' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('the README, as written', () => {
  it('quick start with a dev Vault: the secret reaches the child, VAULT_* do not', async () => {
    const block = shBlock('With a dev Vault');
    const line = block.split('\n').find((l) => l.startsWith('DB_PASSWORD=vault:')) as string;
    expect(line).toBeDefined();
    // The lines after it are the output it shows, as comments: "# password: s3cret", "# 0  <- ...".
    const shown = block.slice(block.indexOf(line) + line.length + 1).split('\n').filter((l) => l.startsWith('# '))
      .map((l) => l.slice(2).replace(/\s+<-.*$/, '').trim());
    const r = await sh(line);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(shown);
    expect(r.status).toBe(1); // the child's code: `grep -c` exits 1 when it counts 0
  });

  it('the config file with a template and two services: --check passes, the run ends with the client\'s 200', async () => {
    const block = shBlock('With a config file, a template and two services').replaceAll('/tmp/', `${dir}/`);
    // The port may be taken on a shared machine: the same commands on a free one.
    const port = String(20_000 + (process.pid % 20_000));
    const r = await sh(block.replaceAll('8000', port));
    expect(r.stdout).toContain('sesame: check passed: 1 secret reference(s) resolved, 1 template(s) rendered, 2 service(s) checked');
    expect(r.stdout).toMatch(/client \| 200\n/);
    expect(readFileSync(join(dir, 'app.conf'), 'utf8')).toBe('password = "s3cret"\n');
    expect(r.stderr).toContain('sesame: web: ready');
    expect(r.status).toBe(0);
  }, 30_000);
});
