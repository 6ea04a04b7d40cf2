// Init's own messages: one line each on stderr, written synchronously so that nothing is
// lost when init exits right after. Init never touches process.stdout/stderr streams: for a
// pipe or a terminal Node would switch the shared file description to non-blocking mode,
// and the child, which shares it, would then see EAGAIN on its own writes.
import { writeSync } from 'node:fs';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Log {
  level: LogLevel;
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** Write all of `text` to `fd`, synchronously (a pipe may take it in pieces). */
export function writeFully(fd: number, text: string): void {
  const buffer = Buffer.from(text);
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

export function createLog(level: LogLevel = 'warn'): Log {
  const rank = LOG_LEVELS.indexOf(level);
  const at = (lvl: LogLevel, prefix: string) => (message: string) => {
    if (LOG_LEVELS.indexOf(lvl) <= rank) writeFully(2, `sesame: ${prefix}${message}\n`);
  };
  return {
    level,
    error: at('error', 'error: '),
    warn: at('warn', 'warning: '),
    info: at('info', ''),
    debug: at('debug', 'debug: '),
  };
}
