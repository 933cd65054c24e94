// Support for the Rooms allocator that Swift cannot express directly:
// a per-thread identity, the interrupt-context depth (the kernel's
// preempt_count), futex wait/wake, clocks and prefetches. Every function
// returns its result, or -errno.
#ifndef C_ROOMS_SUPPORT_H
#define C_ROOMS_SUPPORT_H

#include <stdint.h>
#include <stdbool.h>
#include <time.h>

/// One byte per thread whose address identifies the thread. Taking its address
/// is a thread-pointer read plus an add: no call, no lazy initialisation.
extern _Thread_local unsigned char lab_thread_anchor;

/// How deep the current thread is in "atomic context" (like preempt_count).
extern _Thread_local int32_t lab_atomic_depth;

/// A non-zero value that identifies the calling thread while it lives.
static inline uintptr_t lab_thread_identity(void) {
    return (uintptr_t)&lab_thread_anchor;
}

static inline void lab_atomic_enter(void) { lab_atomic_depth += 1; }
static inline void lab_atomic_exit(void) { lab_atomic_depth -= 1; }
static inline bool lab_in_atomic(void) { return lab_atomic_depth > 0; }

/// rename(2) that never replaces: renameat2 with RENAME_NOREPLACE. Returns
/// 0, or -errno (-EEXIST when `to` exists; -EINVAL where the file system
/// does not know the flag).
int lab_rename_noreplace(const char *from, const char *to);

/// FUTEX_WAIT_PRIVATE on `word` while it equals `expected`, for at most
/// `timeout_ns` nanoseconds (negative: forever). Returns 0 or -errno
/// (-EAGAIN: the word had changed; -ETIMEDOUT; -EINTR).
int lab_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);

/// FUTEX_WAKE_PRIVATE: wakes up to `count` waiters. Returns the number woken
/// or -errno.
int lab_futex_wake(uint32_t *word, int32_t count);

/// The kernel's gettid().
int32_t lab_gettid(void);

/// RLIMIT_MEMLOCK's soft limit in bytes, or -1 when unlimited.
int64_t lab_memlock_limit(void);

/// Sets RLIMIT_MEMLOCK (soft and hard) to `bytes`. Returns 0 or -errno.
int lab_set_memlock_limit(int64_t bytes);

/// CLOCK_REALTIME in nanoseconds since the epoch (vDSO, no syscall).
static inline int64_t lab_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + (int64_t)ts.tv_nsec;
}

/// CLOCK_MONOTONIC in nanoseconds (vDSO, no syscall).
static inline uint64_t lab_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// Prefetch for reading into all cache levels.
static inline void lab_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// Prefetch for writing.
static inline void lab_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

/// A pause hint for spin loops.
static inline void lab_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
