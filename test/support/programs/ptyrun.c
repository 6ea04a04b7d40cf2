// Pseudo-terminal driver for the terminal tests: runs a command as `docker run -it` does,
// i.e. in a new session whose controlling terminal is the slave side of a fresh pty
// (setsid + TIOCSCTTY, what runc does with the console before it execs the entrypoint),
// and relays bytes: our stdin -> the master (keystrokes, ^C is just the byte 0x03), the
// master -> our stdout (the "screen", raw, with the tty's \r\n).
//
//   ptyrun [-t TIMEOUT_S] [-R ROWS] [-C COLS] [-n] -- command [args...]
//     -n  do not make the pty the controlling terminal (a tty on 0-2 that is not the ctty)
//
// When the command (the session leader) has exited, the driver keeps draining the master
// until it reads EIO, which Linux returns once no process holds the slave open any more:
// a process left behind on the terminal shows up as slave_closed=false. It then checks that
// the terminal is usable again: a fresh session can take it as its controlling terminal
// (fails with EPERM while the old session still owns it) and becomes its foreground group.
// Last, one line on stderr:
//   ptyrun: {"exit":N,"signal":N,"timeout":B,"slave_closed":B,"probe":"ok|<error>",
//            "termios_restored":B,"canonical":B,"echo":B,"isig":B}
// (termios_restored: the local, input and output modes are back to what they were at the
// start, i.e. whoever changed them, e.g. readline, put them back).
// and the driver exits with the command's code (128+N for signal N, 124 on timeout).
//
// On timeout, SIGTERM, SIGINT or SIGHUP every process of the session is SIGKILLed (init is
// in it, and killing a PID namespace's init kills the whole namespace).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void write_all(int fd, const char *buf, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { struct pollfd p = { fd, POLLOUT, 0 }; poll(&p, 1, 100); continue; }
      return;  // reader gone: nothing more to do with these bytes
    }
    buf += w;
    n -= w;
  }
}

// SIGKILL `leader`, every process below it and every process of its session, until none is
// left (or 2 s pass). Both, because init may lead a session of its own (setsid --ctty) and
// processes may leave the tree (a dead parent's children are re-parented elsewhere). One
// snapshot per pass, so that a PID namespace's init dies with everything in the same pass.
struct proc { int pid, ppid, sid; bool doomed; };

static void kill_session(pid_t leader) {
  long long until = now_ms() + 2000;
  static struct proc procs[65536];
  for (;;) {
    int n = 0, found = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < (int)(sizeof procs / sizeof procs[0])) {
      char *end;
      long pid = strtol(e->d_name, &end, 10);
      if (*end || pid <= 0) continue;
      char path[64], buf[512];
      snprintf(path, sizeof path, "/proc/%ld/stat", pid);
      int fd = open(path, O_RDONLY);
      if (fd < 0) continue;
      ssize_t len = read(fd, buf, sizeof buf - 1);
      close(fd);
      if (len <= 0) continue;
      buf[len] = 0;
      char *p = strrchr(buf, ')');
      char state;
      int ppid, pgrp, session;
      if (!p || sscanf(p + 2, "%c %d %d %d", &state, &ppid, &pgrp, &session) != 4 || state == 'Z') continue;
      procs[n++] = (struct proc){ (int)pid, ppid, session, pid == leader || session == leader };
    }
    if (d) closedir(d);
    for (bool more = true; more;) {  // everything below a doomed process is doomed
      more = false;
      for (int i = 0; i < n; i++)
        for (int j = 0; !procs[i].doomed && j < n; j++)
          if (procs[j].doomed && procs[j].pid == procs[i].ppid) procs[i].doomed = more = true;
    }
    for (int i = 0; i < n; i++)
      if (procs[i].doomed) { kill(procs[i].pid, SIGKILL); found++; }
    if (!found || now_ms() > until) return;
    usleep(10000);
  }
}

int main(int argc, char **argv) {
  int timeout_s = 20, rows = 24, cols = 80, opt;
  bool ctty = true;
  while ((opt = getopt(argc, argv, "+t:R:C:n")) != -1) {
    switch (opt) {
      case 't': timeout_s = atoi(optarg); break;
      case 'R': rows = atoi(optarg); break;
      case 'C': cols = atoi(optarg); break;
      case 'n': ctty = false; break;
      default: fprintf(stderr, "usage: ptyrun [-t S] [-R ROWS] [-C COLS] [-n] -- command [args...]\n"); return 2;
    }
  }
  if (optind >= argc) { fprintf(stderr, "ptyrun: no command\n"); return 2; }

  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) { perror("ptyrun: posix_openpt"); return 2; }
  char slave_path[128];
  if (ptsname_r(master, slave_path, sizeof slave_path)) { perror("ptyrun: ptsname"); return 2; }
  // Opened here, before fork, so that the slave is never without a holder until the
  // command closes it: EIO on the master then means "everyone is gone", not "not yet there".
  int slave = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) { perror("ptyrun: open slave"); return 2; }
  struct winsize ws = { .ws_row = rows, .ws_col = cols };
  ioctl(master, TIOCSWINSZ, &ws);
  struct termios initial;
  tcgetattr(slave, &initial);

  sigset_t sigs, old;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGCHLD);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  sigprocmask(SIG_BLOCK, &sigs, &old);
  int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);

  pid_t child = fork();
  if (child < 0) { perror("ptyrun: fork"); return 2; }
  if (child == 0) {
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (setsid() < 0) { perror("ptyrun: setsid"); _exit(126); }
    if (ctty && ioctl(slave, TIOCSCTTY, 0) < 0) { perror("ptyrun: TIOCSCTTY"); _exit(126); }
    for (int fd = 0; fd < 3; fd++) dup2(slave, fd);  // dup2 clears close-on-exec on 0-2
    execvp(argv[optind], argv + optind);
    perror("ptyrun: exec");
    _exit(127);
  }
  close(slave);

  long long deadline = now_ms() + timeout_s * 1000LL, drain_until = 0;
  bool in_open = true, master_open = true, exited = false, timed_out = false;
  int status = 0;
  char buf[4096];
  while (master_open) {
    long long now = now_ms();
    if (!exited && now >= deadline) {
      timed_out = true;
      kill_session(child);
    }
    if (exited && now >= drain_until) break;  // someone still holds the slave
    struct pollfd p[3] = {
      { sfd, POLLIN, 0 },
      { master, POLLIN, 0 },
      { in_open ? STDIN_FILENO : -1, POLLIN, 0 },
    };
    long long wake = exited ? drain_until : deadline;
    int r = poll(p, 3, (int)(wake - now > 0 ? wake - now : 0));
    if (r < 0 && errno != EINTR) break;
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          if (!exited && waitpid(child, &status, WNOHANG) == child) {
            exited = true;
            drain_until = now_ms() + 2000;
          }
        } else {
          kill_session(child);
        }
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n > 0) write_all(STDOUT_FILENO, buf, n);
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) master_open = false;  // EIO: slave closed everywhere
    }
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n > 0) write_all(master, buf, n);
      else if (n == 0 || errno != EINTR) in_open = false;  // EOF on our input: just stop relaying
    }
  }
  if (!exited) {  // the slave closed before the leader exited (it closed its fds): wait for it
    long long until = now_ms() + (timed_out ? 2000 : 5000);
    while (waitpid(child, &status, WNOHANG) == 0) {
      if (now_ms() > until) { timed_out = true; kill_session(child); }
      usleep(5000);
    }
  }
  bool slave_closed = !master_open;

  // Usable after? A new session takes the terminal as its controlling tty (EPERM if the old
  // session still has it) and is its foreground group.
  const char *probe = "ok";
  pid_t prober = fork();
  if (prober == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    setsid();
    int fd = open(slave_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) _exit(1);
    if (ioctl(fd, TIOCSCTTY, 0) < 0) _exit(errno == EPERM ? 2 : 3);
    if (tcgetpgrp(fd) != getpid()) _exit(4);
    _exit(0);
  }
  int pst = 0;
  waitpid(prober, &pst, 0);
  if (!WIFEXITED(pst) || WEXITSTATUS(pst) != 0) {
    static const char *why[] = { "ok", "open", "EPERM: still the controlling tty of another session", "TIOCSCTTY", "not foreground" };
    probe = WIFEXITED(pst) && WEXITSTATUS(pst) < 5 ? why[WEXITSTATUS(pst)] : "crashed";
  }

  struct termios after;
  tcgetattr(master, &after);  // on Linux the master reports the slave's settings
  bool restored = after.c_lflag == initial.c_lflag && after.c_iflag == initial.c_iflag && after.c_oflag == initial.c_oflag;
  fprintf(stderr,
          "ptyrun: {\"exit\":%d,\"signal\":%d,\"timeout\":%s,\"slave_closed\":%s,\"probe\":\"%s\","
          "\"termios_restored\":%s,\"canonical\":%s,\"echo\":%s,\"isig\":%s}\n",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
          timed_out ? "true" : "false", slave_closed ? "true" : "false", probe, restored ? "true" : "false",
          (after.c_lflag & ICANON) ? "true" : "false", (after.c_lflag & ECHO) ? "true" : "false",
          (after.c_lflag & ISIG) ? "true" : "false");
  if (timed_out) return 124;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
