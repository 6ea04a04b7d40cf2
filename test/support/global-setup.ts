// Runs once before the tests: checks that the built executable exists (npm test builds it),
// compiles the C test programs into test/.build, and gives the run a temporary directory of
// its own: TMPDIR for every worker (so every tmpdir() below is inside it), removed when the
// run ends, with whatever a killed worker or a failed test left in it (test CA keys too).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_DIR, INIT, PROGRAMS_DIR } from './paths';

export default function setup(): () => void {
  if (!existsSync(INIT)) throw new Error(`${INIT} is missing: run npm run build first (npm test does)`);
  mkdirSync(BUILD_DIR, { recursive: true });
  for (const file of readdirSync(PROGRAMS_DIR).filter((f) => f.endsWith('.c'))) {
    const src = join(PROGRAMS_DIR, file);
    const out = join(BUILD_DIR, file.replace(/\.c$/, ''));
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
    execFileSync('cc', ['-O2', '-Wall', '-o', out, src], { stdio: 'inherit' });
  }
  const run = mkdtempSync(join(tmpdir(), 'sesame-run-'));
  // Tests that drop privileges put files for their children below; each test's own
  // directory is 0700 unless it opens it.
  chmodSync(run, 0o755);
  process.env.TMPDIR = run;
  return () => rmSync(run, { recursive: true, force: true });
}
