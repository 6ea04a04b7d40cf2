// Services' output on init's stdout and stderr. Each service writes into a pipe of its own;
// init writes whole lines to its 1 and 2 with one write each, so lines from different
// services never cut into each other (two programs writing straight to one pipe or
// terminal can, once a line is longer than PIPE_BUF or written in pieces), and each line
// can carry the service's name. supervisord's users asked for exactly this: program output
// on the container's stdout, unbuffered, without its own log files in between.
import type { Readable } from 'node:stream';
import { writeFully } from '../log';

/** A partial line (a prompt, a progress dot) is shown after this long without a newline. */
const PARTIAL_LINE_MS = 100;
/** A "line" longer than this is written in pieces rather than held in memory. */
const MAX_LINE = 64 * 1024;
const NEWLINE = 0x0a;

/** Lines of one stream of one service, to init's fd 1 or 2, each behind `prefix`. */
export class LineWriter {
  private pending: Buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly fd: number,
    private readonly prefix: string,
  ) {}

  write(chunk: Buffer): void {
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const end = data.lastIndexOf(NEWLINE) + 1;
    if (end > 0) this.emit(data.subarray(0, end));
    this.pending = data.subarray(end);
    if (this.pending.length >= MAX_LINE) this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = this.pending.length ? setTimeout(() => this.flush(), PARTIAL_LINE_MS).unref() : null;
  }

  /** Write what is held, ended with a newline so that the next line starts on a line of its own. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending.length) return;
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    this.emit(Buffer.concat([rest, Buffer.from('\n')]));
  }

  private emit(lines: Buffer): void {
    if (!this.prefix) return writeFully(this.fd, lines);
    const parts: Buffer[] = [];
    const prefix = Buffer.from(this.prefix);
    for (let start = 0; start < lines.length;) {
      const nl = lines.indexOf(NEWLINE, start);
      const end = nl < 0 ? lines.length : nl + 1;
      parts.push(prefix, lines.subarray(start, end));
      start = end;
    }
    writeFully(this.fd, Buffer.concat(parts));
  }
}

/**
 * Copy a child's captured stdout and stderr to init's 1 and 2 until they close. Resolves
 * once both have ended: everything the child wrote has been written out.
 */
export function relayOutput(output: { stdout: Readable; stderr: Readable }, prefix: string): Promise<void> {
  return Promise.all([[output.stdout, 1], [output.stderr, 2]].map(([stream, fd]) => new Promise<void>((resolve) => {
    const writer = new LineWriter(fd as number, prefix);
    const done = () => { writer.flush(); resolve(); };
    (stream as Readable).on('data', (chunk: Buffer) => writer.write(chunk));
    (stream as Readable).on('end', done);
    (stream as Readable).on('close', done);
    // EIO/ECONNRESET on a pipe whose writers are gone: nothing is lost that could be read.
    (stream as Readable).on('error', done);
  }))).then(() => undefined);
}

/** The prefix for each service's lines: names padded to the longest, as Compose does. */
export function prefixes(names: string[], enabled: boolean): Map<string, string> {
  const width = Math.max(0, ...names.map((n) => n.length));
  return new Map(names.map((n) => [n, enabled ? `${n.padEnd(width)} | ` : '']));
}
