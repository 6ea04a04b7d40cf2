// Test child: prints what it inherited, one "key value" line each, without opening any
// descriptor itself: open fds (probed with fcntl), blocked and ignored signals as hex
// masks, process group vs pid, session, cwd, and whether it is the terminal's foreground.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("fds");
  for (int fd = 0; fd < 4096; fd++)
    if (fcntl(fd, F_GETFD) >= 0) printf(" %d", fd);
  printf("\n");
  sigset_t blocked;
  sigprocmask(SIG_BLOCK, NULL, &blocked);
  unsigned long long blk = 0, ign = 0, caught = 0;
  for (int sig = 1; sig < 64; sig++) {
    if (sigismember(&blocked, sig)) blk |= 1ULL << (sig - 1);
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) == 0) {
      if (sa.sa_handler == SIG_IGN) ign |= 1ULL << (sig - 1);
      else if (sa.sa_handler != SIG_DFL) caught |= 1ULL << (sig - 1);
    }
  }
  printf("blocked %016llx\nignored %016llx\ncaught %016llx\n", blk, ign, caught);
  printf("pid %d\npgid %d\nppid %d\n", (int)getpid(), (int)getpgrp(), (int)getppid());
  char cwd[4096];
  printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
  return 0;
}
