// Test child: makes N orphans (default 2000) that all exit at the same moment, waits until
// none of them is a zombie any more, prints "orphans N reaped in U us" and exits with
// CODE (default 7). The orphans are re-parented to PID 1 (or the nearest subreaper), which
// must reap them; if it does not, this never returns and the test times out.
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Processes (alive or zombie) whose parent is `parent`, other than this one.
static int count_children_of(pid_t parent) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0;
  char path[300], buf[512];
  while ((e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *p = strrchr(buf, ')');
    char state;
    int ppid;
    (void)state;
    if (p && sscanf(p + 2, "%c %d", &state, &ppid) == 2 && ppid == parent && atoi(e->d_name) != getpid()) n++;
  }
  closedir(d);
  return n;
}

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  int code = argc > 2 ? atoi(argv[2]) : 7;
  int go[2];
  if (pipe(go) < 0) return 100;
  pid_t middle = fork();
  if (middle == 0) {
    close(go[1]);
    for (int i = 0; i < n; i++) {
      pid_t p = fork();
      if (p == 0) {
        char c;
        while (read(go[0], &c, 1) > 0) {}  // wait for the write end to close
        _exit(0);
      }
      if (p < 0) _exit(101);

    }
    _exit(0);  // the n children are now orphans
  }
  close(go[0]);
  int st;
  waitpid(middle, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 102;
  pid_t reaper = getppid();
  int adopted = count_children_of(reaper);
  if (adopted != n) {
    fprintf(stderr, "orphans: %d of %d were re-parented to pid %d\n", adopted, n, (int)reaper);
    return 103;
  }
  long long t0 = now_us();
  close(go[1]);  // all n exit at once
  // Done when none of them is left under the reaper, alive or zombie.
  while (count_children_of(reaper) > 0) usleep(200);
  printf("orphans %d reaped in %lld us\n", n, now_us() - t0);
  return code;
}
