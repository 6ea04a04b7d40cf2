// Several services under one init (`init -c FILE` with `services:`), run as a real PID 1:
// start order by depends_on condition and readiness, restarts with backoff, shutdown in
// reverse dependency order inside one budget, signals, output through init, config errors,
// and what each service is given (stdin, environment, working directory, secrets).
//
// Services record what happens to them as lines in an "events" file of the test's own
// directory; the assertions are about the order of those lines and of init's log lines,
// and about exit codes, never about how long anything took.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { program } from '../support/paths';
import { runAsPid1, startAsPid1, type Running } from '../support/pid1';

const netserve = program('netserve');
const sigrecord = program('sigrecord');

// ---------------------------------------------------------------------------------------
// Helpers

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory for one test: its config file, its events file, its marker files. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-services-'));
  dirs.push(dir);
  return dir;
}

/** Writes the config (an object, as YAML 1.1; or YAML text as it is) and returns its path. */
function writeConfig(dir: string, config: object | string): string {
  const file = join(dir, 'sesame.yaml');
  writeFileSync(file, typeof config === 'string' ? config : stringify(config, { version: '1.1', lineWidth: 0 }));
  return file;
}

/** The lines services appended to `file` so far, in order. */
function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Init's text log lines about one service: "sesame: [warning: ]NAME: ...", without the prefix. */
function logAbout(stderr: string, service: string): string[] {
  const re = new RegExp(`^sesame: (?:(?:error|warning|debug): )?${service}: (.*)$`);
  return stderr.split('\n').flatMap((l) => re.exec(l)?.[1] ?? []);
}

/** Index of the first line of `text` matching `re` (-1 if none): for ordering assertions. */
function lineIndex(text: string, re: RegExp): number {
  return text.split('\n').findIndex((l) => re.test(l));
}

/** Polls until `ready()` holds; fails with `what` (and init's output) after `ms`. */
async function until(ready: () => boolean, what: string, init?: Running, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}; stdout: ${init?.stdout()}; stderr: ${init?.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const CAUGHT = ['TERM', 'INT', 'QUIT', 'HUP', 'USR1', 'USR2'];

/**
 * A long-running service that appends "NAME up" to `events` once its traps are set, and
 * "NAME got SIG" when a signal stops it (it then exits 0). It is ready (`ready: file`)
 * once its traps are set, so that a dependant on service_healthy knows it will record.
 */
function recorder(dir: string, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const events = join(dir, 'events');
  const up = join(dir, `${name}.up`);
  const traps = CAUGHT.map((s) => `trap 'echo ${name} got ${s} >> ${events}; exit 0' ${s}`).join('; ');
  return {
    command: `${traps}; echo ${name} up >> ${events}; touch ${up}; sleep 1000 & wait`,
    ready: { file: up, interval: '50ms' },
    ...extra,
  };
}

const healthy = (...names: string[]) => Object.fromEntries(names.map((n) => [n, { condition: 'service_healthy' }]));
const completed = (...names: string[]) => Object.fromEntries(names.map((n) => [n, { condition: 'service_completed_successfully' }]));

/** A TCP port nothing listens on right now (the kernel's pick), for a service to open later. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------

describe('services: start order by depends_on', () => {
  it('service_started: a dependant starts only after its dependency has started', async () => {
    const dir = scratch();
    // The dependant comes first in the file: without depends_on it would start first.
    const config = writeConfig(dir, {
      services: {
        web: { command: 'exit 0', depends_on: ['db'] },
        db: { command: 'exec sleep 1000' },
      },
    });
    const r = await runAsPid1(['-c', config]);
    const dbStarted = lineIndex(r.stderr, /^sesame: db: started \(pid \d+\)$/);
    const webStarted = lineIndex(r.stderr, /^sesame: web: started \(pid \d+\)$/);
    expect(dbStarted).toBeGreaterThanOrEqual(0);
    expect(webStarted).toBeGreaterThan(dbStarted);
    expect(r.code).toBe(0);
  });

  it('service_healthy with a healthcheck: the dependant starts only after the check passes', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const readyFile = join(dir, 'db-ready');
    const config = writeConfig(dir, {
      services: {
        web: {
          command: `if [ -e ${readyFile} ]; then echo web saw db ready; else echo web started too early; fi >> ${events}`,
          depends_on: healthy('db'),
        },
        db: {
          command: `sleep 0.5; touch ${readyFile}; exec sleep 1000`,
          healthcheck: { test: ['CMD', 'test', '-e', readyFile], interval: '100ms', start_interval: '100ms', start_period: '30s' },
        },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events)).toEqual(['web saw db ready']);
    expect(lineIndex(r.stderr, /^sesame: web: started/)).toBeGreaterThan(lineIndex(r.stderr, /^sesame: db: ready \(healthcheck passed\)$/));
    expect(r.code).toBe(0);
  });

  it('service_healthy with ready: file: the dependant starts only once the file exists', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const readyFile = join(dir, 'db-ready');
    const config = writeConfig(dir, {
      services: {
        web: {
          command: `if [ -e ${readyFile} ]; then echo web saw db ready; else echo web started too early; fi >> ${events}`,
          depends_on: healthy('db'),
        },
        db: {
          command: `sleep 0.5; touch ${readyFile}; exec sleep 1000`,
          ready: { file: readyFile, interval: '100ms' },
        },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events)).toEqual(['web saw db ready']);
    expect(logAbout(r.stderr, 'db')).toContain(`ready (${readyFile} exists)`);
    expect(r.code).toBe(0);
  });

  it('service_healthy with ready: tcp: the dependant starts only once the port accepts connections', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const port = await freePort();
    const config = writeConfig(dir, {
      services: {
        web: { command: `echo "web found the port: $(${netserve} status ${port})" >> ${events}`, depends_on: healthy('db') },
        // Listens only after half a second.
        db: { command: [netserve, 'serve', String(port), '500'], ready: { tcp: port, interval: '100ms' } },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events)).toEqual(['web found the port: 200']); // "closed" if it started too early
    expect(logAbout(r.stderr, 'db')).toContain(`ready (port 127.0.0.1:${port} accepts connections)`);
    expect(r.code).toBe(0);
  });

  it('service_healthy with ready: http: the dependant starts only once the URL answers 2xx', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/health`;
    const config = writeConfig(dir, {
      services: {
        web: { command: `echo "web got HTTP $(${netserve} status ${port})" >> ${events}`, depends_on: healthy('api') },
        // Listens at once, but answers 503 for its first 800 ms: open is not ready.
        api: { command: [netserve, 'serve', String(port), '0', '800'], ready: { http: url, interval: '100ms' } },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events)).toEqual(['web got HTTP 200']); // 503 if any answer counted, "closed" if none was awaited
    expect(logAbout(r.stderr, 'api')).toContain(`ready (${url} answers)`);
    expect(r.code).toBe(0);
  });

  it('service_completed_successfully: a migration runs to completion before the server starts', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const schema = join(dir, 'schema');
    const config = writeConfig(dir, {
      services: {
        server: { command: `echo "server sees $(cat ${schema} 2>/dev/null || echo no schema)" >> ${events}; exit 5`, depends_on: completed('migrate') },
        migrate: { command: `sleep 0.3; echo schema v2 > ${schema}` },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events)).toEqual(['server sees schema v2']);
    expect(lineIndex(r.stderr, /^sesame: server: started/)).toBeGreaterThan(lineIndex(r.stderr, /^sesame: migrate: completed$/));
    // The server is the one long-running service, so the main one: its code is init's.
    expect(r.code).toBe(5);
  });
});

describe('services: a failing oneshot', () => {
  it('stops the start-up: its dependants never start, and init exits with its code', async () => {
    const dir = scratch();
    const marker = join(dir, 'server-started');
    const config = writeConfig(dir, {
      services: {
        migrate: { command: 'echo migration failed >&2; exit 3', oneshot: true },
        server: { command: `touch ${marker}; exec sleep 1000`, depends_on: completed('migrate') },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(r.code).toBe(3);
    expect(existsSync(marker)).toBe(false);
    // The line that ends the container names the oneshot and its exit.
    expect(logAbout(r.stderr, 'migrate').some((l) => /exited with code 3\b/.test(l) && /stopping the container/.test(l))).toBe(true);
    expect(logAbout(r.stderr, 'server').filter((l) => l.startsWith('started'))).toEqual([]);
  });
});

describe('services: restarts', () => {
  it('on-failure:2 restarts twice with backoff, then gives up and ends the container with the code', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, {
      services: {
        steady: recorder(dir, 'steady'),
        flaky: { command: `echo flaky ran >> ${events}; exit 4`, restart: 'on-failure:2', depends_on: healthy('steady') },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events)).toEqual(['steady up', 'flaky ran', 'flaky ran', 'flaky ran', 'steady got TERM']);
    const flaky = logAbout(r.stderr, 'flaky');
    expect(flaky).toContain('restarting in 100 ms (restart 1 of 2)');
    expect(flaky).toContain('restarting in 200 ms (restart 2 of 2)');
    expect(flaky.filter((l) => l.startsWith('restarting'))).toHaveLength(2);
    expect(flaky.some((l) => l.includes('gave up after 2 restart(s)'))).toBe(true);
    expect(flaky.filter((l) => /^started \(pid \d+(, restart \d)?\)$/.test(l))).toHaveLength(3);
    expect(r.code).toBe(4);
  });

  it('always restarts after a clean exit too', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, {
      main: 'watcher',
      services: {
        ticker: { command: `echo tick >> ${events}; exit 0`, restart: 'always' },
        // Ends the container once the ticker has run three times.
        watcher: { command: `while [ "$(cat ${events} 2>/dev/null | grep -c tick)" -lt 3 ]; do sleep 0.02; done; exit 0` },
      },
    });
    const r = await runAsPid1(['-c', config]);
    const ticker = logAbout(r.stderr, 'ticker');
    expect(ticker).toContain('restarting in 100 ms (restart 1)');
    expect(ticker).toContain('restarting in 200 ms (restart 2)');
    expect(ticker.indexOf('restarting in 100 ms (restart 1)')).toBeGreaterThan(ticker.findIndex((l) => l.startsWith('exited with code 0')));
    expect(lines(events).slice(0, 3)).toEqual(['tick', 'tick', 'tick']);
    expect(r.code).toBe(0);
  });

  it.each([
    ['restart: "no" (quoted)', 'restart: "no"'],
    ['restart: no (YAML 1.1 false)', 'restart: no'],
  ])('%s never restarts', async (_, restartLine) => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, [
      'services:',
      '  once:',
      `    command: echo ran >> ${events}; exit 5`,
      `    ${restartLine}`,
      '',
    ].join('\n'));
    const r = await runAsPid1(['-c', config]);
    expect(r.code).toBe(5);
    expect(lines(events)).toEqual(['ran']);
    expect(r.stderr).not.toContain('restarting');
  });
});

describe('services: shutdown', () => {
  it('the main service\'s exit stops the others in reverse dependency order and gives init its code', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    // In file order a, b, c: stopping in file order would stop a first.
    const config = writeConfig(dir, {
      main: 'c',
      services: {
        a: recorder(dir, 'a'),
        b: recorder(dir, 'b', { depends_on: healthy('a') }),
        c: { command: 'exit 7', depends_on: healthy('b') },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events).filter((l) => l.includes(' got '))).toEqual(['b got TERM', 'a got TERM']);
    expect(lineIndex(r.stderr, /^sesame: a: stopping/)).toBeGreaterThan(lineIndex(r.stderr, /^sesame: b: stopping/));
    expect(logAbout(r.stderr, 'c').some((l) => l.includes('stopping the container'))).toBe(true);
    expect(r.code).toBe(7);
  });

  it('SIGTERM to init stops services in reverse dependency order, each with its own stop_signal', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, {
      main: 'app',
      services: {
        cache: recorder(dir, 'cache', { stop_signal: 'SIGUSR1' }),
        app: recorder(dir, 'app', { depends_on: healthy('cache') }),
      },
    });
    const init = startAsPid1(['-c', config]);
    await until(() => lines(events).includes('app up'), 'app is up', init);
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(lines(events)).toEqual(['cache up', 'app up', 'app got TERM', 'cache got USR1']);
    expect(r.stderr).toMatch(/^sesame: SIGTERM received; stopping$/m);
    expect(logAbout(r.stderr, 'cache').some((l) => l.startsWith('stopping (SIGUSR1; '))).toBe(true);
    // The main service trapped SIGTERM and exited 0.
    expect(r.code).toBe(0);
  });

  it('after SIGTERM init exits 143 when the main service dies of it', async () => {
    const dir = scratch();
    const config = writeConfig(dir, {
      main: 'app',
      services: {
        cache: recorder(dir, 'cache'),
        app: { command: 'exec sleep 1000', depends_on: healthy('cache') },
      },
    });
    const init = startAsPid1(['-c', config]);
    await until(() => /^sesame: app: started/m.test(init.stderr()), 'app has started', init);
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(r.stderr).toMatch(/^sesame: app: killed by SIGTERM/m);
    expect(r.code).toBe(143);
  });

  it('SIGKILLs a service that ignores its stop signal after its stop_grace_period', async () => {
    const dir = scratch();
    const up = join(dir, 'up');
    const config = writeConfig(dir, {
      services: {
        stubborn: { command: `trap '' TERM; touch ${up}; while :; do sleep 0.1; done`, stop_grace_period: '1s' },
      },
    });
    const init = startAsPid1(['-c', config]);
    await until(() => existsSync(up), 'stubborn is up', init);
    await init.signal('SIGTERM');
    const r = await init.done;
    const stubborn = logAbout(r.stderr, 'stubborn');
    expect(stubborn).toContain('stopping (SIGTERM; SIGKILL in 1s if it is still running)');
    expect(stubborn).toContain('still running 1s after SIGTERM; sending SIGKILL');
    expect(r.code).toBe(137);
  }, 30_000);

  it('the overall budget (-t) wins over a longer stop_grace_period', async () => {
    const dir = scratch();
    const up = join(dir, 'up');
    const config = writeConfig(dir, {
      services: {
        stubborn: { command: `trap '' TERM; touch ${up}; while :; do sleep 0.1; done`, stop_grace_period: '60s' },
      },
    });
    const init = startAsPid1(['-t', '1s', '-c', config]);
    await until(() => existsSync(up), 'stubborn is up', init);
    await init.signal('SIGTERM');
    const r = await init.done; // this test's own 20 s limit proves the 60 s were not waited
    const stubborn = logAbout(r.stderr, 'stubborn');
    expect(stubborn.find((l) => l.startsWith('stopping'))).toMatch(/^stopping \(SIGTERM; SIGKILL in (\d{1,3} ms|1s) if it is still running\)$/);
    expect(stubborn.find((l) => l.startsWith('still running'))).toMatch(/^still running (\d{1,3} ms|1s) after SIGTERM; sending SIGKILL$/);
    expect(r.code).toBe(137);
  }, 20_000);

  it('one budget covers the whole shutdown: what the first service used up, the next does not get', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const stubborn = (name: string) => `trap '' TERM; echo ${name} up >> ${events}; while :; do sleep 0.1; done`;
    const config = writeConfig(dir, {
      services: {
        a: { command: stubborn('a'), stop_grace_period: '60s' },
        b: { command: stubborn('b'), stop_grace_period: '60s', depends_on: ['a'] },
      },
    });
    const init = startAsPid1(['-t', '1s', '-c', config]);
    await until(() => lines(events).length === 2, 'both are up', init);
    await init.signal('SIGTERM');
    const r = await init.done;
    // b, stopped first, took the whole second; a is left none of it.
    expect(logAbout(r.stderr, 'a')).toContain('stopping (SIGTERM; SIGKILL in 0 ms if it is still running)');
    expect(lineIndex(r.stderr, /^sesame: a: stopping/)).toBeGreaterThan(lineIndex(r.stderr, /^sesame: warning: b: still running/));
    // No main service, and neither stopped cleanly: init exits with the first one's code.
    expect(r.code).toBe(137);
  }, 20_000);
});

describe('services: orphans', () => {
  it('reaps the orphans that several services leave behind', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const pids = join(dir, 'orphan-pids');
    // Each round leaves an orphan (re-parented to init) that exits shortly after.
    const leaveOrphans = (name: string) =>
      `for i in 1 2 3 4 5; do sh -c 'sleep 0.05 & echo $! >> ${pids}'; done; echo ${name} made orphans >> ${events}; exec sleep 1000`;
    // A reaped process is gone from /proc; a zombie is still there, in state Z.
    const check = [
      `while [ "$(cat ${events} 2>/dev/null | grep -c 'made orphans')" -lt 2 ]; do sleep 0.02; done`,
      'i=0',
      `while [ $i -lt 500 ]; do left=0; for p in $(cat ${pids}); do [ -e /proc/$p ] && left=$((left+1)); done; [ $left = 0 ] && break; sleep 0.02; i=$((i+1)); done`,
      `echo "orphans left: $left" >> ${events}`,
      `echo "zombies: $(grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l)" >> ${events}`,
    ].join('\n');
    const config = writeConfig(dir, {
      main: 'check',
      services: {
        one: { command: leaveOrphans('one') },
        two: { command: leaveOrphans('two') },
        check: { command: check },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(pids)).toHaveLength(10);
    const [first, second, ...found] = lines(events);
    expect([first, second].sort()).toEqual(['one made orphans', 'two made orphans']);
    expect(found).toEqual(['orphans left: 0', 'zombies: 0']);
    expect(r.code).toBe(0);
  });
});

describe('services: output', () => {
  // Except in the last two tests, the services keep running once they have printed, and
  // the output is read before SIGTERM ends them: these tests are about what the lines look
  // like; the last two are about no line being lost when services exit.

  /** Starts init, waits until its stdout has `count` lines, stops it with SIGTERM. */
  async function printed(config: string, count: number): Promise<{ stdout: string[]; stderr: string }> {
    const init = startAsPid1(['-c', config]);
    await until(() => init.stdout().split('\n').length > count, `${count} lines on stdout`, init);
    await init.signal('SIGTERM');
    const r = await init.done;
    return { stdout: r.stdout.split('\n').slice(0, -1), stderr: r.stderr };
  }

  it('relays whole lines only: two services writing long lines in pieces at once never cut into each other', async () => {
    const dir = scratch();
    const pieces = ['A'.repeat(100), 'B'.repeat(100), 'C'.repeat(100)];
    // Three write()s per line (printf is a builtin: one write each).
    const printLines = `i=0; while [ $i -lt 2000 ]; do printf %s ${pieces[0]}; printf %s ${pieces[1]}; printf '%s\\n' ${pieces[2]}; i=$((i+1)); done; exec sleep 1000`;
    const config = writeConfig(dir, { services: { aaa: { command: printLines }, bbb: { command: printLines } } });
    const { stdout } = await printed(config, 4000);
    const line = pieces.join('');
    expect(stdout.filter((l) => l !== `aaa | ${line}` && l !== `bbb | ${line}`)).toEqual([]);
    expect(stdout.filter((l) => l.startsWith('aaa | '))).toHaveLength(2000);
    expect(stdout.filter((l) => l.startsWith('bbb | '))).toHaveLength(2000);
  });

  it('pads the prefix to the longest name, as Compose does', async () => {
    const dir = scratch();
    const config = writeConfig(dir, {
      services: { db: { command: 'echo from db; exec sleep 1000' }, worker: { command: 'echo from worker; exec sleep 1000' } },
    });
    const { stdout } = await printed(config, 2);
    expect(stdout.sort()).toEqual(['db     | from db', 'worker | from worker']);
  });

  it('prefix: false gives bare lines', async () => {
    const dir = scratch();
    const config = writeConfig(dir, {
      prefix: false,
      services: { aaa: { command: 'echo hello from aaa; exec sleep 1000' }, bbb: { command: 'echo hello from bbb; exec sleep 1000' } },
    });
    const { stdout } = await printed(config, 2);
    expect(stdout.sort()).toEqual(['hello from aaa', 'hello from bbb']);
  });

  it('a single service has no prefix by default', async () => {
    const dir = scratch();
    const config = writeConfig(dir, { services: { web: { command: 'echo hello; echo world; exec sleep 1000' } } });
    const { stdout } = await printed(config, 2);
    expect(stdout).toEqual(['hello', 'world']);
  });

  it('a service\'s stderr goes to init\'s stderr, its stdout to init\'s stdout', async () => {
    const dir = scratch();
    const config = writeConfig(dir, {
      services: { aaa: { command: 'echo to stderr >&2; echo to stdout; exec sleep 1000' }, bbb: { command: 'exec sleep 1000' } },
    });
    const { stdout, stderr } = await printed(config, 1);
    expect(stdout).toEqual(['aaa | to stdout']);
    expect(stderr).toMatch(/^aaa \| to stderr$/m);
    expect(stderr).not.toContain('to stdout');
  });

  it('shows a partial line (a prompt) while the service still runs, ended with a newline', async () => {
    const dir = scratch();
    const config = writeConfig(dir, { services: { web: { command: "printf 'Password: '; exec sleep 1000" } } });
    const init = startAsPid1(['-c', config]);
    await init.waitFor(/^Password: \n/);
    await init.signal('SIGTERM');
    const r = await init.done;
    expect(r.stdout).toBe('Password: \n');
    expect(r.code).toBe(143);
  });

  it('loses no output of a service that exits just before init does', async () => {
    const dir = scratch();
    const config = writeConfig(dir, { services: { web: { command: 'seq 1 100000; exit 3' } } });
    const r = await runAsPid1(['-c', config]);
    const out = r.stdout.split('\n').slice(0, -1);
    expect(out).toHaveLength(100000);
    expect(out.at(-1)).toBe('100000');
    expect(r.code).toBe(3);
  });

  it('relays the last lines of services that all stop at once before init exits', async () => {
    // Twenty recorders, each printing "sig TERM" as its last line when the shutdown stops
    // it; their exits come together (one SIGCHLD can stand for several of them). Three
    // rounds, as a lost line depends on how the exits fall.
    const names = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    const lost: string[] = [];
    for (let round = 1; round <= 3; round++) {
      const dir = scratch();
      const config = writeConfig(dir, { services: Object.fromEntries(names.map((n) => [n, { command: [sigrecord] }])) });
      const init = startAsPid1(['-c', config]);
      await until(() => (init.stdout().match(/\| ready /g) ?? []).length === names.length, 'every service is ready', init);
      await init.signal('SIGTERM');
      const r = await init.done;
      // Every one of them exited 0, which sigrecord does only after printing "sig TERM".
      expect(names.filter((n) => logAbout(r.stderr, n).some((l) => l.startsWith('exited with code 0')))).toEqual(names);
      expect(r.code).toBe(0);
      lost.push(...names.filter((n) => !r.stdout.includes(`${n} | sig TERM\n`)).map((n) => `round ${round}: ${n}`));
    }
    expect(lost).toEqual([]);
  });
});

describe('services: config errors', () => {
  const touch = (dir: string) => `touch ${join(dir, 'started')}; exec sleep 1000`;
  // [what, config for a scratch dir, the message after "sesame: error: FILE: "]
  const cases: Array<[string, (dir: string) => object, RegExp]> = [
    ['an unknown key', (d) => ({ services: { web: { command: touch(d), restrat: 'always' } } }),
      /^services\.web\.restrat: unknown key \(expected one of command, environment, /],
    ['a bad restart value', (d) => ({ services: { web: { command: touch(d), restart: 'sometimes' } } }),
      /^services\.web\.restart: "sometimes" is not one of "no", on-failure, on-failure:N, always, unless-stopped$/],
    ['a bad duration', (d) => ({ services: { web: { command: touch(d), stop_grace_period: 'ten seconds' } } }),
      /^services\.web\.stop_grace_period: /],
    ['a dependency cycle', (d) => ({ services: { a: { command: touch(d), depends_on: ['b'] }, b: { command: touch(d), depends_on: ['a'] } } }),
      /^services: dependency cycle: a -> b -> a$/],
    ['depends_on an unknown service', (d) => ({ services: { web: { command: touch(d), depends_on: ['db'] } } }),
      /^services\.web\.depends_on\.db: no service named "db"$/],
    ['service_healthy on a service without healthcheck or ready', (d) => ({
      services: { db: { command: touch(d) }, web: { command: touch(d), depends_on: healthy('db') } },
    }), /^services\.web\.depends_on\.db: service_healthy needs a healthcheck or ready probe on db$/],
    ['main naming no service', (d) => ({ main: 'nosuch', services: { web: { command: touch(d) } } }),
      /^main: "nosuch" is not a service name or "any"$/],
    ['signals: main with several services and no main', (d) => ({ signals: 'main', services: { a: { command: touch(d) }, b: { command: touch(d) } } }),
      /^signals: main needs a main service \(set main: NAME\)$/],
    ['a oneshot that restarts always', (d) => ({ services: { job: { command: touch(d), oneshot: true, restart: 'always' } } }),
      /^services\.job\.restart: a oneshot service cannot restart always/],
    ['a service secret that secrets: does not have', (d) => ({ services: { web: { command: touch(d), secrets: ['DB_PASSWORD'] } } }),
      /^services\.web\.secrets\[0\]: no entry in secrets: has env: DB_PASSWORD$/],
  ];

  it.each(cases)('%s: exit 78, one line naming the key, nothing started', async (_, make, message) => {
    const dir = scratch();
    const config = writeConfig(dir, make(dir));
    const r = await runAsPid1(['-c', config]);
    expect(r.code).toBe(78);
    expect(r.stdout).toBe('');
    const errLines = r.stderr.split('\n').slice(0, -1);
    expect(errLines).toHaveLength(1);
    const prefix = `sesame: error: ${config}: `;
    expect(errLines[0].startsWith(prefix)).toBe(true);
    expect(errLines[0].slice(prefix.length)).toMatch(message);
    expect(existsSync(join(dir, 'started'))).toBe(false);
  });
});

describe('services: a command on init\'s command line', () => {
  it('starts once the services are ready, gives init its exit code, and the services are stopped', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const readyFile = join(dir, 'db-ready');
    const config = writeConfig(dir, {
      services: {
        db: {
          command: `trap 'echo db got TERM >> ${events}; exit 0' TERM; sleep 0.3; touch ${readyFile}; sleep 1000 & wait`,
          ready: { file: readyFile, interval: '50ms' },
        },
      },
    });
    const r = await runAsPid1(['-c', config, '--', 'sh', '-c', `[ -e ${readyFile} ] && echo command saw db ready || echo command started too early; exit 9`]);
    expect(r.stdout).toContain('command saw db ready\n');
    expect(lineIndex(r.stderr, /^sesame: command: started/)).toBeGreaterThan(lineIndex(r.stderr, /^sesame: db: ready/));
    expect(lines(events)).toEqual(['db got TERM']);
    expect(r.code).toBe(9);
  });
});

describe('services: signals', () => {
  // Each service is a sigrecord whose lines go to a file of its own, so that what it
  // received is known whatever happens to init's output.
  /** The signals a service recorded (SIGCONT aside: init sends it after every stop signal). */
  const recorded = (file: string) => lines(file).flatMap((l) => (l.startsWith('sig ') ? [l.slice(4)] : [])).filter((s) => s !== 'CONT');

  async function sendHup(top: object, args: string[] = []): Promise<{ a: string[]; b: string[]; code: number | null }> {
    const dir = scratch();
    const file = (name: string) => join(dir, `${name}.signals`);
    const service = (name: string) => ({ command: `exec ${sigrecord} > ${file(name)}` });
    const init = startAsPid1([...args, '-c', writeConfig(dir, { ...top, services: { a: service('a'), b: service('b') } })]);
    await until(() => lines(file('a')).length > 0 && lines(file('b')).length > 0, 'both services are ready', init);
    await init.signal('SIGHUP');
    // Init handles signals in order: SIGHUP is forwarded before SIGTERM is acted on.
    await until(() => recorded(file('a')).length > 0, 'a has recorded a signal', init);
    await init.signal('SIGTERM');
    const r = await init.done;
    return { a: recorded(file('a')), b: recorded(file('b')), code: r.code };
  }

  it('by default (signals: all) a signal reaches every running service', async () => {
    const r = await sendHup({});
    expect(r.a).toEqual(['HUP', 'TERM']);
    expect(r.b).toEqual(['HUP', 'TERM']);
    expect(r.code).toBe(0);
  });

  it('signals: main sends it to the main service only', async () => {
    const r = await sendHup({ signals: 'main', main: 'a' });
    expect(r.a).toEqual(['HUP', 'TERM']);
    expect(r.b).toEqual(['TERM']);
    expect(r.code).toBe(0);
  });

  it('-r HUP:USR1 rewrites what the services get', async () => {
    const r = await sendHup({}, ['-r', 'HUP:USR1']);
    expect(r.a).toEqual(['USR1', 'TERM']);
    expect(r.b).toEqual(['USR1', 'TERM']);
    expect(r.code).toBe(0);
  });
});

describe('services: logging and checking', () => {
  it('--log-format json: every line init writes to stderr is a JSON object with time, level, service and message', async () => {
    const dir = scratch();
    const config = writeConfig(dir, { services: { web: { command: 'echo hi; exit 2' } } });
    const r = await runAsPid1(['--log-format', 'json', '-c', config]);
    const entries = r.stderr.split('\n').slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      // "service" is there on every line about one (here: all of them).
      expect(Object.keys(e).sort()).toEqual(['level', 'message', 'service', 'time']);
      expect(new Date(e.time as string).toISOString()).toBe(e.time);
      expect(['error', 'warn', 'info', 'debug']).toContain(e.level);
    }
    expect(entries).toContainEqual(expect.objectContaining({ level: 'info', service: 'web', message: expect.stringMatching(/^started \(pid \d+\)$/) }));
    expect(entries).toContainEqual(expect.objectContaining({ level: 'warn', service: 'web', message: expect.stringMatching(/^exited with code 2 \(ran \d+ ms\)$/) }));
    expect(r.code).toBe(2);
  });

  it('init --check -c FILE checks the services and starts nothing', async () => {
    const dir = scratch();
    const marker = join(dir, 'started');
    const config = writeConfig(dir, {
      services: {
        db: { command: `touch ${marker}; exec sleep 1000`, ready: { file: marker } },
        web: { command: `touch ${marker}; exec sleep 1000`, depends_on: healthy('db') },
      },
    });
    const r = await runAsPid1(['--check', '-c', config]);
    expect(r.stdout).toMatch(/^sesame: check passed: .*, 2 service\(s\) checked\n$/);
    expect(r.stderr).toBe('');
    expect(existsSync(marker)).toBe(false);
    expect(r.code).toBe(0);
  });
});

describe('services: spawn failure', () => {
  it('a service whose command is not found ends the container with 127, naming it; started ones are stopped', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, {
      services: {
        db: recorder(dir, 'db'),
        web: { command: ['no-such-command-sesame'], depends_on: healthy('db') },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(r.stderr).toMatch(/^sesame: error: web: no-such-command-sesame: command not found$/m);
    expect(lines(events)).toEqual(['db up', 'db got TERM']);
    expect(r.code).toBe(127);
  });
});

describe('services: what each service is given', () => {
  it('stdin is /dev/null, not init\'s stdin', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, { services: { web: { command: `{ readlink /proc/self/fd/0; cat; echo cat saw end of input; } > ${events}` } } });
    const r = await runAsPid1(['-c', config], { input: 'typed into init\n' });
    expect(lines(events)).toEqual(['/dev/null', 'cat saw end of input']);
    expect(r.code).toBe(0);
  });

  it.each([
    ['map', { GREETING: 'hello', COUNT: 3, FROM_INIT: null, EMPTY: '' }],
    ['list', ['GREETING=hello', 'COUNT=3', 'FROM_INIT', 'EMPTY=']],
  ])('environment as a %s: values set, NAME alone takes init\'s value', async (_, environment) => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, {
      services: { web: { command: `echo "$GREETING $COUNT $FROM_INIT [\${EMPTY-unset}]" > ${events}`, environment } },
    });
    const r = await runAsPid1(['-c', config], { env: { ...process.env, FROM_INIT: 'from-init', GREETING: 'overridden' } });
    expect(lines(events)).toEqual(['hello 3 from-init []']);
    expect(r.code).toBe(0);
  });

  it('working_dir is where the service starts', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, { services: { web: { command: `pwd > ${events}`, working_dir: dir } } });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events)).toEqual([dir]);
    expect(r.code).toBe(0);
  });

  it('a config secret goes only to the services that list it in secrets:', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const secretFile = join(dir, 'db_password');
    writeFileSync(secretFile, 's3cret\n');
    const show = (name: string) => `echo "${name}: DB_PASSWORD=\${DB_PASSWORD-unset}" >> ${events}`;
    const config = writeConfig(dir, {
      secrets: [{ ref: `file:${secretFile}`, env: 'DB_PASSWORD' }],
      main: 'end',
      services: {
        api: { command: show('api'), secrets: ['DB_PASSWORD'], oneshot: true },
        web: { command: show('web'), oneshot: true },
        // Naming it in environment: is no way around secrets:.
        env: { command: show('env'), environment: ['DB_PASSWORD'], oneshot: true },
        end: { command: 'exit 0', depends_on: completed('api', 'web', 'env') },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events).sort()).toEqual([
      'api: DB_PASSWORD=s3cret',
      'env: DB_PASSWORD=unset',
      'web: DB_PASSWORD=unset',
    ]);
    expect(r.code).toBe(0);
  });
});

describe('services: oneshots only, and optional dependencies', () => {
  it('a config of oneshots only ends with 0 once every one has completed', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, {
      services: {
        first: { command: `echo first >> ${events}`, oneshot: true },
        second: { command: `echo second >> ${events}`, oneshot: true, depends_on: { first: { condition: 'service_completed_successfully' } } },
      },
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events)).toEqual(['first', 'second']);
    expect(r.stderr).toContain('sesame: every service has completed\n');
    expect(r.code).toBe(0);
  }, 30_000);

  it('required: false starts the dependant even when the dependency never becomes ready', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, {
      services: {
        flaky: { command: 'sleep 1000', ready: { file: join(dir, 'never'), interval: '100ms', timeout: '500ms' } },
        app: { command: `echo app started >> ${events}; exit 4`, depends_on: { flaky: { condition: 'service_healthy', required: false } } },
      },
      main: 'app',
    });
    const r = await runAsPid1(['-c', config]);
    expect(lines(events)).toEqual(['app started']);
    expect(logAbout(r.stderr, 'app')).toContain('starting without flaky: it did not reach service_healthy (required: false)');
    expect(r.code).toBe(4);
  }, 30_000);
});

describe('services: SIGTERM during start-up', () => {
  it('stops what has started and starts nothing more', async () => {
    const dir = scratch();
    const events = join(dir, 'events');
    const config = writeConfig(dir, {
      services: {
        db: recorder(dir, 'db', { ready: { file: join(dir, 'never'), interval: '100ms', timeout: '60s' } }),
        web: { command: `echo web started >> ${events}`, depends_on: { db: { condition: 'service_healthy' } } },
      },
      main: 'web',
    });
    const running = startAsPid1(['-c', config]);
    await until(() => lines(events).includes('db up'), 'db is up', running);
    await running.signal('SIGTERM');
    const r = await running.done;
    expect(lines(events)).toEqual(['db up', 'db got TERM']);
    // The main service never ran: the signal's own code, as with a single command.
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('sesame: SIGTERM received; stopping');
  }, 30_000);
});
