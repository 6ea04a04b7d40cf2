// Test child: prints "ready <pid> pgid=<pgid>", then one line "sig <NAME>" per signal it
// receives, in order, and exits 0 on the signal named by --exit-on (default TERM).
// --ignore-term: SIGTERM is recorded but never ends it (for grace-period tests).
// Signals are taken synchronously with sigwaitinfo, so none is lost or merged by a handler.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int exit_on = SIGTERM;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--ignore-term")) exit_on = 0;
    else if (!strcmp(argv[i], "--exit-on") && i + 1 < argc) exit_on = atoi(argv[++i]);
  }
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV); sigdelset(&all, SIGBUS); sigdelset(&all, SIGFPE); sigdelset(&all, SIGILL);
  sigprocmask(SIG_BLOCK, &all, NULL);
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("ready %d pgid=%d\n", (int)getpid(), (int)getpgrp());
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig == SIGCHLD) continue;
    const char *name = sigabbrev_np(sig);
    if (name) printf("sig %s\n", name); else printf("sig %d\n", sig);
    if (sig == exit_on) return 0;
  }
}
