// The config file: YAML read as YAML 1.1 (so `mode: 0400` is octal, as in Compose), every
// bad key or value an error with exit 78 that names the file and the key path.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/file';
import { InitError } from '../../src/exit-codes';

const PATH = '/etc/sesame.yaml';
const parse = (text: string) => parseConfig(text, PATH);

/** The message and exit code parseConfig fails with. */
function failure(text: string): [string, number] {
  try {
    parse(text);
  } catch (error) {
    if (!(error instanceof InitError)) throw error;
    return [error.message, error.exitCode];
  }
  throw new Error(`parsed without error: ${text}`);
}

describe('parseConfig: valid documents', () => {
  it('reads env and file entries with every key', () => {
    const config = parse([
      'secrets:',
      '  - ref: vault:secret/app#db',
      '    env: DB_PASSWORD',
      '  - ref: keywhiz:tls-key',
      '    file: /run/secrets/tls/',
      '    mode: 0440',
      '    owner: app',
      '    group: ssl-cert',
      '    optional: true',
      '  - ref: file:/run/secrets/token',
      '    file: /etc/app/token',
      '    optional: false',
      '',
    ].join('\n'));
    expect(config).toEqual({
      path: PATH,
      secrets: [
        { ref: 'vault:secret/app#db', env: 'DB_PASSWORD', file: undefined, name: undefined, mode: undefined, owner: undefined, group: undefined, optional: false, at: 'secrets[0]' },
        { ref: 'keywhiz:tls-key', env: undefined, file: '/run/secrets/tls/', name: undefined, mode: 0o440, owner: 'app', group: 'ssl-cert', optional: true, at: 'secrets[1]' },
        { ref: 'file:/run/secrets/token', env: undefined, file: '/etc/app/token', name: undefined, mode: undefined, owner: undefined, group: undefined, optional: false, at: 'secrets[2]' },
      ],
      templates: [],
    });
  });

  it('reads template-only secrets and templates', () => {
    const config = parse([
      'secrets:',
      '  - { ref: "vault:secret/app#db", name: db_password }',
      'templates:',
      '  - { src: /etc/app/app.conf.liquid, dest: /etc/app/app.conf, mode: 0640, owner: app, group: 0 }',
      '  - { src: /etc/nginx/templates, dest: /etc/nginx/conf.d, engine: envsubst }',
    ].join('\n'));
    expect(config.secrets[0]).toMatchObject({ name: 'db_password', env: undefined, file: undefined });
    expect(config.templates).toEqual([
      { src: '/etc/app/app.conf.liquid', dest: '/etc/app/app.conf', engine: undefined, mode: 0o640, owner: 'app', group: '0', at: 'templates[0]' },
      { src: '/etc/nginx/templates', dest: '/etc/nginx/conf.d', engine: 'envsubst', mode: undefined, owner: undefined, group: undefined, at: 'templates[1]' },
    ]);
  });

  it('reads flow style too', () => {
    expect(parse('secrets: [{ref: "keywhiz:a", env: A}, {ref: "keywhiz:b", file: /b}]').secrets.map((s) => [s.ref, s.env ?? s.file])).toEqual([
      ['keywhiz:a', 'A'],
      ['keywhiz:b', '/b'],
    ]);
  });

  it('takes modes as YAML 1.1 octal numbers or as strings of octal digits', () => {
    const modes = (...values: string[]) => parse(`secrets:\n${values.map((v, i) => `  - { ref: "keywhiz:s", file: /f${i}, mode: ${v} }\n`).join('')}`).secrets.map((s) => s.mode);
    expect(modes('0400', '0440', '"0440"', "'0600'", '"400"', '0644', '00')).toEqual([256, 288, 288, 384, 256, 420, 0]);
    expect(modes('0400')).toEqual([0o400]);
  });

  it('takes numeric owner and group as strings', () => {
    const [entry] = parse('secrets:\n  - { ref: "keywhiz:s", file: /f, owner: 1000, group: 0 }\n').secrets;
    expect([entry.owner, entry.group]).toEqual(['1000', '0']);
  });

  it('takes YAML 1.1 booleans for optional (yes, on)', () => {
    expect(parse('secrets:\n  - { ref: "keywhiz:a", env: A, optional: yes }\n  - { ref: "keywhiz:b", env: B, optional: off }\n').secrets.map((s) => s.optional)).toEqual([true, false]);
  });

  it('an empty file, a file of comments, `secrets:` with nothing, and an empty list are all no secrets', () => {
    for (const text of ['', '\n', '# nothing yet\n', '---\n', 'secrets:\n', 'secrets: []\n']) {
      expect(parse(text)).toEqual({ path: PATH, secrets: [], templates: [] });
    }
  });
});

describe('parseConfig: errors name the file and the key path, exit 78', () => {
  it.each([
    ['a list as a key (yaml would print a warning of its own)', '? [a, b]\n: 1\n', `${PATH}:1:3: not valid YAML: a key must be a name or a number, not a list or a map`],
    ['a map as a service name', 'services:\n  ? { a: 1 }\n  : { command: run }\n', `${PATH}:2:5: not valid YAML: a key must be a name or a number, not a list or a map`],
    ['a NUL in a value (issue 13)', 'secrets:\n  - { ref: "file:/run/secrets/a\\0b", env: A }\n', `${PATH}: secrets[0].ref: contains a NUL character, which no path, argument or environment value can hold`],
    ['a NUL in a service\'s environment (issue 13)', 'services:\n  app:\n    command: run\n    environment: { A: "x\\0y" }\n', `${PATH}: services.app.environment.A: contains a NUL character, which no path, argument or environment value can hold`],
    ['a NUL in a command word (issue 13)', 'services:\n  app: { command: [echo, "a\\0"] }\n', `${PATH}: services.app.command[1]: contains a NUL character, which no path, argument or environment value can hold`],
    ['command: 42 (issue 13)', 'services:\n  app: { command: 42 }\n', `${PATH}: services.app.command: must be a string or a list of strings: YAML reads it as the number 42; quote it ("...") if it is the command`],
    ['command: yes (issue 13)', 'services:\n  app: { command: yes }\n', `${PATH}: services.app.command: must be a string or a list of strings: YAML reads it as the boolean true; quote it ("...") if it is the command`],
    ['healthcheck test: 1 (issue 13)', 'services:\n  app: { command: a, healthcheck: { test: 1 } }\n', `${PATH}: services.app.healthcheck.test: must be a string or a list of strings: YAML reads it as the number 1; quote it ("...") if it is the command`],
    ['an unknown top-level key', 'secret:\n  - ref: keywhiz:a\n', `${PATH}: secret: unknown key (expected one of secrets, templates, services, main, signals, prefix, certificates)`],
    ['an unknown key in an entry', 'secrets:\n  - ref: keywhiz:a\n    env: A\n    path: /x\n', `${PATH}: secrets[0].path: unknown key (expected one of ref, env, file, name, mode, owner, group, optional, refresh)`],
    ['a missing ref', 'secrets:\n  - env: A\n', `${PATH}: secrets[0].ref: is required`],
    ['an empty ref', 'secrets:\n  - { ref: "", env: A }\n', `${PATH}: secrets[0].ref: must be a non-empty string`],
    ['a ref that is not a string', 'secrets:\n  - { ref: [a], env: A }\n', `${PATH}: secrets[0].ref: must be a non-empty string`],
    ['both env and file', 'secrets:\n  - { ref: "keywhiz:a", env: A }\n  - { ref: "keywhiz:b", env: B, file: /b }\n', `${PATH}: secrets[1]: needs exactly one of env, file or name`],
    ['neither env nor file', 'secrets:\n  - ref: keywhiz:a\n', `${PATH}: secrets[0]: needs exactly one of env, file or name`],
    ['a relative file path', 'secrets:\n  - { ref: "keywhiz:a", file: run/secrets/a }\n', `${PATH}: secrets[0].file: "run/secrets/a" must be an absolute path`],
    ['a bad variable name', 'secrets:\n  - { ref: "keywhiz:a", env: 1PASSWORD }\n', `${PATH}: secrets[0].env: "1PASSWORD" is not a variable name`],
    ['a variable name with a dash', 'secrets:\n  - { ref: "keywhiz:a", env: DB-PASSWORD }\n', `${PATH}: secrets[0].env: "DB-PASSWORD" is not a variable name`],
    ['mode on an env target', 'secrets:\n  - { ref: "keywhiz:a", env: A, mode: 0400 }\n', `${PATH}: secrets[0]: mode, owner and group only go with file`],
    ['owner on an env target', 'secrets:\n  - { ref: "keywhiz:a", env: A, owner: app }\n', `${PATH}: secrets[0]: mode, owner and group only go with file`],
    ['optional that is not a boolean', 'secrets:\n  - { ref: "keywhiz:a", env: A, optional: "yes" }\n', `${PATH}: secrets[0].optional: must be true or false`],
    ['optional as a number', 'secrets:\n  - { ref: "keywhiz:a", env: A, optional: 1 }\n', `${PATH}: secrets[0].optional: must be true or false`],
    ['secrets that is not a list', 'secrets:\n  ref: keywhiz:a\n  env: A\n', `${PATH}: secrets: must be a list`],
    ['secrets as a string', 'secrets: keywhiz:a\n', `${PATH}: secrets: must be a list`],
    ['an entry that is not a map', 'secrets:\n  - keywhiz:a\n', `${PATH}: secrets[0]: must be a map with ref and one of env, file or name`],
    ['a top level that is a list', '- ref: keywhiz:a\n', `${PATH}: (top level): must be a map`],
    ['a top level that is a string', 'keywhiz:a\n', `${PATH}: (top level): must be a map`],
    ['a mode that is not octal digits', 'secrets:\n  - { ref: "keywhiz:a", file: /a, mode: "rw-r-----" }\n', `${PATH}: secrets[0].mode: "rw-r-----" is not a file mode (e.g. "0400")`],
    ['a mode string with an 8', 'secrets:\n  - { ref: "keywhiz:a", file: /a, mode: "0800" }\n', `${PATH}: secrets[0].mode: "0800" is not a file mode (e.g. "0400")`],
    ['a mode above 07777', 'secrets:\n  - { ref: "keywhiz:a", file: /a, mode: 010000 }\n', `${PATH}: secrets[0].mode: "4096" is not a file mode (e.g. "0400")`],
    ['an owner that is not a string or number', 'secrets:\n  - { ref: "keywhiz:a", file: /a, owner: true }\n', `${PATH}: secrets[0].owner: must be a non-empty string`],
  ])('%s', (_what, text, message) => {
    expect(failure(text)).toEqual([message, 78]);
  });

  it('names the failing entry by its index', () => {
    const text = ['secrets:', '  - { ref: "keywhiz:a", env: A }', '  - { ref: "keywhiz:b", env: B }', '  - { ref: "keywhiz:c", file: c }', ''].join('\n');
    expect(failure(text)).toEqual([`${PATH}: secrets[2].file: "c" must be an absolute path`, 78]);
  });

  it.each([
    ['an unclosed flow map', 'secrets: [\n  {ref: x\n', `${PATH}:3:1: not valid YAML: Flow map in block collection must be sufficiently indented and end with a }`],
    ['an unclosed quote', 'secrets:\n  - ref: "keywhiz:a\n', `${PATH}:3:1: not valid YAML: Missing closing "quote`],
    ['a nested compact mapping', 'secrets: ref: keywhiz:a\n', `${PATH}:1:10: not valid YAML: Nested mappings are not allowed in compact mappings`],
    ['a key given twice', 'secrets:\n  - ref: keywhiz:a\n    ref: keywhiz:b\n    env: A\n', `${PATH}:3:5: not valid YAML: Map keys must be unique`],
    ['a service given twice among many', `services:\n${Array.from({ length: 2000 }, (_, i) => `  s${i}: {command: "true"}\n`).join('')}  s7: {command: "true"}\n`, `${PATH}:2002:3: not valid YAML: Map keys must be unique`],
    ['an environment key given twice in a flow map', 'services:\n  a:\n    command: "true"\n    environment: {X: "1", Y: "2", X: "3"}\n', `${PATH}:4:35: not valid YAML: Map keys must be unique`],
  ])('a YAML syntax error (%s): file:line:col and the parser\'s first line', (_what, text, message) => {
    expect(failure(text)).toEqual([message, 78]);
  });

  // YAML 1.1 reads an integer without a leading 0 as decimal: `mode: 400` is 0o620
  // (rw--w----), `mode: 0888` is 888 = 0o1570. A mode that was not written in octal must be
  // refused rather than give a secret file a mode nobody asked for.
  it.each([
    ['400', `${PATH}: secrets[0].mode: 400 is not written in octal: write the mode with a leading 0 (0400) or quoted ("0400")`],
    ['0888', `${PATH}: secrets[0].mode: 0888 is not written in octal: write the mode with a leading 0 (0400) or quoted ("0400")`],
    ['0x1ff', `${PATH}: secrets[0].mode: 0x1ff is not written in octal: write the mode with a leading 0 (0400) or quoted ("0400")`],
  ])('a mode written as a non-octal number (mode: %s) is refused', (mode, message) => {
    expect(failure(`secrets:\n  - { ref: "keywhiz:a", file: /a, mode: ${mode} }\n`)).toEqual([message, 78]);
  });
});

describe('loadConfig', () => {
  it('reads and parses the file; a missing one is exit 78 naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-config-'));
    try {
      const path = join(dir, 'sesame.yaml');
      writeFileSync(path, 'secrets:\n  - { ref: "keywhiz:a", env: A }\n');
      expect(loadConfig(path).secrets.map((s) => s.env)).toEqual(['A']);
      expect(() => loadConfig(join(dir, 'nope.yaml'))).toThrow(new InitError(`config file ${join(dir, 'nope.yaml')}: no such file`, 78));
      writeFileSync(path, 'secrets:\n  - { ref: "keywhiz:a" }\n');
      expect(() => loadConfig(path)).toThrow(new InitError(`${path}: secrets[0]: needs exactly one of env, file or name`, 78));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
