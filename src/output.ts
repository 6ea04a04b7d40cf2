// Init's stdout and stderr while it supervises: writes that never block PID 1.
//
// A write to a pipe nobody reads (a stalled log collector) or to a terminal whose output is
// stopped (^S) blocks until there is room. Init writes synchronously (log.ts says why), so
// such a write would stop PID 1 itself: no reaping, no signal forwarded, `docker stop`
// waiting for its SIGKILL. So once the children run, fds 1 and 2 are written without
// blocking: a pipe or terminal through a second, non-blocking file description of it
// (opened again through /proc/self/fd, close-on-exec; the children's shared description
// stays as it is, blocking), a socket (which /proc cannot open again) with
// send(MSG_DONTWAIT) through the native helper. What the reader does not take is held, in
// order, and written when it takes it again. What is held is bounded (MAX_HELD per fd);
// past it, output is dropped and counted until all that is held has been written, and one
// line at the gap says how much. Before the children (start-up lines, --check, --render,
// --help) writes block as before: nothing else needs init then.
import { constants, fstatSync, openSync, writeSync } from 'node:fs';
import { constants as os } from 'node:os';

/** What init holds for one stalled fd at most. */
export const MAX_HELD = 4 * 1024 * 1024;
/** How often a stalled fd is tried again. */
const RETRY_MS = 50;

/** The result of one attempt: bytes taken, and whether the fd can take no more now. */
type Attempt = { written: number; stalled: boolean };

class Channel {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes dropped since what is held filled up; until it has all been written, all new output is. */
  private dropped = 0;
  /** The last byte written: the note about a gap starts a line of its own. */
  private lastByte = 0x0a;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly fd: number,
    /** The non-blocking description (or `fd` itself where none could be had). */
    private readonly out: number,
    /** For a socket: send(MSG_DONTWAIT), the helper's (bytes taken, or -errno). */
    private readonly send?: (fd: number, bytes: Buffer) => number,
  ) {}

  write(bytes: Buffer): void {
    if (this.heldBytes) return this.hold(bytes);
    const { written, stalled } = this.attempt(bytes);
    if (stalled) this.hold(bytes.subarray(written));
  }

  /** Tries what is held once; true when nothing is left. */
  drain(): boolean {
    while (this.held.length) {
      const first = this.held[0];
      const { written, stalled } = this.attempt(first);
      this.heldBytes -= written;
      if (stalled) {
        this.held[0] = first.subarray(written);
        return false;
      }
      this.held.shift();
    }
    if (this.dropped) {
      // At the gap, on a line of its own, then the output that came after it.
      const note = Buffer.from(`${this.lastByte === 0x0a ? '' : '\n'}sesame: warning: ${this.dropped} bytes of output were dropped: ${this.fd === 1 ? 'stdout' : 'stderr'} was not being read\n`);
      this.dropped = 0;
      this.write(note);
      return this.heldBytes === 0;
    }
    return true;
  }

  get pending(): number {
    return this.heldBytes;
  }

  private attempt(bytes: Buffer): Attempt {
    let written = 0;
    const send = this.send;
    if (send) {
      while (written < bytes.length) {
        const n = send(this.out, bytes.subarray(written));
        if (n === -os.errno.EAGAIN) return this.took(bytes, written, true);
        if (n < 0) return { written: bytes.length, stalled: false }; // EPIPE and the like: gone
        written += n;
      }
      return this.took(bytes, written, false);
    }
    while (written < bytes.length) {
      try {
        written += writeSync(this.out, bytes, written);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return this.took(bytes, written, true);
        if (code === 'EINTR') continue;
        // EPIPE, EBADF: nowhere left to write to; what remains is gone.
        return { written: bytes.length, stalled: false };
      }
    }
    return this.took(bytes, written, false);
  }

  private took(bytes: Buffer, written: number, stalled: boolean): Attempt {
    if (written) this.lastByte = bytes[written - 1];
    return { written, stalled };
  }

  private hold(bytes: Buffer): void {
    if (this.dropped || this.heldBytes + bytes.length > MAX_HELD) this.dropped += bytes.length;
    else {
      // A copy: the caller may reuse its buffer.
      this.held.push(Buffer.from(bytes));
      this.heldBytes += bytes.length;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.drain()) this.schedule();
    }, RETRY_MS).unref();
  }
}

const channels = new Map<number, Channel>();
let enabled = false;
let nativeSend: ((fd: number, bytes: Buffer) => number) | undefined;

/** The helper's send(MSG_DONTWAIT), for a stdout or stderr that is a socket. */
export function useNativeSend(send: (fd: number, bytes: Buffer) => number): void {
  nativeSend = send;
}

/**
 * How `fd` is written without blocking: a socket with the helper's send(MSG_DONTWAIT); a
 * pipe or terminal through a second, non-blocking description of it; anything else (a
 * file: a write there waits for no reader, and a second description would lose O_APPEND's
 * place; a pipe with no reader left) as it is.
 */
function channelFor(fd: number): Channel {
  try {
    const stat = fstatSync(fd);
    if (stat.isSocket() && nativeSend) return new Channel(fd, fd, nativeSend);
    if (stat.isFIFO() || stat.isCharacterDevice()) {
      return new Channel(fd, openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY));
    }
  } catch { /* closed, or no /proc: written as before */ }
  return new Channel(fd, fd);
}

/** From now on, writes to fds 1 and 2 never block (call once the children are about to run). */
export function neverBlockOutput(): void {
  enabled = true;
}

/** Writes `bytes` to `fd` through its channel; false when `fd` has none (not 1 or 2, or not yet enabled). */
export function writeWithoutBlocking(fd: number, bytes: Buffer): boolean {
  if (!enabled || (fd !== 1 && fd !== 2)) return false;
  let channel = channels.get(fd);
  if (!channel) {
    channel = channelFor(fd);
    channels.set(fd, channel);
  }
  channel.write(bytes);
  return true;
}

/**
 * Before init exits: what is still held gets until `deadline` (Date.now() time) to be
 * taken, then it is given up; init's exit is never held hostage by a stalled reader.
 */
export function flushHeldOutput(deadline: number): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let left = 0;
    for (const channel of channels.values()) if (!channel.drain()) left += channel.pending;
    if (!left || Date.now() >= deadline) return;
    Atomics.wait(sleeper, 0, 0, 10);
  }
}
