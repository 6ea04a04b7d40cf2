// Our envsubst against GNU envsubst (Debian's gettext-base), byte for byte, on the same
// inputs and the same environment: hand-written edge cases and seeded random ones, in
// every mode: plain `envsubst`, `envsubst SHELL-FORMAT`, the nginx image's
// `envsubst "$defined_envs"` (through renderTemplate and a `.template` path), and
// `envsubst --variables SHELL-FORMAT` against shellFormatVariables.
//
// The tests need the real program: .ci/run installs gettext-base. Without it they fail and
// say so; they never install anything themselves.
import { execFileSync, spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { envsubst, shellFormatVariables } from '../../src/template/envsubst';
import { renderTemplate } from '../../src/template/render';

type Env = Record<string, string>;

beforeAll(() => {
  const version = spawnSync('envsubst', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0 || !/GNU gettext/.test(version.stdout)) {
    throw new Error('GNU envsubst is missing: install the Debian package gettext-base (apt-get install gettext-base; .ci/run does)');
  }
});

/** GNU envsubst's stdout for `input`, run with exactly `env` as its environment. */
function gnu(input: string, env: Env, args: string[] = []): Buffer {
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  return execFileSync('env', ['-i', ...assignments, 'envsubst', ...args], { input: Buffer.from(input, 'utf8'), maxBuffer: 64 << 20 });
}

/** Asserts byte equality, showing the case (JSON) so that a failure can be replayed. */
function same(ours: string, theirs: Buffer, what: unknown): void {
  const bytes = Buffer.from(ours, 'utf8');
  if (bytes.equals(theirs)) return;
  expect(ours, `differs from GNU envsubst for ${JSON.stringify(what)}`).toBe(theirs.toString('utf8'));
  expect(bytes.equals(theirs), `same text, different bytes for ${JSON.stringify(what)}`).toBe(true);
}

const definedFormat = (env: Env) => Object.keys(env).map((name) => `\${${name}} `).join('');

function compareAllModes(input: string, env: Env, format: string): void {
  same(envsubst(input, env), gnu(input, env), { mode: 'all', input, env });
  same(envsubst(input, env, shellFormatVariables(format)), gnu(input, env, ['--', format]), { mode: 'shell-format', input, env, format });
  const nginx = renderTemplate({ source: input, path: '/etc/nginx/templates/default.conf.template' }, { env });
  same(nginx.text, gnu(input, env, ['--', definedFormat(env)]), { mode: 'defined', input, env });
}

const ENV: Env = { A: 'a', B: 'bb', AB: 'ab', _: 'underscore', A1: 'a-one', EMPTY: '', DOLLAR: '$B ${B} $', UNI: 'grüße ☃', SPACE: ' x  y ' };

describe('hand-written inputs', () => {
  const inputs = [
    '$A', '${A}', 'x$A.y', '$AB', '${A}B', '$A1 $A_ $_ ${_}', '$UNSET|${UNSET}|', '${EMPTY}x', '$A$B',
    '$$A', '$${A}', '$$$A', '$', 'x$', '$$', '${', 'x${', '${}', '$ A', '$1 ${1} $- $@ $* $# $? $!',
    '${A', '${A:-default}', '${UNSET:-default}', '${A-x} ${A:=x} ${#A} ${A%a} ${A/a/b}', '${A }', '${ A}',
    '${{A}}', '${$A}', '${A$B}', '${A}}', '{$A}', '\\$A \\${A}', "'$A' \"$A\"", '$é ${é} $A€ $Aé',
    '$DOLLAR', '$UNI!', '$SPACE', '', 'no references at all', 'a\0$A\0b', '$A\n${B}\r\n', '$\n$A', '${\nA}',
    '$a $b', '${AB}${A}${B}', '$A$', '${A}$', '$A${', '$_A $__ ${_1}', '$9A', '$ÄA', '\t$A\t', '$A\u2028$B',
    'server {\n    listen ${NGINX_PORT};\n    proxy_set_header Host $host;\n    return 200 "$request_uri";\n}\n',
  ];
  const formats = ['', '$A', '${A} ${B}', '$A,$B;$AB', '${A $B ${C:-x} $$D', '$UNSET', '${_} $A1 $EMPTY $DOLLAR $UNI', 'A B'];

  it.each(inputs)('%j in every mode', (input) => {
    for (const format of formats) {
      same(envsubst(input, ENV, shellFormatVariables(format)), gnu(input, ENV, ['--', format]), { input, format });
    }
    compareAllModes(input, ENV, '$A');
    compareAllModes(input, { NGINX_PORT: '8080', A: 'x' }, '${NGINX_PORT}');
    compareAllModes(input, {}, '');
  });

  it.each(formats.concat(['$B $A ${B} $A', '$$$A${B}${C', '${A}}${B']))('--variables %j', (format) => {
    const listed = execFileSync('envsubst', ['--variables', '--', format], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect([...shellFormatVariables(format)]).toEqual([...new Set(listed)]);
  });
});

// A seeded generator, so that a failure names a case that can be replayed.
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['$', '$', '$', '$', '{', '{', '}', '}', 'A', 'B', 'AB', '_', '1', 'a', 'x', ':', '-', '=', ' ', '\n', '\t', '\\', '"', "'",
  'é', '☃', '𝄞', '$$', '${', '${A}', '$A', '${B', '${A:-d}', '$1', '${_}', '$EMPTY', '$LONG_NAME_1'];
const NAMES = ['A', 'B', 'AB', '_', 'A1', 'a', 'x', 'EMPTY', 'LONG_NAME_1', 'B_'];

function generate(next: () => number, pieces: number): string {
  let text = '';
  const count = Math.floor(next() * pieces);
  for (let i = 0; i < count; i++) text += PIECES[Math.floor(next() * PIECES.length)];
  return text;
}

function generateEnv(next: () => number): Env {
  const env: Env = {};
  for (const name of NAMES) if (next() < 0.5) env[name] = name === 'EMPTY' ? '' : generate(next, 6);
  return env;
}

describe('generated inputs', () => {
  it.each(Array.from({ length: 8 }, (_, i) => i + 1))('batch %i: 40 random inputs, environments and formats', (batch) => {
    const next = random(batch * 7919);
    for (let i = 0; i < 40; i++) {
      const input = generate(next, 60);
      const env = generateEnv(next);
      const format = next() < 0.2 ? definedFormat(env) : generate(next, 12);
      compareAllModes(input, env, format);
    }
  });

  it('a 1 MiB input', () => {
    const next = random(42);
    let input = '';
    while (input.length < 1 << 20) input += generate(next, 200);
    const env = generateEnv(next);
    env.A = 'a value with $B and ${A} in it';
    compareAllModes(input, env, '$A ${B} $AB $_ $LONG_NAME_1');
  });

  it('a 60,000-character name and value (one argument of env -i must stay under 128 KiB)', () => {
    const name = `V${'x'.repeat(60_000)}`;
    const env = { [name]: 'y'.repeat(60_000), A: 'a' };
    for (const input of [`<$${name}>`, `<\${${name}}>`, `<\${${name}`, `<\${${name}x}$A>`]) compareAllModes(input, env, `$${name}`);
  });
});
