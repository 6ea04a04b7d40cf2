// The render stage of DESIGN.md: every configured template, rendered from the child's
// environment and the resolved secrets, then written atomically. All templates render
// before any file is written, so one bad template leaves every previous output untouched.
// A directory of templates renders each *.template and *.liquid file under it into the
// destination directory, keeping the tree and dropping the suffix (the official nginx
// image's /etc/nginx/templates -> /etc/nginx/conf.d convention).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../atomic-write';
import type { TemplateEntry } from '../config/file';
import { decodeBytes, encodeText } from '../bytes';
import { describeErrno, EXIT, exitCodeForErrno, InitError } from '../exit-codes';
import { writeFully, type Log } from '../log';
import type { Resolution } from '../secrets/resolve';
import { lookupId } from '../supervisor/user';
import { DEFAULT_LIMITS, engineFor, MASK, type TemplateLimits, maskSecrets, renderedName, renderTemplate, TemplateError, type Rendered, type TemplateContext } from './render';

export type { TemplateContext };

export interface RenderedFile {
  entry: TemplateEntry;
  src: string;
  dest: string;
  rendered: Rendered;
  /** For `--render`: the text rendered with stand-ins for the secrets (mask.ts). */
  shown?: string;
  /** entry.owner and entry.group as ids, looked up before anything is written. */
  uid?: number;
  gid?: number;
  /** The limits it was rendered under (--template-*-limit): a re-render keeps them. */
  limits?: TemplateLimits;
}

/**
 * Files under `dir` (recursively, following links) that are templates by their suffix, as
 * nginx's `find -follow -type f -name '*.template'`: whatever cannot be stat'ed and is no
 * template (a dangling link) is skipped, and a directory already visited (a link loop) too.
 */
function templatesIn(dir: string, at: string, seen = new Set<string>()): string[] {
  const here = statSync(dir);
  const id = `${here.dev}:${here.ino}`;
  if (seen.has(id)) return [];
  seen.add(id);
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    let stat;
    try {
      stat = statSync(path);
    } catch (error) {
      if (renderedName(name) === name) continue;
      throw new InitError(`${at}: template ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'a dangling symbolic link' : (error as NodeJS.ErrnoException).code ?? (error as Error).message}`, EXIT.CONFIG);
    }
    if (stat.isDirectory()) out.push(...templatesIn(path, at, seen));
    else if (stat.isFile() && renderedName(name) !== name) out.push(path);
  }
  return out;
}

/** Each template file with its destination; a directory entry becomes one per file. */
function expand(entry: TemplateEntry): Array<{ src: string; dest: string }> {
  const src = resolve(entry.src);
  let isDir: boolean;
  try {
    isDir = statSync(src).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InitError(`${entry.at}: template ${entry.src}: ${code === 'ENOENT' ? 'no such file or directory' : code ?? (error as Error).message}`, EXIT.CONFIG);
  }
  if (!isDir) return [{ src, dest: entry.dest.endsWith('/') ? join(entry.dest, renderedName(src.split('/').pop() as string)) : entry.dest }];
  return templatesIn(src, entry.at).map((file) => ({ src: file, dest: join(entry.dest, renderedName(relative(src, file))) }));
}

/** The context templates see: the child's environment, and secrets meant for templates. */
export function templateContext(childEnv: Record<string, string>, resolution: Resolution): TemplateContext {
  const secrets: Record<string, string> = {};
  const secretEnv = new Set<string>();
  resolution.forEach((resolved, request) => {
    if (request.target.kind === 'template') secrets[request.target.name] = decodeBytes(resolved.value);
    if (request.target.kind === 'env') secretEnv.add(request.target.name);
  });
  return { env: childEnv, secrets, secretEnv };
}

/**
 * Renders every entry with `context`. With `standIns` (`--render` without --show-secrets)
 * each is rendered a second time with that context, whose secrets are stand-ins, for
 * printing: the first rendering decides the errors and the modes, as at a real start.
 */
export function renderAll(entries: TemplateEntry[], context: TemplateContext, log: Log, standIns?: TemplateContext, limits = DEFAULT_LIMITS): RenderedFile[] {
  const files: RenderedFile[] = [];
  for (const entry of entries) {
    let uid: number | undefined;
    let gid: number | undefined;
    try {
      uid = entry.owner === undefined ? undefined : lookupId('owner', entry.owner);
      gid = entry.group === undefined ? undefined : lookupId('group', entry.group);
    } catch (error) {
      if (error instanceof InitError) throw new InitError(`${entry.at}: ${error.message}`, error.exitCode);
      throw error;
    }
    for (const { src, dest } of expand(entry)) {
      let source: string;
      try {
        source = decodeBytes(readFileSync(src)); // bytes that are not UTF-8 stay as they are (bytes.ts)
      } catch (error) {
        throw new InitError(`${entry.at}: cannot read template ${src}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, EXIT.CONFIG);
      }
      const rendered = renderTemplate({ source, path: src, engine: entry.engine }, context, limits);
      log.debug(`rendered ${src} (${rendered.engine}) for ${dest}`);
      const shown = standIns ? renderStandIns(source, src, entry, standIns, limits) : undefined;
      files.push({ entry, src, dest, rendered, shown, uid, gid, limits });
    }
  }
  return files;
}

/** The template rendered with stand-ins; an error there says so (the values rendered). */
function renderStandIns(source: string, src: string, entry: TemplateEntry, standIns: TemplateContext, limits: TemplateLimits): string {
  try {
    return renderTemplate({ source, path: src, engine: entry.engine }, standIns, limits).text;
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    throw new TemplateError(error.file, error.line, error.column, `${error.reason} (with the secrets' stand-ins of --render: this template renders with the values; see docs/templates.md)`);
  }
}

/**
 * Each file is written by one entry: two templates with one destination, or a template over
 * a secret file, would leave whichever was written last (and a secret file's 0400 replaced
 * by a template's mode), so it is a configuration error, found before anything is written.
 */
export function checkDestinations(files: RenderedFile[], secrets: Array<{ path: string; at: string }>): void {
  const writers = new Map<string, string>();
  for (const secret of secrets) writers.set(resolve(secret.path), `secret file of ${secret.at}`);
  for (const file of files) {
    const dest = resolve(file.dest);
    const other = writers.get(dest);
    const self = `${file.entry.at} (${file.src})`;
    if (other) throw new InitError(`${self}: ${dest} is also the destination of ${other}: one file, one writer`, EXIT.CONFIG);
    writers.set(dest, `${file.entry.at} (${file.src})`);
  }
}

/**
 * After start, one template again with new values (renderer.go's idea): render, compare
 * with what is on disk, write only if different, atomically, keeping the file's mode and
 * owner when the entry does not set them (consul-template #1037: a re-render must not reset
 * them). Returns the new rendering and whether the file was written; throws what rendering
 * or writing throws (the caller keeps the old file and logs).
 */
export function rerender(file: RenderedFile, context: TemplateContext): { file: RenderedFile; written: boolean } {
  // Read as at start: bytes that are not UTF-8 stay as they are (bytes.ts).
  const source = decodeBytes(readFileSync(file.src));
  const rendered = renderTemplate({ source, path: file.src, engine: file.entry.engine }, context, file.limits ?? DEFAULT_LIMITS);
  const next = { ...file, rendered };
  const data = Buffer.from(rendered.text);
  let before: Buffer | undefined;
  let stat: import('node:fs').Stats | undefined;
  try {
    before = readFileSync(file.dest);
    stat = statSync(file.dest);
  } catch { /* gone: written again */ }
  if (before?.equals(data)) return { file: next, written: false };
  writeFileAtomic(file.dest, data, {
    mode: file.entry.mode ?? (stat ? stat.mode & 0o7777 : modeOf(next)),
    uid: file.uid ?? stat?.uid,
    gid: file.gid ?? stat?.gid,
  });
  return { file: next, written: true };
}

/** 0644, or 0600 when the text may hold a secret, unless the entry sets a mode. */
const modeOf = (file: RenderedFile) => file.entry.mode ?? (file.rendered.usesSecrets ? 0o600 : 0o644);

export function writeAll(files: RenderedFile[], log: Log): void {
  for (const file of files) {
    const { entry, dest } = file;
    try {
      writeFileAtomic(dest, encodeText(file.rendered.text), {
        mode: modeOf(file),
        uid: file.uid,
        gid: file.gid,
      });
    } catch (error) {
      if (error instanceof InitError) throw new InitError(`${entry.at}: ${error.message}`, error.exitCode);
      const code = (error as NodeJS.ErrnoException).code;
      throw new InitError(`${entry.at}: cannot write ${dest}: ${describeErrno(code, (error as Error).message)}`, exitCodeForErrno(code, EXIT.CONFIG));
    }
    log.debug(`wrote ${dest} mode ${modeOf(file).toString(8).padStart(4, '0')}`);
  }
}

/** `init --render`: each output on stdout under a header, secrets masked unless asked. */
export function printAll(files: RenderedFile[], showSecrets: boolean): void {
  for (const file of files) {
    // The stand-ins' own encodings (base64 of MASK, ...) read as MASK too, and so would a
    // value that the template's own text happens to contain.
    const text = showSecrets ? file.rendered.text : maskSecrets(file.shown ?? '', [MASK, ...file.rendered.secretValues]);
    const header = `# ${file.dest} (from ${file.src}, ${file.entry.engine ?? engineFor(file.src)}, mode ${modeOf(file).toString(8).padStart(4, '0')})\n`;
    writeFully(1, header + text + (text.endsWith('\n') ? '' : '\n'));
  }
}
