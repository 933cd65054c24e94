#include "CLinux.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
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
