// The config file's `certificates:` list: certificates issued by Vault's PKI engine and kept
// valid while init runs (src/lifetime/certificate.ts). Checked like every other key: an
// unknown key or a bad value names its key path and stops init with 78.
import { DEFAULT_KEY_MODE, DEFAULT_ROTATE_AT } from '../lifetime/certificate';
import type { Action } from '../react/wiring';
import { checkKeys, type Fail, isMap, str } from './keys';
import { parseAction } from './lifetime';
import { parseDuration } from './values';

export interface CertificateEntry {
  name: string;
  /** pki/issue/ROLE (any mount): the Vault path asked. */
  path: string;
  commonName: string;
  altNames: string[];
  ipSans: string[];
  ttlSeconds?: number;
  certFile: string;
  keyFile: string;
  caFile?: string;
  keyMode: number;
  owner?: string;
  group?: string;
  rotateAt: number;
  /** What a new certificate makes happen (default none: the program watches its files). */
  onChange?: Action;
  /** The service on_change acts on (with services). */
  service?: string;
  /** The key path, e.g. "certificates[0]". */
  at: string;
}

export const CERTIFICATE_KEYS = ['name', 'path', 'common_name', 'alt_names', 'ip_sans', 'ttl', 'cert', 'key', 'ca', 'mode', 'owner', 'group', 'rotate_at', 'on_change', 'service'] as const;

function names(value: unknown, at: string, fail: Fail): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
  if (!Array.isArray(list) || list.some((n) => typeof n !== 'string' || !n.trim() || /[\s,]/.test(n.trim()))) fail(at, 'must be a list of names (or one comma-separated string)');
  return (list as string[]).map((n) => n.trim());
}

function absolute(value: unknown, at: string, fail: Fail, required: boolean): string | undefined {
  const path = str(value, at, fail);
  if (!path) {
    if (required) fail(at, 'is required');
    return undefined;
  }
  if (!path.startsWith('/')) fail(at, `"${path}" must be an absolute path`);
  return path;
}

/** 0.67, "67%" or "2/3" -> a fraction strictly between 0 and 1. */
function fraction(value: unknown, at: string, fail: Fail): number {
  if (value === undefined || value === null) return DEFAULT_ROTATE_AT;
  const text = String(value).trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text);
  const ratio = /^(\d+)\/(\d+)$/.exec(text);
  const n = pct ? Number(pct[1]) / 100 : ratio ? Number(ratio[1]) / Number(ratio[2]) : typeof value === 'number' ? value : /^\d*\.\d+$/.test(text) ? Number(text) : NaN;
  if (!(n > 0 && n < 1)) fail(at, `"${text}" is not a point in the validity (e.g. 67%, 0.67 or 2/3; between 0 and 100%)`);
  return n;
}

/** One entry; `mode` is checked by the caller's mode parser (it needs the scalar as written). */
export function certificateEntry(value: unknown, at: string, fail: Fail, keyMode: number | undefined): CertificateEntry {
  if (!isMap(value)) fail(at, 'must be a map with path, common_name, cert and key');
  const v = value as Record<string, unknown>;
  checkKeys(v, CERTIFICATE_KEYS, at, fail);
  const path = str(v.path, `${at}.path`, fail);
  if (!path) fail(`${at}.path`, 'is required (e.g. pki/issue/web)');
  const cleanPath = (path as string).replace(/^\/+|\/+$/g, '').replace(/^v1\//, '');
  if (!/^[^/]+(\/[^/]+)*\/issue\/[^/]+$/.test(cleanPath)) fail(`${at}.path`, `"${path}" is not a PKI issue path (MOUNT/issue/ROLE, e.g. pki/issue/web)`);
  const commonName = str(v.common_name, `${at}.common_name`, fail);
  if (!commonName) fail(`${at}.common_name`, 'is required');
  if (/[\s,]/.test(commonName as string)) fail(`${at}.common_name`, `"${commonName}" is not one name`);
  let ttlSeconds: number | undefined;
  if (v.ttl !== undefined && v.ttl !== null) {
    try {
      ttlSeconds = Math.ceil(parseDuration(String(v.ttl)) / 1000);
    } catch (error) {
      fail(`${at}.ttl`, (error as Error).message);
    }
    if (!ttlSeconds) fail(`${at}.ttl`, 'must be longer than 0s');
  }
  const certFile = absolute(v.cert, `${at}.cert`, fail, true) as string;
  const keyFile = absolute(v.key, `${at}.key`, fail, true) as string;
  const caFile = absolute(v.ca, `${at}.ca`, fail, false);
  const files = [certFile, keyFile, caFile].filter(Boolean);
  if (new Set(files).size !== files.length) fail(at, 'cert, key and ca must be different files');
  const name = str(v.name, `${at}.name`, fail) ?? (commonName as string);
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) fail(`${at}.name`, `"${name}" is not a name (letters, digits, _ . -)`);
  return {
    name,
    path: cleanPath,
    commonName: commonName as string,
    altNames: names(v.alt_names, `${at}.alt_names`, fail),
    ipSans: names(v.ip_sans, `${at}.ip_sans`, fail),
    ttlSeconds,
    certFile,
    keyFile,
    caFile,
    keyMode: keyMode ?? DEFAULT_KEY_MODE,
    owner: str(typeof v.owner === 'number' ? String(v.owner) : v.owner, `${at}.owner`, fail),
    group: str(typeof v.group === 'number' ? String(v.group) : v.group, `${at}.group`, fail),
    rotateAt: fraction(v.rotate_at, `${at}.rotate_at`, fail),
    onChange: v.on_change === undefined || v.on_change === null ? undefined : parseAction(v.on_change, `${at}.on_change`, fail),
    service: str(v.service, `${at}.service`, fail),
    at,
  };
}
