// Test program for readiness probes (no nc, curl or python needed in CI):
//   netserve serve PORT LISTEN_AFTER_MS [OK_AFTER_MS]
//     opens nothing for LISTEN_AFTER_MS, then listens on 127.0.0.1:PORT and answers every
//     connection with an HTTP response: 503 until OK_AFTER_MS (counted from its start,
//     default 0), 200 after. Runs until killed.
//   netserve status PORT
//     connects to 127.0.0.1:PORT, sends a GET and prints "closed" (no connection) or the
//     HTTP status code it got ("200", "503"); always exits 0.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

static int serve(int port, long long listen_after, long long ok_after) {
  long long start = now_ms();
  signal(SIGPIPE, SIG_IGN);
  if (listen_after > 0) usleep((useconds_t)(listen_after * 1000));
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = loopback(port);
  if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 64) < 0) {
    perror("netserve: bind/listen");
    return 2;
  }
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    // A short read timeout: a TCP probe connects and closes without sending anything.
    struct timeval tv = { 0, 200000 };
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[2048];
    ssize_t got = read(c, buf, sizeof buf);
    if (got > 0) {
      const char *reply = now_ms() - start >= ok_after
        ? "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
        : "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 9\r\nConnection: close\r\n\r\nstarting\n";
      ssize_t ignored = write(c, reply, strlen(reply));
      (void)ignored;
    }
    close(c);
  }
}

static int status(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = loopback(port);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
    printf("closed\n");
    return 0;
  }
  const char *request = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  ssize_t ignored = write(s, request, strlen(request));
  (void)ignored;
  char buf[256];
  ssize_t n = 0, got;
  while (n < (ssize_t)sizeof buf - 1 && (got = read(s, buf + n, sizeof buf - 1 - n)) > 0) n += got;
  buf[n] = 0;
  int code = 0;
  if (sscanf(buf, "HTTP/%*s %d", &code) == 1) printf("%d\n", code);
  else printf("no answer\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "serve")) return serve(atoi(argv[2]), atoll(argv[3]), argc > 4 ? atoll(argv[4]) : 0);
  if (argc == 3 && !strcmp(argv[1], "status")) return status(atoi(argv[2]));
  fprintf(stderr, "usage: netserve serve PORT LISTEN_AFTER_MS [OK_AFTER_MS] | netserve status PORT\n");
  return 64;
}
