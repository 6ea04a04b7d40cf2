// Faults of the system around init, as PID 1: a full disk and a read-only one while
// rendering, and a flood of 10,000 signals of mixed kinds. Each ends in a documented way:
// one line, a documented code, nothing started half-configured, nothing left behind, no
// secret printed.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { program } from '../support/paths';
import { runAsPid1, startAsPid1 } from '../support/pid1';

const CANARY = 'CANARY-faults-7d2e';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A config whose template renders a 256 KiB secret (a canary, then padding) into
 * `out/app.conf`, where `out` is a 64 KiB tmpfs (`ro`: mounted read-only) of a private
 * mount namespace; the command would touch `ran` if it were started.
 */
function renderOnto(mountOptions: string): { dir: string; argv: string[]; wrap: (argv: string[]) => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-faults-'));
  dirs.push(dir);
  const out = join(dir, 'out');
  mkdirSync(out);
  writeFileSync(join(dir, 'secret'), `${CANARY}${'x'.repeat(256 * 1024)}`);
  writeFileSync(join(dir, 'app.liquid'), 'key={{ secrets.big }}\n');
  writeFileSync(join(dir, 'sesame.yaml'), [
    'secrets:', `  - ref: file:${join(dir, 'secret')}`, '    name: big',
    'templates:', `  - src: ${join(dir, 'app.liquid')}`, `    dest: ${join(out, 'app.conf')}`, '',
  ].join('\n'));
  const mount = `mount -t tmpfs -o size=64k tmpfs "${out}"${mountOptions === 'ro' ? ` && mount -o remount,ro "${out}"` : ''}`;
  return {
    dir,
    argv: ['-c', join(dir, 'sesame.yaml'), '--', 'touch', join(dir, 'ran')],
    wrap: (argv) => ['unshare', '--mount', '--pid', '--fork', '--mount-proc', 'sh', '-c', `${mount} && ls -A "${out}" > "${dir}/left" && exec "$@" ; status=$?; ls -A "${out}" > "${dir}/left"; exit $status`, 'sh', ...argv],
  };
}

describe('faults as PID 1', () => {
  it('disk full while rendering: one line naming ENOSPC, 71, no half-written file, nothing started', async () => {
    const t = renderOnto('rw');
    const r = await runAsPid1(t.argv, { wrap: t.wrap });
    expect(r.stderr).toMatch(/^sesame: error: .*sesame\.yaml: templates\[0\]: cannot write .*\/out\/app\.conf: ENOSPC: no space left on device\n$/);
    expect(r.stderr).not.toContain(CANARY);
    expect(r.code).toBe(71);
    expect(existsSync(join(t.dir, 'ran'))).toBe(false);
  });

  it('read-only while rendering: one line naming EROFS, 71, nothing started', async () => {
    const t = renderOnto('ro');
    const r = await runAsPid1(t.argv, { wrap: t.wrap });
    expect(r.stderr).toMatch(/^sesame: error: .*sesame\.yaml: templates\[0\]: cannot write .*\/out\/app\.conf: EROFS: read-only file system\n$/);
    expect(r.stderr).not.toContain(CANARY);
    expect(r.code).toBe(71);
    expect(existsSync(join(t.dir, 'ran'))).toBe(false);
  });

  it('a stalled reader of init\'s output: the service waits, no line is lost, then a clean end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-faults-'));
    dirs.push(dir);
    const config = join(dir, 'sesame.yaml');
    writeFileSync(config, 'services:\n  w:\n    command: ["sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); echo line-$i; done"]\n');
    // The reader takes 64 KiB, stops for 2 s (the pipe fills, init's writes block, the
    // service's writes block), then reads the rest.
    const r = await runAsPid1(['-c', config], {
      wrap: (argv) => ['sh', '-c', `unshare --pid --fork --mount-proc "$@" | { head -c 65536 > "${dir}/p1"; sleep 2; cat > "${dir}/p2"; }`, 'sh', ...argv],
    });
    expect(r.code).toBe(0);
    const lines = Buffer.concat([readFileSync(join(dir, 'p1')), readFileSync(join(dir, 'p2'))]).toString().split('\n').filter(Boolean);
    expect(lines).toHaveLength(30000);
    expect(lines.every((l, i) => l === `line-${i + 1}`)).toBe(true);
    expect(r.stderr).toMatch(/^sesame: w: exited with code 0/m);
  });

  it('10,000 signals of mixed kinds: each forwarded or dropped as configured, then a clean stop', async () => {
    // sigrecord prints each signal it receives; HUP, USR1, USR2, WINCH, URG are forwarded,
    // QUIT is dropped (-r QUIT:0); init keeps going until the final SIGTERM.
    const init = startAsPid1(['-r', 'QUIT:0', '--', program('sigrecord')]);
    await init.waitFor(/ready/);
    const kinds: NodeJS.Signals[] = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGURG', 'SIGQUIT'];
    const pid = await init.initPid();
    for (let i = 0; i < 10_000; i++) process.kill(pid, kinds[i % kinds.length]);
    await new Promise((r) => setTimeout(r, 300));
    await init.signal('SIGTERM');
    const r = await init.done;
    const seen = new Set(r.stdout.split('\n').filter((l) => l.startsWith('sig ')));
    // Signals coalesce (a pending one absorbs its repeats), so not 10,000 lines: every kind
    // that is forwarded arrived, QUIT never did, and TERM ended it.
    for (const kind of ['HUP', 'USR1', 'USR2', 'WINCH', 'URG']) expect([...seen].some((l) => l.includes(kind))).toBe(true);
    expect([...seen].some((l) => l.includes('QUIT'))).toBe(false);
    expect(r.stderr).not.toMatch(/error|internal|^\s+at /m);
    expect([0, 143]).toContain(r.code);
  });
});
