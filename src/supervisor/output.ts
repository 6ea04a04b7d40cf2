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
/**
 * A line is held until its newline up to this size, then written in one write with one
 * prefix. A longer one is written as it comes, in pieces of about this size, each without a
 * newline or a prefix, so that it stays one line (unless another service writes in between:
 * see emit). The memory this holds is at most one such line per stream of each service.
 */
export const MAX_LINE = 1024 * 1024;
const NEWLINE = 0x0a;
const NL = Buffer.from('\n');

/** Per fd, the writer whose line was shown unfinished (a partial line, a long one) and is still open. */
const openLines = new Map<number, LineWriter>();

/** Lines of one stream of one service, to init's fd 1 or 2, each behind `prefix`. */
export class LineWriter {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly fd: number,
    private readonly prefix: string,
  ) {}

  write(chunk: Buffer): void {
    const nl = chunk.lastIndexOf(NEWLINE);
    if (nl >= 0) {
      this.emit(Buffer.concat([...this.pending, chunk.subarray(0, nl + 1)]), true);
      this.pending = [];
      this.pendingLength = 0;
      chunk = chunk.subarray(nl + 1);
    }
    if (chunk.length) {
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
    }
    if (this.pendingLength >= MAX_LINE) this.show();
    if (this.timer) clearTimeout(this.timer);
    this.timer = this.pendingLength ? setTimeout(() => this.show(), PARTIAL_LINE_MS).unref() : null;
  }

  /**
   * The end of the stream: write what is held, and end an unfinished line with a newline so
   * that whatever comes next starts on a line of its own.
   */
  flush(): void {
    const rest = this.take();
    if (rest.length) this.emit(Buffer.concat([rest, NL]), true);
    else if (openLines.get(this.fd) === this) this.emit(NL, true);
  }

  /** Write what is held as the (unfinished) start of a line: a prompt, or a line past MAX_LINE. */
  private show(): void {
    const held = this.take();
    if (held.length) this.emit(held, false);
  }

  private take(): Buffer {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const held = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingLength = 0;
    return held;
  }

  /**
   * One write: `bytes` (whole lines when `endsLine`, else the start of one), each line behind
   * the prefix, except the continuation of this writer's own open line. Another writer's
   * open line is ended with a newline first, so lines never run into each other.
   */
  private emit(bytes: Buffer, endsLine: boolean): void {
    const open = openLines.get(this.fd);
    const continuing = open === this;
    const parts: Buffer[] = open && !continuing ? [NL] : [];
    if (!this.prefix) {
      parts.push(bytes);
    } else {
      const prefix = Buffer.from(this.prefix);
      for (let start = 0; start < bytes.length;) {
        const nl = bytes.indexOf(NEWLINE, start);
        const end = nl < 0 ? bytes.length : nl + 1;
        if (start > 0 || !continuing) parts.push(prefix);
        parts.push(bytes.subarray(start, end));
        start = end;
      }
    }
    writeFully(this.fd, parts.length === 1 ? parts[0] : Buffer.concat(parts));
    if (endsLine) openLines.delete(this.fd);
    else openLines.set(this.fd, this);
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
