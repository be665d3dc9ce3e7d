/*
 * tap-blast: a load generator for bench/tap-read.ts, not part of the addon.
 *
 * Sends copies of one Ethernet frame (IPv4/UDP 192.0.2.9 -> 192.0.2.1, documentation range)
 * out of an interface through an AF_PACKET socket, for a bounded time. Sent on the host side
 * of a tap, every frame goes straight to the process holding the tap's fd, which is the read
 * path being measured. sendmmsg and PACKET_QDISC_BYPASS keep the sender cheaper than the
 * reader, so the reader's speed is what gets measured.
 *
 * usage: tap-blast IFNAME SECONDS [PPS] [FRAME_LENGTH] [COUNT]
 *   PPS 0 (default) means as fast as possible. SECONDS is capped at 10. With COUNT it stops
 *   after COUNT frames (or SECONDS, whichever comes first).
 * Prints "sent N errors M seconds S" on exit.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t ip_checksum(const uint8_t* header, size_t length) {
  uint32_t sum = 0;
  for (size_t i = 0; i < length; i += 2) sum += (uint32_t)(header[i] << 8 | header[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s IFNAME SECONDS [PPS] [FRAME_LENGTH] [COUNT]\n", argv[0]);
    return 2;
  }
  const char* ifname = argv[1];
  double seconds = atof(argv[2]);
  double pps = argc > 3 ? atof(argv[3]) : 0;
  int frame_length = argc > 4 ? atoi(argv[4]) : 1514;
  unsigned long long count_limit = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
  if (seconds <= 0 || seconds > 10) seconds = seconds <= 0 ? 1 : 10;
  if (frame_length < 60 || frame_length > 1514) frame_length = 1514;

  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) {
    fprintf(stderr, "tap-blast: no interface %s: %s\n", ifname, strerror(errno));
    return 1;
  }
  /* Protocol 0: this socket only sends, so the kernel need not copy received traffic to it. */
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) {
    fprintf(stderr, "tap-blast: socket(AF_PACKET): %s\n", strerror(errno));
    return 1;
  }
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  struct sockaddr_ll address;
  memset(&address, 0, sizeof address);
  address.sll_family = AF_PACKET;
  address.sll_ifindex = (int)ifindex;
  address.sll_protocol = htons(ETH_P_IP);
  address.sll_halen = ETH_ALEN;
  static const uint8_t destination[6] = {0x00, 0x00, 0x5e, 0x00, 0x53, 0x01};
  static const uint8_t source[6] = {0x00, 0x00, 0x5e, 0x00, 0x53, 0x09};
  memcpy(address.sll_addr, destination, 6);

  static uint8_t frame[1514];
  memcpy(frame, destination, 6);
  memcpy(frame + 6, source, 6);
  frame[12] = 0x08;
  frame[13] = 0x00;
  uint8_t* ip = frame + 14;
  int ip_length = frame_length - 14;
  ip[0] = 0x45;
  ip[2] = (uint8_t)(ip_length >> 8);
  ip[3] = (uint8_t)ip_length;
  ip[6] = 0x40; /* don't fragment */
  ip[8] = 64;
  ip[9] = 17;
  const uint8_t from[4] = {192, 0, 2, 9}, to[4] = {192, 0, 2, 1};
  memcpy(ip + 12, from, 4);
  memcpy(ip + 16, to, 4);
  uint16_t checksum = ip_checksum(ip, 20);
  ip[10] = (uint8_t)(checksum >> 8);
  ip[11] = (uint8_t)checksum;
  uint8_t* udp = ip + 20;
  int udp_length = ip_length - 20;
  udp[0] = 0x9c;
  udp[1] = 0x40; /* port 40000 */
  udp[2] = 0x00;
  udp[3] = 0x09; /* discard */
  udp[4] = (uint8_t)(udp_length >> 8);
  udp[5] = (uint8_t)udp_length;

  struct iovec iov = {.iov_base = frame, .iov_len = (size_t)frame_length};
  struct mmsghdr messages[BATCH];
  memset(messages, 0, sizeof messages);
  for (int i = 0; i < BATCH; i++) {
    messages[i].msg_hdr.msg_name = &address;
    messages[i].msg_hdr.msg_namelen = sizeof address;
    messages[i].msg_hdr.msg_iov = &iov;
    messages[i].msg_hdr.msg_iovlen = 1;
  }

  double start = now_seconds();
  double deadline = start + seconds;
  unsigned long long sent = 0, errors = 0;
  for (;;) {
    double t = now_seconds();
    if (t >= deadline || (count_limit > 0 && sent >= count_limit)) break;
    if (pps > 0 && sent >= (t - start) * pps) {
      /* Ahead of the requested rate: wait a little rather than spin. */
      struct timespec pause = {0, 50 * 1000};
      nanosleep(&pause, NULL);
      continue;
    }
    unsigned batch = BATCH;
    if (count_limit > 0 && count_limit - sent < batch) batch = (unsigned)(count_limit - sent);
    int n = sendmmsg(fd, messages, batch, 0);
    if (n > 0) {
      sent += (unsigned long long)n;
    } else {
      errors++;
      if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
        fprintf(stderr, "tap-blast: sendmmsg: %s\n", strerror(errno));
        break;
      }
    }
  }
  printf("sent %llu errors %llu seconds %.3f\n", sent, errors, now_seconds() - start);
  close(fd);
  return 0;
}
