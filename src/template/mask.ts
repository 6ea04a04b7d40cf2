// Hiding secret values in text that a person will read.
//
// `init --render` does not search its output for the secrets: it renders a second time with
// stand-ins (standInContext), so that whatever a template does to a value (upcase, slice,
// replace, split | join, base64) it only ever has a stand-in to work on, and no filter chain
// can bring a secret into the printed text. A stand-in is MASK for each line of the value,
// with the value's line breaks, and "" for "": so `{% if secrets.x %}`, `default` and
// `required` take the branch they take with the value, and a multi-line key keeps the
// indentation its template gives it. Nothing else of the value is kept (not its length,
// not its characters): a comparison or a measure (`==`, `contains`, `size`) sees the
// stand-in. The first rendering, with the values, still runs, so --render fails exactly where
// the real start would.
//
// maskSecrets is for messages (a template error quoting a value) and, over the stand-in
// rendering, turns the stand-in's own encodings back into MASK: each value is replaced by
// MASK wherever it occurs, and so are the forms a template most often writes it in (JSON,
// shell quoting, base64, URL encoding, and each line of a value of several lines).

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

/** What a secret value becomes in `--render`: MASK for each line, the line breaks kept, "" for "". */
export function standIn(value: string): string {
  return value.split(/(\r\n|\n|\r)/).map((part, i) => (i % 2 === 1 || part === '' ? part : MASK)).join('');
}
