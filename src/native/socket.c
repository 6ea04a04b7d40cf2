// TCP and TLS connections for init's HTTP client (src/secrets/socket.ts), on the event
// loop Node already runs: a non-blocking socket watched by a uv_poll_t, and for TLS the
// OpenSSL inside the Node binary driven over it. For a plain-HTTP Vault, node:net costs
// every start ~3 ms before the first byte is sent (it loads the twenty modules of
// node:stream, and its first connect() sets up what a Socket needs); for TLS node:tls
// adds node:crypto and its own layers, ~6 ms more. This costs none of it. The HTTP itself
// stays in JavaScript.
//
//   tlsContext(ca, cert, key) -> ctx        an OpenSSL context: the CAs to trust (PEM
//                                           Buffers), the client certificate chain and key
//                                           (PEM, or undefined); TLS 1.2 at least. The
//                                           server is verified when tcpConnect is given
//                                           an identity to check. Throws if OpenSSL
//                                           refuses them (the caller then uses node:tls,
//                                           whose error says why)
//   tcpConnect(host, port, onEvent[, ctx, servername, identity]) -> id
//                                           connects to an IP address, or to each address
//                                           of a host name in turn (getaddrinfo on libuv's
//                                           pool) until one accepts; with ctx, then the
//                                           TLS handshake: SNI `servername` (none if
//                                           empty), and the certificate checked against
//                                           `identity` (a host name or an IP address), as
//                                           Node's checkServerIdentity does
//   tcpWrite(id, buffer)                    sends it all, in order (what the socket does
//                                           not take at once is kept and sent when it can)
//   tcpRef(id, ref)                         whether the connection keeps the loop alive
//   tcpClose(id)                            closes it; no event comes after this
//
// onEvent(kind, value, syscall): 0 connected; 4 through the TLS handshake; 1 data (a
// Buffer); 2 the server closed its side; 3 failed: value is an errno number (connect,
// read, write), a getaddrinfo code name (ENOTFOUND, EAI_AGAIN...), or for TLS an object
// { code, message, reason } with Node's code for the failure (CERT_HAS_EXPIRED,
// ERR_TLS_CERT_ALTNAME_INVALID, ERR_SSL_WRONG_VERSION_NUMBER...). The connection is
// closed after 2 and 3.
//
// The uv_* and OpenSSL functions are the ones the Node binary exports to addons; each is
// looked up weakly, and without them (a Node that does not export them) tcpConnect or
// tlsContext is absent and init uses node:net or node:tls.
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
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "socket.h"

#pragma weak uv_poll_init_socket
#pragma weak uv_poll_start
#pragma weak uv_close
#pragma weak uv_is_closing
#pragma weak uv_ref
#pragma weak uv_unref
#pragma weak uv_getaddrinfo
#pragma weak uv_freeaddrinfo
#pragma weak TLS_client_method
#pragma weak SSL_CTX_new
#pragma weak SSL_CTX_free
#pragma weak SSL_CTX_up_ref
#pragma weak SSL_CTX_ctrl
#pragma weak SSL_CTX_set_options
#pragma weak SSL_CTX_set_verify
#pragma weak SSL_CTX_set_cipher_list
#pragma weak SSL_CTX_get_cert_store
#pragma weak SSL_CTX_use_certificate
#pragma weak SSL_CTX_use_PrivateKey
#pragma weak SSL_CTX_check_private_key
#pragma weak X509_STORE_add_cert
#pragma weak BIO_new_mem_buf
#pragma weak BIO_free
#pragma weak PEM_read_bio_X509
#pragma weak PEM_read_bio_PrivateKey
#pragma weak X509_free
#pragma weak EVP_PKEY_free
#pragma weak SSL_new
#pragma weak SSL_free
#pragma weak SSL_set_fd
#pragma weak SSL_ctrl
#pragma weak X509_check_host
#pragma weak X509_check_ip_asc
#pragma weak SSL_connect
#pragma weak SSL_read
#pragma weak SSL_write
#pragma weak SSL_get_error
#pragma weak SSL_get_verify_result
#pragma weak SSL_get0_peer_certificate
#pragma weak X509_get_ext_d2i
#pragma weak OPENSSL_sk_num
#pragma weak OPENSSL_sk_value
#pragma weak GENERAL_NAMES_free
#pragma weak ASN1_STRING_get0_data
#pragma weak ASN1_STRING_length
#pragma weak X509_verify_cert_error_string
#pragma weak ERR_peek_last_error
#pragma weak ERR_error_string_n
#pragma weak ERR_reason_error_string
#pragma weak ERR_clear_error

enum { EV_CONNECTED = 0, EV_DATA = 1, EV_END = 2, EV_ERROR = 3, EV_SECURE = 4 };

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
  // TLS: the context (a reference of its own), then the session once connected.
  SSL_CTX *ctx;
  SSL *ssl;
  bool handshaken;
  int ssl_wants;               // what the last SSL call waits for: UV_READABLE or UV_WRITABLE
  bool write_wants_read;       // an SSL_write that waits for the socket to be readable
  char *servername;            // SNI, or NULL
  char *identity;              // what the certificate must name, or NULL (not verified)
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
  if (c->ssl) SSL_free(c->ssl);
  if (c->ctx) SSL_CTX_free(c->ctx);
  free(c->servername);
  free(c->identity);
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
  if (c->poll && !uv_is_closing((uv_handle_t *)c->poll)) {
    c->poll->data = keep_conn_waiting ? c : NULL;
    uv_close((uv_handle_t *)c->poll, on_poll_closed);
    if (!keep_conn_waiting) c->poll = NULL;
  }
  if (c->fd >= 0) {
    // What the server sent and nobody read is read first: closing over unread bytes makes
    // the kernel answer with a reset instead of an orderly close (node:net reads eagerly,
    // so a server sees the same from it). A TLS alert or a plain-HTTP 400 is such.
    char sink[16384];
    for (size_t total = 0; total < 256 * 1024;) {
      ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
      if (n <= 0) break;
      total += (size_t)n;
    }
    close(c->fd);
  }
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

// Reports the failure (`value`: an errno, a code name or a TLS error object) and closes;
// `c` is gone after it.
static void fail_with(struct conn *c, napi_value value, const char *syscall) {
  // Closed before JavaScript hears of it, as node:net's destroy() closes at once: what
  // runs on the event may end the process.
  drop_socket(c, true);
  if (emit(c, EV_ERROR, value, syscall)) close_conn(c);
}

static void fail(struct conn *c, int err, const char *code, const char *syscall) {
  napi_handle_scope scope;
  napi_env env = c->env;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value value;
  if (code) napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &value);
  else napi_create_int32(env, err, &value);
  fail_with(c, value, syscall);
  napi_close_handle_scope(env, scope);
}

static void on_poll(uv_poll_t *handle, int status, int events);

static void update_poll(struct conn *c) {
  if (!c->poll || uv_is_closing((uv_handle_t *)c->poll)) return;  // failed: the event is on its way
  int events = UV_READABLE;
  if (c->ssl && !c->handshaken) events = c->ssl_wants;
  else if (!c->connected || c->pending_len || c->write_error || (c->ssl_wants & UV_WRITABLE)) events |= UV_WRITABLE;
  if (c->write_wants_read) events = (events & ~UV_WRITABLE) | UV_READABLE;
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

// ---- TLS failures, with Node's codes (node:tls's errors for the same failures).

// X509_V_ERR_* as Node names them (crypto_common.cc, X509ErrorCode).
static const char *x509_code(long v) {
  switch (v) {
#define X(name) case X509_V_ERR_##name: return #name;
    X(UNABLE_TO_GET_ISSUER_CERT) X(UNABLE_TO_GET_CRL) X(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    X(UNABLE_TO_DECRYPT_CRL_SIGNATURE) X(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY) X(CERT_SIGNATURE_FAILURE)
    X(CRL_SIGNATURE_FAILURE) X(CERT_NOT_YET_VALID) X(CERT_HAS_EXPIRED) X(CRL_NOT_YET_VALID)
    X(CRL_HAS_EXPIRED) X(ERROR_IN_CERT_NOT_BEFORE_FIELD) X(ERROR_IN_CERT_NOT_AFTER_FIELD)
    X(ERROR_IN_CRL_LAST_UPDATE_FIELD) X(ERROR_IN_CRL_NEXT_UPDATE_FIELD) X(OUT_OF_MEM)
    X(DEPTH_ZERO_SELF_SIGNED_CERT) X(SELF_SIGNED_CERT_IN_CHAIN) X(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    X(UNABLE_TO_VERIFY_LEAF_SIGNATURE) X(CERT_CHAIN_TOO_LONG) X(CERT_REVOKED) X(INVALID_CA)
    X(PATH_LENGTH_EXCEEDED) X(INVALID_PURPOSE) X(CERT_UNTRUSTED) X(CERT_REJECTED)
#undef X
    default: return "UNSPECIFIED";
  }
}

// The certificate's names as node:tls lists them in its message: its subjectaltname
// ("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"), or for an address
// only the addresses ("127.0.0.1, ::1").
static void alt_names(SSL *ssl, char *out, size_t size, bool addresses_only) {
  out[0] = 0;
  X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
  GENERAL_NAMES *names = cert ? X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL) : NULL;
  if (!names) return;
  size_t used = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && used < size; i++) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
    char item[300] = "";
    if (addresses_only) {
      if (name->type == GEN_IPADD) {
        int length = ASN1_STRING_length(name->d.iPAddress);
        if (length == 4 || length == 16) inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(name->d.iPAddress), item, sizeof item);
      }
    } else if (name->type == GEN_DNS) {
      snprintf(item, sizeof item, "DNS:%.*s", ASN1_STRING_length(name->d.dNSName), (const char *)ASN1_STRING_get0_data(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      const unsigned char *ip = ASN1_STRING_get0_data(name->d.iPAddress);
      int length = ASN1_STRING_length(name->d.iPAddress);
      if (length == 4) snprintf(item, sizeof item, "IP Address:%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
      if (length == 16) {
        size_t n = (size_t)snprintf(item, sizeof item, "IP Address:");
        for (int g = 0; g < 8; g++) n += (size_t)snprintf(item + n, sizeof item - n, g ? ":%X" : "%X", (unsigned)(ip[2 * g] << 8 | ip[2 * g + 1]));
      }
    } else if (name->type == GEN_URI) {
      snprintf(item, sizeof item, "URI:%.*s", ASN1_STRING_length(name->d.uniformResourceIdentifier), (const char *)ASN1_STRING_get0_data(name->d.uniformResourceIdentifier));
    }
    if (!item[0]) continue;
    used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", item);
  }
  GENERAL_NAMES_free(names);
}

static void set_string(napi_env env, napi_value object, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, object, key, v);
}

// Reports a failed SSL call (SSL_get_error's `error`), or a certificate that failed
// verification (`verify`, an X509_V_ERR_*), as node:tls would, and closes.
static void fail_tls(struct conn *c, int error, const char *syscall, long verify) {
  int saved_errno = errno;
  unsigned long e = ERR_peek_last_error();
  // The server closing during the handshake, cleanly or not.
  if (error == SSL_ERROR_ZERO_RETURN && !c->handshaken) error = SSL_ERROR_SYSCALL, saved_errno = 0, e = 0;
  if (error == SSL_ERROR_SYSCALL && !e) {
    ERR_clear_error();
    // The server went away: during the handshake Node says so in these words.
    if (!saved_errno || saved_errno == ECONNRESET || saved_errno == EPIPE) {
      if (c->handshaken) fail(c, saved_errno ? saved_errno : ECONNRESET, NULL, syscall);
      else fail(c, 0, "ECONNRESET", "handshake");
    } else {
      fail(c, saved_errno, NULL, syscall);
    }
    return;
  }
  napi_env env = c->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value object;
  napi_create_object(env, &object);
  char text[1024];
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    // node:tls's checkServerIdentity, word for word.
    char names[700];
    alt_names(c->ssl, names, sizeof names, verify == X509_V_ERR_IP_ADDRESS_MISMATCH);
    set_string(env, object, "code", "ERR_TLS_CERT_ALTNAME_INVALID");
    char reason[900];
    snprintf(reason, sizeof reason, verify == X509_V_ERR_IP_ADDRESS_MISMATCH ? "IP: %s is not in the cert's list: %s" : "Host: %s. is not in the cert's altnames: %s", c->identity ? c->identity : "", names);
    snprintf(text, sizeof text, "Hostname/IP does not match certificate's altnames: %s", reason);
    set_string(env, object, "message", text);
    set_string(env, object, "reason", reason);
  } else if (verify != X509_V_OK) {
    set_string(env, object, "code", x509_code(verify));
    set_string(env, object, "message", X509_verify_cert_error_string(verify));
  } else {
    // Node's ERR_SSL_<REASON>: "wrong version number" is ERR_SSL_WRONG_VERSION_NUMBER.
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    char code[160] = "ERR_SSL_";
    size_t n = strlen(code);
    for (const char *r = reason ? reason : "unknown"; *r && n < sizeof code - 1; r++, n++) {
      char ch = *r;
      code[n] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) ? ch : '_';
    }
    code[n] = 0;
    set_string(env, object, "code", code);
    if (e) ERR_error_string_n(e, text, sizeof text); else snprintf(text, sizeof text, "TLS failure (SSL error %d)", error);
    set_string(env, object, "message", text);
    if (reason) set_string(env, object, "reason", reason);
  }
  ERR_clear_error();
  fail_with(c, object, syscall);
  napi_close_handle_scope(env, scope);
}

// Sends what is pending; 0, an errno of a failed send, or -1 for a failed SSL_write (said).
static int flush(struct conn *c) {
  while (c->pending_len) {
    ssize_t n;
    if (c->ssl) {
      if (!c->handshaken) break;
      ERR_clear_error();
      int r = SSL_write(c->ssl, c->pending, (int)(c->pending_len > 1 << 30 ? 1 << 30 : c->pending_len));
      c->write_wants_read = false;
      if (r <= 0) {
        int error = SSL_get_error(c->ssl, r);
        if (error == SSL_ERROR_WANT_WRITE) break;
        if (error == SSL_ERROR_WANT_READ) {
          c->write_wants_read = true;
          break;
        }
        fail_tls(c, error, "write", X509_V_OK);
        return -1;
      }
      n = r;
    } else {
      n = send(c->fd, c->pending, c->pending_len, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return errno;
      }
    }
    memmove(c->pending, c->pending + n, c->pending_len - (size_t)n);
    c->pending_len -= (size_t)n;
  }
  update_poll(c);
  return 0;
}

// The handshake, as far as the socket lets it go. False if the connection is gone.
static bool handshake(struct conn *c) {
  ERR_clear_error();
  int r = SSL_connect(c->ssl);
  if (r == 1) {
    // As node:tls: the handshake runs to its end, then a server whose certificate does
    // not verify (chain, validity, name) is dropped before anything is sent to it.
    // The chain first; then, if it is good, the name (checkServerIdentity in node:tls).
    X509 *peer = SSL_get0_peer_certificate(c->ssl);
    long verify = !c->identity ? X509_V_OK : !peer ? X509_V_ERR_UNSPECIFIED : SSL_get_verify_result(c->ssl);
    if (verify == X509_V_OK && c->identity) {
      struct in6_addr ip;
      bool is_ip = inet_pton(AF_INET, c->identity, &ip) == 1 || inet_pton(AF_INET6, c->identity, &ip) == 1;
      // Node's rules: a wildcard stands for one whole left-most label, no more.
      if (is_ip ? X509_check_ip_asc(peer, c->identity, 0) != 1 : X509_check_host(peer, c->identity, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1) {
        verify = is_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH;
      }
    }
    if (verify != X509_V_OK) {
      fail_tls(c, SSL_ERROR_SSL, "handshake", verify);
      return false;
    }
    c->handshaken = true;
    c->ssl_wants = 0;
    if (!emit(c, EV_SECURE, NULL, NULL)) return false;
    int e = flush(c);
    if (e > 0) fail(c, e, NULL, "write");
    return e == 0;
  }
  int error = SSL_get_error(c->ssl, r);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    c->ssl_wants = error == SSL_ERROR_WANT_READ ? UV_READABLE : UV_WRITABLE;
    update_poll(c);
    return true;
  }
  fail_tls(c, error, "handshake", X509_V_OK);
  return false;
}

// A session on the connected socket: SNI, the name or address to check, then the handshake.
static bool start_tls(struct conn *c) {
  c->ssl = SSL_new(c->ctx);
  if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
    fail_tls(c, SSL_ERROR_SSL, "handshake", X509_V_OK);
    return false;
  }
  // SNI with a host name only, never an IP address (RFC 6066 §3), as node:tls.
  struct in6_addr ip;
  if (c->servername && inet_pton(AF_INET, c->servername, &ip) != 1 && inet_pton(AF_INET6, c->servername, &ip) != 1) SSL_set_tlsext_host_name(c->ssl, c->servername);
  return handshake(c);
}

// Reads what the server sent (through TLS when there is a session). False if it is gone.
static bool read_all(struct conn *c) {
  char buffer[65536];
  for (;;) {
    ssize_t n;
    if (c->ssl) {
      ERR_clear_error();
      int r = SSL_read(c->ssl, buffer, sizeof buffer);
      if (r <= 0) {
        int error = SSL_get_error(c->ssl, r);
        if (error == SSL_ERROR_WANT_READ) return true;
        if (error == SSL_ERROR_WANT_WRITE) {
          c->ssl_wants = UV_WRITABLE;
          update_poll(c);
          return true;
        }
        if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && !ERR_peek_last_error() && errno == 0)) n = 0;
        else {
          fail_tls(c, error, "read", X509_V_OK);
          return false;
        }
      } else {
        n = r;
      }
    } else {
      n = recv(c->fd, buffer, sizeof buffer, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        fail(c, errno, NULL, "read");
        return false;
      }
    }
    if (n == 0) {
      if (emit(c, EV_END, NULL, NULL)) close_conn(c);
      return false;
    }
    napi_env env = c->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
    napi_value data;
    void *copy;
    bool open = napi_create_buffer_copy(env, (size_t)n, buffer, &copy, &data) == napi_ok && emit(c, EV_DATA, data, NULL);
    napi_close_handle_scope(env, scope);
    if (!open) return false;
    // A short read drained the socket; TLS may still hold a decrypted record.
    if (!c->ssl && (size_t)n < sizeof buffer) return true;
  }
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
    if (c->ctx) {
      start_tls(c);
      return;
    }
    int e = flush(c);
    if (e) fail(c, e, NULL, "write");
    return;
  }
  // libuv says only "error" (UV_EBADF) for a POLLERR, even with bytes still to read: what
  // came before the reset is read first (a TLS alert, the end of an answer), as node:net
  // reads it, and the socket's own error is reported after.
  if (c->ssl && !c->handshaken) {
    if (handshake(c) && status < 0) fail(c, socket_error(c, status), NULL, "read");
    return;
  }
  if (status < 0) {
    if (read_all(c)) fail(c, socket_error(c, status), NULL, "read");
    return;
  }
  if (c->write_error) {
    if (read_all(c)) fail(c, c->write_error, NULL, "write");
    return;
  }
  // An SSL_read that had to write (a TLS 1.3 key update) goes on once the socket can.
  bool read_waits = (c->ssl_wants & UV_WRITABLE) && (events & UV_WRITABLE);
  if ((events & UV_WRITABLE) || (c->write_wants_read && (events & UV_READABLE))) {
    c->ssl_wants = 0;
    int e = flush(c);
    if (e > 0) fail(c, e, NULL, "write");
    if (e) return;
  }
  if (!(events & (UV_READABLE | UV_DISCONNECT)) && !read_waits) return;
  read_all(c);
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

// A copy of a string argument, or NULL for an empty one or none.
static char *string_arg(napi_env env, napi_value value) {
  size_t length = 0;
  napi_valuetype type = napi_undefined;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string || napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok || !length) return NULL;
  char *text = malloc(length + 1);
  if (text) napi_get_value_string_utf8(env, value, text, length + 1, &length);
  return text;
}

static napi_value TcpConnect(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
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
  napi_valuetype ctx_type = napi_undefined;
  if (argc >= 4 && napi_typeof(env, argv[3], &ctx_type) == napi_ok && ctx_type == napi_external) {
    void *ctx = NULL;
    napi_get_value_external(env, argv[3], &ctx);
    if (ctx && SSL_CTX_up_ref(ctx) == 1) c->ctx = ctx;
    if (!c->ctx) {
      free(c);
      return throw_connect(env, EINVAL);
    }
    if (argc >= 5) c->servername = string_arg(env, argv[4]);
    if (argc >= 6) c->identity = string_arg(env, argv[5]);
  }
  napi_value name;
  napi_create_string_utf8(env, "sesame:tcp", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[2], 1, &c->on_event) != napi_ok || napi_async_init(env, NULL, name, &c->async) != napi_ok) {
    if (c->on_event) napi_delete_reference(env, c->on_event);
    if (c->ctx) SSL_CTX_free(c->ctx);
    free(c->servername);
    free(c->identity);
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
  if (!c || c->fd < 0) return NULL;  // closed: the caller has had its event, or is getting it
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
  // Plain TCP sends at once (send() only returns an errno); TLS on the next turn of the
  // loop, where a failed SSL_write can be reported (the socket is writable at once).
  if (c->connected && !c->ssl) {
    c->write_error = flush(c);
    if (c->write_error) update_poll(c);
  } else {
    update_poll(c);
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

static void free_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  SSL_CTX_free(data);
}

// Never a prompt on the terminal for an encrypted key: PID 1 has nobody to ask.
static int no_passphrase(char *buffer, int size, int rwflag, void *user) {
  (void)buffer;
  (void)size;
  (void)rwflag;
  (void)user;
  return -1;
}

// The certificates in a PEM Buffer, each given to `use` (which takes it); how many, or -1.
static int each_certificate(napi_env env, napi_value buffer, bool (*use)(SSL_CTX *, X509 *, int), SSL_CTX *ctx) {
  void *data = NULL;
  size_t length = 0;
  bool is_buffer = false;
  if (napi_is_buffer(env, buffer, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, buffer, &data, &length) != napi_ok || length > INT32_MAX) return -1;
  BIO *bio = BIO_new_mem_buf(data, (int)length);
  if (!bio) return -1;
  int count = 0;
  X509 *cert;
  while ((cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
    if (!use(ctx, cert, count++)) {
      BIO_free(bio);
      return -1;
    }
  }
  BIO_free(bio);
  ERR_clear_error();  // the end of the text reads as "no start line"
  return count;
}

static bool trust(SSL_CTX *ctx, X509 *cert, int index) {
  (void)index;
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert);  // a duplicate is no harm
  X509_free(cert);
  return true;
}

static bool present(SSL_CTX *ctx, X509 *cert, int index) {
  if (index == 0) {
    int ok = SSL_CTX_use_certificate(ctx, cert);
    X509_free(cert);
    return ok == 1;
  }
  if (SSL_CTX_add_extra_chain_cert(ctx, cert) != 1) {  // takes it
    X509_free(cert);
    return false;
  }
  return true;
}

// As node:tls's: every check runs, each failure replacing the one before it, so that the
// result is the last one found (an expired certificate of the wrong purpose is "expired").
static int check_everything(int ok, X509_STORE_CTX *store) {
  (void)ok;
  (void)store;
  return 1;
}

// node:tls's default cipher list for TLS 1.2 (Node 24, tls.DEFAULT_CIPHERS; TLS 1.3's
// suites are OpenSSL's, as in Node): what init's connections offer, whichever makes them.
#define NODE_CIPHERS "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:" \
  "ECDHE-RSA-AES128-SHA256:DHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:DHE-RSA-AES256-SHA384:ECDHE-RSA-AES256-SHA256:" \
  "DHE-RSA-AES256-SHA256:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!SRP:!CAMELLIA"

static napi_value TlsContext(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  bool is_array = false, is_buffer = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "tlsContext(ca, cert, key) needs an array of Buffers");
    return NULL;
  }
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  const char *problem = ctx ? NULL : "SSL_CTX_new";
  if (!problem) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // The pending bytes move as they are sent (memmove); an EOF without close_notify ends
    // the answer as the end of the connection does.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    // Checked once the handshake is through (handshake()), as node:tls checks it.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, check_everything);
    if (SSL_CTX_set_cipher_list(ctx, NODE_CIPHERS) != 1) problem = "the cipher list";
    uint32_t n = 0;
    napi_get_array_length(env, argv[0], &n);
    for (uint32_t i = 0; i < n && !problem; i++) {
      napi_value item;
      napi_get_element(env, argv[0], i, &item);
      if (each_certificate(env, item, trust, ctx) <= 0) problem = "a CA has no certificate in it";
    }
  }
  if (!problem && napi_is_buffer(env, argv[1], &is_buffer) == napi_ok && is_buffer) {
    if (each_certificate(env, argv[1], present, ctx) <= 0) problem = "the client certificate";
    void *data = NULL;
    size_t length = 0;
    if (!problem && (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, argv[2], &data, &length) != napi_ok || length > INT32_MAX)) problem = "the client key";
    if (!problem) {
      BIO *bio = BIO_new_mem_buf(data, (int)length);
      EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
      if (bio) BIO_free(bio);
      if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) problem = "the client key";
      if (key) EVP_PKEY_free(key);
    }
  }
  if (problem) {
    char text[300];
    unsigned long e = ERR_peek_last_error();
    char detail[256] = "";
    if (e) ERR_error_string_n(e, detail, sizeof detail);
    snprintf(text, sizeof text, "tlsContext: %s%s%s", problem, e ? ": " : "", detail);
    ERR_clear_error();
    if (ctx) SSL_CTX_free(ctx);
    napi_throw_error(env, NULL, text);
    return NULL;
  }
  napi_value external;
  if (napi_create_external(env, ctx, free_context, NULL, &external) != napi_ok) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  return external;
}

// The OpenSSL calls socket.c makes: all found, or TLS is left to node:tls.
static bool have_openssl(void) {
  return TLS_client_method && SSL_CTX_new && SSL_CTX_free && SSL_CTX_up_ref && SSL_CTX_ctrl && SSL_CTX_set_options && SSL_CTX_set_verify && SSL_CTX_set_cipher_list
    && SSL_CTX_get_cert_store && SSL_CTX_use_certificate && SSL_CTX_use_PrivateKey && SSL_CTX_check_private_key && X509_STORE_add_cert
    && BIO_new_mem_buf && BIO_free && PEM_read_bio_X509 && PEM_read_bio_PrivateKey && X509_free && EVP_PKEY_free && SSL_new && SSL_free
    && SSL_set_fd && SSL_ctrl && X509_check_host && X509_check_ip_asc && SSL_connect
    && SSL_read && SSL_write && SSL_get_error && SSL_get_verify_result && SSL_get0_peer_certificate && X509_get_ext_d2i && OPENSSL_sk_num && OPENSSL_sk_value && GENERAL_NAMES_free
    && ASN1_STRING_get0_data && ASN1_STRING_length && X509_verify_cert_error_string 
    && ERR_peek_last_error && ERR_error_string_n && ERR_reason_error_string && ERR_clear_error;
}

void sesame_socket_init(napi_env env, napi_value exports) {
  if (!uv_poll_init_socket || !uv_poll_start || !uv_close || !uv_is_closing || !uv_ref || !uv_unref || !uv_getaddrinfo || !uv_freeaddrinfo) return;
  napi_property_descriptor props[] = {
    { "tcpConnect", NULL, TcpConnect, NULL, NULL, NULL, napi_default, NULL },
    { "tcpWrite", NULL, TcpWrite, NULL, NULL, NULL, napi_default, NULL },
    { "tcpRef", NULL, TcpRef, NULL, NULL, NULL, napi_default, NULL },
    { "tcpClose", NULL, TcpClose, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (!have_openssl()) return;
  napi_property_descriptor tls = { "tlsContext", NULL, TlsContext, NULL, NULL, NULL, napi_default, NULL };
  napi_define_properties(env, exports, 1, &tls);
}
