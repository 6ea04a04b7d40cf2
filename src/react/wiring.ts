// The wiring: who cares about which secret name, and what each does when one changes.
// Plain data decided with the plan, before anything starts; the react step (react.ts)
// reads it for every change event. The lifetime stage never sees it.
//
//   a service (or the single command) whose environment holds a changed name
//        -> its on_change, default restart (an environment cannot change in place)
//   a template that reads a changed name -> rendered again, written if different
//        -> its on_change, default none, or restart of the service it names
//   a secret file whose value changed    -> written again (atomically, mode and owner kept)
import type { TemplateEntry } from '../config/file';
import type { SecretName } from '../lifetime/lifetime';

export type Action =
  /** Through the supervisor's restart path: stop signal, grace period, start again; dependants keep running. */
  | { kind: 'restart'; service?: string }
  /** e.g. SIGHUP to nginx, which then reloads its files. */
  | { kind: 'signal'; service?: string; signal: number }
  /** Run once through the addon's spawn path, with a time limit; its failure is logged. */
  | { kind: 'command'; argv: string[]; timeoutMs: number }
  /** Stop the container (69) and let the orchestrator start a fresh one (single-command mode). */
  | { kind: 'exit' }
  /** The program watches its own files. */
  | { kind: 'none' };

/** `service` undefined in an action: the single command (there is only one). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

export interface ServiceWire {
  /** The service's name; "" for the single command. */
  service: string;
  /** The secret names its environment holds. */
  names: ReadonlySet<SecretName>;
  action: Action;
}

export interface TemplateWire {
  entry: TemplateEntry;
  action: Action;
}

/** Files init writes itself besides templates and secret files: an issued certificate's. */
export interface FileWire {
  /** For lines: "certificate web". */
  what: string;
  /** The file: names whose change means it was written again. */
  names: ReadonlySet<SecretName>;
  action: Action;
}

export interface Wiring {
  services: ServiceWire[];
  templates: TemplateWire[];
  files?: FileWire[];
}

/** A short text for log lines: "restart", "SIGHUP to nginx", "command nginx -s reload". */
export function describeAction(action: Action, signalName: (n: number) => string): string {
  switch (action.kind) {
    case 'restart': return `restart${action.service ? ` ${action.service}` : ''}`;
    case 'signal': return `${signalName(action.signal)}${action.service ? ` to ${action.service}` : ''}`;
    case 'command': return `command ${action.argv.join(' ')}`;
    case 'exit': return 'exit';
    case 'none': return 'none';
  }
}
