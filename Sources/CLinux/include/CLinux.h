// CLinux: what Swift cannot see of Linux itself (as swift-nio's CNIOLinux):
// _GNU_SOURCE declarations, macros and headers Glibc's module leaves out.
// Every shim returns its result, or -errno on failure.
#ifndef CLINUX_H
#define CLINUX_H

#include <sched.h>
#include <pthread.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <linux/filter.h>

/// 1 when the file open on `fd` carries a POSIX access ACL
/// (`system.posix_acl_access`), 0 when it does not, -errno when that
/// cannot be told. The corresponding C function is `fgetxattr`.
int clinux_has_access_acl(int fd);

/// A pipe whose two ends close on exec: `fds[0]` reads, `fds[1]` writes.
/// 0, or -errno. The corresponding C function is `pipe2`.
int clinux_pipe_cloexec(int fds[2]);

// ---- TPACKET_V3: an AF_PACKET receive ring read a block at a time ----------

/// Makes `fd` (an AF_PACKET socket, not yet bound) a TPACKET_V3 receive ring
/// of `block_count` blocks of `block_size` bytes, each retired to user space
/// when full or `retire_ms` after its first frame, and maps it. Returns the
/// mapping, or NULL with `*error` set to -errno. The corresponding C
/// functions are `setsockopt(PACKET_VERSION, PACKET_RX_RING)` and `mmap`.
void *clinux_tpacket_v3_ring(int fd, uint32_t block_size, uint32_t block_count, uint32_t retire_ms, int *error);

/// One frame of a TPACKET_V3 block, as the data plane needs it.
typedef struct {
    /// From the frame's header to the next one's (0: the last in the block).
    uint32_t next_offset;
    uint32_t sec, nsec;
    /// Bytes in the ring, and on the wire.
    uint32_t captured, wire;
    /// From the frame's header to its first byte (the MAC header).
    uint16_t mac;
    /// The VLAN tag the kernel took out of the frame, when it did (TPID 0:
    /// none; 0x8100 when the kernel gave no TPID).
    uint16_t vlan_tci, vlan_tpid;
    /// sockaddr_ll's packet type (PACKET_OUTGOING for a frame leaving).
    uint8_t pkttype;
} clinux_tpacket_frame;

/// Whether the block at `block` belongs to user space (TP_STATUS_USER),
/// with acquire ordering: its frames may be read.
static inline bool clinux_tpacket_block_ready(const void *block) {
    const struct tpacket_block_desc *b = (const struct tpacket_block_desc *)block;
    return (__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}

/// The block's frame count and the offset of its first frame.
static inline uint32_t clinux_tpacket_block_frames(const void *block) {
    return ((const struct tpacket_block_desc *)block)->hdr.bh1.num_pkts;
}
static inline uint32_t clinux_tpacket_block_first(const void *block) {
    return ((const struct tpacket_block_desc *)block)->hdr.bh1.offset_to_first_pkt;
}

/// Hands the block back to the kernel (TP_STATUS_KERNEL, release ordering:
/// every read of its frames happens before).
static inline void clinux_tpacket_block_release(void *block) {
    struct tpacket_block_desc *b = (struct tpacket_block_desc *)block;
    __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}

/// Reads the frame whose tpacket3_hdr is at `header`.
static inline clinux_tpacket_frame clinux_tpacket_frame_at(const void *header) {
    const struct tpacket3_hdr *h = (const struct tpacket3_hdr *)header;
    const struct sockaddr_ll *sll =
        (const struct sockaddr_ll *)((const uint8_t *)header + TPACKET_ALIGN(sizeof(struct tpacket3_hdr)));
    clinux_tpacket_frame f;
    f.next_offset = h->tp_next_offset;
    f.sec = h->tp_sec;
    f.nsec = h->tp_nsec;
    f.captured = h->tp_snaplen;
    f.wire = h->tp_len;
    f.mac = h->tp_mac;
    f.pkttype = sll->sll_pkttype;
    if (h->tp_status & TP_STATUS_VLAN_VALID) {
        f.vlan_tci = h->hv1.tp_vlan_tci;
        f.vlan_tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : 0x8100;
    } else {
        f.vlan_tci = 0;
        f.vlan_tpid = 0;
    }
    return f;
}

// ---- threads -----------------------------------------------------------

/// The CPUs the calling thread may run on, written to `out` (at most `cap`).
/// Returns how many, or -errno.
int32_t clinux_current_affinity(int32_t *out, int32_t cap);

/// Restricts thread `tid` (any thread of the process) to `cpus[0..<count]`.
/// Returns 0 or -errno.
int clinux_set_thread_affinity(int32_t tid, const int32_t *cpus, int32_t count);

/// Starts a joinable thread running `body(arg)`, pinned to `cpus[0..<count]`
/// from its first instruction (none: inherit), under SCHED_FIFO at
/// `fifo_priority` when it is above 0, and named `name`. Returns 0 or
/// -errno; the corresponding C function is `pthread_create`.
int clinux_thread_create(pthread_t *thread, const int32_t *cpus, int32_t count,
                         int32_t fifo_priority, const char *name,
                         void *(*body)(void *), void *arg);

/// The number of CPUs online.
int32_t clinux_online_cpus(void);

/// The CPU the calling thread runs on now.
int32_t clinux_current_cpu(void);

// ---- AF_PACKET -------------------------------------------------------------

/// A raw AF_PACKET socket that receives nothing yet (protocol 0), so that a
/// filter can be attached before it is bound. Returns the fd or -errno.
int clinux_packet_socket(void);
/// Binds it to interface `ifindex`, all protocols. 0 or -errno.
int clinux_packet_bind(int fd, int ifindex);
/// Joins fanout group `group` with `mode` (PACKET_FANOUT_HASH, ...) and
/// PACKET_FANOUT_FLAG_DEFRAG for the hash mode. 0 or -errno.
int clinux_packet_fanout(int fd, uint16_t group, uint16_t mode);
/// Promiscuous mode through PACKET_ADD_MEMBERSHIP. 0 or -errno.
int clinux_packet_promiscuous(int fd, int ifindex);
/// SO_ATTACH_FILTER with a classic BPF program. 0 or -errno.
int clinux_attach_filter(int fd, struct sock_filter *insns, unsigned short count);
/// SO_RCVBUFFORCE (falling back to SO_RCVBUF). 0 or -errno.
int clinux_receive_buffer(int fd, int bytes);
/// SO_TIMESTAMPNS on. 0 or -errno.
int clinux_timestamps(int fd);
/// The interface's ARPHRD_* hardware type (SIOCGIFHWADDR), or -errno.
int clinux_interface_hardware_type(const char *name);
/// PACKET_AUXDATA on: each frame's control messages carry its VLAN tag,
/// status and lengths. 0 or -errno.
int clinux_packet_auxdata(int fd);
/// PACKET_STATISTICS (which resets the kernel's counts): packets seen by
/// the socket (drops included) and drops. `v3` for TPACKET_V3 sockets.
int clinux_packet_statistics(int fd, bool v3, uint64_t *packets, uint64_t *drops);

/// A non-blocking, close-on-exec eventfd, or -errno.
int clinux_eventfd(void);

// ---- opening files beneath a directory --------------------------------------

/// O_PATH (hidden from Swift, which imports glibc without _GNU_SOURCE).
static inline int clinux_o_path(void) { return 010000000; }

/// openat2(2) (glibc 2.36 has no wrapper): opens `path` relative to
/// `dirfd` read-only, close-on-exec, non-blocking and without a controlling
/// terminal, resolving it with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS. Returns the fd or -errno (-ENOSYS where the
/// kernel lacks it, -EPERM where a seccomp filter refuses it).
int clinux_open_beneath(int dirfd, const char *path);

/// The SCM_RIGHTS descriptors of a received message: writes at most `cap`
/// of them to `fds` and returns how many there were in all (more than `cap`
/// means some were closed here), or -1 if a control message other than
/// SCM_RIGHTS came. Every descriptor not returned is closed.
int clinux_received_descriptors(struct msghdr *msg, int *fds, int cap);

/// accept4(SOCK_CLOEXEC | SOCK_NONBLOCK). The fd or -errno.
int clinux_accept(int listener);

/// SO_PEERCRED of a connected Unix socket. 0 or -errno.
int clinux_peer_credentials(int socket, int32_t *pid, uint32_t *uid, uint32_t *gid);

/// pipe2(O_CLOEXEC). 0 or -errno.
int clinux_pipe(int fds[2]);

/// memfd_create(name, MFD_CLOEXEC). The fd or -errno.
int clinux_memfd(const char *name);

/// This process at the idle scheduling class (SCHED_IDLE: a CPU only when
/// nothing else wants it) and the idle I/O class (ioprio_set). 0 or -errno.
int clinux_become_idle(void);

static inline uint16_t clinux_fanout_hash(void) { return PACKET_FANOUT_HASH; }
static inline uint16_t clinux_fanout_lb(void) { return PACKET_FANOUT_LB; }
static inline uint16_t clinux_fanout_cpu(void) { return PACKET_FANOUT_CPU; }
static inline uint16_t clinux_fanout_qm(void) { return PACKET_FANOUT_QM; }
static inline uint8_t clinux_packet_outgoing(void) { return PACKET_OUTGOING; }

#endif
