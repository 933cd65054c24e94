#include <stdlib.h>
#include "CLinux.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <sched.h>

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

// ---- threads ---------------------------------------------------------------

int32_t clinux_current_affinity(int32_t *out, int32_t cap) {
    cpu_set_t set;
    CPU_ZERO(&set);
    int r = pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
    if (r != 0) return -r;
    int32_t n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < cap; cpu++) {
        if (CPU_ISSET(cpu, &set)) out[n++] = cpu;
    }
    return n;
}

int clinux_set_thread_affinity(int32_t tid, const int32_t *cpus, int32_t count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int32_t i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return -EINVAL;
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity((pid_t)tid, sizeof(set), &set) == 0 ? 0 : -errno;
}

int32_t clinux_current_cpu(void) { return sched_getcpu(); }

int clinux_thread_create(pthread_t *thread, const int32_t *cpus, int32_t count,
                         int32_t fifo_priority, const char *name,
                         void *(*body)(void *), void *arg) {
    pthread_attr_t attr;
    int r = pthread_attr_init(&attr);
    if (r != 0) return -r;
    if (count > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int32_t i = 0; i < count; i++) {
            if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) { pthread_attr_destroy(&attr); return -EINVAL; }
            CPU_SET(cpus[i], &set);
        }
        r = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
        if (r != 0) { pthread_attr_destroy(&attr); return -r; }
    }
    if (fifo_priority > 0) {
        struct sched_param p;
        memset(&p, 0, sizeof(p));
        p.sched_priority = fifo_priority;
        if ((r = pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED)) != 0 ||
            (r = pthread_attr_setschedpolicy(&attr, SCHED_FIFO)) != 0 ||
            (r = pthread_attr_setschedparam(&attr, &p)) != 0) {
            pthread_attr_destroy(&attr);
            return -r;
        }
    }
    r = pthread_create(thread, &attr, body, arg);
    pthread_attr_destroy(&attr);
    if (r != 0) return -r;
    if (name != NULL) {
        char buf[16];
        strncpy(buf, name, sizeof(buf) - 1);
        buf[sizeof(buf) - 1] = 0;
        pthread_setname_np(*thread, buf);
    }
    return 0;
}

int32_t clinux_online_cpus(void) { return (int32_t)sysconf(_SC_NPROCESSORS_ONLN); }

// ---- AF_PACKET -------------------------------------------------------------

int clinux_packet_socket(void) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    return fd < 0 ? -errno : fd;
}

int clinux_packet_bind(int fd, int ifindex) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    return bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == 0 ? 0 : -errno;
}

int clinux_packet_fanout(int fd, uint16_t group, uint16_t mode) {
    uint32_t flags = mode == PACKET_FANOUT_HASH ? PACKET_FANOUT_FLAG_DEFRAG : 0;
    uint32_t arg = (uint32_t)group | ((uint32_t)mode << 16) | (flags << 16);
    return setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) == 0 ? 0 : -errno;
}

int clinux_packet_promiscuous(int fd, int ifindex) {
    struct packet_mreq m;
    memset(&m, 0, sizeof(m));
    m.mr_ifindex = ifindex;
    m.mr_type = PACKET_MR_PROMISC;
    return setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &m, sizeof(m)) == 0 ? 0 : -errno;
}

int clinux_attach_filter(int fd, struct sock_filter *insns, unsigned short count) {
    struct sock_fprog prog = {.len = count, .filter = insns};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0 ? 0 : -errno;
}

int clinux_receive_buffer(int fd, int bytes) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0) return 0;
    return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) == 0 ? 0 : -errno;
}

int clinux_timestamps(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) == 0 ? 0 : -errno;
}

int clinux_packet_auxdata(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &on, sizeof(on)) == 0 ? 0 : -errno;
}

int clinux_packet_statistics(int fd, bool v3, uint64_t *packets, uint64_t *drops) {
    if (v3) {
        struct tpacket_stats_v3 st;
        socklen_t len = sizeof(st);
        if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return -errno;
        *packets = st.tp_packets;
        *drops = st.tp_drops;
    } else {
        struct tpacket_stats st;
        socklen_t len = sizeof(st);
        if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return -errno;
        *packets = st.tp_packets;
        *drops = st.tp_drops;
    }
    return 0;
}

int clinux_interface_hardware_type(const char *name) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    int r = ioctl(fd, SIOCGIFHWADDR, &ifr);
    int e = errno;
    close(fd);
    if (r != 0) return -e;
    return ifr.ifr_hwaddr.sa_family;
}

// ---- descriptors, sockets, files beneath a directory --------------------------

int clinux_eventfd(void) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int clinux_open_beneath(int dirfd, const char *path) {
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    return fd < 0 ? -errno : (int)fd;
}

int clinux_received_descriptors(struct msghdr *msg, int *fds, int cap) {
    int total = 0;
    int foreign = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            foreign = 1;
            continue;
        }
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *in = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, in + i, sizeof(int));
            if (total < cap) fds[total] = fd; else close(fd);
            total++;
        }
    }
    if (foreign) {
        for (int i = 0; i < total && i < cap; i++) close(fds[i]);
        return -1;
    }
    return total;
}

int clinux_peer_credentials(int socket, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -errno;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int clinux_accept(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int clinux_become_idle(void) {
    struct sched_param param = {0};
    if (sched_setscheduler(0, SCHED_IDLE, &param) != 0) return -errno;
    // IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0) for IOPRIO_WHO_PROCESS, this process.
    if (syscall(SYS_ioprio_set, 1, 0, 3 << 13) != 0) return -errno;
    return 0;
}

// The daemon starts `labyrinthd extract` with LABYRINTH_IDLE=1 in its
// environment: the process becomes idle (CPU and I/O) here, before main,
// while its first thread is its only one, so every thread it starts later
// (the Swift runtime's pool, the reader) inherits both classes.
__attribute__((constructor)) static void clinux_idle_at_start(void) {
    const char *idle = getenv("LABYRINTH_IDLE");
    if (idle == NULL || strcmp(idle, "1") != 0) return;
    unsetenv("LABYRINTH_IDLE");
    (void)clinux_become_idle();
}

int clinux_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno; }

int clinux_memfd(const char *name) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}
