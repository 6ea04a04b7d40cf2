// Runs once before the tests: checks that the built executable exists (npm test builds it)
// and compiles the C test programs into test/.build.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR, INIT, PROGRAMS_DIR } from './paths';

export default function setup(): void {
  if (!existsSync(INIT)) throw new Error(`${INIT} is missing: run npm run build first (npm test does)`);
  mkdirSync(BUILD_DIR, { recursive: true });
  for (const file of readdirSync(PROGRAMS_DIR).filter((f) => f.endsWith('.c'))) {
    const src = join(PROGRAMS_DIR, file);
    const out = join(BUILD_DIR, file.replace(/\.c$/, ''));
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
    execFileSync('cc', ['-O2', '-Wall', '-o', out, src], { stdio: 'inherit' });
  }
}
