/*
 * Wakeup experiment: how a plain C echo responder on a TAP fares with different ways of
 * waiting for the next frame, with no Node, V8 or N-API in the way. Run by
 * bench/wakeup-experiment.sh, which builds it and pings it from the tap's host side.
 *
 *   wakeup-experiment TAP MODE SECONDS
 *
 * MODE:
 *   epoll   non-blocking fd, epoll_wait, drain with read() until EAGAIN (what libuv's uv_poll does)
 *   thread  a reader thread blocks in read() and hands each frame to the main thread, which
 *           sleeps in epoll_wait on an eventfd (a "reader thread + uv_async" design)
 *   spin    non-blocking read() in a loop, never sleeping (busy polling)
 *
 * It answers ICMP echo requests to any address (the host side adds a static neighbour for
 * it) by swapping addresses in place, and ignores everything else. Exits after SECONDS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static const uint8_t OUR_MAC[6] = {0x00, 0x00, 0x5e, 0x00, 0x53, 0x01};
static int tap_fd;
static double deadline;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void answer(uint8_t* f, ssize_t n) {
  if (n < 42 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4 || f[23] != 1) return;
  size_t ihl = (size_t)(f[14] & 15) * 4;
  uint8_t* icmp = f + 14 + ihl;
  if (14 + ihl + 8 > (size_t)n || icmp[0] != 8) return;
  uint8_t tmp[6];
  memcpy(f, f + 6, 6);
  memcpy(f + 6, OUR_MAC, 6);
  memcpy(tmp, f + 26, 4);
  memcpy(f + 26, f + 30, 4);
  memcpy(f + 30, tmp, 4);
  icmp[0] = 0;
  uint32_t sum = (uint32_t)((icmp[2] << 8) | icmp[3]) + 0x0800; /* RFC 1624: type 8 -> 0 */
  sum = (sum & 0xffff) + (sum >> 16);
  icmp[2] = sum >> 8;
  icmp[3] = sum & 0xff;
  if (write(tap_fd, f, n) < 0) perror("write");
}

static uint8_t slot[2048];
static ssize_t slot_len;
static atomic_int slot_full;
static int event_fd;

static void* reader(void* arg) {
  (void)arg;
  while (now() < deadline) {
    while (atomic_load(&slot_full)) { /* paced ping: the main thread is done long before */ }
    ssize_t n = read(tap_fd, slot, sizeof slot);
    if (n <= 0) continue;
    slot_len = n;
    atomic_store(&slot_full, 1);
    uint64_t one = 1;
    if (write(event_fd, &one, 8) < 0) perror("eventfd");
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s TAP epoll|thread|spin SECONDS\n", argv[0]);
    return 2;
  }
  const char* mode = argv[2];
  deadline = now() + atof(argv[3]);
  int blocking = strcmp(mode, "thread") == 0;
  tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (blocking ? 0 : O_NONBLOCK));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (tap_fd < 0 || ioctl(tap_fd, TUNSETIFF, &ifr) < 0) {
    perror("tap");
    return 1;
  }
  fprintf(stderr, "ready\n");
  uint8_t buf[2048];
  if (strcmp(mode, "spin") == 0) {
    while (now() < deadline) {
      ssize_t n = read(tap_fd, buf, sizeof buf);
      if (n > 0) answer(buf, n);
    }
    return 0;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN};
  if (blocking) {
    /* A blocked read() is not woken by close(): the thread runs until the deadline and the
     * process exits with it still blocked, which is fine for an experiment. */
    event_fd = eventfd(0, EFD_NONBLOCK);
    epoll_ctl(ep, EPOLL_CTL_ADD, event_fd, &ev);
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);
    pthread_detach(th);
  } else {
    epoll_ctl(ep, EPOLL_CTL_ADD, tap_fd, &ev);
  }
  while (now() < deadline) {
    if (epoll_wait(ep, &ev, 1, 100) <= 0) continue;
    if (blocking) {
      uint64_t count;
      if (read(event_fd, &count, 8) < 0) continue;
      if (atomic_load(&slot_full)) {
        answer(slot, slot_len);
        atomic_store(&slot_full, 0);
      }
      continue;
    }
    for (;;) {
      ssize_t n = read(tap_fd, buf, sizeof buf);
      if (n <= 0) break;
      answer(buf, n);
    }
  }
  return 0;
}
