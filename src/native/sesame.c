// The native layer: only what Node cannot do for PID 1.
//
//   spawn()        fork/exec with the set-up libuv does not offer: its own process group,
//                  the terminal's foreground group, supplementary groups, no_new_privs,
//                  default signal dispositions, an empty mask, no leaked descriptors.
//   reap()         waitpid(-1, WNOHANG) until nothing is left. Safe only because every
//                  child of init is spawned here: libuv owns none, so no status is stolen.
//   setSubreaper() prctl(PR_SET_CHILD_SUBREAPER) when init is not PID 1.
//   ignoreSignal() SIG_IGN, which Node cannot set (for SIGTTIN/SIGTTOU, as tini does).
//   unblockSignal() for SIGUSR1, which Node's --disable-sigusr1 leaves blocked.
//   environ()      the environment as bytes (process.env is lossy and quadratic to copy).
//   exit()         _exit(2) after putting back the terminal modes saved at load: Node's own
//                  exit tears down V8 and the platform, ~2 ms that PID 1 has no use for.
//   (at load)      PR_SET_DUMPABLE 0: no core dump of init, which holds every secret, and no
//                  /proc/1/mem or /proc/1/environ for processes of the same user.
//   interceptSignal(), setForwardTarget(), takeForwarded(): forwarding from the signal
//                  handler itself, as tini does from its loop, instead of after a trip
//                  through libuv's pipe and the event loop (which doubled the latency).
//   setName()      prctl(PR_SET_NAME): Node names its main thread "MainThread", which is
//                  what ps, docker top and /proc/1/comm would show for PID 1.
//   compactEnvironment() after unsetenv, rewrite the environment block the kernel shows as
//                  /proc/PID/environ so that only what remains is in it, packed, followed
//                  by NULs: no gaps that show where and how long the removed entries were.
//   tlsContext(), tcpConnect(), tcpWrite(), tcpRef(), tcpClose() (socket.c): the secret
//                  sources' connections on Node's event loop, TCP and TLS (the Node
//                  binary's OpenSSL), without node:net and node:tls.
//
// Between clone and exec the child calls only async-signal-safe functions and raw system
// calls: it shares init's memory, and the parent is multi-threaded, so anything that takes
// a lock or touches the heap (malloc, stdio) could corrupt or deadlock it. Everything the
// child needs is allocated before the clone.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define NAPI_VERSION 8
#include <node_api.h>

#include "socket.h"

// Bumped whenever the JS binding's expectations change; the loader refuses a mismatch so
// that a stale sidecar file never runs with a newer init.
#define SESAME_NATIVE_ABI 9

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// Stages the child reports through the error pipe, in the order they run.
enum stage { ST_SETPGID = 1, ST_TCSETPGRP, ST_DUP2, ST_SETGROUPS, ST_SETGID, ST_SETUID,
             ST_NO_NEW_PRIVS, ST_CHDIR, ST_EXEC };
static const char *stage_names[] = { "", "setpgid", "tcsetpgrp", "dup2", "setgroups", "setgid",
                                     "setuid", "no_new_privs", "chdir", "exec" };

struct report { int stage; int err; };

#define CHECK(call)                                                                        \
  do {                                                                                     \
    if ((call) != napi_ok) return throw_last(env);                                         \
  } while (0)

static napi_value throw_last(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, info && info->error_message ? info->error_message : "N-API call failed");
  return NULL;
}

static napi_value throw_errno(napi_env env, const char *stage, int err, const char *path) {
  // The errno's name (ENOENT...) is added by the binding from os.constants.errno:
  // strerrorname_np would raise the glibc requirement above the Node binary's own.
  napi_value msg, error, val;
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &val);
  napi_set_named_property(env, error, "errno", val);
  napi_create_string_utf8(env, stage, NAPI_AUTO_LENGTH, &val);
  napi_set_named_property(env, error, "syscall", val);
  if (path) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &val);
    napi_set_named_property(env, error, "path", val);
  }
  napi_throw(env, error);
  return NULL;
}

// ---- reading arguments ----

// The one int32 argument of a call; false (with a JS exception pending) if there is none.
static bool int_arg(napi_env env, napi_callback_info info, int32_t *out) {
  size_t argc = 1;
  napi_value arg;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, arg, out) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_type_error(env, NULL, "expected a number");
    return false;
  }
  return true;
}

static bool get_prop(napi_env env, napi_value obj, const char *name, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return false;
  if (napi_get_named_property(env, obj, name, out) != napi_ok) return false;
  napi_valuetype t;
  napi_typeof(env, *out, &t);
  return t != napi_undefined && t != napi_null;
}

// A uid or gid: any number 0..2^32-2. Read as int32 (as it once was), 3000000000 became
// negative, which meant "unchanged": the child ran as root. False for anything that is
// not such a number; a missing property leaves *present false.
static bool get_id(napi_env env, napi_value obj, const char *name, bool *present, uint32_t *out) {
  napi_value v;
  double d;
  *present = false;
  if (!get_prop(env, obj, name, &v)) return true;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= 4294967294.0) || d != (double)(uint32_t)d) return false;
  *out = (uint32_t)d;
  *present = true;
  return true;
}

static bool get_bool(napi_env env, napi_value obj, const char *name) {
  napi_value v;
  bool b = false;
  if (get_prop(env, obj, name, &v)) napi_get_value_bool(env, v, &b);
  return b;
}

// A string (UTF-8) or a Buffer (bytes as they are: environment entries that are not UTF-8).
// A NUL inside would silently cut the entry short: refused, as execve cannot carry one.
static char *dup_string(napi_env env, napi_value v) {
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) == napi_ok && is_buffer) {
    void *data = NULL;
    size_t n = 0;
    if (napi_get_buffer_info(env, v, &data, &n) != napi_ok || (n && memchr(data, 0, n))) return NULL;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, data, n);
    s[n] = 0;
    return s;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static char *get_string(napi_env env, napi_value obj, const char *name) {
  napi_value v;
  return get_prop(env, obj, name, &v) ? dup_string(env, v) : NULL;
}

// A NULL-terminated array of strings with `extra` spare leading slots (for the /bin/sh
// fallback). Returns NULL when the property is missing or not an array of strings.
static char **get_string_array(napi_env env, napi_value obj, const char *name, uint32_t extra, uint32_t *count) {
  napi_value arr, item;
  bool is_array = false;
  uint32_t n = 0;
  if (!get_prop(env, obj, name, &arr) || napi_is_array(env, arr, &is_array) != napi_ok || !is_array) return NULL;
  napi_get_array_length(env, arr, &n);
  char **out = calloc(n + extra + 1, sizeof(char *));
  if (!out) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_get_element(env, arr, i, &item);
    if (!(out[extra + i] = dup_string(env, item))) {
      for (uint32_t j = 0; j < i; j++) free(out[extra + j]);
      free(out);
      return NULL;
    }
  }
  if (count) *count = n;
  return out;
}

static void free_strings(char **arr, uint32_t skip) {
  if (!arr) return;
  for (char **p = arr + skip; *p; p++) free(*p);
  free(arr);
}

// ---- the child side: async-signal-safe only ----

// The child shares init's memory until it execs (CLONE_VM), so it reports a failure by
// writing into the parent's struct, as glibc's posix_spawn does.
static void report_and_exit(struct report *out, int stage, int err) {
  out->stage = stage;
  out->err = err;
  _exit(127);
}

struct spawn_spec {
  char **candidates;  // absolute or relative paths to try, in order (PATH already expanded)
  char **argv;        // argv[0..]; slot 0 and 1 reserved in sh_argv
  char **sh_argv;     // "/bin/sh", <candidate>, argv[1..]: execvp's ENOEXEC fallback
  char **envp;
  char *cwd;
  int stdio[3];       // descriptors to become 0, 1, 2 (-1: keep init's)
  bool set_uid, set_gid;  // false: unchanged
  uid_t uid;
  gid_t gid;
  gid_t *groups;      // with ngroups >= 0: setgroups
  int ngroups;
  bool new_pgroup, foreground, no_new_privs;
};

static void child_after_fork(const struct spawn_spec *s, struct report *out) {
  // Dispositions first, while every signal is still blocked: a handler inherited from
  // Node must never run in the child, and SIG_IGN (SIGPIPE, SIGXFSZ, SIGTTOU) would
  // survive exec.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < _NSIG; sig++) sigaction(sig, &dfl, NULL);

  if (s->new_pgroup && setpgid(0, 0) < 0) report_and_exit(out, ST_SETPGID, errno);
  // Give the terminal to the child's group, as tini's isolate_child does. SIGTTOU is
  // blocked here, so a background group may do it. No terminal is not an error.
  if (s->foreground && tcsetpgrp(STDIN_FILENO, getpgrp()) < 0 && errno != ENOTTY && errno != ENXIO)
    report_and_exit(out, ST_TCSETPGRP, errno);

  // Node opens its stdio close-on-exec: clear that, or the program starts with no 0-2.
  // (dup2 clears it on the copy; a descriptor kept in place needs fcntl.)
  for (int fd = 0; fd < 3; fd++) {
    if (s->stdio[fd] >= 0 && s->stdio[fd] != fd) {
      if (dup2(s->stdio[fd], fd) < 0) report_and_exit(out, ST_DUP2, errno);
    } else {
      fcntl(fd, F_SETFD, 0);
    }
  }

  // Raw system calls: they change only this thread, which after fork is the whole
  // process, and take none of glibc's set*id locks.
  if (s->ngroups >= 0 && syscall(SYS_setgroups, (size_t)s->ngroups, s->groups) < 0)
    report_and_exit(out, ST_SETGROUPS, errno);
  if (s->set_gid && syscall(SYS_setresgid, s->gid, s->gid, s->gid) < 0) report_and_exit(out, ST_SETGID, errno);
  if (s->set_uid && syscall(SYS_setresuid, s->uid, s->uid, s->uid) < 0) report_and_exit(out, ST_SETUID, errno);
  if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) report_and_exit(out, ST_NO_NEW_PRIVS, errno);
  if (s->cwd && chdir(s->cwd) < 0) report_and_exit(out, ST_CHDIR, errno);

  // Nothing of init's beyond 0-2 reaches the program: mark the rest close-on-exec.
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    struct rlimit rl;
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
    if (max > 1048576) max = 1048576;
    for (long fd = 3; fd < max; fd++) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  }

  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  // execvp's search, on a list made before fork: keep going past ENOENT-like errors,
  // remember EACCES, stop at anything else (what glibc's execvp does).
  int err = ENOENT;
  bool denied = false;
  for (char **c = s->candidates; *c; c++) {
    execve(*c, s->argv, s->envp);
    err = errno;
    if (err == ENOEXEC) {  // a script without #!: run it with /bin/sh, like execvp
      s->sh_argv[1] = *c;
      execve("/bin/sh", s->sh_argv, s->envp);
      err = errno;
      break;
    }
    if (err == EACCES) denied = true;
    else if (err != ENOENT && err != ENOTDIR && err != ENAMETOOLONG && err != ELOOP && err != ESTALE && err != ENODEV && err != ETIMEDOUT)
      break;
  }
  if (denied && (err == ENOENT || err == ENOTDIR)) err = EACCES;
  report_and_exit(out, ST_EXEC, err);
}

struct clone_args {
  struct spawn_spec *spec;
  struct report report;  // written by the child only when it fails before exec
};

static int child_main(void *arg) {
  struct clone_args *a = arg;
  child_after_fork(a->spec, &a->report);
  return 127;  // not reached: child_after_fork execs or _exits
}

// spawn({candidates, argv, env, cwd, stdio, uid, gid, groups, newProcessGroup, foreground,
//        noNewPrivs}) -> pid. Throws an Error with errno, code, syscall (the failed stage).
static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value opts, result;
  CHECK(napi_get_cb_info(env, info, &argc, &opts, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "spawn(options) needs an options object");
    return NULL;
  }

  struct spawn_spec s;
  memset(&s, 0, sizeof s);
  uint32_t argn = 0, ngroups = 0;
  s.candidates = get_string_array(env, opts, "candidates", 0, NULL);
  s.argv = get_string_array(env, opts, "argv", 0, &argn);
  s.sh_argv = get_string_array(env, opts, "argv", 1, NULL);
  s.envp = get_string_array(env, opts, "env", 0, NULL);
  s.cwd = get_string(env, opts, "cwd");
  bool bad_id = !get_id(env, opts, "uid", &s.set_uid, &s.uid) || !get_id(env, opts, "gid", &s.set_gid, &s.gid);
  s.new_pgroup = get_bool(env, opts, "newProcessGroup");
  s.foreground = get_bool(env, opts, "foreground");
  s.no_new_privs = get_bool(env, opts, "noNewPrivs");
  s.ngroups = -1;
  napi_value stdio, item, groups;
  bool is_array = false;
  for (int i = 0; i < 3; i++) s.stdio[i] = -1;
  if (get_prop(env, opts, "stdio", &stdio) && napi_is_array(env, stdio, &is_array) == napi_ok && is_array)
    for (uint32_t i = 0; i < 3; i++)
      if (napi_get_element(env, stdio, i, &item) == napi_ok) napi_get_value_int32(env, item, &s.stdio[i]);
  if (get_prop(env, opts, "groups", &groups) && napi_is_array(env, groups, &is_array) == napi_ok && is_array) {
    napi_get_array_length(env, groups, &ngroups);
    s.groups = calloc(ngroups + 1, sizeof(gid_t));
    for (uint32_t i = 0; s.groups && i < ngroups; i++) {
      uint32_t g = 0;
      napi_get_element(env, groups, i, &item);
      napi_get_value_uint32(env, item, &g);
      s.groups[i] = g;
    }
    s.ngroups = s.groups ? (int)ngroups : -1;
  }

  napi_value ret = NULL;
  bool sh_ready = false;  // sh_argv's layout, for freeing it below
  if (bad_id) {
    napi_throw_range_error(env, NULL, "spawn: uid and gid must be integers 0..4294967294");
    goto out;
  }
  if (!s.candidates || !s.candidates[0] || !s.argv || argn == 0 || !s.sh_argv || !s.envp) {
    napi_throw_type_error(env, NULL, "spawn: candidates, argv and env must be non-empty string arrays");
    goto out;
  }
  s.sh_argv[0] = strdup("/bin/sh");
  free(s.sh_argv[1]);   // argv[0]'s copy: the child puts the candidate's path there
  s.sh_argv[1] = NULL;
  sh_ready = true;
  if (!s.sh_argv[0]) {
    ret = throw_errno(env, "fork", ENOMEM, NULL);
    goto out;
  }

  // Block everything across the clone so that no Node/libuv handler runs in the child
  // before its dispositions are reset; the parent's mask is restored right after.
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);  // per-thread on Linux; pthread_sigmask would need glibc 2.32
  // CLONE_VM | CLONE_VFORK, as posix_spawn: no copy of init's ~40 MB of page tables and no
  // copy-on-write faults afterwards (fork cost ~1 ms of every start); this thread waits
  // until the child has exec'd or failed. The child runs on a stack of its own and, having
  // no CLONE_FILES/FS/SIGHAND, changes only its own descriptors, directory and handlers.
  struct clone_args args = { &s, { 0, 0 } };
  const size_t stack_size = 256 * 1024;
  char *stack = malloc(stack_size);
  pid_t pid = stack ? clone(child_main, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &args) : -1;
  int clone_err = stack ? errno : ENOMEM;
  sigprocmask(SIG_SETMASK, &old, NULL);
  free(stack);
  if (pid < 0) {
    ret = throw_errno(env, "fork", clone_err, NULL);
    goto out;
  }
  struct report r = args.report;
  if (r.stage != 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    const char *path = r.stage == ST_CHDIR ? s.cwd : r.stage == ST_EXEC ? s.argv[0] : NULL;
    ret = throw_errno(env, stage_names[r.stage < ST_SETPGID || r.stage > ST_EXEC ? 0 : r.stage], r.err, path);
    goto out;
  }
  napi_create_int32(env, pid, &result);
  ret = result;

out:
  free_strings(s.candidates, 0);
  free_strings(s.argv, 0);
  // Before set-up: [spare, argv0 copy, ..., NULL]; after: ["/bin/sh", NULL, argv1, ..., NULL].
  // (Freeing from slot 2 before set-up read past the end of an argv of one.)
  if (s.sh_argv && sh_ready) { free(s.sh_argv[0]); free_strings(s.sh_argv, 2); }
  else free_strings(s.sh_argv, 1);
  free_strings(s.envp, 0);
  free(s.cwd);
  free(s.groups);
  return ret;
}

// environ() -> [Buffer, ...]: this process's environment entries, byte for byte, in one
// pass. process.env decodes them lossily, and each of its reads is a getenv(3) scan of
// the whole block, so copying it is quadratic in the number of variables.
extern char **environ;
static napi_value Environ(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr, item;
  uint32_t n = 0;
  CHECK(napi_create_array(env, &arr));
  for (char **e = environ; e && *e; e++) {
    CHECK(napi_create_buffer_copy(env, strlen(*e), *e, NULL, &item));
    CHECK(napi_set_element(env, arr, n++, item));
  }
  return arr;
}

// ---- forwarding in the signal handler ----
//
// Our handler runs first, sends the (rewritten) signal to the target with kill(2), which
// is async-signal-safe, counts what it sent, and then calls the handler it replaced
// (libuv's), so that JavaScript still hears of every signal: to log it, to start the grace
// period, and to deliver it itself when the handler did not (no target yet, or after the
// child exited). takeForwarded() tells JavaScript which case it is, one signal at a time.
#define MAXSIG 65
static volatile sig_atomic_t fwd_target;        // pid, or -pgid; 0: JavaScript delivers
static volatile sig_atomic_t fwd_send[MAXSIG];  // what to send for each signal; 0: nothing
static int fwd_count[MAXSIG];                   // sent by the handler, not yet taken by JS
static struct sigaction chained[MAXSIG];
static bool intercepted[MAXSIG];

static void forward_handler(int sig, siginfo_t *info, void *context) {
  int saved_errno = errno;
  pid_t target = fwd_target;
  int send = sig > 0 && sig < MAXSIG ? fwd_send[sig] : 0;
  if (target != 0 && target != -1 && send > 0) {
    // A stopped child gets SIGCONT from JavaScript, which can tell whether it is stopped.
    if (kill(target, send) == 0 || errno == ESRCH) __atomic_add_fetch(&fwd_count[sig], 1, __ATOMIC_SEQ_CST);
  }
  errno = saved_errno;
  struct sigaction *next = &chained[sig];
  if (next->sa_flags & SA_SIGINFO) {
    if (next->sa_sigaction) next->sa_sigaction(sig, info, context);
  } else if (next->sa_handler != SIG_DFL && next->sa_handler != SIG_IGN) {
    next->sa_handler(sig);
  }
}

// interceptSignal(signal, sendAs): put the forwarding handler in front of the current one
// (installed once; later calls only change what is sent).
static napi_value InterceptSignal(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  int32_t sig = 0, send = 0;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "interceptSignal(signal, sendAs)");
    return NULL;
  }
  CHECK(napi_get_value_int32(env, args[0], &sig));
  CHECK(napi_get_value_int32(env, args[1], &send));
  if (sig <= 0 || sig >= MAXSIG || sig == SIGKILL || sig == SIGSTOP || send < 0 || send >= MAXSIG) {
    napi_throw_range_error(env, NULL, "interceptSignal: signal out of range");
    return NULL;
  }
  fwd_send[sig] = send;
  if (!intercepted[sig]) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);  // one signal at a time: the counters stay in step with libuv
    if (sigaction(sig, &sa, &chained[sig]) < 0) return throw_errno(env, "sigaction", errno, NULL);
    intercepted[sig] = true;
  }
  return NULL;
}

// setForwardTarget(pid or -pgid, or 0 to stop forwarding from the handler).
static napi_value SetForwardTarget(napi_env env, napi_callback_info info) {
  int32_t target = 0;
  if (!int_arg(env, info, &target)) return NULL;
  fwd_target = target == -1 ? 0 : target;  // never kill(-1): that is every process
  return NULL;
}

// takeForwarded(signal) -> true if the handler already sent one occurrence of it.
static napi_value TakeForwarded(napi_env env, napi_callback_info info) {
  napi_value result;
  int32_t sig = 0;
  if (!int_arg(env, info, &sig)) return NULL;
  bool taken = false;
  if (sig > 0 && sig < MAXSIG) {
    int n = __atomic_load_n(&fwd_count[sig], __ATOMIC_SEQ_CST);
    while (n > 0 && !__atomic_compare_exchange_n(&fwd_count[sig], &n, n - 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
    taken = n > 0;
  }
  napi_get_boolean(env, taken, &result);
  return result;
}

// reap() -> [pid, code, signal, pid, code, signal, ...] for every child that has exited,
// without blocking. code is -1 when the child died of a signal, signal 0 when it exited.
static napi_value Reap(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr, v;
  CHECK(napi_create_array(env, &arr));
  uint32_t i = 0;
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;  // 0: children left but none exited; -1 ECHILD: no children at all
    // The forwarding target is gone: its pid may be reused, so stop signalling it before
    // anyone else can get that number.
    if (pid == fwd_target || -pid == fwd_target) fwd_target = 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    napi_create_int32(env, pid, &v);
    napi_set_element(env, arr, i++, v);
    napi_create_int32(env, code, &v);
    napi_set_element(env, arr, i++, v);
    napi_create_int32(env, sig, &v);
    napi_set_element(env, arr, i++, v);
  }
  return arr;
}

static napi_value SetSubreaper(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return throw_errno(env, "prctl", errno, NULL);
  return NULL;
}

static napi_value IgnoreSignal(napi_env env, napi_callback_info info) {
  int32_t sig = 0;
  if (!int_arg(env, info, &sig)) return NULL;
  if (signal(sig, SIG_IGN) == SIG_ERR) return throw_errno(env, "signal", errno, NULL);
  return NULL;
}

// The executable runs with --disable-sigusr1 so that SIGUSR1 can never open the inspector,
// not even before the first line of JavaScript; Node then keeps SIGUSR1 blocked, and this
// unblocks it on the main thread (sigprocmask is per-thread on Linux; pthread_sigmask
// would need glibc 2.32) so that the JS listener receives it and init forwards it.
static napi_value UnblockSignal(napi_env env, napi_callback_info info) {
  int32_t sig = 0;
  sigset_t set;
  if (!int_arg(env, info, &sig)) return NULL;
  sigemptyset(&set);
  sigaddset(&set, sig);
  if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0) return throw_errno(env, "sigprocmask", errno, NULL);
  return NULL;
}

// A pipe for a service's output: Node has no pipe(2). Both ends close-on-exec; spawn's dup2
// onto 0-2 clears that for the child's copy only.
static napi_value Pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  napi_value pair, fd;
  if (pipe2(fds, O_CLOEXEC) < 0) return throw_errno(env, "pipe", errno, NULL);
  napi_create_array_with_length(env, 2, &pair);
  for (uint32_t i = 0; i < 2; i++) {
    napi_create_int32(env, fds[i], &fd);
    napi_set_element(env, pair, i, fd);
  }
  return pair;
}

// setName(name): the name ps, top and /proc/PID/comm show (15 bytes at most: the kernel
// cuts it there).
static napi_value SetName(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value arg;
  char name[16];
  CHECK(napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
  if (argc < 1 || napi_get_value_string_utf8(env, arg, name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "setName(name) needs a string");
    return NULL;
  }
  if (prctl(PR_SET_NAME, name, 0, 0, 0) < 0) return throw_errno(env, "prctl", errno, NULL);
  return NULL;
}

// env_start and env_end (fields 50 and 51 of /proc/self/stat): the block the kernel shows
// as /proc/PID/environ, on the main thread's stack, where execve put it.
static bool environment_block(unsigned long *start, unsigned long *end) {
  char buf[4096];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  char *p = strrchr(buf, ')');  // the name may contain spaces and parentheses
  if (!p) return false;
  p += 2;                        // field 3 starts here
  for (int field = 3; field < 50 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  if (!p) return false;
  char *rest = NULL;
  *start = strtoul(p, &rest, 10);
  if (rest == p || *rest != ' ') return false;
  *end = strtoul(rest + 1, NULL, 10);
  return *start > 0 && *end > *start;
}

extern char **environ;

// compactEnvironment() -> the number of NUL bytes now at the end of the block. unsetenv
// takes a variable out of environ but leaves its text in the block, and NULs written over
// it in place still show where it was and how long. So: copy the entries environ still
// points at into the block's start, in order, NULs after them, and point environ at the
// new places. Entries environ holds outside the block (from setenv) are left alone: the
// kernel does not show them. Called once, early, before any thread reads the environment
// (Node's own readers go through getenv, which reads environ again each time).
static napi_value CompactEnvironment(napi_env env, napi_callback_info info) {
  (void)info;
  unsigned long start = 0, end = 0;
  napi_value result;
  if (!environment_block(&start, &end)) return throw_errno(env, "/proc/self/stat", ENOENT, NULL);
  char *block = (char *)start;
  size_t size = end - start, used = 0, count = 0;
  for (char **e = environ; e && *e; e++) count++;
  char *packed = malloc(size);
  size_t *offsets = calloc(count + 1, sizeof *offsets);
  if (!packed || !offsets) {
    free(packed);
    free(offsets);
    return throw_errno(env, "malloc", ENOMEM, NULL);
  }
  for (size_t i = 0; i < count; i++) {
    char *entry = environ[i];
    offsets[i] = (size_t)-1;
    if (entry < block || entry >= block + size) continue;
    size_t len = strnlen(entry, (size_t)(block + size - entry));
    if (used + len + 1 > size) {  // not disjoint strings: leave the block as it was
      free(packed);
      free(offsets);
      return throw_errno(env, "compact", EINVAL, NULL);
    }
    memcpy(packed + used, entry, len);
    packed[used + len] = 0;
    offsets[i] = used;
    used += len + 1;
  }
  memcpy(block, packed, used);
  memset(block + used, 0, size - used);
  for (size_t i = 0; i < count; i++)
    if (offsets[i] != (size_t)-1) environ[i] = block + offsets[i];
  free(packed);
  free(offsets);
  napi_create_double(env, (double)(size - used), &result);
  return result;
}

// The terminal modes of 0-2 when init started, put back at exit as Node's ResetStdio
// would: a child that dies in raw mode must not leave the terminal that way.
static struct termios saved_modes[3];
static bool saved_is_tty[3];

// sendNoWait(fd, buffer): one send(MSG_DONTWAIT) on a socket: the bytes taken, or -errno
// (-EAGAIN when it is full, -ENOTSOCK when fd is no socket). The flag is the call's own:
// unlike O_NONBLOCK it does not change the file description init's children share
// (src/output.ts: init's stdout and stderr while it supervises).
static napi_value SendNoWait(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  void *data = NULL;
  size_t len = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendNoWait(fd, buffer) needs a number and a Buffer");
    return NULL;
  }
  ssize_t n;
  do n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  napi_value out;
  CHECK(napi_create_int32(env, n < 0 ? -errno : (int32_t) (n > INT32_MAX ? INT32_MAX : n), &out));
  return out;
}

static napi_value Exit(napi_env env, napi_callback_info info) {
  int32_t code = 0;
  if (!int_arg(env, info, &code)) return NULL;
  for (int fd = 0; fd < 3; fd++)
    if (saved_is_tty[fd]) tcsetattr(fd, TCSANOW, &saved_modes[fd]);  // SIGTTOU is ignored
  _exit(code & 0xff);
}

// Init holds every secret it fetched, in clear, on its heap: a core dump (SIGSEGV or
// SIGABRT with `ulimit -c unlimited`) would write them all to disk, and any process of the
// same uid could read them through /proc/1/mem. Not dumpable, the kernel writes no core,
// makes /proc/1/* root's and refuses ptrace and /proc/1/mem to everyone without
// CAP_SYS_PTRACE. Init itself can still write its own /proc/self/mem (the environ
// overwrite): a thread group may always access itself. Cleared again by any execve, so
// the children are dumpable as usual.
// Only the opening of /proc/self/mem is checked against dumpability (a non-root init is
// refused afterwards, as its /proc entries become root's), so it is opened first and kept
// for the overwrite; close-on-exec, it never reaches a child.
static int self_mem_fd = -1;

static int make_undumpable(void) {
  self_mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  // Never 0-2, which spawn makes inheritable: a child with init's memory open read-write
  // would be init. (Node opens /dev/null on a closed 0-2 at start; this does not rely on it.)
  if (self_mem_fd >= 0 && self_mem_fd <= 2) {
    int moved = fcntl(self_mem_fd, F_DUPFD_CLOEXEC, 3);
    close(self_mem_fd);
    self_mem_fd = moved;
  }
  return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ? errno : 0;
}

// ---- Memory at rest.
//
// Four V8 calls, made through V8's public C++ API (v8.h) by their symbol names, which the
// Node executable exports for addons: this file stays C, and JavaScript needs neither
// node:v8 (its module graph, streams included, stays resident: ~0.6 MiB) nor a new context
// to reach gc() (--expose-gc). Weak references: a Node without them (another version,
// another mangling) leaves them NULL, and the call only reports false; nothing fails to
// load. (Not dlsym: glibc 2.34 moved it, and the addon must run on glibc 2.28.)
enum { V8_PRESSURE_NONE = 0, V8_PRESSURE_CRITICAL = 2 }; // v8::MemoryPressureLevel
// v8::V8::SetFlagsFromString(const char*, size_t)
extern void v8_set_flags(const char *, size_t) __asm__("_ZN2v82V818SetFlagsFromStringEPKcm") __attribute__((weak));
// v8::Isolate::GetCurrent()
extern void *v8_current_isolate(void) __asm__("_ZN2v87Isolate10GetCurrentEv") __attribute__((weak));
// v8::Isolate::LowMemoryNotification(), a member function: `this` first
extern void v8_low_memory(void *) __asm__("_ZN2v87Isolate21LowMemoryNotificationEv") __attribute__((weak));
// v8::Isolate::MemoryPressureNotification(MemoryPressureLevel)
extern void v8_memory_pressure(void *, int) __asm__("_ZN2v87Isolate26MemoryPressureNotificationENS_19MemoryPressureLevelE") __attribute__((weak));

// setV8Flags("--no-opt --no-maglev"): V8's flags, as node:v8's setFlagsFromString sets them.
static napi_value SetV8Flags(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char flags[256];
  size_t len = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], flags, sizeof flags, &len) != napi_ok || len >= sizeof flags - 1) {
    napi_throw_type_error(env, NULL, "setV8Flags(flags) needs a string of under 255 bytes");
    return NULL;
  }
  if (v8_set_flags) v8_set_flags(flags, len);
  napi_value done;
  CHECK(napi_get_boolean(env, v8_set_flags != NULL, &done));
  return done;
}

// releaseMemory(thorough): what a long-running PID 1 holds that it no longer needs, given
// back. thorough: V8's low-memory collection (full collections until nothing more is
// freed, the young generation shrunk, free pages released: once, when the start is done);
// else one full collection that reduces the heap (V8's answer to critical memory pressure,
// the level set back to none at once so that V8 does not go on collecting eagerly: after
// lifetime work). Then malloc_trim: what Node's start-up and the freed buffers left in
// glibc's heap, resident otherwise for the container's whole life. True if V8's call was
// found (otherwise only the trim ran).
static napi_value ReleaseMemory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool thorough = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_bool(env, argv[0], &thorough) != napi_ok) {
    napi_throw_type_error(env, NULL, "releaseMemory(thorough) needs a boolean");
    return NULL;
  }
  void *isolate = v8_current_isolate ? v8_current_isolate() : NULL;
  bool found = isolate && (thorough ? v8_low_memory != NULL : v8_memory_pressure != NULL);
  if (found && thorough) v8_low_memory(isolate);
  if (found && !thorough) {
    v8_memory_pressure(isolate, V8_PRESSURE_CRITICAL);
    v8_memory_pressure(isolate, V8_PRESSURE_NONE);
  }
  malloc_trim(0);
  napi_value done;
  CHECK(napi_get_boolean(env, found, &done));
  return done;
}

// externalLatin1(arrayBuffer): a string over the buffer's bytes, not a copy of them. The
// one-file /init runs its bundles from its own assets (sea.getRawAsset: a view of the
// executable's mapped pages, there for the process's life); as a V8 string they would be
// ~0.2 MiB more of PID 1's private memory for as long as it runs (V8 keeps a script's
// source). Latin-1 bytes only (build.mjs checks the bundles are ASCII); no finalizer: the
// bytes are never freed. Node API 10's call, by a weak reference (a Node without it leaves
// it NULL and this returns undefined: the caller copies the text instead).
typedef void (*sesame_basic_finalize)(napi_env, void *, void *);
extern napi_status node_api_create_external_string_latin1(napi_env, char *, size_t, sesame_basic_finalize, void *, napi_value *, bool *) __attribute__((weak));
static napi_value ExternalLatin1(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool is_buffer = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "externalLatin1(buffer) needs an ArrayBuffer");
    return NULL;
  }
  void *data = NULL;
  size_t length = 0;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &data, &length));
  napi_value result = NULL;
  bool copied = false;
  if (!node_api_create_external_string_latin1) return NULL;
  CHECK(node_api_create_external_string_latin1(env, data, length, NULL, NULL, &result, &copied));
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  int dump_err = make_undumpable();
  for (int fd = 0; fd < 3; fd++) saved_is_tty[fd] = tcgetattr(fd, &saved_modes[fd]) == 0;
  napi_property_descriptor props[] = {
    { "spawn", NULL, Spawn, NULL, NULL, NULL, napi_default, NULL },
    { "reap", NULL, Reap, NULL, NULL, NULL, napi_default, NULL },
    { "setSubreaper", NULL, SetSubreaper, NULL, NULL, NULL, napi_default, NULL },
    { "ignoreSignal", NULL, IgnoreSignal, NULL, NULL, NULL, napi_default, NULL },
    { "unblockSignal", NULL, UnblockSignal, NULL, NULL, NULL, napi_default, NULL },
    { "interceptSignal", NULL, InterceptSignal, NULL, NULL, NULL, napi_default, NULL },
    { "setForwardTarget", NULL, SetForwardTarget, NULL, NULL, NULL, napi_default, NULL },
    { "takeForwarded", NULL, TakeForwarded, NULL, NULL, NULL, napi_default, NULL },
    { "pipe", NULL, Pipe, NULL, NULL, NULL, napi_default, NULL },
    { "setName", NULL, SetName, NULL, NULL, NULL, napi_default, NULL },
    { "compactEnvironment", NULL, CompactEnvironment, NULL, NULL, NULL, napi_default, NULL },
    { "exit", NULL, Exit, NULL, NULL, NULL, napi_default, NULL },
    { "sendNoWait", NULL, SendNoWait, NULL, NULL, NULL, napi_default, NULL },
    { "environ", NULL, Environ, NULL, NULL, NULL, napi_default, NULL },
    { "setV8Flags", NULL, SetV8Flags, NULL, NULL, NULL, napi_default, NULL },
    { "releaseMemory", NULL, ReleaseMemory, NULL, NULL, NULL, napi_default, NULL },
    { "externalLatin1", NULL, ExternalLatin1, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_value abi;
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  sesame_socket_init(env, exports);
  napi_create_int32(env, SESAME_NATIVE_ABI, &abi);
  napi_set_named_property(env, exports, "abi", abi);
  napi_value dumpable_errno;
  napi_create_int32(env, dump_err, &dumpable_errno);
  napi_set_named_property(env, exports, "undumpableErrno", dumpable_errno);
  napi_value mem_fd;
  napi_create_int32(env, self_mem_fd, &mem_fd);
  napi_set_named_property(env, exports, "selfMemFd", mem_fd);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
