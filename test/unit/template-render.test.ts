// Choosing the engine and the output name from a template's file name, the error type, and
// masking secrets in text meant for reading (init --render).
import { describe, expect, it } from 'vitest';
import { InitError } from '../../src/exit-codes';
import { maskedForms } from '../../src/template/mask';
import { engineFor, MASK, maskSecrets, renderedName, renderTemplate, TemplateError } from '../../src/template/render';

describe('engine by suffix', () => {
  it.each([
    ['/etc/nginx/templates/default.conf.template', 'envsubst'],
    ['x.template', 'envsubst'],
    ['/etc/app/config.yaml.liquid', 'liquid'],
    ['app.liquid', 'liquid'],
    ['/etc/app/config.yaml', 'liquid'],
    ['app.conf.tmpl', 'liquid'],
    ['app.TEMPLATE', 'liquid'],
    ['/dir.template/app.conf', 'liquid'],
    ['.template', 'liquid'],
  ])('%s -> %s', (path, engine) => {
    expect(engineFor(path)).toBe(engine);
  });

  it('a template may name its engine', () => {
    expect(renderTemplate({ source: '${A} {{ env.A }}', path: 'x.template', engine: 'liquid' }, { env: { A: '1' } }).text).toBe('${A} 1');
    expect(renderTemplate({ source: '${A} {{ env.A }}', path: 'x.liquid', engine: 'envsubst' }, { env: { A: '1' } }).text).toBe('1 {{ env.A }}');
    expect(renderTemplate({ source: '${A} {{ env.A }}', path: 'x.conf' }, { env: { A: '1' } })).toMatchObject({ engine: 'liquid', text: '${A} 1' });
  });
});

describe('output name', () => {
  it.each([
    ['default.conf.template', 'default.conf'],
    ['app.yaml.liquid', 'app.yaml'],
    ['sub/dir/site.conf.template', 'sub/dir/site.conf'],
    ['app.yaml', 'app.yaml'],
    ['.template', '.template'],
    ['x.template.liquid', 'x.template'],
  ])('%s -> %s', (name, expected) => {
    expect(renderedName(name)).toBe(expected);
  });
});

describe('errors', () => {
  it('are configuration errors (exit 78) with a position', () => {
    try {
      renderTemplate({ source: '\n\n  {{ env.X }}', path: '/t/app.conf' }, { env: {} });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TemplateError);
      expect(error).toBeInstanceOf(InitError);
      expect(error).toMatchObject({ exitCode: 78, file: '/t/app.conf', line: 3, column: 6, name: 'TemplateError' });
      expect((error as Error).message).toMatch(/^\/t\/app\.conf:3:6: env\.X is not defined/);
    }
  });
});

describe('maskSecrets', () => {
  it('replaces every occurrence', () => {
    expect(maskSecrets('user=app password=hunter22 again=hunter22', ['hunter22'])).toBe(`user=app password=${MASK} again=${MASK}`);
  });

  it('longest first, in one pass', () => {
    expect(maskSecrets('abcdef abc', ['abc', 'abcdef'])).toBe(`${MASK} ${MASK}`);
    // A value that looks like the mask, or a part of it, never re-masks a mask.
    expect(maskSecrets('x**y hunter22', ['**', 'hunter22'])).toBe(`x${MASK}y ${MASK}`);
  });

  it('ignores empty values and takes regular expression characters literally', () => {
    expect(maskSecrets('a.b a+b (x) $1', ['', 'a.b', '(x)', '$1'])).toBe(`${MASK} a+b ${MASK} ${MASK}`);
    expect(maskSecrets('nothing', [])).toBe('nothing');
    expect(maskSecrets('nothing', [''])).toBe('nothing');
  });

  it('masks the forms the filters write', () => {
    const secret = 'p"a\'ss\\wo rd&é';
    const rendered = renderTemplate({
      source: 'raw={{ secrets.s }} json={{ secrets.s | json }} sh={{ secrets.s | sh }} b64={{ secrets.s | base64 }} url={{ secrets.s | url_encode }}',
      path: 'x.conf',
    }, { env: {}, secrets: { s: secret } });
    const masked = maskSecrets(rendered.text, rendered.secretValues);
    expect(masked).toBe(`raw=${MASK} json="${MASK}" sh='${MASK}' b64=${MASK} url=${MASK}`);
  });

  it('masks each line of a multi-line secret, however it is indented', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n';
    const rendered = renderTemplate({ source: 'tls:\n  key: |\n    {{ secrets.key | newline_to_br | replace: "<br />", "    " }}', path: 'x.yaml' }, { env: {}, secrets: { key } });
    const masked = maskSecrets(rendered.text, rendered.secretValues);
    for (const line of key.split('\n').filter(Boolean)) expect(masked).not.toContain(line);
    expect(maskedForms('a\n}\nlong line\n')).toContain('long line');
    expect(maskedForms('a\n}\nlong line\n')).not.toContain('}');
  });
});
