// The react step: one change event in, the consumers' actions out. New values go into the
// children's environment (for the next start), secret files are written again, the
// templates that read a changed name are rendered again (written only if different), and
// then each consumer does what its wiring says, once per event: restart, signal, command,
// exit, or nothing. Every line names the secrets and what was done, never a value.
import { writeFileAtomic } from '../atomic-write';
import { signalName } from '../config/values';
import type { ChangeEvent, SecretName } from '../lifetime/lifetime';
import type { Log } from '../log';
import { secretName } from '../secrets/plan';
import type { SecretFile } from '../secrets/write';
import { rerender, type RenderedFile, type TemplateContext } from '../template/apply';
import { type Action, describeAction, type Wiring } from './wiring';

/** What the supervisor offers the react step: its own paths, not copies of them. */
export interface Reactions {
  /** The environment the service ("" = the single command) gets from its next start on. */
  setEnvironment(service: string, env: Record<string, string>): void;
  /** Restart it through the supervisor's restart path (stop signal, grace period, start). */
  restart(service: string): Promise<void>;
  /** Send it a signal; false when it is not running. */
  signal(service: string, signal: number): boolean;
  /** Run a command once (the addon's spawn); resolves null when it succeeded, else why not. */
  run(argv: string[], timeoutMs: number): Promise<string | null>;
  /** Stop the container gracefully and exit with 69. */
  exit(why: string): void;
}

/** What the react step keeps between events: the last values and renderings. */
export interface ReactState {
  /** What every child would get, secrets included (env.ts childEnvironment). */
  childEnv: Record<string, string>;
  /** The values templates see as `secrets.NAME`. */
  templateSecrets: Record<string, string>;
  /** Names in childEnv that hold secrets (for template masking and modes). */
  secretEnv: Set<string>;
  rendered: RenderedFile[];
  files: SecretFile[];
  /** Each service's environment from a child environment ("" = the single command). */
  environments(childEnv: Record<string, string>): Map<string, Record<string, string>>;
}

const isEnvName = (name: SecretName) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);

export class Reactor {
  constructor(
    private readonly wiring: Wiring,
    private readonly state: ReactState,
    private readonly reactions: Reactions,
    private readonly log: Log,
  ) {}

  async apply(event: ChangeEvent): Promise<void> {
    const changed = new Set(event.changed.keys());
    const state = this.state;
    this.log.info(`secret${changed.size > 1 ? 's' : ''} changed: ${[...changed].join(', ')}`);
    for (const [name, value] of event.changed) {
      if (isEnvName(name)) state.childEnv[name] = value.toString('utf8');
      else if (name.startsWith('secrets.')) state.templateSecrets[name.slice('secrets.'.length)] = value.toString('utf8');
    }
    const envs = state.environments(state.childEnv);

    // Secret files: written again, as they were (mode, owner).
    state.files = state.files.map((file) => {
      const value = event.changed.get(secretName(file.request));
      if (!value) return file;
      try {
        writeFileAtomic(file.path, value, { mode: file.mode, uid: file.uid, gid: file.gid });
        this.log.info(`wrote ${file.path} again (${file.request.origin})`);
      } catch (error) {
        this.log.error(`${file.request.origin}: cannot write ${file.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; the old file stays`);
      }
      return { ...file, data: value };
    });

    const actions: Array<{ action: Action; why: string }> = [];
    // Templates that read a changed name, rendered again.
    const context: TemplateContext = { env: state.childEnv, secrets: state.templateSecrets, secretEnv: state.secretEnv };
    state.rendered = state.rendered.map((file) => {
      const names = file.rendered.names;
      if (names !== 'all' && ![...names].some((n) => changed.has(n))) return file;
      try {
        const { file: next, written } = rerender(file, context);
        this.log.debug(`rendered ${file.src} again: ${written ? 'written' : 'unchanged, not written'}`);
        if (written) {
          const wire = this.wiring.templates.find((t) => t.entry === file.entry);
          this.log.info(`wrote ${file.dest} again`);
          if (wire && wire.action.kind !== 'none') actions.push({ action: wire.action, why: file.dest });
        }
        return next;
      } catch (error) {
        this.log.error(`${file.entry.at}: rendering ${file.src} again failed: ${(error as Error).message}; the old ${file.dest} stays`);
        return file;
      }
    });

    // Services whose environment holds a changed name.
    for (const wire of this.wiring.services) {
      const hit = [...wire.names].filter((n) => changed.has(n));
      if (!hit.length) continue;
      const env = envs.get(wire.service);
      if (env) this.reactions.setEnvironment(wire.service, env);
      if (wire.action.kind !== 'none') actions.push({ action: { ...wire.action, ...(wire.action.kind === 'restart' || wire.action.kind === 'signal' ? { service: wire.action.service ?? wire.service } : {}) } as Action, why: hit.join(', ') });
    }
    // Files init wrote itself (an issued certificate): already on disk, only the action is left.
    for (const wire of this.wiring.files ?? []) {
      if (wire.action.kind === 'none' || ![...wire.names].some((n) => changed.has(n))) continue;
      actions.push({ action: wire.action, why: wire.what });
    }
    await this.run(actions);
  }

  /** Each action once: a restart covers a signal to the same service. */
  private async run(actions: Array<{ action: Action; why: string }>): Promise<void> {
    const restarts = new Map<string, string>();
    const signals = new Map<string, { service: string; signal: number; why: string }>();
    const commands = new Map<string, { argv: string[]; timeoutMs: number; why: string }>();
    let exit: string | undefined;
    for (const { action, why } of actions) {
      if (action.kind === 'restart') restarts.set(action.service ?? '', why);
      else if (action.kind === 'signal') signals.set(`${action.service ?? ''}\0${action.signal}`, { service: action.service ?? '', signal: action.signal, why });
      else if (action.kind === 'command') commands.set(JSON.stringify(action.argv), { ...action, why });
      else if (action.kind === 'exit') exit = why;
    }
    const label = (service: string) => service || 'the command';
    if (exit !== undefined) {
      this.log.info(`changed (${exit}): stopping the container (on change: exit)`);
      this.reactions.exit(`secrets changed: ${exit}`);
      return;
    }
    for (const [, s] of signals) {
      if (restarts.has(s.service)) continue;
      const sent = this.reactions.signal(s.service, s.signal);
      this.log.info(`changed (${s.why}): ${sent ? 'sent' : 'could not send'} ${signalName(s.signal)} to ${label(s.service)}`);
    }
    await Promise.all([
      ...[...restarts].map(async ([service, why]) => {
        this.log.info(`changed (${why}): restarting ${label(service)}`);
        await this.reactions.restart(service);
      }),
      ...[...commands.values()].map(async (c) => {
        this.log.info(`changed (${c.why}): running ${describeAction({ kind: 'command', argv: c.argv, timeoutMs: c.timeoutMs }, signalName)}`);
        const failed = await this.reactions.run(c.argv, c.timeoutMs);
        if (failed) this.log.warn(`on change command ${c.argv[0]}: ${failed}`);
      }),
    ]);
  }
}
