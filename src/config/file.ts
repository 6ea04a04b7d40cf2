// The config file (--config FILE, SESAME_CONFIG): what flags cannot carry. YAML, read as
// YAML 1.1 like Docker Compose, so that `mode: 0400` is octal. Every unknown key and bad
// value is an error that names its key path, before anything runs.
import { readFileSync } from 'node:fs';
import { loadChunk } from '../chunks';
import { EXIT, InitError } from '../exit-codes';
import { certificateEntry, type CertificateEntry } from './certificates';
import { parseServices, type ServicesSection } from './services';
import { checkKeys, type Fail, isMap, str } from './keys';
import { parseDuration } from './values';
import { parseAction } from './lifetime';
import type { Action } from '../react/wiring';

export interface SecretEntry {
  ref: string;
  env?: string;
  file?: string;
  /** For templates only: `{{ secrets.<name> }}`; never in any environment or file. */
  name?: string;
  mode?: number;
  owner?: string;
  group?: string;
  optional: boolean;
  /** How often it is read again when it has no lease (ms or 'never'); unset: --refresh. */
  refresh?: number | 'never';
  /** The key path, e.g. "secrets[2]", for messages. */
  at: string;
}

export interface TemplateEntry {
  /** A template file, or a directory whose *.template and *.liquid files all render. */
  src: string;
  /** The output file, or a directory for a directory of templates. */
  dest: string;
  engine?: 'liquid' | 'envsubst';
  mode?: number;
  owner?: string;
  group?: string;
  /** What a change of its output does (on_change:); default none, or restart of `service`. */
  onChange?: Action;
  /** The service its on_change acts on (restart or signal). */
  service?: string;
  /** The key path, e.g. "templates[0]", or where a --template flag came from. */
  at: string;
}

export interface ConfigFile {
  path: string;
  secrets: SecretEntry[];
  templates: TemplateEntry[];
  /** Several programs to supervise (services.ts), if the file has a `services:` map. */
  services?: ServicesSection;
  /** Certificates issued by Vault's PKI engine and kept valid (certificates.ts). */
  certificates?: CertificateEntry[];
}

const TOP_LEVEL = ['secrets', 'templates', 'services', 'main', 'signals', 'prefix', 'certificates'] as const;
const SECRET_KEYS = ['ref', 'env', 'file', 'name', 'mode', 'owner', 'group', 'optional', 'refresh'] as const;
const TEMPLATE_KEYS = ['src', 'dest', 'engine', 'mode', 'owner', 'group', 'on_change', 'service'] as const;

/**
 * 0400 (octal by YAML 1.1), "0400" or "400" (octal digits as a string) -> 0o400. A number
 * not written in octal is refused: YAML reads `mode: 400` as decimal 400 (0o620) and
 * `mode: 0888` as 888, modes nobody meant. `source` is the scalar as written.
 */
function mode(value: unknown, source: string | undefined, at: string, fail: Fail): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && !/^0[0-7_]*$/.test(source ?? '')) {
    fail(at, `${source ?? value} is not written in octal: write the mode with a leading 0 (0400) or quoted ("0400")`);
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^0?[0-7]{3,4}$/.test(value) ? parseInt(value, 8) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0o7777) fail(at, `"${value}" is not a file mode (e.g. "0400")`);
  return n;
}

function secretEntry(value: unknown, at: string, fail: Fail, modeSource?: string): SecretEntry {
  if (!isMap(value)) fail(at, 'must be a map with ref and one of env, file or name');
  const v = value as Record<string, unknown>;
  checkKeys(v, SECRET_KEYS, at, fail);
  const ref = str(v.ref, `${at}.ref`, fail);
  if (!ref) fail(`${at}.ref`, 'is required');
  const env = str(v.env, `${at}.env`, fail);
  const file = str(v.file, `${at}.file`, fail);
  const name = str(v.name, `${at}.name`, fail);
  if ([env, file, name].filter(Boolean).length !== 1) fail(at, 'needs exactly one of env, file or name');
  if (env && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) fail(`${at}.env`, `"${env}" is not a variable name`);
  if (name && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail(`${at}.name`, `"${name}" is not a name a template can use (letters, digits, _)`);
  if (file && !file.startsWith('/')) fail(`${at}.file`, `"${file}" must be an absolute path`);
  if (!file && (v.mode !== undefined || v.owner !== undefined || v.group !== undefined)) fail(at, 'mode, owner and group only go with file');
  if (v.optional !== undefined && typeof v.optional !== 'boolean') fail(`${at}.optional`, 'must be true or false');
  return {
    ref: ref as string,
    env,
    file,
    name,
    mode: mode(v.mode, modeSource, `${at}.mode`, fail),
    owner: str(typeof v.owner === 'number' ? String(v.owner) : v.owner, `${at}.owner`, fail),
    group: str(typeof v.group === 'number' ? String(v.group) : v.group, `${at}.group`, fail),
    optional: v.optional === true,
    refresh: v.refresh === undefined || v.refresh === null ? undefined : refreshValue(v.refresh, `${at}.refresh`, fail),
    at,
  };
}

/** A refresh interval: a duration (more than 0) or `never`. */
export function parseRefresh(text: string): number | 'never' {
  if (text.trim().toLowerCase() === 'never') return 'never';
  const ms = parseDuration(text);
  if (ms <= 0) throw new Error(`"${text}" must be more than 0 (or never)`);
  return ms;
}

function refreshValue(value: unknown, at: string, fail: Fail): number | 'never' {
  if (typeof value !== 'string' && typeof value !== 'number') fail(at, 'must be a duration such as 5m, or never');
  try {
    return parseRefresh(String(value));
  } catch (error) {
    return fail(at, (error as Error).message);
  }
}

function templateEntry(value: unknown, at: string, fail: Fail, modeSource?: string): TemplateEntry {
  if (!isMap(value)) fail(at, 'must be a map with src and dest');
  const v = value as Record<string, unknown>;
  checkKeys(v, TEMPLATE_KEYS, at, fail);
  const src = str(v.src, `${at}.src`, fail);
  const dest = str(v.dest, `${at}.dest`, fail);
  if (!src) fail(`${at}.src`, 'is required');
  if (!dest) fail(`${at}.dest`, 'is required');
  if (!(dest as string).startsWith('/')) fail(`${at}.dest`, `"${dest}" must be an absolute path`);
  if (v.engine !== undefined && v.engine !== 'liquid' && v.engine !== 'envsubst') fail(`${at}.engine`, `"${v.engine}" is not liquid or envsubst`);
  return {
    src: src as string,
    dest: dest as string,
    engine: v.engine as TemplateEntry['engine'],
    mode: mode(v.mode, modeSource, `${at}.mode`, fail),
    owner: str(typeof v.owner === 'number' ? String(v.owner) : v.owner, `${at}.owner`, fail),
    group: str(typeof v.group === 'number' ? String(v.group) : v.group, `${at}.group`, fail),
    onChange: v.on_change === undefined || v.on_change === null ? undefined : parseAction(v.on_change, `${at}.on_change`, fail),
    service: str(v.service, `${at}.service`, fail),
    at,
  };
}

/**
 * Where a value is text for a program (an environment value, a command's words), YAML 1.1's
 * readings are undone: `DEBUG: yes` stays "yes" (not "true"), `MODE: 0755` stays "0755" (not
 * "493"), `[echo, y]` stays "y", a variable named `N` stays N (not "false"). Compose keeps
 * such values as written too.
 */
function textAsWritten(YAML: typeof import('yaml'), document: import('yaml').Document): void {
  const asWritten = (node: unknown) => {
    if (YAML.isScalar(node) && node.value !== null && typeof node.value !== 'string' && typeof node.source === 'string') node.value = node.source;
  };
  const values = (node: unknown) => {
    if (YAML.isSeq(node)) node.items.forEach(asWritten);
    else if (YAML.isMap(node)) node.items.forEach((pair) => { asWritten(pair.key); asWritten(pair.value); });
  };
  const services = document.get('services');
  if (!YAML.isMap(services)) return;
  for (const pair of services.items) {
    if (!YAML.isMap(pair.value)) continue;
    values(pair.value.get('environment', true));
    values(pair.value.get('command', true));
    const check = pair.value.get('healthcheck', true);
    if (YAML.isMap(check)) values(check.get('test', true));
  }
}

/**
 * A key given twice in one map, as yaml's uniqueKeys would find it, but with a Set per map:
 * yaml compares each new key with every earlier one, which made a file of 10,000 services
 * take seconds to parse. Throws what yaml would (message and position).
 */
function checkUniqueKeys(YAML: typeof import('yaml'), document: import('yaml').Document, lines: import('yaml').LineCounter): void {
  YAML.visit(document, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        // As yaml compares: scalars by value (1 and "1" differ), anything else never
        // equal, and YAML 1.1's merge key << may repeat.
        // A list or map as a key (`? [a, b]`) names nothing here, and yaml would print
        // Node's own warning to stderr as it stringified it: refused, with its position.
        if (YAML.isCollection(pair.key)) {
          const at = (pair.key as { range?: [number, number, number] }).range?.[0] ?? 0;
          throw Object.assign(new Error('a key must be a name or a number, not a list or a map'), { linePos: [lines.linePos(at)] });
        }
        if (!YAML.isScalar(pair.key) || pair.key.value === '<<') continue;
        const key = `${typeof pair.key.value}:${String(pair.key.value)}`;
        if (!seen.has(key)) {
          seen.add(key);
          continue;
        }
        const offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? 0;
        throw Object.assign(new Error('Map keys must be unique'), { linePos: [lines.linePos(offset)] });
      }
      return undefined;
    },
  });
}

/**
 * No string anywhere in the file may hold a NUL ("\0" in a double-quoted YAML string): a
 * path, an argument or an environment value is a C string and would be cut at it silently.
 */
function noNul(node: unknown, at: string, fail: Fail): void {
  if (typeof node === 'string') {
    if (node.includes('\0')) fail(at || '(top level)', 'contains a NUL character, which no path, argument or environment value can hold');
  } else if (Array.isArray(node)) {
    node.forEach((item, i) => noNul(item, `${at}[${i}]`, fail));
  } else if (isMap(node)) {
    for (const [key, value] of Object.entries(node)) {
      const here = at ? `${at}.${key}` : key;
      if (key.includes('\0')) fail(here.replaceAll('\0', '\\0'), 'the key contains a NUL character');
      noNul(value, here, fail);
    }
  }
}

/** The `certificates:` list; a name (for lines and on_change) is used once. */
function certificates(items: unknown[], modeSource: (key: string, i: number) => string | undefined, fail: Fail): CertificateEntry[] {
  const seen = new Set<string>();
  return items.map((item, i) => {
    const at = `certificates[${i}]`;
    const keyMode = mode(isMap(item) ? item.mode : undefined, modeSource('certificates', i), `${at}.mode`, fail);
    const entry = certificateEntry(item, at, fail, keyMode);
    if (seen.has(entry.name)) fail(`${at}.name`, `"${entry.name}" is already the name of another certificate (set name:)`);
    seen.add(entry.name);
    return entry;
  });
}

export function parseConfig(text: string, path: string): ConfigFile {
  const fail: Fail = (at, why) => {
    throw new InitError(`${path}: ${at}: ${why}`, EXIT.CONFIG);
  };
  // Loaded only when there is a config file (a chunk of its own: see chunks.ts).
  const YAML = loadChunk<typeof import('yaml')>('yaml');
  let doc: unknown;
  // A document, not only its values: a mode's check needs the scalar as it was written.
  const lines = new YAML.LineCounter();
  const document = YAML.parseDocument(text, { version: '1.1', uniqueKeys: false, lineCounter: lines, logLevel: 'error' });
  try {
    if (document.errors.length) throw document.errors[0];
    checkUniqueKeys(YAML, document, lines);
    textAsWritten(YAML, document);
    doc = document.toJS();
  } catch (error) {
    const e = error as Error & { linePos?: Array<{ line: number; col: number }> };
    const pos = e.linePos?.[0];
    throw new InitError(`${path}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`, EXIT.CONFIG);
  }
  if (doc === null || doc === undefined) return { path, secrets: [], templates: [] };
  if (!isMap(doc)) fail('(top level)', 'must be a map');
  noNul(doc, '', fail);
  const top = doc as Record<string, unknown>;
  checkKeys(top, TOP_LEVEL, '', fail);
  const list = (key: 'secrets' | 'templates' | 'certificates'): unknown[] => {
    const value = top[key] ?? [];
    if (!Array.isArray(value)) fail(key, 'must be a list');
    return value as unknown[];
  };
  const modeSource = (key: string, i: number) => (document.getIn([key, i, 'mode'], true) as { source?: string } | undefined)?.source;
  const secrets = list('secrets').map((s, i) => secretEntry(s, `secrets[${i}]`, fail, modeSource('secrets', i)));
  const templates = list('templates').map((t, i) => templateEntry(t, `templates[${i}]`, fail, modeSource('templates', i)));
  const services = parseServices(top, secrets.flatMap((s) => (s.env ? [s.env] : [])), fail);
  const certs = top.certificates !== undefined ? certificates(list('certificates'), modeSource, fail) : undefined;
  for (const t of [...templates, ...(certs ?? [])]) {
    if (t.service && !services) fail(`${t.at}.service`, 'only goes with services (without them, on_change acts on the command)');
    if (t.service && !services?.services.some((s) => s.name === t.service) && t.service !== 'command') fail(`${t.at}.service`, `no service named "${t.service}"`);
    if (services && !t.service && (t.onChange?.kind === 'restart' || t.onChange?.kind === 'signal')) fail(`${t.at}.on_change`, `${t.onChange.kind} needs service: (which service to ${t.onChange.kind})`);
  }
  return {
    path,
    secrets,
    templates,
    services,
    ...(certs ? { certificates: certs } : {}),
  };
}

export function loadConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InitError(`config file ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`, EXIT.CONFIG);
  }
  return parseConfig(text, path);
}
