// When is a service ready? Two ways to say it:
// - healthcheck: Docker's HEALTHCHECK semantics (a command, exit 0 = healthy; `retries`
//   failures in a row after `start_period` = unhealthy), checked for as long as the service
//   runs, and a change either way is logged. One deviation, documented in the README: until
//   the first success checks run every start_interval (default 1s) even after start_period,
//   so that dependants start promptly instead of after a 30 s interval.
// - ready: a TCP port that accepts, an HTTP URL that answers 2xx/3xx (certificates not
//   verified, as Kubernetes' probes), or a file that exists; checked until the first
//   success, failed if that has not come within `timeout`.
import { existsSync } from 'node:fs';
import type { HealthCheck, ReadyProbe } from '../config/services';
import { realClock } from '../lifetime/clock';

/** One attempt: null when it passed, else why it failed (one line). */
export type Attempt = () => Promise<string | null>;

export interface ReadinessEvents {
  /** First success, or healthy again after being unhealthy. */
  healthy(how: string): void;
  /** Failed for good (ready probe out of time), or a healthcheck's retries ran out. */
  unhealthy(why: string): void;
}

/** Each attempt of a tcp or http probe gives up after this long. */
const ATTEMPT_MS = 1000;

function tcpAttempt(host: string, port: number): Attempt {
  return () => new Promise((resolve) => {
    const net = require('node:net') as typeof import('node:net');
    const socket = net.connect({ host, port });
    const done = (why: string | null) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(ATTEMPT_MS, () => done(`no connection to ${host}:${port} within ${ATTEMPT_MS} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (error: NodeJS.ErrnoException) => done(`${host}:${port}: ${error.code ?? error.message}`));
  });
}

function httpAttempt(url: string): Attempt {
  return () => new Promise((resolve) => {
    const client = (url.startsWith('https:') ? require('node:https') : require('node:http')) as typeof import('node:https');
    const request = client.get(url, { timeout: ATTEMPT_MS, rejectUnauthorized: false, agent: false }, (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(status >= 200 && status < 400 ? null : `${url}: HTTP ${status}`);
    });
    request.once('timeout', () => request.destroy(new Error(`no answer within ${ATTEMPT_MS} ms`)));
    request.once('error', (error: NodeJS.ErrnoException) => resolve(`${url}: ${error.code ?? error.message}`));
  });
}

function fileAttempt(path: string): Attempt {
  return async () => (existsSync(path) ? null : `${path} does not exist`);
}

export function probeAttempt(probe: ReadyProbe): Attempt {
  if (probe.kind === 'tcp') return tcpAttempt(probe.host as string, probe.port as number);
  if (probe.kind === 'http') return httpAttempt(probe.url as string);
  return fileAttempt(probe.path as string);
}

export function describeProbe(probe: ReadyProbe): string {
  if (probe.kind === 'tcp') return `port ${probe.host}:${probe.port} accepts connections`;
  if (probe.kind === 'http') return `${probe.url} answers`;
  return `${probe.path} exists`;
}

// Through the one clock: an interval past 2^31 ms must not become 1 ms.
const sleep = (ms: number) => realClock.sleep(ms);

/**
 * Watch one running process; returns a function that stops watching (when it exits).
 * `command` runs a healthcheck's test (with its timeout) as an attempt.
 */
export function watchReadiness(
  check: { healthcheck?: HealthCheck; ready?: ReadyProbe },
  command: (argv: string[], timeoutMs: number) => Promise<string | null>,
  events: ReadinessEvents,
): () => void {
  let stopped = false;
  const stop = () => { stopped = true; };
  if (check.ready) void watchProbe(check.ready, () => stopped, events);
  else if (check.healthcheck) void watchHealth(check.healthcheck, command, () => stopped, events);
  return stop;
}

async function watchProbe(probe: ReadyProbe, stopped: () => boolean, events: ReadinessEvents): Promise<void> {
  const attempt = probeAttempt(probe);
  const until = Date.now() + probe.timeoutMs;
  let last = 'not checked yet';
  while (!stopped()) {
    const why = await attempt();
    if (stopped()) return;
    if (why === null) return events.healthy(describeProbe(probe));
    last = why;
    if (Date.now() + probe.intervalMs > until) break;
    await sleep(probe.intervalMs);
  }
  if (!stopped()) events.unhealthy(`not ready within ${probe.timeoutMs / 1000}s (${last})`);
}

async function watchHealth(
  check: HealthCheck,
  command: (argv: string[], timeoutMs: number) => Promise<string | null>,
  stopped: () => boolean,
  events: ReadinessEvents,
): Promise<void> {
  const started = Date.now();
  let everHealthy = false;
  let healthy = false;
  let failures = 0;
  let unhealthy = false;
  while (!stopped()) {
    await sleep(everHealthy ? check.intervalMs : check.startIntervalMs);
    if (stopped()) return;
    const why = await command(check.test, check.timeoutMs);
    if (stopped()) return;
    if (why === null) {
      failures = 0;
      unhealthy = false;
      if (!healthy) events.healthy(everHealthy ? 'healthcheck passes again' : 'healthcheck passed');
      healthy = true;
      everHealthy = true;
      continue;
    }
    // Docker: failures during start_period do not count, unless the check passed already.
    if (!everHealthy && Date.now() - started < check.startPeriodMs) continue;
    failures += 1;
    if (failures >= check.retries && !unhealthy) {
      unhealthy = true;
      healthy = false;
      events.unhealthy(`healthcheck failed ${failures} time(s) in a row: ${why}`);
    }
  }
}
