// CLinux: what Swift cannot see of Linux itself (as swift-nio's CNIOLinux):
// _GNU_SOURCE declarations, macros and headers Glibc's module leaves out.
// Every shim returns its result, or -errno on failure.
#ifndef CLINUX_H
#define CLINUX_H

#include <sys/types.h>

/// 1 when the file open on `fd` carries a POSIX access ACL
/// (`system.posix_acl_access`), 0 when it does not, -errno when that
/// cannot be told. The corresponding C function is `fgetxattr`.
int clinux_has_access_acl(int fd);

/// A pipe whose two ends close on exec: `fds[0]` reads, `fds[1]` writes.
/// 0, or -errno. The corresponding C function is `pipe2`.
int clinux_pipe_cloexec(int fds[2]);

#endif
