// Templates on random input (fast-check; test/support/fuzz.ts):
// - Liquid in strict mode: random templates built from Liquid's own pieces render or fail
//   with a TemplateError or an InitError (exit 78), one line, never a secret in the message,
//   never a hang (a short time limit: the limit's own error is a fine end);
// - --render's stand-ins: whatever chain of LiquidJS's filters a template applies to a
//   secret, the text rendered from standInContext holds no piece of it;
// - envsubst against GNU envsubst on random inputs and environments (gettext-base).
import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InitError } from '../../src/exit-codes';
import { standInContext } from '../../src/template/context';
import { envsubst } from '../../src/template/envsubst';
import { DEFAULT_LIMITS } from '../../src/template/limits';
import { MASK, maskSecrets, standIn } from '../../src/template/mask';
import { renderTemplate, type TemplateContext } from '../../src/template/render';
import { runProperty } from '../support/fuzz';

// No five characters of a value are in the templates' own vocabulary (names, filters, tags).
const SECRET = 'Zq7-Wombat-Kx9';
const context: TemplateContext = {
  env: { HOST: 'db', PORT: '5432', LIST: 'a,b,c', EMPTY: '', PW: 'Env-pw-Qlorp-77' },
  secrets: { db: SECRET, tls: { key: '-----BEGIN KEY-----\nMIIEvQIBADAN\n-----END KEY-----\n', cert: 'CERT' }, empty: '' },
  secretEnv: new Set(['PW']),
};
const SECRETS = [SECRET, 'Env-pw-Qlorp-77', 'MIIEvQIBADAN'];
const limits = { ...DEFAULT_LIMITS, timeMs: 500, memoryChars: 1 << 20 };

const variable = fc.constantFrom('env.HOST', 'env.PORT', 'env.LIST', 'env.EMPTY', 'env.PW', 'env.NOPE', 'secrets.db', 'secrets.tls', 'secrets.tls.key', 'secrets.empty', 'secrets.nope', 'env', 'secrets', 'x', '"lit"', '42', 'nil', 'true', '(1..3)');
const filterNames = ['upcase', 'downcase', 'capitalize', 'strip', 'lstrip', 'rstrip', 'reverse', 'size', 'first', 'last', 'escape', 'url_encode', 'url_decode',
  'newline_to_br', 'strip_newlines', 'strip_html', 'json', 'yaml', 'sh', 'base64', 'base64_decode', 'required', 'sort', 'uniq', 'compact', 'abs', 'ceil', 'floor',
  'base64_encode', 'md5', 'nosuch'];
const withArgs = ['slice: 1, 5', 'truncate: 6, ""', 'truncatewords: 1', 'replace: "e", "E"', 'replace_first: "-", "+"', 'remove: "-"', 'remove_first: "s"', 'split: ""',
  'split: "-"', 'join: "."', 'append: "!"', 'prepend: "^"', 'default: "d"', 'plus: 1', 'times: 2', 'modulo: 3', 'date: "%Y"', 'at_least: 3', 'map: "x"', 'where: "a"'];
const filter = fc.oneof(fc.constantFrom(...filterNames), fc.constantFrom(...withArgs));
const output = fc.tuple(variable, fc.array(filter, { maxLength: 4 })).map(([v, fs]) => `{{ ${[v, ...fs].join(' | ')} }}`);
const piece = fc.oneof(
  output,
  fc.string({ maxLength: 8 }),
  fc.constantFrom('{% if secrets.db %}', '{% if env.NOPE %}', '{% else %}', '{% endif %}', '{% for c in env.LIST | split: "," %}', '{% endfor %}', '{% assign x = secrets.db | upcase %}',
    '{% unless env.EMPTY %}', '{% endunless %}', '{% case env.PORT %}{% when "5432" %}', '{% endcase %}', '{% raw %}', '{% endraw %}', '{% comment %}', '{% endcomment %}',
    '{% include "x" %}', '{{', '}}', '{%', '%}', '{{ env[secrets.db] }}', '{% capture c %}', '{% endcapture %}', '{% cycle "a", "b" %}', '{% increment n %}', '{% liquid echo env.HOST %}'),
);
const template = fc.array(piece, { maxLength: 10 }).map((parts) => parts.join(''));

describe('Liquid strict mode on random templates', () => {
  it('renders or fails with one 78 line that quotes no secret, within the limits', () => {
    runProperty(fc.property(template, (source) => {
      try {
        renderTemplate({ source, path: 'f.liquid' }, context, limits);
      } catch (error) {
        if (!(error instanceof InitError)) throw new Error(`${JSON.stringify(source)}: ${(error as Error)?.stack ?? error}`);
        expect(error.exitCode).toBe(78);
        expect(error.message, source).not.toContain('\n');
        for (const secret of SECRETS) expect(error.message, source).not.toContain(secret);
      }
    }));
  });
});

describe('--render: no filter chain reveals a secret', () => {
  const standIns = standInContext(context, standIn);
  const pieces = (value: string) => [value, value.toUpperCase(), value.toLowerCase(), ...Array.from({ length: value.length - 4 }, (_, i) => value.slice(i, i + 5))];
  it('the stand-in rendering holds no 5 characters of any secret, in any case, forwards or reversed', () => {
    runProperty(fc.property(template, (source) => {
      let text: string;
      try {
        text = renderTemplate({ source, path: 'f.liquid' }, standIns, limits).text;
      } catch (error) {
        if (error instanceof InitError) return;
        throw error;
      }
      const shown = maskSecrets(text, [MASK]);
      const folded = [shown.toLowerCase(), [...shown].reverse().join('').toLowerCase()];
      for (const secret of SECRETS) {
        for (const bit of pieces(secret)) for (const t of folded) expect(t, `${source} -> ${shown}`).not.toContain(bit.toLowerCase());
      }
    }));
  });
});

describe('envsubst against GNU envsubst', () => {
  const gnuThere = !spawnSync('envsubst', ['--version']).error;
  // A missing GNU envsubst is a failure, not a skip: .ci/run installs gettext-base.
  it('GNU envsubst is installed (apt-get install gettext-base)', () => {
    expect(gnuThere).toBe(true);
  });
  const name = fc.constantFrom('A', 'B', 'AB', 'a_1', '_', 'PATH2', 'X');
  const text = fc.array(fc.oneof(fc.constantFrom('$', '{', '}', '${', '$$', ':-', '-', ' ', '\n', 'é', '☃', '\\', '1'), name, name.map((n) => `$${n}`), name.map((n) => `\${${n}}`)), { maxLength: 16 }).map((p) => p.join(''));
  const env = fc.dictionary(name, fc.oneof(fc.constantFrom('', '$A', '${B}', 'x y', 'é'), fc.string({ maxLength: 6 }).filter((s) => !s.includes('\0'))), { maxKeys: 4 });
  it('gives the same bytes, with and without a SHELL-FORMAT', () => {
    runProperty(fc.property(text, env, fc.option(fc.subarray(['A', 'B', 'AB', 'X']), { nil: undefined }), (input, vars, listed) => {
      const assignments = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
      const args = listed ? [listed.map((n) => `\${${n}}`).join(' ')] : [];
      const theirs = execFileSync('env', ['-i', ...assignments, 'envsubst', ...args], { input: Buffer.from(input, 'utf8') });
      const ours = envsubst(input, vars, listed ? new Set(listed) : undefined);
      expect(Buffer.from(ours, 'utf8').toString('hex'), JSON.stringify({ input, vars, listed })).toBe(theirs.toString('hex'));
    }), 0.5);
  });
});
