// direct-write.c — what O_DIRECT would give the recording on this disk,
// against what it does now (RWF_DONTCACHE) and plain buffered writes.
//
// Usage: direct-write FILE MIB MODE [CHUNK_KIB]
//   MODE: buffered | dontcache | direct
//
// Writes MIB MiB to FILE in writes of CHUNK_KIB (default 64: the recording's
// chunk, whose used run is what the writer submits) from 8 buffers in
// turn, the writer's batches, each filled once with pcapng-like bytes, then
// fsyncs. O_DIRECT needs every write aligned to the logical block size in
// offset, length and address: the buffers are 4 KiB aligned and the chunk a
// multiple of 4 KiB, which the recording's runs are not (blocks follow each
// other at 4-byte granularity); using it would mean padding each run with a
// block readers skip. This measures the best case of that.
//
// Prints: mode, seconds writing, seconds in fsync, CPU seconds (user + sys)
// of the process, and MiB/s to durable.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s FILE MIB buffered|dontcache|direct [CHUNK_KIB]\n", argv[0]);
        return 64;
    }
    const char *path = argv[1];
    long mib = atol(argv[2]);
    const char *mode = argv[3];
    size_t chunk = (argc > 4 ? (size_t)atol(argv[4]) : 64) << 10;
    int direct = strcmp(mode, "direct") == 0;
    int dontcache = strcmp(mode, "dontcache") == 0;
    if (!direct && !dontcache && strcmp(mode, "buffered") != 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 64;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    enum { buffers = 8 };
    unsigned char *buffer[buffers];
    for (int b = 0; b < buffers; b++) {
        if (posix_memalign((void **)&buffer[b], 4096, chunk) != 0) return 1;
        // 96-byte pcapng Enhanced Packet Blocks of 64-byte frames.
        for (size_t i = 0; i < chunk; i++) buffer[b][i] = (unsigned char)(i * 31 + b);
    }
    long total = mib << 20;
    int flags = dontcache ? RWF_DONTCACHE : 0;
    double c0 = cpu(), t0 = now();
    off_t offset = 0;
    for (long n = 0; offset < total; n++) {
        struct iovec v = {buffer[n % buffers], chunk};
        ssize_t w = pwritev2(fd, &v, 1, offset, flags);
        if (w < 0 && errno == EOPNOTSUPP && flags) {
            flags = 0;  // as the recorder does: the flag refused, sent again without it
            w = pwritev2(fd, &v, 1, offset, 0);
        }
        if (w != (ssize_t)chunk) {
            fprintf(stderr, "write at %lld: %s\n", (long long)offset, w < 0 ? strerror(errno) : "short");
            return 1;
        }
        offset += w;
    }
    double t1 = now();
    if (fsync(fd) != 0) {
        fprintf(stderr, "fsync: %s\n", strerror(errno));
        return 1;
    }
    double t2 = now(), c1 = cpu();
    close(fd);
    printf("%s %.3f %.3f %.3f %.1f\n", mode, t1 - t0, t2 - t1, c1 - c0, mib / (t2 - t0));
    return 0;
}
