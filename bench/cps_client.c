/*
 * The connections/s client of `npm run bench`: COUNT times, one after another, connect to
 * ADDR:5003, send one byte, read it back, close; then one JSON line like tcp_bench.py's
 * ({"test": "cps", "count", "seconds", "cpu"}). In C so that the client's own cost per
 * connection (tens of microseconds in Python) does not hide the stacks' (it bounded both the
 * kernel and pstack at about 7.6k/s). Bounded by COUNT and by a deadline (60 s).
 *
 *   cc -O2 -o cps_client bench/cps_client.c && ./cps_client 192.0.2.2 2000
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: cps_client ADDR COUNT\n");
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
  struct timeval timeout = {.tv_sec = 5};
  double c0 = cpu(), t0 = now(), deadline = t0 + 60;
  long done = 0;
  for (; done < count && now() < deadline; done++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    char byte = 'x';
    if (s < 0) { perror("cps_client: socket"); return 1; }
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(s, (struct sockaddr*)&to, sizeof to) != 0) { perror("cps_client: connect"); return 1; }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (write(s, &byte, 1) != 1) { perror("cps_client: write"); return 1; }
    byte = 0;
    if (read(s, &byte, 1) != 1 || byte != 'x') { fprintf(stderr, "cps_client: bad echo\n"); return 1; }
    close(s);
  }
  printf("{\"test\": \"cps\", \"count\": %ld, \"seconds\": %.6f, \"cpu\": %.3f}\n", done, now() - t0, cpu() - c0);
  return 0;
}
