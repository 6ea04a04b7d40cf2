// Bytes that are not UTF-8 pass through init unchanged, as tini passes them: environment
// values and names, binary `file:` secrets into the environment, and through a template
// (as they are, and through `| base64`, which encodes the bytes themselves).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { INIT } from '../support/paths';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-bytes-'));
  dirs.push(dir);
  return dir;
}

/** Every byte but NUL and '=' that is not ASCII, and a few broken sequences. */
const BINARY = Buffer.concat([Buffer.from('start-'), Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i)), Buffer.from([0xc3, 0x28, 0xe2, 0x82, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]), Buffer.from('é-end')]);

/**
 * Runs `init INITARGS -- COMMAND...` as PID 1 with an environment of raw entries. Node
 * would encode strings as UTF-8, so the entries go through a file and xargs -0, which hands
 * env(1) the bytes as they are; env -i then runs unshare and init with exactly those.
 */
function runWithEntries(entries: Buffer[], initArgs: string[], command: string[], init = INIT): { code: number; stdout: Buffer; stderr: string } {
  const dir = scratch();
  const list = join(dir, 'entries');
  writeFileSync(list, Buffer.concat(entries.flatMap((e) => [e, Buffer.of(0)])));
  const codeFile = join(dir, 'code');
  // Every argument here is a path or a plain word, so it can be written into the shell text.
  const tail = ['unshare', '--pid', '--fork', '--mount-proc', init, ...initArgs, '--', ...command].map((a) => `'${a}'`).join(' ');
  // xargs reports any exit code as 123: the code goes through a file.
  const run = spawnSync('xargs', ['-0', '-a', list, 'sh', '-c', `env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@" ${tail}; echo $? > '${codeFile}'`, 'sh']);
  return { code: Number(readFileSync(codeFile, 'utf8')), stdout: run.stdout, stderr: run.stderr.toString() };
}

describe('bytes that are not UTF-8', () => {
  it('an env value and a name that are not UTF-8 reach the child byte for byte, as with tini', () => {
    // env(1), not a shell: shells drop variables whose names are not identifiers.
    const entries = [Buffer.concat([Buffer.from('BAD='), BINARY]), Buffer.concat([Buffer.from('N'), Buffer.of(0xe9), Buffer.from('=latin1 name')])];
    const r = runWithEntries(entries, [], ['env', '-0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const received = r.stdout.toString('latin1').split('\0').filter(Boolean).map((e) => Buffer.from(e, 'latin1'));
    for (const entry of entries) expect(received.filter((e) => e.equals(entry))).toHaveLength(1);
  });

  // tini is the reference for passing the environment through: when it is on PATH, the
  // child's whole environment must be the same under both.
  const tini = (process.env.PATH ?? '').split(':').map((d) => join(d, 'tini')).find((f) => existsSync(f));
  it.skipIf(!tini)('the child sees the same environment bytes under init as under tini (tini on PATH)', () => {
    const entries = [Buffer.concat([Buffer.from('BAD='), BINARY]), Buffer.concat([Buffer.from('N'), Buffer.of(0xe9), Buffer.from('=x')]), Buffer.from('PLAIN=é')];
    const ours = runWithEntries(entries, [], ['env', '-0']);
    const theirs = runWithEntries(entries, [], ['env', '-0'], tini);
    expect(ours.code).toBe(0);
    expect(theirs.code).toBe(0);
    expect(ours.stdout.equals(theirs.stdout)).toBe(true);
  });

  it('a binary file: secret reaches the environment and a template with its bytes; | base64 encodes the bytes', () => {
    const dir = scratch();
    const secret = join(dir, 'secret.bin');
    writeFileSync(secret, BINARY);
    const template = join(dir, 'app.liquid');
    writeFileSync(template, 'raw={{ env.BIN }}\nb64={{ env.BIN | base64 }}\n');
    const dest = join(dir, 'app.conf');
    const out = join(dir, 'out');
    const r = runWithEntries([Buffer.from(`BIN=file:${secret}`)], ['-T', `${template}:${dest}`], ['sh', '-c', `printf %s "$BIN" > ${out}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(out).equals(BINARY)).toBe(true);
    expect(existsSync(dest)).toBe(true);
    const rendered = readFileSync(dest);
    expect(rendered.equals(Buffer.concat([Buffer.from('raw='), BINARY, Buffer.from(`\nb64=${BINARY.toString('base64')}\n`)]))).toBe(true);
  });

  it('a secret with a NUL byte cannot go into the environment: one line naming it, 78', () => {
    const dir = scratch();
    const secret = join(dir, 'nul.bin');
    writeFileSync(secret, Buffer.from('a\0b'));
    const r = runWithEntries([Buffer.from(`BIN=file:${secret}`)], [], ['true']);
    expect(r.stderr).toBe(`sesame: error: BIN: file:${secret}: the value contains a NUL byte, which an environment variable cannot hold (if BIN is not a secret reference, list it in SESAME_LITERAL)\n`);
    expect(r.code).toBe(78);
  });
});
