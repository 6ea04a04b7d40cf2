// Hiding secret values in text that a person will read: `init --render` output, and any
// message built from a template error. Each value is replaced by MASK wherever it occurs,
// and so are the forms a template most often writes it in: the filters' encodings (JSON,
// shell quoting, base64, URL encoding) and, for a value of several lines (a PEM key, a JSON
// credential), each of its lines, which survive re-indentation into YAML. A secret
// transformed otherwise (upcase, slice, hashed) is not recognised: masking is for reading,
// not a security boundary; the rendered files themselves are protected by their modes.

import { encodeText } from '../bytes';

export const MASK = '********';

/** Lines of a multi-line secret shorter than this are not masked alone ("}", "-----"). */
const MIN_LINE = 4;

/** The strings that stand for `value` in rendered text. */
export function maskedForms(value: string): string[] {
  if (value === '') return [];
  const forms = [
    value,
    JSON.stringify(value).slice(1, -1),
    value.replaceAll("'", "'\\''"),
    encodeText(value).toString('base64'),
    encodeURIComponent(value),
    encodeURIComponent(value).replaceAll('%20', '+'), // LiquidJS's url_encode
  ];
  if (/[\r\n]/.test(value)) {
    for (const line of value.split(/\r?\n|\r/)) if (line.trim().length >= MIN_LINE) forms.push(line.trim());
  }
  return forms;
}

/**
 * `text` with every occurrence of each value (and its forms, above) replaced by MASK, the
 * longest first, in one pass so that a short value never matches inside a MASK or inside a
 * longer value already masked. Empty values are ignored.
 */
export function maskSecrets(text: string, values: Iterable<string>): string {
  const forms = new Set<string>();
  for (const value of values) for (const form of maskedForms(value)) forms.add(form);
  if (forms.size === 0) return text;
  const longestFirst = [...forms].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(longestFirst.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return text.replace(pattern, MASK);
}
