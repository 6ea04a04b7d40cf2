// The Liquid engine (LiquidJS), configured to fail closed.
//
// Context: `env` and `secrets` only (context.ts), so a template says where each value comes
// from: `{{ env.DB_HOST }}`, `{{ secrets.db_password | json }}`.
//
// Strictness:
// - A variable that does not exist is an error naming the file, line and column
//   ("app.conf:3:14: env.DB_HOST is not defined ..."), and so is an unknown filter.
// - Missing is allowed exactly where the template says so: `{{ env.X | default: "y" }}`
//   (`default` as the first filter), and the conditions of `if`, `elsif`, `unless` and
//   `case`, where a missing variable is nil: `{% if env.DEBUG %}` is how a template asks
//   whether something is set (LiquidJS's lenientIf). LiquidJS also lets `assign` take a
//   missing variable under lenientIf; here `assign` is as strict as `{{ }}`.
// - `{{ env.X | required }}` fails with "env.X is required but not set" (or the template's
//   own `required: "message"`), also when X does not exist: under strict variables the
//   lookup fails before any filter runs, so that error is recognised by the `| required`
//   that follows the variable in the source and reworded.
// - Truthiness is JavaScript's (jsTruthy): an empty string is false, so `{% if env.DEBUG %}`
//   is false for DEBUG= as well as for an unset DEBUG, as in a shell's `[ -n "$DEBUG" ]`.
//   (Liquid's own rule makes "" true.) `default` replaces nil, false and "" either way.
// - No HTML escaping (config files are not HTML). `ownPropertyOnly`: only a value's own
//   properties are visible (`env.constructor` and `env.A.constructor` are undefined, so
//   errors), plus Liquid's `size`, `first` and `last`. A map written as text is an error,
//   not "[object Object]".
// - No other files: `include`, `render` and `layout` are parse errors, and the engine's file
//   system is an empty in-memory map. Rendering runs as root before privileges drop, so a
//   template must not be able to read /run/secrets or /etc/shadow into a file the service
//   can read; every template in a templates directory is also an output of its own, so a
//   partial there would be rendered as a config file; and `--check` can validate a template
//   from its text alone.
//
// Filters: ours (filters.ts: required, json, yaml, sh, base64, base64_decode) and LiquidJS's
// built-ins (default, upcase, split, join, replace, strip, url_encode, date, ...).
//
// Loaded through loadChunk('liquidjs') (chunks.ts): only a start that renders a Liquid
// template pays for parsing LiquidJS.
import type * as LiquidJS from 'liquidjs';
import { loadChunk } from '../chunks';
import { allSecretValues, trackedScope, type TemplateContext } from './context';
import { FILTERS, FilterError } from './filters';
import { FilterFailure, templateError } from './liquid-errors';

type Lib = typeof import('liquidjs');
type TagClass = Parameters<LiquidJS.Liquid['registerTag']>[1];

export interface LiquidOutput {
  text: string;
  /** The secret values the rendering read (context.ts). */
  secretValues: Set<string>;
  /** The template reads a secret, or could in a branch not taken this time (see refersToSecrets). */
  usesSecrets: boolean;
  /** The names it may read (namesRead), for re-rendering only what a change concerns. */
  names: ReadonlySet<string> | 'all';
}

/** Renders `source` (read from `path`, which only names it in errors). Throws TemplateError. */
export function renderLiquid(source: string, path: string, context: TemplateContext): LiquidOutput {
  const { lib, liquid } = engine();
  const secretValues = new Set<string>();
  try {
    const templates = liquid.parse(source);
    const text = String(liquid.renderSync(templates, trackedScope(context, (value) => secretValues.add(value))));
    const segments = liquid.globalVariableSegmentsSync(templates);
    const usesSecrets = secretValues.size > 0 || refersToSecrets(segments, context.secretEnv);
    return { text, secretValues, usesSecrets, names: namesRead(segments) };
  } catch (error) {
    throw lib.LiquidError.is(error) ? templateError(error, source, path, allSecretValues(context)) : error;
  }
}

let cached: { lib: Lib; liquid: LiquidJS.Liquid } | undefined;

function engine(): { lib: Lib; liquid: LiquidJS.Liquid } {
  if (cached) return cached;
  const lib = loadChunk<Lib>('liquidjs');
  const liquid = new lib.Liquid({
    strictVariables: true,
    strictFilters: true,
    lenientIf: true,
    ownPropertyOnly: true,
    jsTruthy: true,
    // Without a locale LiquidJS asks Intl for the system's at construction, which costs
    // ~15 ms of start-up (ICU); a fixed one also keeps `date` output independent of LANG.
    locale: 'en-US',
    // No file is ever looked up (see the top of this file); the tags that would are gone too.
    templates: {},
  });
  for (const [name, filter] of Object.entries(FILTERS)) {
    liquid.registerFilter(name, function (this: { token: { begin: number } }, value: unknown, ...args: unknown[]) {
      try {
        // Liquid's nil, empty and blank literals arrive as Drops: their plain values.
        return filter(lib.toValue(value), ...args.map((arg) => lib.toValue(arg)));
      } catch (error) {
        if (error instanceof FilterError) throw new FilterFailure(error, this.token.begin);
        throw error;
      }
    });
  }
  liquid.registerTag('assign', strictAssign(lib));
  const noFiles = noFilesTag(lib);
  for (const name of ['include', 'render', 'layout']) liquid.registerTag(name, noFiles);
  cached = { lib, liquid };
  return cached;
}

/** `assign` evaluating its value strictly: lenient only when its first filter is `default`. */
function strictAssign(lib: Lib): TagClass {
  return class StrictAssign extends lib.AssignTag {
    override *render(ctx: LiquidJS.Context): Generator<unknown, void, unknown> {
      // AssignTag's fields are private in its typings, but they are the parsed tag.
      const self = this as unknown as { key: string; value: LiquidJS.Value };
      (ctx.bottom() as Record<string, unknown>)[self.key] = yield self.value.value(ctx, false);
    }
  };
}

function noFilesTag(lib: Lib): TagClass {
  return class NoFiles extends lib.Tag {
    constructor(token: LiquidJS.TagToken, remainTokens: LiquidJS.TopLevelToken[], liquid: LiquidJS.Liquid) {
      super(token, remainTokens, liquid);
      throw new Error(`{% ${token.name} %} is not supported: a template is one self-contained file`);
    }

    render(): void {}
  };
}

type Segments = ReturnType<LiquidJS.Liquid['globalVariableSegmentsSync']>;

/**
 * Whether the template mentions a secret anywhere, taken or not: `secrets` in any form, or
 * `env` with a name in secretEnv, a computed name (`env[x]`) or as a whole (`env | json`).
 * With the reads of this rendering, this decides the output's default mode, which should not
 * change with the branch an `if` takes.
 */
function refersToSecrets(segments: Segments, secretEnv: ReadonlySet<string> | undefined): boolean {
  return segments.some(([root, name]) =>
    root === 'secrets' || (root === 'env' && !!secretEnv?.size && (typeof name !== 'string' || secretEnv.has(name))));
}

/**
 * Every name a template may read, in any branch: `env.X` is "X", `secrets.x` is "secrets.x";
 * a whole object or a computed name (`env | json`, `secrets[k]`) may be any name: 'all'.
 */
function namesRead(segments: Segments): ReadonlySet<string> | 'all' {
  const names = new Set<string>();
  for (const [root, name] of segments) {
    if (root !== 'env' && root !== 'secrets') continue;
    if (typeof name !== 'string') return 'all';
    names.add(root === 'env' ? name : `secrets.${name}`);
  }
  return names;
}
