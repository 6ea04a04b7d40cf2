// Rendering one template: choose the engine, render, and tell the caller whether the text may
// hold a secret (for the output's default mode, 0600 instead of 0644) and which secret values
// it read (to mask them in `init --render`). No file is read or written here: the caller
// reads the template and writes the result with writeFileAtomic.
//
// The engine, unless the template names one, follows the file's suffix:
//   *.template  envsubst, replacing only the variables that are defined (the official nginx
//               image's /etc/nginx/templates/*.template convention, so nginx's own $host
//               and $uri stay as they are)
//   *.liquid    Liquid
//   other       Liquid, sesame's own engine (a `${VAR}` means nothing there and stays as
//               written: name envsubst files *.template, or set the engine)
// and the rendered file drops `.template` or `.liquid` from its name (renderedName). No
// guess from the content: a file's engine must not change when someone adds a `{{` to it.
import { basename } from 'node:path';
import type { TemplateContext } from './context';
import { envsubst, envsubstNames } from './envsubst';
import { renderLiquid } from './liquid';

// What a caller needs besides renderTemplate, from one place.
export type { SecretValue, TemplateContext } from './context';
export { shellFormatVariables } from './envsubst';
export { TemplateError } from './errors';
export { MASK, maskSecrets } from './mask';

export type EngineName = 'liquid' | 'envsubst';

export interface Template {
  /** The template's text. */
  source: string;
  /** Where it was read from: names it in errors, and picks the engine when `engine` is not set. */
  path: string;
  /** The engine; by default the one for the path's suffix (engineFor). */
  engine?: EngineName;
  /**
   * envsubst only, which references to replace: 'defined' (the default: the variables set in
   * env, like nginx's `envsubst "$defined_envs"`), 'all' (plain `envsubst`: unset ones become
   * empty), or these names (`envsubst '${A} ${B}'`; shellFormatVariables parses that form).
   */
  variables?: 'defined' | 'all' | Iterable<string>;
}

export interface Rendered {
  text: string;
  engine: EngineName;
  /** The text may contain a secret: write it 0600 unless a mode was given. */
  usesSecrets: boolean;
  /** The secret values this rendering read, to mask with maskSecrets. */
  secretValues: string[];
  /** The names it may read ("X" for env.X or $X, "secrets.x"), or 'all': what a change must re-render. */
  names: ReadonlySet<string> | 'all';
}

const SUFFIXES: Array<[suffix: string, engine: EngineName]> = [
  ['.template', 'envsubst'],
  ['.liquid', 'liquid'],
];

/** The engine for a template file by its suffix (see the top of this file). */
export function engineFor(path: string): EngineName {
  const name = basename(path);
  return SUFFIXES.find(([suffix]) => name.endsWith(suffix) && name !== suffix)?.[1] ?? 'liquid';
}

/** The name of a template's output: without `.template` or `.liquid` (`default.conf.template` -> `default.conf`). */
export function renderedName(fileName: string): string {
  const suffix = SUFFIXES.find(([s]) => fileName.endsWith(s) && basename(fileName) !== s)?.[0];
  return suffix ? fileName.slice(0, -suffix.length) : fileName;
}

/** Renders a template with `context`. Throws TemplateError (exit code 78) when the template is wrong. */
export function renderTemplate(template: Template, context: TemplateContext): Rendered {
  const engine = template.engine ?? engineFor(template.path);
  if (engine === 'liquid') {
    const { text, usesSecrets, secretValues, names } = renderLiquid(template.source, template.path, context);
    return { text, engine, usesSecrets, secretValues: [...secretValues], names };
  }
  const only = envsubstOnly(template.variables ?? 'defined', context);
  const secretNames = envsubstNames(template.source, only).filter((name) => context.secretEnv?.has(name));
  return {
    text: envsubst(template.source, context.env, only),
    engine,
    usesSecrets: secretNames.length > 0,
    secretValues: secretNames.map((name) => context.env[name]).filter((value): value is string => typeof value === 'string'),
    names: new Set(envsubstNames(template.source)),
  };
}

function envsubstOnly(variables: 'defined' | 'all' | Iterable<string>, context: TemplateContext): ReadonlySet<string> | undefined {
  if (variables === 'all') return undefined;
  if (variables === 'defined') return new Set(Object.keys(context.env).filter((name) => typeof context.env[name] === 'string'));
  return new Set(variables);
}
