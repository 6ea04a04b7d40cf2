// LiquidJS's errors in our words: one line, "file:line:column: reason", pointing at what is
// wrong (the variable, the filter's name, the subject of `required`) rather than at the
// `{{` that holds it, and never quoting a secret.
import type * as LiquidJS from 'liquidjs';
import { positionOf, TemplateError } from './errors';
import { type FilterError, RequiredError } from './filters';
import { maskSecrets } from './mask';

/** A FilterError with the offset of the filter's name in the source. */
export class FilterFailure extends Error {
  constructor(
    readonly error: FilterError,
    readonly offset: number,
  ) {
    super(error.message);
  }
}

interface TokenLike {
  begin: number;
  end: number;
  name?: string;
  contentRange?: [number, number];
}

/**
 * A LiquidJS error (LiquidError.is) as a TemplateError: our wording, one line, the position
 * of what is wrong, and any secret value that a message could quote masked.
 */
export function templateError(error: unknown, source: string, path: string, secrets: string[]): TemplateError {
  const liquidError = error as LiquidJS.LiquidError & { originalError?: unknown; token: TokenLike };
  const token = liquidError.token;
  const original = liquidError.originalError;
  let offset = token.begin;
  let reason: string;
  if (original instanceof FilterFailure) {
    offset = original.offset;
    reason = `${original.error.filter}: ${original.message}`;
    if (original.error instanceof RequiredError) {
      const subject = subjectOf(source, token, original.offset);
      if (subject) offset = subject.offset;
      reason = original.error.custom ?? `${subject?.text ?? 'the value'} is required but empty`;
    }
  } else if (liquidError.name === 'UndefinedVariableError') {
    const name = (original as { variableName?: unknown } | undefined)?.variableName;
    const variable = typeof name === 'string' ? name : source.slice(token.begin, token.end);
    const required = requiredAfter(source, token.end);
    reason = required
      ? (required.custom ?? `${variable} is required but not set`)
      : `${variable} is not defined (write | default: "..." after it if it may be unset)`;
  } else if (original instanceof TypeError && original.message === 'Cannot convert object to primitive value') {
    // env, secrets and their maps have no prototype, so no "[object Object]" in a file.
    reason = 'a map cannot be written as text: use one of its keys, or | json or | yaml';
  } else {
    reason = (original instanceof Error ? original.message : liquidError.message).replace(/, line:\d+, col:\d+$/, '');
    const filter = /^undefined filter: (.+)$/.exec(reason)?.[1];
    if (filter) {
      reason = `unknown filter "${filter}"`;
      const at = new RegExp(`\\|\\s*${filter.replace(/[^\w-]/g, '\\$&')}(?![\\w-])`).exec(source.slice(token.begin, token.end));
      if (at) offset = token.begin + at.index + at[0].length - filter.length;
    }
  }
  const [line, column] = positionOf(source, offset);
  // LiquidJS quotes a tag as written in "tag {% if a ... %} not closed", newlines included.
  return new TemplateError(path, line, column, maskSecrets(reason.replace(/\s*\n\s*/g, ' '), secrets));
}

/** `| required` or `| required: "message"` right after a variable that turned out missing. */
function requiredAfter(source: string, end: number): { custom?: string } | undefined {
  const match = /^\s*\|\s*required(?![\w-])(?:\s*:\s*(?:"([^"]*)"|'([^']*)'))?/.exec(source.slice(end));
  return match ? { custom: match[1] ?? match[2] } : undefined;
}

/**
 * What `required` was applied to, as written, for an output (`{{ env.X | strip | required }}`
 * gives "env.X | strip"), an `assign` or an `echo`; undefined elsewhere.
 */
function subjectOf(source: string, token: TokenLike, filterOffset: number): { text: string; offset: number } | undefined {
  if (!token.contentRange) return undefined;
  let start = token.contentRange[0];
  if (token.name !== undefined) {
    const head = token.name === 'assign' ? /^\s*assign\s+[\w-]+\s*=/ : token.name === 'echo' ? /^\s*echo\b/ : undefined;
    const match = head?.exec(source.slice(start, filterOffset));
    if (!match) return undefined;
    start += match[0].length;
  }
  const raw = source.slice(start, filterOffset).replace(/\|\s*$/, '');
  const text = raw.trim();
  if (!text || text.includes('\n')) return undefined;
  return { text, offset: start + raw.length - raw.trimStart().length };
}
