// The real-engine tests' side of Docker: the `docker` client on PATH against DOCKER_HOST
// (test/docker/run.sh starts an engine of its own and sets it), run with a time limit,
// and every container a test file starts removed afterwards (removeContainers()).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Images made by global-setup (docker): sesame and tini over the test base image. */
export const IMAGE = 'sesame-test/init';
/** The same without /init.node: the embedded addon is all init has. */
export const IMAGE_BARE = 'sesame-test/init-bare';

/** docker ARGS, waiting at most `ms`; never throws for a non-zero exit. */
export function docker(args: string[], options: { input?: string; ms?: number } = {}): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    // The CLI may exit before it reads its stdin (a quick `docker run`): EPIPE then is no failure.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`docker ${args.join(' ')}: no answer within ${options.ms ?? 60_000} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, options.ms ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const started = new Set<string>();

/** A fresh container name, remembered for removeContainers(). */
export function containerName(what: string): string {
  const name = `sesame-${what}-${randomBytes(3).toString('hex')}`;
  started.add(name);
  return name;
}

/** docker rm -f every container this file named (after the tests, also when they failed). */
export function removeContainers(): void {
  if (!started.size) return;
  spawnSync('docker', ['rm', '-f', ...started], { stdio: 'ignore', timeout: 60_000 });
  started.clear();
}

/** `docker run -d --network host ... IMAGE ARGS`: the container's name. */
export async function runDetached(what: string, runArgs: string[], image: string, args: string[]): Promise<string> {
  const name = containerName(what);
  const r = await docker(['run', '-d', '--name', name, '--network', 'host', ...runArgs, image, ...args]);
  if (r.code !== 0) throw new Error(`docker run ${what}: ${r.stderr}`);
  return name;
}

/** Wait until `docker logs` (stdout and stderr together) matches, at most `ms`. */
export async function waitForLogs(name: string, pattern: RegExp, ms = 20_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await docker(['logs', name]);
    const text = r.stdout + r.stderr;
    if (pattern.test(text)) return text;
    if (Date.now() > until) throw new Error(`${name}: ${pattern} not in the logs within ${ms} ms: ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Logs in order of time (stdout and stderr interleaved as Docker recorded them). */
export async function logs(name: string): Promise<string> {
  const r = await docker(['logs', '-t', name]);
  return [...r.stdout.split('\n'), ...r.stderr.split('\n')].filter(Boolean).sort().map((l) => l.replace(/^\S+ /, '')).join('\n');
}

/** The container's exit code once it has stopped (docker wait). */
export async function exitCode(name: string, ms = 30_000): Promise<number> {
  const r = await docker(['wait', name], { ms });
  if (r.code !== 0) throw new Error(`docker wait ${name}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** The engine answers (test/docker/run.sh made sure before the suite started). */
export function engineAnswers(): boolean {
  return spawnSync('docker', ['version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

/**
 * PID 1's /proc/PID/environ of a running container, read from the host (as root, with
 * CAP_SYS_PTRACE): init is undumpable, so inside the container not even root may read it
 * without that capability, which Docker does not grant by default. What a privileged
 * neighbour would see.
 */
export async function initEnviron(name: string): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const pid = (await docker(['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim();
  if (!/^[1-9]\d*$/.test(pid)) throw new Error(`${name}: no pid from docker inspect ("${pid}")`);
  return readFileSync(`/proc/${pid}/environ`, 'latin1');
}
