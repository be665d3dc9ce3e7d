/*
 * The connections/s client of `npm run bench`: COUNT connections to ADDR:5003, each one connect,
 * send one byte, read it back, close; then one JSON line like tcp_bench.py's
 * ({"test": "cps", "count", "seconds", "cpu"}). In C so that the client's own cost per
 * connection (tens of microseconds in Python) does not hide the stacks' (it bounded both the
 * kernel and pstack at about 7.6k/s). Bounded by COUNT and by a deadline (60 s).
 *
 * IN_FLIGHT (default 1) is how many connections are open at once. With 1 they run one after
 * another with blocking calls, so the rate is one connection's latency: two round trips, each
 * with a wake-up of the client and of the server. With more, one thread keeps that many going
 * with non-blocking sockets and epoll, so the rate is what the server can take: its work per
 * connection, not the wake-ups.
 *
 *   cc -O2 -o cps_client bench/cps_client.c && ./cps_client 192.0.2.2 2000 [IN_FLIGHT]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_IN_FLIGHT 256

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
         (double)u.ru_stime.tv_usec / 1e6;
}

static int fail(const char* what) {
  perror(what);
  return 1;
}

/* One connection after another, blocking calls. Returns connections completed, -1 on error. */
static long one_at_a_time(const struct sockaddr_in* to, long count, double deadline) {
  struct timeval timeout = {.tv_sec = 5};
  long done = 0;
  for (; done < count && now() < deadline; done++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    char byte = 'x';
    if (s < 0) return fail("cps_client: socket"), -1;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(s, (const struct sockaddr*)to, sizeof *to) != 0) return fail("cps_client: connect"), -1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (write(s, &byte, 1) != 1) return fail("cps_client: write"), -1;
    byte = 0;
    if (read(s, &byte, 1) != 1 || byte != 'x') return fprintf(stderr, "cps_client: bad echo\n"), -1;
    close(s);
  }
  return done;
}

/* Opens a non-blocking connection and registers it for "connected" (writable). */
static int open_one(int ep, const struct sockaddr_in* to) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  if (s < 0) return fail("cps_client: socket"), -1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(s, (const struct sockaddr*)to, sizeof *to) != 0 && errno != EINPROGRESS)
    return fail("cps_client: connect"), -1;
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = s};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) != 0) return fail("cps_client: epoll_ctl"), -1;
  return 0;
}

/* IN_FLIGHT connections at once: connected -> send the byte and wait for it; echoed -> close
 * and open the next. Returns connections completed, -1 on error. */
static long many_at_once(const struct sockaddr_in* to, long count, long in_flight, double deadline) {
  int ep = epoll_create1(0);
  if (ep < 0) return fail("cps_client: epoll_create1"), -1;
  long opened = 0, done = 0;
  for (; opened < in_flight && opened < count; opened++)
    if (open_one(ep, to) != 0) return -1;
  struct epoll_event events[MAX_IN_FLIGHT];
  while (done < count) {
    if (now() >= deadline) break;
    int n = epoll_wait(ep, events, MAX_IN_FLIGHT, 5000);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fprintf(stderr, "cps_client: no progress for 5 s\n"), -1;
    for (int i = 0; i < n; i++) {
      int s = events[i].data.fd;
      if (events[i].events & EPOLLOUT) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return errno = err, fail("cps_client: connect"), -1;
        char byte = 'x';
        if (write(s, &byte, 1) != 1) return fail("cps_client: write"), -1;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) != 0) return fail("cps_client: epoll_ctl"), -1;
      } else {
        char byte = 0;
        if (read(s, &byte, 1) != 1 || byte != 'x') return fprintf(stderr, "cps_client: bad echo\n"), -1;
        close(s); /* also leaves the epoll set */
        done++;
        if (opened < count) {
          if (open_one(ep, to) != 0) return -1;
          opened++;
        }
      }
    }
  }
  close(ep);
  return done;
}

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: cps_client ADDR COUNT [IN_FLIGHT]\n");
    return 2;
  }
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(5003)};
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
    fprintf(stderr, "cps_client: bad address %s\n", argv[1]);
    return 2;
  }
  long count = strtol(argv[2], NULL, 10);
  if (count < 1 || count > 1000000) {
    fprintf(stderr, "cps_client: COUNT must be 1..1000000\n");
    return 2;
  }
  long in_flight = argc == 4 ? strtol(argv[3], NULL, 10) : 1;
  if (in_flight < 1 || in_flight > MAX_IN_FLIGHT) {
    fprintf(stderr, "cps_client: IN_FLIGHT must be 1..%d\n", MAX_IN_FLIGHT);
    return 2;
  }
  double c0 = cpu(), t0 = now(), deadline = t0 + 60;
  long done = in_flight == 1 ? one_at_a_time(&to, count, deadline) : many_at_once(&to, count, in_flight, deadline);
  if (done < 0) return 1;
  printf("{\"test\": \"cps\", \"count\": %ld, \"seconds\": %.6f, \"cpu\": %.3f}\n", done, now() - t0, cpu() - c0);
  return 0;
}
