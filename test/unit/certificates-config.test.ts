// The config file's `certificates:` entries: every key read, every mistake one line naming
// its key path, exit 78.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/file';
import { InitError } from '../../src/exit-codes';

const PATH = '/etc/sesame.yaml';
const parse = (text: string) => parseConfig(text, PATH);

function failure(text: string): [string, number] {
  try {
    parse(text);
  } catch (error) {
    if (!(error instanceof InitError)) throw error;
    return [error.message, error.exitCode];
  }
  throw new Error(`parsed without error: ${text}`);
}

const entry = (extra: string) => `certificates:\n  - path: pki/issue/web\n    common_name: web.example.com\n    cert: /tls/web.crt\n    key: /tls/web.key\n${extra}`;

describe('certificates: in the config file', () => {
  it('reads every key, with defaults for the rest', () => {
    const config = parse(entry(`    name: web-tls\n    alt_names: [api.example.com, www.example.com]\n    ip_sans: 127.0.0.1\n    ttl: 72h\n    ca: /tls/ca.crt\n    mode: 0640\n    owner: "101"\n    group: "102"\n    rotate_at: 80%\n`));
    expect(config.certificates).toEqual([{
      name: 'web-tls', path: 'pki/issue/web', commonName: 'web.example.com', altNames: ['api.example.com', 'www.example.com'], ipSans: ['127.0.0.1'],
      ttlSeconds: 259_200, certFile: '/tls/web.crt', keyFile: '/tls/web.key', caFile: '/tls/ca.crt', keyMode: 0o640, owner: '101', group: '102', rotateAt: 0.8, at: 'certificates[0]',
    }]);
    const minimal = parse(entry('')).certificates?.[0];
    expect(minimal).toMatchObject({ name: 'web.example.com', keyMode: 0o600, rotateAt: 2 / 3, altNames: [], ipSans: [], ttlSeconds: undefined, caFile: undefined });
    expect(parse(entry('    rotate_at: 2/3\n')).certificates?.[0].rotateAt).toBeCloseTo(2 / 3);
    expect(parse(entry('    rotate_at: 0.5\n')).certificates?.[0].rotateAt).toBe(0.5);
    expect(parse(entry('    alt_names: "a.example.com, b.example.com"\n')).certificates?.[0].altNames).toEqual(['a.example.com', 'b.example.com']);
    expect(parse('secrets: []\n').certificates).toBeUndefined();
  });

  it('names the key path of each mistake, exit 78', () => {
    const cases: Array<[string, string]> = [
      ['certificates: {}\n', 'certificates: must be a list'],
      ['certificates: [x]\n', 'certificates[0]: must be a map with path, common_name, cert and key'],
      [entry('    color: red\n'), 'certificates[0].color: unknown key (expected one of name, path, common_name, alt_names, ip_sans, ttl, cert, key, ca, mode, owner, group, rotate_at, on_change, service)'],
      [entry('').replace('path: pki/issue/web', 'path: secret/data/web'), 'certificates[0].path: "secret/data/web" is not a PKI issue path (MOUNT/issue/ROLE, e.g. pki/issue/web)'],
      [entry('').replace('    common_name: web.example.com\n', ''), 'certificates[0].common_name: is required'],
      [entry('').replace('    key: /tls/web.key\n', ''), 'certificates[0].key: is required'],
      [entry('').replace('cert: /tls/web.crt', 'cert: tls/web.crt'), 'certificates[0].cert: "tls/web.crt" must be an absolute path'],
      [entry('    ca: /tls/web.key\n'), 'certificates[0]: cert, key and ca must be different files'],
      [entry('    ttl: soon\n'), 'certificates[0].ttl: "soon" is not a duration (e.g. 10s, 500ms, 1m30s, or a number of seconds)'],
      [entry('    rotate_at: 120%\n'), 'certificates[0].rotate_at: "120%" is not a point in the validity (e.g. 67%, 0.67 or 2/3; between 0 and 100%)'],
      [entry('    mode: 600\n'), 'certificates[0].mode: 600 is not written in octal: write the mode with a leading 0 (0400) or quoted ("0400")'],
      [entry('    alt_names: [a b]\n'), 'certificates[0].alt_names: must be a list of names (or one comma-separated string)'],
      [`${entry('')}${entry('').replace('certificates:\n', '')}`, 'certificates[1].name: "web.example.com" is already the name of another certificate (set name:)'],
    ];
    for (const [text, message] of cases) expect(failure(text)).toEqual([`${PATH}: ${message}`, 78]);
  });
});
