#ifndef C_BENCH_SUPPORT_H
#define C_BENCH_SUPPORT_H
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t bench_cycles(void) {
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
#else
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

static inline uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// glibc malloc/free behind an out-of-line call, so that the optimiser cannot
/// see a malloc/free pair and delete it.
void *bench_malloc(size_t n);
void bench_free(void *p);

static inline void bench_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}
#endif
