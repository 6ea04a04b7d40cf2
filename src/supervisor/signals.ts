// The signals init listens for (no side effects here: cli.ts checks --stop-signals against
// them; early-signals.ts installs the listeners).

/**
 * Every catchable signal init forwards. Left out on purpose: SIGCHLD (init's own), SIGPIPE
 * and SIGXFSZ (Node keeps them ignored; a listener would replace that), SIGTTIN and SIGTTOU
 * (ignored, as tini does, so that init writing to or handing over the terminal never stops
 * it), the synchronous fault signals (SEGV, BUS, FPE, ILL, TRAP, SYS, ABRT: they are about
 * init itself), and SIGKILL/SIGSTOP (uncatchable). Real-time signals have no name in Node
 * and cannot be listened for.
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT',
  'SIGCONT', 'SIGTSTP', 'SIGURG', 'SIGXCPU', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO',
  'SIGPWR',
];
