// Init's own messages: one line each on stderr, written synchronously so that nothing is
// lost when init exits right after. Init never touches process.stdout/stderr streams: for a
// pipe or a terminal Node would switch the shared file description to non-blocking mode,
// and the child, which shares it, would then see EAGAIN on its own writes.
import { writeSync } from 'node:fs';
import { writeWithoutBlocking } from './output';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Log {
  level: LogLevel;
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  /** The same log for lines about one service: `sesame: web: ...`, or "service" in JSON. */
  about(service: string): Log;
}

/** Write all of `text` to `fd`, synchronously (a pipe may take it in pieces). */
export function writeFully(fd: number, text: string | Buffer): void {
  const buffer = typeof text === 'string' ? Buffer.from(text) : text;
  // While children run, fds 1 and 2 never block PID 1 (output.ts).
  if (writeWithoutBlocking(fd, buffer)) return;
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += writeSync(fd, buffer, offset);
    } catch (error) {
      // EAGAIN: someone else made fd 2 non-blocking; retry. Anything else (EPIPE, EBADF):
      // there is nowhere left to report to.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}

const TEXT_PREFIX: Record<LogLevel, string> = { error: 'error: ', warn: 'warning: ', info: '', debug: 'debug: ' };

/**
 * Text: `sesame: [warning: ][service: ]message`. JSON: one object per line with time, level,
 * service (when about one) and message, for log pipelines that parse.
 */
export function createLog(level: LogLevel = 'warn', format: LogFormat = 'text', service?: string): Log {
  const rank = LOG_LEVELS.indexOf(level);
  const at = (lvl: LogLevel) => (message: string) => {
    if (LOG_LEVELS.indexOf(lvl) > rank) return;
    if (format === 'json') {
      writeFully(2, `${JSON.stringify({ time: new Date().toISOString(), level: lvl, ...(service ? { service } : {}), message })}\n`);
    } else {
      writeFully(2, `sesame: ${TEXT_PREFIX[lvl]}${service ? `${service}: ` : ''}${message}\n`);
    }
  };
  return {
    level,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    about: (name) => createLog(level, format, name),
  };
}
