// The wiring decided with the plan: which consumer holds which secret name, and what its
// on_change says. Services get theirs from their environment (a changed secret there means
// a restart by default: an environment cannot change in place); templates from their entry
// (none by default, or a restart of the service they name).
import type { TemplateEntry } from '../config/file';
import type { SecretName } from '../lifetime/lifetime';
import { secretName, type SecretPlan } from '../secrets/plan';
import type { Resolution } from '../secrets/resolve';
import type { Action, ServiceWire, TemplateWire, Wiring } from './wiring';

/** Names of the secrets that reach children through the environment. */
export function envSecretNames(plan: SecretPlan, resolution: Resolution): Set<SecretName> {
  return new Set(plan.requests.filter((r) => r.target.kind === 'env' && resolution.has(r)).map(secretName));
}

/** A template's action: its on_change, aimed at its service (or the single command). */
export function templateAction(entry: TemplateEntry): Action {
  const action = entry.onChange ?? (entry.service ? { kind: 'restart' } : { kind: 'none' });
  if (action.kind === 'restart' || action.kind === 'signal') return { ...action, service: entry.service ?? '' };
  return action;
}

export function buildWiring(
  consumers: Array<{ service: string; env: Record<string, string>; action: Action }>,
  templates: TemplateEntry[],
  secretEnv: ReadonlySet<SecretName>,
): Wiring {
  const services: ServiceWire[] = consumers.map(({ service, env, action }) => ({
    service,
    names: new Set(Object.keys(env).filter((name) => secretEnv.has(name))),
    action,
  }));
  const wires: TemplateWire[] = templates.map((entry) => ({ entry, action: templateAction(entry) }));
  return { services, templates: wires };
}
