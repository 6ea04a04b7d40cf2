// Bench child for forwarding latency: prints "ready", then for every SIGUSR2 it receives one
// line with the CLOCK_MONOTONIC time in ns at which it got it. The runner compares that with
// the time it sent the signal to init. All signals are blocked and taken with sigwaitinfo,
// so the stamp is taken as soon as this process runs, with no handler in between.
// SIGTERM, SIGINT and SIGHUP end it (init stopping it); anything else is ignored.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <time.h>

int main(void) {
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV); sigdelset(&all, SIGBUS); sigdelset(&all, SIGFPE); sigdelset(&all, SIGILL);
  sigprocmask(SIG_BLOCK, &all, NULL);
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("ready\n");
  for (;;) {
    int sig = sigwaitinfo(&all, NULL);
    if (sig == SIGUSR2) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      printf("%lld\n", ts.tv_sec * 1000000000LL + ts.tv_nsec);
    } else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
      return 0;
    }
  }
}
