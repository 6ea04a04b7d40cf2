// socket.c: TCP and TLS connections on Node's event loop, for init's HTTP client.
#pragma once
#include <node_api.h>

/** Adds tcpConnect, tcpWrite, tcpRef and tcpClose to `exports` when libuv's calls are found, and tlsContext when OpenSSL's are. */
void sesame_socket_init(napi_env env, napi_value exports);
