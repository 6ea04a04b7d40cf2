// GNU envsubst (gettext-runtime's src/envsubst.c), byte for byte, for the `.template` files
// that the official nginx image renders with `envsubst "$defined_envs"` in
// /docker-entrypoint.d/20-envsubst-on-templates.sh.
//
// Its rules, which are not the shell's (test/integration/envsubst-compat.test.ts compares
// them with the real program):
// - `$NAME` and `${NAME}` are references; NAME is [A-Za-z_][A-Za-z0-9_]* (ASCII only), and
//   `$NAME` takes the longest such run (`$AB` is AB, never A followed by "B").
// - Nothing else is special: `$` before anything else (`$1`, `$é`, `$ `, a final `$`) and
//   `${` before a non-name are copied as they are; `$$` is not an escape (`$$A` is "$" and
//   then $A); `${NAME` without a `}` right after the name (`${A:-x}`, `${A`) is copied
//   as written, so there are no defaults, no `:-`, no nesting.
// - Without a list every reference is replaced, an unset variable by nothing. With a list
//   (the SHELL-FORMAT argument, e.g. '${A} ${B}') only the listed names are replaced (an
//   unset listed one by nothing) and every other reference stays as written: that is how
//   nginx's own `$host` and `$uri` survive.
// - A value is inserted as it is and never scanned again.

export type Environment = Readonly<Record<string, string | undefined>>;

/** One reference that envsubst replaces: `input.slice(start, end)` is `$NAME` or `${NAME}`. */
interface Reference {
  start: number;
  end: number;
  name: string;
}

const isNameStart = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
const isNamePart = (c: number) => isNameStart(c) || (c >= 0x30 && c <= 0x39);

/** The references in `input` that envsubst replaces: all of them, or those named in `only`. */
function* references(input: string, only?: ReadonlySet<string>): Generator<Reference> {
  for (let i = input.indexOf('$'); i !== -1; i = input.indexOf('$', i)) {
    const start = i;
    const brace = input.charCodeAt(i + 1) === 0x7b; // {
    let at = brace ? i + 2 : i + 1;
    // "$" or "${" before a non-name: copied; scanning resumes at the character after them,
    // which may itself be a "$" (GNU puts it back with ungetc).
    if (!isNameStart(input.charCodeAt(at))) {
      i = at;
      continue;
    }
    const nameStart = at;
    while (isNamePart(input.charCodeAt(at))) at++;
    const name = input.slice(nameStart, at);
    i = at;
    if (brace) {
      // "${NAME" with no "}" right after: copied as written; the next character is scanned.
      if (input.charCodeAt(at) !== 0x7d) continue; // }
      i = at + 1;
    }
    if (only && !only.has(name)) continue;
    yield { start, end: i, name };
  }
}

/**
 * `envsubst` (no list: every reference, unset ones become empty) or `envsubst SHELL-FORMAT`
 * (`only`: just these names; others are left as written).
 */
export function envsubst(input: string, env: Environment, only?: ReadonlySet<string>): string {
  let out = '';
  let copied = 0;
  for (const { start, end, name } of references(input, only)) {
    out += input.slice(copied, start) + valueOf(env, name);
    copied = end;
  }
  return copied === 0 ? input : out + input.slice(copied);
}

/** The distinct variable names that `envsubst(input, env, only)` replaces, in order of first use. */
export function envsubstNames(input: string, only?: ReadonlySet<string>): string[] {
  return [...new Set(Array.from(references(input, only), (r) => r.name))];
}

/**
 * The names in a SHELL-FORMAT argument, as `envsubst --variables` lists them: '${A} $B'
 * gives A and B; any other text in it is ignored.
 */
export function shellFormatVariables(format: string): Set<string> {
  return new Set(envsubstNames(format));
}

/** getenv(): an own, defined entry or nothing (so `$constructor` or `$__proto__` find nothing). */
function valueOf(env: Environment, name: string): string {
  const value = Object.hasOwn(env, name) ? env[name] : undefined;
  return typeof value === 'string' ? value : '';
}
