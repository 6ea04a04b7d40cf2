// What the one-file /init's entry stub (stub.c) leaves for the TypeScript side: the addon
// in a memory file, the library memory files (mapped by now, no longer needed open), and
// the variables it hid from Node's start-up, which belong to the children.
import { closeSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The stub's memfds: `/proc/self/fd/N` reads "/memfd:NAME (deleted)". */
const STUB_FILES = new Set(['init.node', 'libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'libgcc_s.so.1', 'libstdc++.so.6']);

export interface StubFiles {
  /** `/proc/self/fd/N` of the addon, or null when the stub did not run (init.cjs). */
  addon: string | null;
  /** Every descriptor the stub left open, the addon's included. */
  descriptors: number[];
}

export function stubFiles(): StubFiles {
  const found: StubFiles = { addon: null, descriptors: [] };
  let entries: string[];
  try {
    entries = readdirSync('/proc/self/fd');
  } catch {
    return found;
  }
  for (const entry of entries) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${entry}`);
    } catch {
      continue; // the directory's own descriptor, gone by now
    }
    const m = target.match(/^\/memfd:(.+) \(deleted\)$/);
    if (!m || !STUB_FILES.has(m[1])) continue;
    found.descriptors.push(Number(entry));
    if (m[1] === 'init.node') found.addon = `/proc/self/fd/${entry}`;
  }
  return found;
}

/** Closes them once the addon is loaded: the mappings keep the files alive. */
export function closeStubFiles(files: StubFiles): void {
  for (const fd of files.descriptors) {
    try { closeSync(fd); } catch { /* already closed */ }
  }
}

/**
 * The variables the stub hid from Node (NODE_*, UV_*, OPENSSL_*: they would change how
 * init itself runs) are still in the original environment block, which
 * /proc/self/environ shows: every entry there that process.env lacks goes back into `env`,
 * the environment init's children are made from, unchanged. Call before anything has
 * been deleted from process.env.
 */
export function hiddenVariables(): Record<string, string> {
  let block: string;
  try {
    block = readFileSync('/proc/self/environ', 'utf8'); // decoded as process.env decodes it
  } catch {
    return {};
  }
  const hidden: Record<string, string> = {};
  // Most environments have none of these names: then nothing was hidden, and the block
  // need not be split into its hundreds of entries.
  if (!block.includes('NODE_') && !block.includes('UV_') && !block.includes('OPENSSL_')) return hidden;
  for (const entry of block.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    // The prefixes of stub.c's hidden_name, tested first: `in process.env` is a getenv(3),
    // a scan of the whole environment, and once per variable made a start with 50,000 of
    // them take 1.2 s instead of 0.3 s.
    if (/^(NODE_|UV_|OPENSSL_)/.test(name) && !(name in process.env)) hidden[name] = entry.slice(eq + 1);
  }
  return hidden;
}
