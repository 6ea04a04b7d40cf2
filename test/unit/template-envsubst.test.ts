// envsubst's rules as GNU envsubst applies them (test/integration/envsubst-compat.test.ts
// checks the same and many more inputs against the real program), and the nginx image's
// convention of replacing only the variables that are defined.
import { describe, expect, it } from 'vitest';
import { envsubst, envsubstNames, shellFormatVariables } from '../../src/template/envsubst';
import { renderTemplate } from '../../src/template/render';

const ENV = { A: 'a', B: 'bb', AB: 'ab', _: 'underscore', A1: 'a-one', EMPTY: '', DOLLAR: '$B ${B}', UNI: 'grüße ☃' };

describe('every variable (plain envsubst)', () => {
  it.each([
    ['$A', 'a'],
    ['${A}', 'a'],
    ['x$A.y', 'xa.y'],
    ['$AB', 'ab'],
    ['${A}B', 'aB'],
    ['$A1 $A_ $_', 'a-one  underscore'],
    ['$UNSET|${UNSET}|', '||'],
    ['${EMPTY}x', 'x'],
    ['$A$B', 'abb'],
    ['$$A', '$a'],
    ['$${A}', '$a'],
    ['$', '$'],
    ['x$', 'x$'],
    ['${', '${'],
    ['x${', 'x${'],
    ['$ A', '$ A'],
    ['$1 ${1} $-', '$1 ${1} $-'],
    ['${A', '${A'],
    ['${A:-default}', '${A:-default}'],
    ['${UNSET:-default}', '${UNSET:-default}'],
    ['${A-x} ${A:=x} ${#A} ${A%a}', '${A-x} ${A:=x} ${#A} ${A%a}'],
    ['${A }', '${A }'],
    ['${ A}', '${ A}'],
    ['${{A}}', '${{A}}'],
    ['${$A}', '${a}'],
    ['${A$B}', '${Abb}'],
    ['${A}}', 'a}'],
    ['{$A}', '{a}'],
    ['\\$A \\${A}', '\\a \\a'],
    ["'$A' \"$A\"", "'a' \"a\""],
    ['$é ${é} $A€', '$é ${é} a€'],
    ['$DOLLAR', '$B ${B}'],
    ['$UNI!', 'grüße ☃!'],
    ['no references at all', 'no references at all'],
    ['', ''],
    ['a\0$A\0b', 'a\0a\0b'],
    ['$A\n${B}\r\n', 'a\nbb\r\n'],
  ])('%j -> %j', (input, expected) => {
    expect(envsubst(input, ENV)).toBe(expected);
  });

  it('finds nothing on an object\'s prototype', () => {
    expect(envsubst('[$constructor][$__proto__][$toString][${hasOwnProperty}]', {})).toBe('[][][][]');
    expect(envsubst('$__proto__', JSON.parse('{"__proto__": "own"}'))).toBe('own');
  });

  it('skips undefined entries, as in process.env', () => {
    expect(envsubst('[$X]', { X: undefined })).toBe('[]');
  });
});

describe('a list of variables (envsubst SHELL-FORMAT)', () => {
  const only = (format: string) => shellFormatVariables(format);

  it.each([
    ['$A $B', '${A}', 'a $B'],
    ['$A ${B} $AB', '$A $AB', 'a ${B} ab'],
    ['$UNSET ${UNSET}', '${UNSET}', ' '],
    ['$A ${A:-x}', '$A', 'a ${A:-x}'],
    ['$host $uri ${A}', '${A}', '$host $uri a'],
    ['$A $B', '', '$A $B'],
    ['$$A', '$A', '$a'],
  ])('%j with %j -> %j', (input, format, expected) => {
    expect(envsubst(input, ENV, only(format))).toBe(expected);
  });

  it.each([
    ['${A} $B', ['A', 'B']],
    ['$A,$B;${C}', ['A', 'B', 'C']],
    ['${A $B ${C:-x} $$D $1E ${_}', ['B', 'D', '_']],
    ['A B', []],
    ['$A $A ${A}', ['A']],
  ])('parses %j as envsubst --variables does', (format, names) => {
    expect([...shellFormatVariables(format)]).toEqual(names);
  });
});

describe('envsubstNames', () => {
  it('lists what would be replaced, once each, in order', () => {
    expect(envsubstNames('$B ${A} $B ${C:-x} $$D')).toEqual(['B', 'A', 'D']);
    expect(envsubstNames('$B ${A} $B', new Set(['A']))).toEqual(['A']);
  });
});

describe('the nginx image convention through renderTemplate', () => {
  const site = [
    'server {',
    '    listen ${NGINX_PORT};',
    '    server_name ${SERVER_NAME};',
    '    location / {',
    '        proxy_pass http://$BACKEND;',
    '        proxy_set_header Host $host;',
    '        return 200 "$request_uri ${UNDEFINED}";',
    '    }',
    '}',
    '',
  ].join('\n');
  const env = { NGINX_PORT: '8080', SERVER_NAME: 'example.com', BACKEND: 'app:3000' };

  it('a .template file replaces only defined variables', () => {
    const out = renderTemplate({ source: site, path: '/etc/nginx/templates/default.conf.template' }, { env });
    expect(out).toMatchObject({ engine: 'envsubst', usesSecrets: false, secretValues: [] });
    expect(out.text).toBe(site.replace('${NGINX_PORT}', '8080').replace('${SERVER_NAME}', 'example.com').replace('$BACKEND', 'app:3000'));
  });

  it('variables: "all" is plain envsubst', () => {
    const out = renderTemplate({ source: 'a=$A b=$host c=${C}', path: 'x.template', variables: 'all' }, { env: { A: '1' } });
    expect(out.text).toBe('a=1 b= c=');
  });

  it('variables: a list is envsubst SHELL-FORMAT', () => {
    const out = renderTemplate({ source: 'a=$A b=$B c=${C}', path: 'x.template', variables: shellFormatVariables('$A ${C}') }, { env: { A: '1', B: '2' } });
    expect(out.text).toBe('a=1 b=$B c=');
  });

  it('reports a variable that holds a secret', () => {
    const context = { env: { A: '1', DB_PASSWORD: 'hunter22', TOKEN: 'tok' }, secretEnv: new Set(['DB_PASSWORD', 'TOKEN']) };
    expect(renderTemplate({ source: 'pw=${DB_PASSWORD} a=$A', path: 'x.template' }, context)).toMatchObject({ text: 'pw=hunter22 a=1', usesSecrets: true, secretValues: ['hunter22'] });
    expect(renderTemplate({ source: 'a=$A $TOKENX ${TOKEN:-x}', path: 'x.template' }, context)).toMatchObject({ usesSecrets: false, secretValues: [] });
    expect(renderTemplate({ source: 'a=$TOKEN', path: 'x.template', variables: ['A'] }, context)).toMatchObject({ text: 'a=$TOKEN', usesSecrets: false });
  });

  it('sees env only: secrets are not variables', () => {
    const out = renderTemplate({ source: '[$db]', path: 'x.template', variables: 'all' }, { env: {}, secrets: { db: 'x' } });
    expect(out).toMatchObject({ text: '[]', usesSecrets: false });
  });
});

describe('large inputs', () => {
  it('a long input with many references, in linear time', () => {
    const input = 'x $A ${B} $$ ${ $1 '.repeat(100_000);
    const started = performance.now();
    const out = envsubst(input, ENV);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(out).toBe('x a bb $$ ${ $1 '.repeat(100_000));
  });

  it('a very long name', () => {
    const name = `V${'x'.repeat(200_000)}`;
    expect(envsubst(`<$${name}>`, { [name]: 'long' })).toBe('<long>');
    expect(envsubst(`<\${${name}`, { [name]: 'long' })).toBe(`<\${${name}`);
  });

  it('a long value is inserted as is', () => {
    const value = '$A'.repeat(500_000);
    expect(envsubst('[$V]', { V: value, A: 'no' })).toBe(`[${value}]`);
  });
});
