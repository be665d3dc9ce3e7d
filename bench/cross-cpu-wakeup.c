/*
 * What waking a sleeping thread costs on this machine, with no network at all: a one-byte
 * pipe ping-pong between the main thread (CPU 0) and a partner thread, the partner on the other
 * CPU and then on the same one. Each round sleeps 50 us first, so that the partner's CPU goes
 * idle as it does between a client's calls. Prints the time of the write() that wakes the
 * partner and the round trip.
 *
 * On a VM a sleeping vCPU is woken by an IPI through the hypervisor; this shows what that
 * costs the waker (inside its system call) and the woken (before it runs). The connections/s
 * bench pays it twice per connection (the client's connect() and recv() wait for pstack).
 *
 *   cc -O2 -pthread -o cross-cpu-wakeup bench/cross-cpu-wakeup.c && ./cross-cpu-wakeup
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 20000

static int to_partner[2], to_main[2];
static int partner_cpu;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set);
}

static void* partner(void* arg) {
  (void)arg;
  pin(partner_cpu);
  char byte;
  while (read(to_partner[0], &byte, 1) == 1 && byte != 'q') {
    if (write(to_main[1], &byte, 1) != 1) break;
  }
  return NULL;
}

static int measure(int cpu) {
  partner_cpu = cpu;
  if (pipe(to_partner) != 0 || pipe(to_main) != 0) return perror("pipe"), 1;
  pthread_t thread;
  if (pthread_create(&thread, NULL, partner, NULL) != 0) return perror("pthread_create"), 1;
  double in_write = 0, round_trip = 0;
  char byte = 'x';
  for (int i = 0; i < ROUNDS; i++) {
    usleep(50);
    double t0 = now_us();
    if (write(to_partner[1], &byte, 1) != 1) return perror("write"), 1;
    double t1 = now_us();
    if (read(to_main[0], &byte, 1) != 1) return perror("read"), 1;
    double t2 = now_us();
    in_write += t1 - t0;
    round_trip += t2 - t0;
  }
  byte = 'q';
  if (write(to_partner[1], &byte, 1) != 1) return perror("write"), 1;
  pthread_join(thread, NULL);
  for (int i = 0; i < 2; i++) close(to_partner[i]), close(to_main[i]);
  printf("partner on CPU %d: write() that wakes it %.1f us, round trip %.1f us (mean of %d)\n", cpu,
         in_write / ROUNDS, round_trip / ROUNDS, ROUNDS);
  return 0;
}

int main(void) {
  if (pin(0) != 0) return perror("sched_setaffinity"), 1;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 1 && measure(1) != 0) return 1;
  return measure(0);
}
