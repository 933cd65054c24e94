#include "CRoomsSupport.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/resource.h>
#include <fcntl.h>
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

_Thread_local unsigned char lab_thread_anchor;
_Thread_local int32_t lab_atomic_depth;

int lab_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    long r = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
    return r == 0 ? 0 : -errno;
}

int lab_futex_wake(uint32_t *word, int32_t count) {
    long r = syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
    return r >= 0 ? (int)r : -errno;
}

int32_t lab_gettid(void) { return (int32_t)syscall(SYS_gettid); }

int64_t lab_memlock_limit(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_MEMLOCK, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return -1;
    return (int64_t)r.rlim_cur;
}

int lab_set_memlock_limit(int64_t bytes) {
    struct rlimit r = { (rlim_t)bytes, (rlim_t)bytes };
    return setrlimit(RLIMIT_MEMLOCK, &r) == 0 ? 0 : -errno;
}

int lab_rename_noreplace(const char *from, const char *to) {
    long r = syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
    return r == 0 ? 0 : -errno;
}
