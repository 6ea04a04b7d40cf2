// Before the real-engine tests: the engine answers, the base images are there (made by
// test/docker/images.sh), and the two images the tests run are built from this checkout's
// dist/: sesame-test/init (/init, /init.node, the C test programs, a user app 1000:1000)
// and sesame-test/init-bare (the same without /init.node).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE, IMAGE_BARE, engineAnswers } from '../support/docker';
import { ADDON, INIT, program } from '../support/paths';

const BASE = 'sesame-test/bookworm';

function dockerfile(sidecar: boolean): string {
  return [
    `FROM ${BASE}`,
    'RUN groupadd -g 1000 app && useradd -u 1000 -g app -m -d /home/app -s /bin/sh app',
    'COPY sigrecord orphans /usr/local/bin/',
    'COPY init /init',
    ...(sidecar ? ['COPY init.node /init.node'] : []),
    'ENTRYPOINT ["/init"]',
    '',
  ].join('\n');
}

export default function setup(): void {
  if (!engineAnswers()) throw new Error('no Docker engine answers (DOCKER_HOST): run the suite with npm run test:docker');
  execFileSync('docker', ['image', 'inspect', BASE], { stdio: 'ignore' });
  const context = mkdtempSync(join(tmpdir(), 'sesame-image-'));
  try {
    copyFileSync(INIT, join(context, 'init'));
    copyFileSync(ADDON, join(context, 'init.node'));
    for (const name of ['sigrecord', 'orphans']) copyFileSync(program(name), join(context, name));
    for (const [tag, sidecar] of [[IMAGE, true], [IMAGE_BARE, false]] as const) {
      writeFileSync(join(context, 'Dockerfile'), dockerfile(sidecar));
      execFileSync('docker', ['build', '-q', '-t', tag, context], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DOCKER_BUILDKIT: '0' } });
    }
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
