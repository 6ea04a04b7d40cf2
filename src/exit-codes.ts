// Init's own exit codes. The child's code passes through unchanged (128+N when it died of
// signal N), so init's failures use sysexits.h values that a program rarely returns, and
// the shell's 126/127 for a command that cannot be run. The README's table is this one.
export const EXIT = {
  /** Bad flag, bad option value, bad environment variable (EX_USAGE). */
  USAGE: 64,
  /** --user names a user or group that /etc/passwd or /etc/group does not have (EX_NOUSER). */
  NO_USER: 67,
  /** A secret source could not be reached (EX_UNAVAILABLE). */
  UNAVAILABLE: 69,
  /** A bug in init itself (EX_SOFTWARE). */
  SOFTWARE: 70,
  /**
   * The system refused something init needed: fork, a process group, the terminal, the
   * memory files the one-file /init loads its libraries from (EX_OSERR).
   */
  OS_ERROR: 71,
  /**
   * /proc is not mounted: the one-file /init cannot start without it (EX_OSFILE). Said by
   * its entry stub (src/native/stub.c), before Node runs.
   */
  NO_PROC: 72,
  /** Init lacks the privilege for what was asked, e.g. --user when not root (EX_NOPERM). */
  NO_PERMISSION: 77,
  /** The configuration is wrong: a missing working directory, a bad config file (EX_CONFIG). */
  CONFIG: 78,
  /** The command exists but cannot be executed (the shell's convention). */
  NOT_EXECUTABLE: 126,
  /** The command was not found (the shell's convention). */
  NOT_FOUND: 127,
} as const;

/** An error the user can cause: printed as one line, no stack, and exits with `exitCode`. */
export class InitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'InitError';
  }
}
