// The README's first command ends in examples/demo/run.sh: it must keep working.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';

describe('the demo (npm run demo)', () => {
  it('renders the config, passes the file secret, reaps the orphans and exits with the app\'s code', () => {
    const r = spawnSync('sh', [join(ROOT, 'examples/demo/run.sh')], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(r.stdout).toContain('my parent is pid 1 (init)');
    expect(r.stdout).toContain('app: API_TOKEN from my environment: demo-api-token (init read it from a file)');
    expect(r.stdout).toContain('app: my config, rendered by init (mode 600):');
    expect(r.stdout).toContain('app:     password: demo-db-password');
    expect(r.stdout).toContain('app: the database password is in the file only, not in my environment');
    expect(r.stdout).toContain('app: zombies now: 0');
    expect(r.stdout).toMatch(/demo: init exited with 3\n$/);
    expect(r.status).toBe(0);
  });
});
