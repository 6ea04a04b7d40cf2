// The Liquid engine as templates meet it: the context (env and secrets only), strictness with
// file:line:column messages, `default` and `required`, each filter of ours with its edge
// cases, no HTML escaping, no prototype access, no other files, and how a rendering reports
// the secrets it used.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { renderTemplate, TemplateError, type TemplateContext } from '../../src/template/render';

const SECRET = 's3cr3t-"pa$$\'word';
const CONTEXT: TemplateContext = {
  env: { HOST: 'db.internal', PORT: '5432', EMPTY: '', LIST: 'a,b,c', HTML: '<a href="x">&amp;</a>', UNICODE: 'grüße ☃', DB_PASSWORD: 'env-secret-value' },
  secrets: { db_password: SECRET, tls: { key: 'KEY-MATERIAL', cert: 'CERT' }, empty: '' },
  secretEnv: new Set(['DB_PASSWORD']),
};

const render = (source: string, context: TemplateContext = CONTEXT, path = 'app.conf') =>
  renderTemplate({ source, path, engine: 'liquid' }, context);
const text = (source: string, context?: TemplateContext) => render(source, context).text;

/** The TemplateError that rendering `source` throws. */
function failure(source: string, context: TemplateContext = CONTEXT, path = 'app.conf'): TemplateError {
  try {
    render(source, context, path);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    return error as TemplateError;
  }
  throw new Error(`rendering ${JSON.stringify(source)} did not fail`);
}
const message = (source: string, context?: TemplateContext) => failure(source, context).message;

describe('context', () => {
  it('has env and secrets', () => {
    expect(text('{{ env.HOST }}:{{ env.PORT }} {{ secrets.db_password }} {{ secrets.tls.key }}')).toBe(`db.internal:5432 ${SECRET} KEY-MATERIAL`);
    expect(text('{{ env["HOST"] }} {% assign n = "PORT" %}{{ env[n] }}')).toBe('db.internal 5432');
  });

  it('has nothing else: environment variables are not top-level names', () => {
    expect(message('{{ HOST }}')).toBe('app.conf:1:4: HOST is not defined (write | default: "..." after it if it may be unset)');
  });

  it('works without secrets', () => {
    expect(text('{{ env.HOST }}', { env: { HOST: 'h' } })).toBe('h');
    expect(message('{{ secrets.x }}', { env: {} })).toMatch(/^app\.conf:1:4: secrets\.x is not defined/);
  });

  it('skips unset entries of a process.env-like object', () => {
    expect(message('{{ env.GONE }}', { env: { GONE: undefined } })).toMatch(/^app\.conf:1:4: env\.GONE is not defined/);
  });

  it('iterates env and secrets', () => {
    expect(text('{% for pair in env %}{{ pair[0] }} {% endfor %}', { env: { A: '1', B: '2' } })).toBe('A B ');
    expect(text('{{ secrets.tls | json }}')).toBe('{"key":"KEY-MATERIAL","cert":"CERT"}');
    expect(text('{{ env.LIST | split: "," | join: ";" }} {{ env.HOST | upcase }} {{ env.HOST | size }}')).toBe('a;b;c DB.INTERNAL 11');
  });

  it('does not escape HTML', () => {
    expect(text('{{ env.HTML }} {{ "<&>\'" }}')).toBe('<a href="x">&amp;</a> <&>\'');
    expect(text('{{ env.UNICODE }}')).toBe('grüße ☃');
  });
});

describe('strictness', () => {
  it('a missing variable is an error at its line and column', () => {
    const error = failure('server {\n  listen {{ env.PORT }};\n  server_name {{ env.SERVER_NAME }};\n}\n', CONTEXT, '/etc/nginx/templates/site.conf');
    expect(error.message).toBe('/etc/nginx/templates/site.conf:3:18: env.SERVER_NAME is not defined (write | default: "..." after it if it may be unset)');
    expect(error).toMatchObject({ file: '/etc/nginx/templates/site.conf', line: 3, column: 18, exitCode: 78 });
  });

  it.each([
    ['{{ env.HOST.x }}', 'app.conf:1:4: env.HOST.x is not defined'],
    ['{{ secrets.nope }}', 'app.conf:1:4: secrets.nope is not defined'],
    ['{{ secrets.tls.nope }}', 'app.conf:1:4: secrets.tls.nope is not defined'],
    ['{{ env.HOST | append: env.NOPE }}', 'app.conf:1:23: env.NOPE is not defined'],
    ['{{ env.NOPE | upcase | default: "x" }}', 'app.conf:1:4: env.NOPE is not defined'],
    ['{{ env.HOST | default: env.NOPE }}', 'app.conf:1:24: env.NOPE is not defined'],
    ['{% for x in env.NOPE %}{% endfor %}', 'app.conf:1:13: env.NOPE is not defined'],
    ['{% capture c %}{{ env.NOPE }}{% endcapture %}', 'app.conf:1:19: env.NOPE is not defined'],
    ['{% assign x = env.NOPE %}{{ x }}', 'app.conf:1:15: env.NOPE is not defined'],
    ['{% liquid\n  assign a = 1\n  echo env.NOPE\n%}', 'app.conf:3:8: env.NOPE is not defined'],
    ['{{ env.A }}', 'app.conf:1:4: env.A is not defined'],
  ])('%j', (source, expected) => {
    expect(message(source).startsWith(`${expected} (write | default:`)).toBe(true);
  });

  it('an unknown filter is an error at the filter', () => {
    expect(message('a\nb {{ env.HOST | upcsae }}')).toBe('app.conf:2:17: unknown filter "upcsae"');
    expect(message('{{ env.HOST | default: "x" | nope: 1, 2 }}')).toBe('app.conf:1:30: unknown filter "nope"');
    expect(message('{% if env.HOST | nope %}{% endif %}')).toBe('app.conf:1:18: unknown filter "nope"');
  });

  it.each([
    ['{{ env.HOST ', 'app.conf:1:1: output "{{ env.HOST " not closed'],
    ['x\n{% if %}{% endif %}', 'app.conf:2:6: invalid value expression: ""'],
    ['{% if env.HOST %}never closed', 'app.conf:1:1: tag {% if env.HOST %} not closed'],
    ['{% frobnicate %}', 'app.conf:1:1: tag "frobnicate" not found'],
    ['{% assign = 1 %}', 'app.conf:1:11: expected variable name'],
    ['\n\n  {% endif %}', 'app.conf:3:3: tag "endif" not found'],
  ])('a syntax error names its position: %j', (source, expected) => {
    expect(message(source)).toBe(expected);
  });

  it('a condition may test a missing variable: it is nil there', () => {
    expect(text('{% if env.DEBUG %}debug{% else %}quiet{% endif %}')).toBe('quiet');
    expect(text('{% if env.DEBUG == "1" %}debug{% elsif env.VERBOSE %}verbose{% else %}quiet{% endif %}')).toBe('quiet');
    expect(text('{% unless env.DEBUG %}quiet{% endunless %}')).toBe('quiet');
    expect(text('{% case env.MODE %}{% when "a" %}A{% else %}other{% endcase %}')).toBe('other');
    expect(text('{% if secrets.optional %}yes{% else %}no{% endif %}')).toBe('no');
  });

  it('truthiness is JavaScript\'s: an empty variable is false, like an unset one', () => {
    expect(text('{% if env.EMPTY %}set{% else %}empty{% endif %}')).toBe('empty');
    expect(text('{% if env.HOST %}set{% endif %}')).toBe('set');
    expect(text('{% if env.EMPTY == "" %}blank{% endif %}')).toBe('blank');
  });

  it('a map is not text', () => {
    const reason = 'a map cannot be written as text: use one of its keys, or | json or | yaml';
    expect(message('x {{ secrets.tls }}')).toBe(`app.conf:1:3: ${reason}`);
    expect(message('{{ env }}')).toBe(`app.conf:1:1: ${reason}`);
    expect(message('{{ "x" | append: secrets.tls }}')).toBe(`app.conf:1:1: ${reason}`);
  });

  it('an error is one line, whatever LiquidJS would have printed', () => {
    const rest = '\nmore text\n'.repeat(50);
    for (const source of ['{{ env.NOPE }}', '{{ x | nope }}', '{% if %}', '{{ "x" | base64_decode }}', '{% include "a" %}', `{{ env.HOST ${rest}`, `{% if env.HOST\n  and env.PORT %}${rest}`, `{% raw %}${rest}`]) {
      expect(message(source)).not.toContain('\n');
    }
  });
});

describe('default', () => {
  it.each([
    ['{{ env.NOPE | default: "fallback" }}', 'fallback'],
    ['{{ env.EMPTY | default: "fallback" }}', 'fallback'],
    ['{{ env.HOST | default: "fallback" }}', 'db.internal'],
    ['{{ env.NOPE.deeper | default: "fallback" }}', 'fallback'],
    ['{{ nothing.at.all | default: "fallback" }}', 'fallback'],
    ['{{ secrets.nope | default: "none" }}', 'none'],
    ['{{ env.NOPE | default: env.HOST }}', 'db.internal'],
    ['{{ env.NOPE | default: nil }}', ''],
    ['{{ env.NOPE | default: "a" | upcase }}', 'A'],
    ['{% assign x = env.NOPE | default: "d" %}{{ x }}', 'd'],
    ['{{ env.PORT | default: 80 | plus: 1 }}', '5433'],
  ])('%j -> %j', (source, expected) => {
    expect(text(source)).toBe(expected);
  });
});

describe('required', () => {
  it('passes a value through', () => {
    expect(text('{{ env.HOST | required }}|{{ env.HOST | required: "why" }}|{{ secrets.db_password | required | sh }}')).toBe(`db.internal|db.internal|'s3cr3t-"pa$$'\\''word'`);
  });

  it.each([
    ['{{ env.NOPE | required }}', 'app.conf:1:4: env.NOPE is required but not set'],
    ['x\n  {{ env.NOPE|required }}', 'app.conf:2:6: env.NOPE is required but not set'],
    ['{{ env.NOPE | required: "set NOPE to the database host" }}', 'app.conf:1:4: set NOPE to the database host'],
    ["{{ env.NOPE | required: 'single quoted' }}", 'app.conf:1:4: single quoted'],
    ['{{ secrets.nope | required }}', 'app.conf:1:4: secrets.nope is required but not set'],
    ['{{ secrets.tls.nope | required }}', 'app.conf:1:4: secrets.tls.nope is required but not set'],
    ['{{ env.EMPTY | required }}', 'app.conf:1:4: env.EMPTY is required but empty'],
    ['{{  env.EMPTY  |  required  }}', 'app.conf:1:5: env.EMPTY is required but empty'],
    ['{{ env.EMPTY | required: "EMPTY must not be empty" }}', 'app.conf:1:4: EMPTY must not be empty'],
    ['{{ secrets.empty | required }}', 'app.conf:1:4: secrets.empty is required but empty'],
    ['{{ env.HOST | remove: "db.internal" | required }}', 'app.conf:1:4: env.HOST | remove: "db.internal" is required but empty'],
    ['{{ env.NOPE | default: "" | required }}', 'app.conf:1:4: env.NOPE | default: "" is required but empty'],
    ['{{ nil | required }}', 'app.conf:1:4: nil is required but empty'],
    ['{{ env.EMPTY | split: "," | required }}', 'app.conf:1:4: env.EMPTY | split: "," is required but empty'],
    ['{% assign x = env.EMPTY | required %}', 'app.conf:1:15: env.EMPTY is required but empty'],
    ['{% assign x = env.NOPE | required %}', 'app.conf:1:15: env.NOPE is required but not set'],
    ['{% liquid\necho env.EMPTY | required\n%}', 'app.conf:2:6: env.EMPTY is required but empty'],
    ['{% if env.EMPTY | required %}{% endif %}', 'app.conf:1:19: the value is required but empty'],
  ])('%j', (source, expected) => {
    expect(message(source)).toBe(expected);
  });

  it('is not fooled by a longer filter name', () => {
    expect(message('{{ env.NOPE | required_x }}')).toBe('app.conf:1:15: unknown filter "required_x"');
  });
});

describe('json', () => {
  it.each([
    ['{{ env.HOST | json }}', '"db.internal"'],
    ['{{ secrets.db_password | json }}', JSON.stringify(SECRET)],
    ['{{ env.UNICODE | json }}', '"grüße ☃"'],
    ['{{ "line\nnext\ttab" | json }}', '"line\\nnext\\ttab"'],
    ['{{ env.PORT | plus: 0 | json }}', '5432'],
    ['{{ env.NOPE | default: nil | json }}', 'null'],
    ['{{ env.LIST | split: "," | json }}', '["a","b","c"]'],
    ['{{ secrets.tls | json: 2 }}', '{\n  "key": "KEY-MATERIAL",\n  "cert": "CERT"\n}'],
    ['{{ true | json }}', 'true'],
  ])('%j', (source, expected) => {
    expect(text(source)).toBe(expected);
  });

  it('a JSON document with every kind of value parses back', () => {
    const nasty = '\u0000"\\\n\u2028</script>';
    const out = text('{"password": {{ secrets.db_password | json }}, "weird": {{ env.W | json }}, "tls": {{ secrets.tls | json }}}', { env: { W: nasty }, secrets: { db_password: SECRET, tls: { key: 'k' } } });
    expect(JSON.parse(out)).toEqual({ password: SECRET, weird: nasty, tls: { key: 'k' } });
  });

  it.each(['-1', '11', '1.5', '"x"'])('rejects the indent %s', (indent) => {
    expect(message(`{{ 1 | json: ${indent} }}`)).toBe('app.conf:1:8: json: the indent must be a whole number from 0 to 10');
  });
});

describe('yaml', () => {
  it.each([
    ['plain', 'plain'],
    ['db.internal', 'db.internal'],
    ['with space', 'with space'],
    ['', '""'],
    ['yes', '"yes"'],
    ['No', '"No"'],
    ['on', '"on"'],
    ['null', '"null"'],
    ['~', '"~"'],
    ['true', '"true"'],
    ['0755', '"0755"'],
    ['1:20', '"1:20"'],
    ['3.14', '"3.14"'],
    ['1e3', '"1e3"'],
    ['.inf', '".inf"'],
    ['a: b', '"a: b"'],
    ['- item', '"- item"'],
    ['#comment', '"#comment"'],
    ['x #y', '"x #y"'],
    ['@at', '"@at"'],
    ['*alias', '"*alias"'],
    ['&anchor', '"&anchor"'],
    ['!tag', '"!tag"'],
    ['%directive', '"%directive"'],
    ['{flow}', '"{flow}"'],
    ['[flow]', '"[flow]"'],
    ['---', '"---"'],
    [' leading', '" leading"'],
    ['trailing ', '"trailing "'],
    ['"quoted"', '\'"quoted"\''],
    ["it's", "it's"],
    ['line\nnext', '"line\\nnext"'],
    ['trailing newline\n', '"trailing newline\\n"'],
    ['cr\rhere', '"cr\\rhere"'],
    ['nul\u0000', '"nul\\0"'],
    ['ls\u2028ps\u2029nel\u0085', '"ls\\u2028ps\\u2029nel\\u0085"'],
    ['bom\ufeff', '"bom\\ufeff"'],
    ['grüße ☃', 'grüße ☃'],
  ])('the string %j is %s', (value, expected) => {
    const out = text('{{ env.V | yaml }}', { env: { V: value } });
    expect(out).toBe(expected);
    expect(YAML.parse(`k: ${out}`, { version: '1.1' })).toEqual({ k: value });
    expect(YAML.parse(`k: ${out}`, { version: '1.2' })).toEqual({ k: value });
  });

  it('writes numbers, booleans, nil, lists and maps on one line', () => {
    expect(text('{{ env.PORT | plus: 0 | yaml }} {{ true | yaml }} {{ env.NOPE | default: nil | yaml }}')).toBe('5432 true null');
    expect(text('{{ env.LIST | split: "," | yaml }}')).toBe('[ a, b, c ]');
    expect(text('{{ secrets.tls | yaml }}')).toBe('{ key: KEY-MATERIAL, cert: CERT }');
  });

  it('is safe at any indentation, whatever the value', () => {
    const values = ['yes', 'multi\nline\n  indented', '  spaces  ', 'key: value', '"\'`', 'a'.repeat(300) + ' ' + 'b'.repeat(300), '- [x]', '|', '>', 'ends with colon:', '\t tab', '\u2028'];
    for (const value of values) {
      const source = 'top:\n  nested:\n    - name: {{ env.V | yaml }}\n      list: {{ env.V | split: "" | yaml }}\n    - {{ env.V | yaml }}\n';
      const doc = YAML.parse(text(source, { env: { V: value } }), { version: '1.1' });
      expect(doc.top.nested[0].name).toBe(value);
      expect(doc.top.nested[0].list).toEqual(value.split(''));
      expect(doc.top.nested[1]).toBe(value);
    }
  });
});

describe('sh', () => {
  it.each([
    ['plain', "'plain'"],
    ['', "''"],
    ["it's", "'it'\\''s'"],
    ["''", "''\\'''\\'''"],
    ['$HOME `id` $(id) "x" \\ ! * ?', "'$HOME `id` $(id) \"x\" \\ ! * ?'"],
    ['line\nnext', "'line\nnext'"],
  ])('%j -> %s', (value, expected) => {
    expect(text('{{ env.V | sh }}', { env: { V: value } })).toBe(expected);
  });

  it('quotes numbers, nil, and a list as several words', () => {
    expect(text('{{ env.PORT | plus: 1 | sh }} {{ env.NOPE | default: nil | sh }} {{ env.LIST | split: "," | sh }}')).toBe("'5433' '' 'a' 'b' 'c'");
  });

  it('gives the shell back exactly the value', () => {
    const values = [SECRET, "'", "'\\''", '\\', '\n', ' x ', '$(touch /tmp/pwned)', '`id`', '!!', '~root', '*', 'a\tb', 'grüße ☃', '-n', '--', '%s%d'];
    for (const value of values) {
      const script = text('printf %s {{ env.V | sh }}', { env: { V: value } });
      expect(execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' })).toBe(value);
    }
    const words = text('printf "<%s>" {{ env.L | split: "," | sh }}', { env: { L: "a b,c'd,$e" } });
    expect(execFileSync('/bin/sh', ['-c', words], { encoding: 'utf8' })).toBe("<a b><c'd><$e>");
  });

  it('refuses a NUL and a map', () => {
    expect(message('{{ env.V | sh }}', { env: { V: 'a\u0000b' } })).toBe('app.conf:1:12: sh: the value contains a NUL character, which no shell word can hold');
    expect(message('{{ secrets.tls | sh }}')).toBe('app.conf:1:18: sh: expects text, not a map');
  });
});

describe('base64 and base64_decode', () => {
  it.each([
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['grüße ☃', 'Z3LDvMOfZSDimIM='],
    [SECRET, Buffer.from(SECRET).toString('base64')],
  ])('%j <-> %j', (value, encoded) => {
    expect(text('{{ env.V | base64 }}', { env: { V: value } })).toBe(encoded);
    expect(text('{{ env.V | base64_decode }}', { env: { V: encoded } })).toBe(value);
    expect(text('{{ env.V | base64 | base64_decode }}', { env: { V: value } })).toBe(value);
  });

  it('LiquidJS\'s base64_encode is the same', () => {
    expect(text('{{ env.UNICODE | base64_encode }}')).toBe(text('{{ env.UNICODE | base64 }}'));
  });

  it.each([
    ['Zm9v\nYmFy\n', 'foobar'],
    ['  Zm9vYg  ', 'foob'],
    ['Zm9vYg', 'foob'],
    ['Pz8-', '??>'],
    ['Pz8_', '???'],
    ['Pz8/', '???'],
  ])('decodes %j (wrapped, unpadded, URL-safe)', (encoded, value) => {
    expect(text('{{ env.V | base64_decode }}', { env: { V: encoded } })).toBe(value);
  });

  it.each(['Zm9v!', 'Zg=', 'Z', 'Zm9vY', 'Zg===', 'Pz8-Pz8/', 'Zm 9v=='.replace(' ', '*')])('rejects %j', (encoded) => {
    expect(message('{{ env.V | base64_decode }}', { env: { V: encoded } })).toBe('app.conf:1:12: base64_decode: the value is not base64');
  });

  it('rejects bytes that are not UTF-8 text, without showing them', () => {
    const error = message('{{ secrets.blob | base64_decode }}', { env: {}, secrets: { blob: '/w==' } });
    expect(error).toBe('app.conf:1:19: base64_decode: the decoded bytes are not UTF-8 text');
  });

  it('refuses a list', () => {
    expect(message('{{ env.LIST | split: "," | base64 }}')).toBe('app.conf:1:28: base64: expects text, not a list');
  });
});

describe('no prototype access', () => {
  it.each([
    '{{ env.constructor }}',
    '{{ env.__proto__ }}',
    '{{ env["constructor"] }}',
    '{{ env.HOST.constructor }}',
    '{{ env.HOST.constructor.name }}',
    '{{ secrets.toString }}',
    '{{ secrets.tls.hasOwnProperty }}',
    '{{ env.LIST | split: "," | map: "constructor" | first }}',
  ])('%s is not a value', (source) => {
    let out: string | undefined;
    try {
      out = text(source);
    } catch (error) {
      expect(error).toBeInstanceOf(TemplateError);
      return;
    }
    expect(out).toBe('');
  });

  it('a variable may be named like a prototype property', () => {
    expect(text('{{ env.__proto__ }} {{ env.constructor }}', { env: JSON.parse('{"__proto__": "p", "constructor": "c"}') })).toBe('p c');
  });

  it('a template cannot change what it sees', () => {
    expect(text('{% assign env = "x" %}{{ env }}|{% increment HOST %}', { env: { HOST: 'h' } })).toBe('x|0');
    const context = { env: { HOST: 'h' } };
    text('{% assign env = "x" %}', context);
    expect(text('{{ env.HOST }}', context)).toBe('h');
  });
});

describe('no other files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-liquid-'));
  writeFileSync(join(dir, 'partial.liquid'), 'PARTIAL');
  writeFileSync(join(dir, 'partial'), 'PARTIAL');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['{% include "partial" %}', 'include'],
    ['{% include "partial.liquid" %}', 'include'],
    [`{% include "${join(dir, 'partial')}" %}`, 'include'],
    ['{% render "partial" %}', 'render'],
    ['{% layout "partial" %}body', 'layout'],
    ['{% include "/etc/passwd" %}', 'include'],
  ])('%s is a parse error, even next to the file', (source, tag) => {
    const error = failure(`line\n${source}`, CONTEXT, join(dir, 'main.conf.liquid'));
    expect(error.message).toBe(`${join(dir, 'main.conf.liquid')}:2:1: {% ${tag} %} is not supported: a template is one self-contained file`);
  });

  it('even in a branch that is not taken', () => {
    expect(message('{% if false %}{% include "partial" %}{% endif %}')).toMatch(/^app\.conf:1:15: \{% include %\} is not supported/);
  });
});

describe('secret use', () => {
  it('none: only plain env', () => {
    expect(render('{{ env.HOST }}')).toMatchObject({ usesSecrets: false, secretValues: [] });
    expect(render('{% if env.NOPE %}{{ env.HOST }}{% endif %}')).toMatchObject({ usesSecrets: false, secretValues: [] });
  });

  it('a secret read', () => {
    expect(render('{{ secrets.db_password | base64 }}')).toMatchObject({ usesSecrets: true, secretValues: [SECRET] });
    expect(render('{{ secrets.tls.key }}')).toMatchObject({ usesSecrets: true, secretValues: ['KEY-MATERIAL'] });
    expect(render('{% assign s = secrets %}{{ s.tls.cert }}')).toMatchObject({ usesSecrets: true, secretValues: ['CERT'] });
  });

  it('an env variable that holds a secret', () => {
    expect(render('{{ env.DB_PASSWORD }}')).toMatchObject({ usesSecrets: true, secretValues: ['env-secret-value'] });
    expect(render('{% assign n = "DB_PASSWORD" %}{{ env[n] | size }}')).toMatchObject({ usesSecrets: true, secretValues: ['env-secret-value'] });
  });

  it('everything, read as a whole', () => {
    expect(render('{{ secrets | json }}').secretValues.sort()).toEqual(['', 'CERT', 'KEY-MATERIAL', SECRET].sort());
    expect(render('{{ env | json }}')).toMatchObject({ usesSecrets: true, secretValues: ['env-secret-value'] });
    expect(render('{% for p in secrets %}{{ p[0] }}{% endfor %}').usesSecrets).toBe(true);
  });

  it('a secret in a branch not taken still counts (the mode must not depend on the branch), but was not read', () => {
    expect(render('{% if env.NOPE %}{{ secrets.db_password }}{% endif %}')).toMatchObject({ usesSecrets: true, secretValues: [] });
    expect(render('{% if env.NOPE %}{{ env.DB_PASSWORD }}{% endif %}')).toMatchObject({ usesSecrets: true, secretValues: [] });
    expect(render('{% if env.NOPE %}{{ env[env.X] }}{% endif %}')).toMatchObject({ usesSecrets: true, secretValues: [] });
    expect(render('{% if env.NOPE %}{{ env[env.X] }}{% endif %}', { env: { HOST: 'h' } }).usesSecrets).toBe(false);
  });

  it('a secret never appears in an error message', () => {
    const context: TemplateContext = { env: { DB_PASSWORD: 'env-secret-value' }, secrets: { pw: 'hunter22' }, secretEnv: new Set(['DB_PASSWORD']) };
    expect(message('{{ env[secrets.pw] }}', context)).toBe('app.conf:1:4: env.******** is not defined (write | default: "..." after it if it may be unset)');
    expect(message('{{ secrets[env.DB_PASSWORD] }}', context)).toBe('app.conf:1:4: secrets.******** is not defined (write | default: "..." after it if it may be unset)');
    expect(message('{{ secrets.pw | base64_decode }}', context)).not.toContain('hunter22');
  });
});
