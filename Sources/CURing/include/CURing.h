// liburing plus the _GNU_SOURCE helpers the data plane needs: CPU affinity,
// thread names and real-time scheduling. System headers come before
// <liburing.h>, which sets _XOPEN_SOURCE (see swift-nio's CNIOLinux).
#ifndef C_URING_H
#define C_URING_H

#include <sched.h>
#include <pthread.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <linux/filter.h>
#include <net/if.h>
#include <time.h>

#include <liburing.h>

// ---- threads -----------------------------------------------------------

/// Pins the calling thread to the CPUs in `cpus[0..<count]`. Returns 0 or an
/// errno value. The corresponding C function is `pthread_setaffinity_np`.
int curing_pin_current_thread(const int32_t *cpus, int32_t count);

/// The CPUs the calling thread may run on, written to `out` (at most `cap`).
/// Returns how many, or -errno.
int32_t curing_current_affinity(int32_t *out, int32_t cap);

/// Restricts thread `tid` (any thread of the process) to `cpus[0..<count]`.
/// Returns 0 or errno.
int curing_set_thread_affinity(int32_t tid, const int32_t *cpus, int32_t count);

/// Names the calling thread (at most 15 bytes are kept). Returns 0 or errno.
int curing_set_current_thread_name(const char *name);

/// Puts the calling thread under SCHED_FIFO at `priority` (1...99).
/// Returns 0 or an errno value.
int curing_set_fifo_priority(int32_t priority);

/// Starts a joinable thread running `body(arg)`, pinned to `cpus[0..<count]`
/// from its first instruction (none: inherit), under SCHED_FIFO at
/// `fifo_priority` when it is above 0, and named `name`. Returns 0 or an
/// errno value; the corresponding C function is `pthread_create`.
int curing_thread_create(pthread_t *thread, const int32_t *cpus, int32_t count,
                         int32_t fifo_priority, const char *name,
                         void *(*body)(void *), void *arg);

/// The number of CPUs online.
int32_t curing_online_cpus(void);

/// The CPU the calling thread runs on now.
int32_t curing_current_cpu(void);

// ---- io_uring flags built from enum shifts, hidden from Swift ----------

static inline uint32_t curing_setup_single_issuer(void) { return IORING_SETUP_SINGLE_ISSUER; }
static inline uint32_t curing_setup_defer_taskrun(void) { return IORING_SETUP_DEFER_TASKRUN; }
static inline uint32_t curing_setup_coop_taskrun(void) { return IORING_SETUP_COOP_TASKRUN; }
static inline uint8_t curing_sqe_buffer_select(void) { return IOSQE_BUFFER_SELECT; }
static inline uint32_t curing_cqe_f_more(void) { return IORING_CQE_F_MORE; }
static inline uint32_t curing_cqe_f_buffer(void) { return IORING_CQE_F_BUFFER; }
static inline uint32_t curing_cqe_buffer_shift(void) { return IORING_CQE_BUFFER_SHIFT; }

#endif
