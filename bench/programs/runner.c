// Bench runner (bench/run.mjs compiles it into dist/.cache/bench). Timing from C rather than
// from Node keeps Node's own spawn cost and GC out of the numbers, and wait4's ru_maxrss is
// only meaningful from a small parent: a child forked from Node starts with a copy of Node's
// page tables, and that copy counts towards the child's peak RSS.
//
//   runner startup ROUNDS WARMUP CMD... [::: CMD...]...
//     Runs every CMD once per round, rotating the order each round so that noise is spread
//     over all of them, with stdin/stdout/stderr on /dev/null. The first WARMUP rounds are
//     not reported. One line per run: "INDEX WALL_NS MAXRSS_KB WAIT_STATUS".
//
//   runner siglat COUNT GAP_MS SIGNO CMD... [::: CMD...]...
//     Each CMD is `unshare --pid --fork ... INIT ... sigstamp`. Starts them all, waits for
//     each sigstamp's "ready", then COUNT times sends SIGNO to every namespace's init (the
//     child of unshare), round-robin with GAP_MS between sends, and reads the monotonic
//     time at which sigstamp received it. One line per send: "INDEX LATENCY_NS", or
//     "INDEX lost" when nothing arrived within a second; "INDEX failed" once for a command
//     that never got ready. Kills every namespace at the end.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 40
#define SEP ":::"

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

// Splits argv at SEP into NULL-terminated commands (in place).
static int split_commands(char **argv, int argc, char **cmds[]) {
  int n = 0;
  cmds[n++] = argv;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], SEP)) continue;
    argv[i] = NULL;
    if (n == MAX_CMDS) { fprintf(stderr, "runner: more than %d commands\n", MAX_CMDS); exit(2); }
    cmds[n++] = &argv[i + 1];
  }
  return n;
}

// In the child, after fork: stdin from /dev/null, stdout to `out` (or /dev/null), stderr to
// /dev/null unless `keep_stderr` (a peer complaining should be visible), then exec.
static void exec_child(char **cmd, int out, int keep_stderr) {
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(out >= 0 ? out : null, 1);
  if (!keep_stderr) dup2(null, 2);
  execvp(cmd[0], cmd);
  _exit(127);
}

// One namespace under test: the unshare process, the namespace's init seen from here, and
// the read end of sigstamp's stdout with what has been read of it so far.
struct session {
  pid_t unshare;
  pid_t init;
  int fd;
  char buf[256];
  size_t len;
};

static struct session sessions[MAX_CMDS];
static int nsessions;
// The command `startup` is timing right now.
static pid_t timed;

// Kills everything this runner started and reaps it all, including what is re-parented to
// this runner (a subreaper), such as a namespace's init once its unshare is gone. Reaping here keeps them from
// becoming zombies of the host's init. SIGKILL to a namespace's init kills the rest of the
// namespace. unshare dies first because, seeing its child SIGKILLed, it would print a
// confusing "sigprocmask unblock failed".
static void end_children(void) {
  if (timed > 0) kill(timed, SIGKILL);
  for (int i = 0; i < nsessions; i++) {
    if (sessions[i].unshare > 0) kill(sessions[i].unshare, SIGKILL);
    if (sessions[i].init > 0) kill(sessions[i].init, SIGKILL);
  }
  while (wait(NULL) > 0 || errno == EINTR) {}
}

static void on_interrupt(int sig) {
  end_children();
  signal(sig, SIG_DFL);
  raise(sig);
}

static int startup(int rounds, int warmup, char ***cmds, int n) {
  for (int r = 0; r < warmup + rounds; r++) {
    for (int k = 0; k < n; k++) {
      int i = (r + k) % n;
      long long t0 = now_ns();
      timed = fork();
      if (timed < 0) { perror("runner: fork"); return 1; }
      if (timed == 0) exec_child(cmds[i], -1, 0);
      int status;
      struct rusage ru;
      if (wait4(timed, &status, 0, &ru) < 0) { perror("runner: wait4"); return 1; }
      timed = 0;
      long long wall = now_ns() - t0;
      if (r >= warmup) printf("%d %lld %ld %d\n", i, wall, ru.ru_maxrss, status);
    }
  }
  return 0;
}

// The child of `parent` (unshare --fork has exactly one), or 0 if it has none yet.
static pid_t child_of(pid_t parent) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  pid_t found = 0;
  char path[300], buf[512];
  while (!found && (e = readdir(d))) {
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
    if (p && sscanf(p + 2, "%c %d", &state, &ppid) == 2 && ppid == parent) found = atoi(e->d_name);
  }
  closedir(d);
  return found;
}

// Next line from a session's pipe into `line`; 0 on timeout or end of file.
static int read_line(struct session *s, char *line, size_t size, int timeout_ms) {
  long long deadline = now_ns() + timeout_ms * 1000000LL;
  for (;;) {
    char *nl = memchr(s->buf, '\n', s->len);
    if (nl) {
      size_t n = nl - s->buf;
      snprintf(line, size, "%.*s", (int)n, s->buf);
      s->len -= n + 1;
      memmove(s->buf, nl + 1, s->len);
      return 1;
    }
    int left = (int)((deadline - now_ns()) / 1000000);
    if (left <= 0) return 0;
    struct pollfd pfd = {s->fd, POLLIN, 0};
    if (poll(&pfd, 1, left) <= 0) continue;
    ssize_t got = read(s->fd, s->buf + s->len, sizeof s->buf - 1 - s->len);
    if (got <= 0) return 0;
    s->len += got;
  }
}

static int siglat(int count, int gap_ms, int signo, char ***cmds, int n) {
  char line[256];
  for (int i = 0; i < n; i++) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) { perror("runner: pipe"); return 1; }
    pid_t pid = fork();
    if (pid < 0) { perror("runner: fork"); return 1; }
    if (pid == 0) {
      // If this runner dies, unshare dies, and its --kill-child takes the namespace along.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      exec_child(cmds[i], p[1], 1);
    }
    close(p[1]);
    sessions[nsessions++] = (struct session){.unshare = pid, .fd = p[0]};
  }
  // A command that never says "ready" is reported once as "INDEX failed" and left out.
  for (int i = 0; i < n; i++) {
    struct session *s = &sessions[i];
    if (read_line(s, line, sizeof line, 10000) && !strcmp(line, "ready")) s->init = child_of(s->unshare);
    if (!s->init) printf("%d failed\n", i);
  }
  for (int r = 0; r < count; r++) {
    for (int k = 0; k < n; k++) {
      int i = (r + k) % n;
      struct session *s = &sessions[i];
      if (!s->init) continue;
      long long t0 = now_ns();
      kill(s->init, signo);
      // A stamp from before t0 belongs to an earlier send that was reported lost: skip it.
      long long stamp = 0;
      while (stamp < t0 && read_line(s, line, sizeof line, 1000)) stamp = atoll(line);
      if (stamp >= t0) printf("%d %lld\n", i, stamp - t0);
      else printf("%d lost\n", i);
      sleep_ms(gap_ms);
    }
  }
  end_children();
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGINT, on_interrupt);
  signal(SIGTERM, on_interrupt);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  char **cmds[MAX_CMDS];
  if (argc >= 5 && !strcmp(argv[1], "startup")) {
    int n = split_commands(argv + 4, argc - 4, cmds);
    return startup(atoi(argv[2]), atoi(argv[3]), cmds, n);
  }
  if (argc >= 6 && !strcmp(argv[1], "siglat")) {
    int n = split_commands(argv + 5, argc - 5, cmds);
    return siglat(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), cmds, n);
  }
  fprintf(stderr, "usage: runner startup ROUNDS WARMUP CMD... [::: CMD...]...\n"
                  "       runner siglat COUNT GAP_MS SIGNO CMD... [::: CMD...]...\n");
  return 2;
}
