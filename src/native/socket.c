// TCP connections for init's HTTP client (src/secrets/socket.ts), on the event loop Node
// already runs: a non-blocking socket watched by a uv_poll_t. For plain-HTTP Vault,
// node:net costs every start ~2.5 ms before the first byte is sent (it loads the twenty
// modules of node:stream, and its first connect() sets up what a Socket needs); this costs
// none of it. The HTTP itself stays in JavaScript.
//
//   tcpConnect(host, port, onEvent) -> id   connects to an IP address, or to each address
//                                           of a host name in turn (getaddrinfo on libuv's
//                                           pool) until one accepts
//   tcpWrite(id, buffer)                    sends it all, in order (what the socket does
//                                           not take at once is kept and sent when it can)
//   tcpRef(id, ref)                         whether the connection keeps the loop alive
//   tcpClose(id)                            closes it; no event comes after this
//
// onEvent(kind, value, syscall): 0 connected; 1 data (a Buffer); 2 the server closed its
// side; 3 failed: value is an errno number (connect, read, write) or a getaddrinfo code
// name (ENOTFOUND, EAI_AGAIN...). The connection is closed after 2 and 3.
//
// The uv_* functions are the ones the Node binary exports to addons; each is looked up
// weakly, and without them (a Node that does not export libuv) tcpConnect is absent and
// init uses node:net.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "socket.h"

#pragma weak uv_poll_init_socket
#pragma weak uv_poll_start
#pragma weak uv_close
#pragma weak uv_ref
#pragma weak uv_unref
#pragma weak uv_getaddrinfo
#pragma weak uv_freeaddrinfo

enum { EV_CONNECTED = 0, EV_DATA = 1, EV_END = 2, EV_ERROR = 3 };

// Connections are named to JavaScript by a slot number and a generation, never by
// pointer: a call for one already closed finds nothing instead of freed memory.
#define SLOTS 64

struct conn {
  uv_poll_t *poll;             // the current socket's watcher (its own allocation: libuv
                               // holds a closed one until its close callback)
  uv_getaddrinfo_t resolve;
  napi_env env;
  napi_ref on_event;
  napi_async_context async;
  int fd;
  int slot;
  int port;
  int busy;                    // calls into JavaScript in progress: not freed under them
  int write_error;             // a send that failed inside tcpWrite, reported from the loop
  bool connected;
  bool resolving;
  bool closing;
  bool referenced;
  struct addrinfo *addresses;  // from getaddrinfo: tried in order
  struct addrinfo *next;
  char *pending;               // bytes written that the socket has not taken yet
  size_t pending_len;
};

static struct conn *slots[SLOTS];
static unsigned generations[SLOTS];

static uv_loop_t *loop_of(napi_env env) {
  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  return loop;
}

static int conn_id(const struct conn *c) { return (int)((generations[c->slot] % 1000000u) * SLOTS + (unsigned)c->slot); }

static struct conn *conn_of(napi_env env, napi_value id_value) {
  int32_t id = -1;
  if (napi_get_value_int32(env, id_value, &id) != napi_ok || id < 0) return NULL;
  struct conn *c = slots[id % SLOTS];
  if (!c || c->closing || conn_id(c) != id) return NULL;
  return c;
}

// Freed once closed and nothing holds it: no watcher, no lookup, no call under way.
static void maybe_free(struct conn *c) {
  if (!c->closing || c->busy || c->poll || c->resolving) return;
  free(c->pending);
  if (c->addresses) uv_freeaddrinfo(c->addresses);
  napi_delete_reference(c->env, c->on_event);
  napi_async_destroy(c->env, c->async);
  free(c);
}

static void on_poll_closed(uv_handle_t *handle) {
  struct conn *c = handle->data;
  free(handle);
  if (!c) return;
  c->poll = NULL;
  maybe_free(c);
}

// The socket and its watcher go (uv_close stops the watcher at once, so the descriptor
// can be closed right after it).
static void drop_socket(struct conn *c, bool keep_conn_waiting) {
  if (c->poll) {
    c->poll->data = keep_conn_waiting ? c : NULL;
    uv_close((uv_handle_t *)c->poll, on_poll_closed);
    if (!keep_conn_waiting) c->poll = NULL;
  }
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

// No event after this; the memory goes when libuv and JavaScript have let go of it.
static void close_conn(struct conn *c) {
  if (c->closing) return;
  c->closing = true;
  slots[c->slot] = NULL;
  generations[c->slot]++;
  drop_socket(c, true);
  maybe_free(c);
}

// Calls onEvent. False if the connection is closed after it (by onEvent or before): the
// caller must not touch `c` again.
static bool emit(struct conn *c, int kind, napi_value value, const char *syscall) {
  napi_env env = c->env;
  napi_handle_scope scope;
  if (c->closing || napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value fn, recv, argv[3];
  napi_get_reference_value(env, c->on_event, &fn);
  napi_get_global(env, &recv);  // napi_make_callback needs an object as `this`
  napi_create_int32(env, kind, &argv[0]);
  if (value) argv[1] = value; else napi_get_undefined(env, &argv[1]);
  if (syscall) napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &argv[2]); else napi_get_undefined(env, &argv[2]);
  c->busy++;
  // As Node's own handles call back: promise reactions and nextTicks run after it.
  napi_make_callback(env, c->async, recv, fn, 3, argv, NULL);
  c->busy--;
  napi_close_handle_scope(env, scope);
  if (c->closing) {
    maybe_free(c);
    return false;
  }
  return true;
}

// Reports the failure and closes; `c` is gone after it.
static void fail(struct conn *c, int err, const char *code, const char *syscall) {
  napi_handle_scope scope;
  napi_env env = c->env;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value value;
  if (code) napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &value);
  else napi_create_int32(env, err, &value);
  bool open = emit(c, EV_ERROR, value, syscall);
  napi_close_handle_scope(env, scope);
  if (open) close_conn(c);
}

static void on_poll(uv_poll_t *handle, int status, int events);

static void update_poll(struct conn *c) {
  int events = UV_READABLE;
  if (!c->connected || c->pending_len || c->write_error) events |= UV_WRITABLE;
  uv_poll_start(c->poll, events, on_poll);
}

// Starts connecting to `address`; false (errno set) if that failed at once.
static bool start_connect(struct conn *c, const struct sockaddr *address, socklen_t length) {
  drop_socket(c, false);  // the previous address's, if any
  c->fd = socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return false;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // requests go out whole
  if (connect(c->fd, address, length) < 0 && errno != EINPROGRESS) return false;
  c->poll = malloc(sizeof *c->poll);
  if (!c->poll || uv_poll_init_socket(loop_of(c->env), c->poll, c->fd) != 0) {
    errno = c->poll ? EIO : ENOMEM;
    free(c->poll);
    c->poll = NULL;
    return false;
  }
  c->poll->data = c;
  if (!c->referenced) uv_unref((uv_handle_t *)c->poll);
  update_poll(c);
  return true;
}

// The next of the host's addresses; false when none is left (errno: the last failure).
static bool try_next(struct conn *c) {
  while (c->next) {
    struct addrinfo *a = c->next;
    c->next = a->ai_next;
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    if (start_connect(c, a->ai_addr, a->ai_addrlen)) return true;
  }
  return false;
}

// Sends what is pending; 0, or the errno of a failed send (the connection is then broken).
static int flush(struct conn *c) {
  while (c->pending_len) {
    ssize_t n = send(c->fd, c->pending, c->pending_len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return errno;
    }
    memmove(c->pending, c->pending + n, c->pending_len - (size_t)n);
    c->pending_len -= (size_t)n;
  }
  update_poll(c);
  return 0;
}

// The socket's pending error; libuv reports any POLLERR as UV_EBADF, not as what it was.
static int socket_error(struct conn *c, int status) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  return err ? err : status < 0 ? -status : 0;
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  struct conn *c = handle->data;
  if (!c || c->closing) return;
  if (!c->connected) {
    int err = socket_error(c, status);
    if (!err && !(events & UV_WRITABLE)) return;
    if (err) {
      errno = err;
      if (!try_next(c)) fail(c, errno, NULL, "connect");
      return;
    }
    c->connected = true;
    if (!emit(c, EV_CONNECTED, NULL, NULL)) return;
    int e = flush(c);
    if (e) fail(c, e, NULL, "write");
    return;
  }
  if (status < 0) {
    fail(c, socket_error(c, status), NULL, "read");
    return;
  }
  if (c->write_error) {
    fail(c, c->write_error, NULL, "write");
    return;
  }
  if (events & UV_WRITABLE) {
    int e = flush(c);
    if (e) {
      fail(c, e, NULL, "write");
      return;
    }
  }
  if (!(events & (UV_READABLE | UV_DISCONNECT))) return;
  char buffer[65536];
  for (;;) {
    ssize_t n = recv(c->fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      fail(c, errno, NULL, "read");
      return;
    }
    if (n == 0) {
      if (emit(c, EV_END, NULL, NULL)) close_conn(c);
      return;
    }
    napi_env env = c->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value data;
    void *copy;
    bool open = napi_create_buffer_copy(env, (size_t)n, buffer, &copy, &data) == napi_ok && emit(c, EV_DATA, data, NULL);
    napi_close_handle_scope(env, scope);
    if (!open || (size_t)n < sizeof buffer) return;
  }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *addresses) {
  struct conn *c = req->data;
  c->resolving = false;
  c->addresses = addresses;
  if (c->closing) {
    maybe_free(c);
    return;
  }
  if (status < 0) {
    // Node's names for them (ENOTFOUND for a name that does not exist).
    fail(c, 0, status == UV_EAI_NONAME || status == UV_EAI_NODATA ? "ENOTFOUND" : status == UV_EAI_AGAIN ? "EAI_AGAIN" : "EAI_FAIL", "getaddrinfo");
    return;
  }
  for (struct addrinfo *a = addresses; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) ((struct sockaddr_in *)a->ai_addr)->sin_port = htons((uint16_t)c->port);
    if (a->ai_family == AF_INET6) ((struct sockaddr_in6 *)a->ai_addr)->sin6_port = htons((uint16_t)c->port);
  }
  c->next = addresses;
  errno = EADDRNOTAVAIL;
  if (!try_next(c)) fail(c, errno, NULL, "connect");
}

static napi_value throw_connect(napi_env env, int err) {
  napi_value msg, error, value;
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_create_string_utf8(env, "connect", NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "syscall", value);
  napi_throw(env, error);
  return NULL;
}

static napi_value TcpConnect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char host[256];
  size_t host_len = 0;
  int32_t port = 0;
  napi_valuetype fn_type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3
      || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok || host_len == 0 || host_len >= sizeof host - 1
      || napi_get_value_int32(env, argv[1], &port) != napi_ok || port <= 0 || port > 65535
      || napi_typeof(env, argv[2], &fn_type) != napi_ok || fn_type != napi_function) {
    napi_throw_type_error(env, NULL, "tcpConnect(host, port, onEvent) needs a host, a port from 1 to 65535 and a function");
    return NULL;
  }
  int slot = 0;
  while (slot < SLOTS && slots[slot]) slot++;
  if (slot == SLOTS) return throw_connect(env, EMFILE);
  struct conn *c = calloc(1, sizeof *c);
  if (!c) return throw_connect(env, ENOMEM);
  c->env = env;
  c->fd = -1;
  c->slot = slot;
  c->port = port;
  c->referenced = true;
  napi_value name;
  napi_create_string_utf8(env, "sesame:tcp", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[2], 1, &c->on_event) != napi_ok) {
    free(c);
    return throw_connect(env, ENOMEM);
  }
  if (napi_async_init(env, NULL, name, &c->async) != napi_ok) {
    napi_delete_reference(env, c->on_event);
    free(c);
    return throw_connect(env, ENOMEM);
  }
  slots[slot] = c;
  struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
  bool started;
  if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
    started = start_connect(c, (struct sockaddr *)&v4, sizeof v4);
  } else if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
    started = start_connect(c, (struct sockaddr *)&v6, sizeof v6);
  } else {
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
    c->resolve.data = c;
    c->resolving = true;
    int err = uv_getaddrinfo(loop_of(env), &c->resolve, on_resolved, host, NULL, &hints);
    started = err == 0;
    if (!started) {
      c->resolving = false;
      errno = -err;
    }
  }
  if (!started) {
    int err = errno;
    close_conn(c);
    return throw_connect(env, err);
  }
  napi_value id;
  napi_create_int32(env, conn_id(c), &id);
  return id;
}

static napi_value TcpWrite(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *data = NULL;
  size_t length = 0;
  bool is_buffer = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2
      || napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer
      || napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "tcpWrite(id, buffer) needs a Buffer");
    return NULL;
  }
  struct conn *c = conn_of(env, argv[0]);
  if (!c) return NULL;  // closed: the caller has had its event
  if (!length || c->write_error) return NULL;
  char *grown = realloc(c->pending, c->pending_len + length);
  if (!grown) {
    c->write_error = ENOMEM;
    update_poll(c);
    return NULL;
  }
  c->pending = grown;
  memcpy(c->pending + c->pending_len, data, length);
  c->pending_len += length;
  // A failure is reported from the loop, as every other is: never from inside this call.
  if (c->connected) {
    c->write_error = flush(c);
    if (c->write_error) update_poll(c);
  }
  return NULL;
}

static napi_value TcpRef(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool ref = true;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_get_value_bool(env, argv[1], &ref) != napi_ok) {
    napi_throw_type_error(env, NULL, "tcpRef(id, ref) needs a boolean");
    return NULL;
  }
  struct conn *c = conn_of(env, argv[0]);
  if (!c) return NULL;
  c->referenced = ref;
  if (c->poll) {
    if (ref) uv_ref((uv_handle_t *)c->poll);
    else uv_unref((uv_handle_t *)c->poll);
  }
  return NULL;
}

static napi_value TcpClose(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  struct conn *c = conn_of(env, argv[0]);
  if (c) close_conn(c);
  return NULL;
}

void sesame_socket_init(napi_env env, napi_value exports) {
  if (!uv_poll_init_socket || !uv_poll_start || !uv_close || !uv_ref || !uv_unref || !uv_getaddrinfo || !uv_freeaddrinfo) return;
  napi_property_descriptor props[] = {
    { "tcpConnect", NULL, TcpConnect, NULL, NULL, NULL, napi_default, NULL },
    { "tcpWrite", NULL, TcpWrite, NULL, NULL, NULL, napi_default, NULL },
    { "tcpRef", NULL, TcpRef, NULL, NULL, NULL, napi_default, NULL },
    { "tcpClose", NULL, TcpClose, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
