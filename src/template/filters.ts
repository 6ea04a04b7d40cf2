// Sesame's own Liquid filters: how a value is written safely into JSON, YAML, a shell script,
// or base64, and `required`. Plain functions of plain values; liquid.ts registers them and
// adds the position to a FilterError. A message names the filter and the problem, never the
// value (it may be a secret).
import { encodeText } from '../bytes';
import { loadChunk } from '../chunks';
import { MASK } from './mask';

/** A value a filter cannot handle. liquid.ts adds the file, line and column. */
export class FilterError extends Error {
  constructor(
    readonly filter: string,
    message: string,
  ) {
    super(message);
    this.name = 'FilterError';
  }
}

/** `required` found nothing: the value is nil, "" or an empty list. */
export class RequiredError extends FilterError {
  constructor(
    /** The template's own message, `required: "..."`, if it gave one. */
    readonly custom: string | undefined,
  ) {
    super('required', custom ?? 'required but empty');
    this.name = 'RequiredError';
  }
}

const isEmpty = (value: unknown) => value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);

/**
 * `{{ value | required }}`, `{{ value | required: "why it is needed" }}`: the value itself,
 * or an error when it is nil, "" or an empty list. (A variable that does not exist at all
 * never reaches the filter under strict variables; liquid.ts turns that error into the same
 * message.)
 */
export function required(value: unknown, message?: unknown): unknown {
  if (isEmpty(value)) throw new RequiredError(message === undefined || message === null ? undefined : String(message));
  return value;
}

/**
 * `{{ value | json }}`, `{{ value | json: 2 }}`: JSON.stringify, with an optional indent of
 * 0–10 spaces. nil is `null`, so that `"key": {{ x | json }}` is always valid JSON.
 */
export function json(value: unknown, indent?: unknown): string {
  const space = indent === undefined || indent === null ? 0 : Number(indent);
  if (!Number.isInteger(space) || space < 0 || space > 10) throw new FilterError('json', 'the indent must be a whole number from 0 to 10');
  return JSON.stringify(value ?? null, null, space) ?? 'null';
}

// Characters that no YAML scalar may hold raw, or that YAML 1.1 parsers (PyYAML, go-yaml v2)
// read as line breaks (NEL, LS, PS): a string with one of them is written double-quoted with
// escapes, never plain or as a block.
const YAML_UNSAFE = /[\0-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]|[\ud800-\udfff]/;
const YAML_RAW_UNSAFE = /[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/g;

/**
 * `{{ value | yaml }}`: the value as YAML on one line, to follow `key: ` or `- ` anywhere in
 * a YAML file whatever its indentation: a plain scalar when that reads back as the same
 * string, else a quoted one; lists and maps in flow style (`[ a, b ]`, `{ k: v }`). Quoted
 * for YAML 1.1 readers too, so "yes", "on", "0755" and "1:20" stay strings.
 */
export function yaml(value: unknown): string {
  const YAML = loadChunk<typeof import('yaml')>('yaml');
  const doc = new YAML.Document(value ?? null, { version: '1.1' });
  YAML.visit(doc, {
    Scalar(_, node) {
      if (typeof node.value === 'string' && YAML_UNSAFE.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  const text = doc.toString({ blockQuote: false, lineWidth: 0, collectionStyle: 'flow' }).replace(/\n$/, '');
  // The yaml package escapes like JSON.stringify, which leaves these raw; only double-quoted
  // scalars can contain them (see above), where \uXXXX is an escape in YAML 1.1 and 1.2.
  return text.replace(YAML_RAW_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `{{ value | sh }}`: one POSIX shell word, single-quoted ('it'\''s'); nil is ''; a list is
 * its items quoted one by one and joined by spaces, to become several words.
 */
export function sh(value: unknown): string {
  if (Array.isArray(value)) return value.map((item: unknown) => shellWord(item)).join(' ');
  return shellWord(value);
}

function shellWord(value: unknown): string {
  const text = scalarText('sh', value);
  // A C string ends at NUL: no shell can hold it in a word, and bash would drop it silently.
  if (text.includes('\0')) throw new FilterError('sh', 'the value contains a NUL character, which no shell word can hold');
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** `{{ value | base64 }}`: the bytes of the value (UTF-8 text, or a binary secret's own bytes), in standard base64. */
export function base64(value: unknown): string {
  return encodeText(scalarText('base64', value)).toString('base64');
}

/**
 * Set by liquid.ts while it renders with stand-ins (`--render`, context.ts): base64_decode
 * then passes a stand-in through, as the decoded secret would be one too. Rendering is
 * synchronous, so one flag is enough.
 */
export const decoding = { standIns: false };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const BASE64URL = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$/;

/**
 * `{{ value | base64_decode }}`: standard or URL-safe base64, padding optional, whitespace
 * (line breaks of PEM-style wrapping) ignored. Strict where Buffer.from is lenient: any
 * other character is an error, and so are bytes that are not UTF-8 text (a file rendered
 * from a template is text).
 */
export function base64Decode(value: unknown): string {
  const raw = scalarText('base64_decode', value);
  if (decoding.standIns && raw.includes(MASK)) return raw;
  const text = raw.replace(/[\t\n\r ]/g, '');
  if (!BASE64.test(text) && !BASE64URL.test(text)) throw new FilterError('base64_decode', 'the value is not base64');
  const bytes = Buffer.from(text, BASE64.test(text) ? 'base64' : 'base64url');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new FilterError('base64_decode', 'the decoded bytes are not UTF-8 text');
  }
}

/** A scalar as text (nil is ""); a list or a map is an error: quoting one would hide a mistake. */
function scalarText(filter: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  throw new FilterError(filter, `expects text, not ${Array.isArray(value) ? 'a list' : 'a map'}`);
}

/** The filters by the name a template uses. */
export const FILTERS: Record<string, (value: unknown, ...args: unknown[]) => unknown> = {
  required,
  json,
  yaml,
  sh,
  base64,
  base64_decode: base64Decode,
};
