#include "CLinux.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <unistd.h>

int clinux_has_access_acl(int fd) {
    ssize_t n = fgetxattr(fd, "system.posix_acl_access", NULL, 0);
    if (n >= 0) return 1;
    if (errno == ENODATA || errno == ENOTSUP) return 0;
    return -errno;
}

int clinux_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}

void *clinux_tpacket_v3_ring(int fd, uint32_t block_size, uint32_t block_count, uint32_t retire_ms, int *error) {
    int version = TPACKET_V3;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0) {
        *error = -errno;
        return NULL;
    }
    struct tpacket_req3 req;
    memset(&req, 0, sizeof(req));
    req.tp_block_size = block_size;
    req.tp_block_nr = block_count;
    // Frames are variable in V3; the frame fields only have to divide the
    // blocks evenly.
    req.tp_frame_size = TPACKET_ALIGNMENT << 7;
    req.tp_frame_nr = (block_size / req.tp_frame_size) * block_count;
    req.tp_retire_blk_tov = retire_ms;
    req.tp_feature_req_word = 0;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) {
        *error = -errno;
        return NULL;
    }
    void *map = mmap(NULL, (size_t)block_size * block_count, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        *error = -errno;
        return NULL;
    }
    return map;
}
