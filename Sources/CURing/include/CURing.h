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
#include <sys/uio.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <linux/filter.h>
#include <net/if.h>
#include <time.h>
// The kernel's io_uring.h, not liburing's copy (both use the guard
// LINUX_IO_URING_H): swift-system's CSystem includes the kernel's, and a
// Swift module that imports both must see one definition of each struct.
#include <linux/io_uring.h>

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


// ---- io_uring for capture ------------------------------------------------
// Thin wrappers over liburing's inline helpers and macros, so that the
// Swift side calls plain functions. Every function returns 0 or -errno
// unless it says otherwise.

/// io_uring_queue_init with `flags`; if the kernel refuses DEFER_TASKRUN
/// (before 6.1) retries without it and says so in `*downgraded`.
int curing_ring_init(struct io_uring *ring, unsigned entries, unsigned flags, bool *downgraded);

/// Queues a multishot POLLIN on `fd` tagged `tag` (not yet submitted).
int curing_arm_poll(struct io_uring *ring, int fd, uint64_t tag);

/// Queues a multishot recvmsg on `fd` into buffers of group `bgid`, with
/// MSG_TRUNC so that a frame larger than its buffer reports its real length.
int curing_arm_recvmsg(struct io_uring *ring, int fd, struct msghdr *msg, uint16_t bgid, uint64_t tag);

/// RWF_DONTCACHE (Linux 6.14): the written pages leave the page cache once
/// written back, so a long recording does not evict everyone else's cache.
/// Debian 12's headers predate it.
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif
static inline int curing_rwf_dontcache(void) { return RWF_DONTCACHE; }

/// Queues a writev of `iov[0..<count]` to `fd` at `offset` with `rw_flags`
/// (RWF_*), tagged `tag`.
int curing_prep_writev(struct io_uring *ring, int fd, const struct iovec *iov, unsigned count, uint64_t offset,
                       int rw_flags, uint64_t tag);

/// Bounds the ring's io-wq helper threads (the ones that do blocking
/// writes): on `cpus[0..<count]` (none: left alone) and at most
/// `max_workers` bounded and unbounded each. 0 or -errno.
int curing_limit_iowq(struct io_uring *ring, const int32_t *cpus, int32_t count, unsigned max_workers);

/// Completions ready to be reaped.
static inline unsigned curing_cq_ready(struct io_uring *ring) { return io_uring_cq_ready(ring); }

/// Requests queued but not yet submitted.
static inline unsigned curing_sq_pending(struct io_uring *ring) { return io_uring_sq_ready(ring); }

/// Queues the cancellation of every request on `fd`.
int curing_cancel_fd(struct io_uring *ring, int fd);

/// Submits what is queued and waits for at least `wait` completions, at most
/// `timeout_ns` (0: do not wait). Returns completions ready, or -errno
/// (-ETIME on timeout, -EINTR).
int curing_submit_and_wait(struct io_uring *ring, unsigned wait, int64_t timeout_ns);

/// Copies up to `max` ready completions (user_data, res, flags) without
/// waiting, and marks them seen. Returns how many.
unsigned curing_reap(struct io_uring *ring, uint64_t *user_data, int32_t *res, uint32_t *flags, unsigned max);

/// A provided-buffer ring of `entries` (a power of two) for group `bgid`,
/// mapped and registered. NULL on failure (errno set).
struct io_uring_buf_ring *curing_buf_ring_setup(struct io_uring *ring, unsigned entries, uint16_t bgid);
/// Unregisters buffer group `bgid`. 0 or -errno.
int curing_buf_ring_unregister(struct io_uring *ring, uint16_t bgid);
/// Unmaps a ring made by curing_buf_ring_setup.
void curing_buf_ring_unmap(struct io_uring_buf_ring *br, unsigned entries);
/// Adds buffer `bid` at slot `offset` past the tail (published by advance).
void curing_buf_ring_add(struct io_uring_buf_ring *br, void *addr, unsigned len, uint16_t bid, unsigned entries, unsigned offset);
void curing_buf_ring_advance(struct io_uring_buf_ring *br, unsigned count);

/// The IORING_CQE_F_* bits and the buffer id of a completion.
static inline bool curing_cqe_more(uint32_t flags) { return (flags & IORING_CQE_F_MORE) != 0; }
static inline bool curing_cqe_has_buffer(uint32_t flags) { return (flags & IORING_CQE_F_BUFFER) != 0; }
static inline uint16_t curing_cqe_buffer_id(uint32_t flags) { return (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT); }

/// One frame a multishot recvmsg put in a buffer, as read back.
typedef struct {
    /// The frame's first byte, in the buffer.
    uint8_t *payload;
    /// Bytes in the buffer, and the frame's real length (more when cut).
    uint32_t captured;
    uint32_t real;
    /// SO_TIMESTAMPNS, ns since the epoch; 0 if absent.
    int64_t timestamp_ns;
    /// sockaddr_ll's packet type (PACKET_OUTGOING, ...).
    uint8_t pkttype;
    /// PACKET_AUXDATA came: its tp_status, and whether a VLAN tag the
    /// kernel took out of the frame was put back in front of it.
    bool has_auxdata;
    bool vlan_reinserted;
    uint32_t status;
} curing_received_frame;

/// Reads a multishot recvmsg result in buffer `buf` of `len` bytes: the
/// payload, its lengths, the kernel's receive time, the packet type, and
/// PACKET_AUXDATA. When auxdata says the kernel moved a VLAN tag out of the
/// frame (TP_STATUS_VLAN_VALID, or a non-zero TCI from an older kernel),
/// the tag goes back after the two MAC addresses with the TPID the kernel
/// reports (802.1Q when it reports none), as libpcap does: the 12 bytes of
/// MAC addresses move 4 bytes back into the buffer's headroom (the recvmsg
/// header, name and control messages before the payload, already read),
/// and both lengths grow by 4. Returns 0, or -EINVAL if malformed.
int curing_recvmsg_frame(void *buf, int len, struct msghdr *msg, curing_received_frame *out);

/// The control-message room one frame's recvmsg needs: PACKET_AUXDATA, and
/// SO_TIMESTAMPNS when asked for.
static inline unsigned curing_receive_control_bytes(bool timestamps) {
    return CMSG_SPACE(sizeof(struct tpacket_auxdata)) + (timestamps ? CMSG_SPACE(sizeof(struct timespec)) : 0);
}

// ---- AF_PACKET -------------------------------------------------------------

/// A raw AF_PACKET socket that receives nothing yet (protocol 0), so that a
/// filter can be attached before it is bound. Returns the fd or -errno.
int curing_packet_socket(void);
/// Binds it to interface `ifindex`, all protocols. 0 or -errno.
int curing_packet_bind(int fd, int ifindex);
/// Joins fanout group `group` with `mode` (PACKET_FANOUT_HASH, ...) and
/// PACKET_FANOUT_FLAG_DEFRAG for the hash mode. 0 or -errno.
int curing_packet_fanout(int fd, uint16_t group, uint16_t mode);
/// Promiscuous mode through PACKET_ADD_MEMBERSHIP. 0 or -errno.
int curing_packet_promiscuous(int fd, int ifindex);
/// SO_ATTACH_FILTER with a classic BPF program. 0 or -errno.
int curing_attach_filter(int fd, struct sock_filter *insns, unsigned short count);
/// SO_RCVBUFFORCE (falling back to SO_RCVBUF). 0 or -errno.
int curing_receive_buffer(int fd, int bytes);
/// SO_TIMESTAMPNS on. 0 or -errno.
int curing_timestamps(int fd);
/// The interface's ARPHRD_* hardware type (SIOCGIFHWADDR), or -errno.
int curing_interface_hardware_type(const char *name);
/// PACKET_AUXDATA on: each frame's control messages carry its VLAN tag,
/// status and lengths. 0 or -errno.
int curing_packet_auxdata(int fd);
/// PACKET_STATISTICS (which resets the kernel's counts): packets seen by
/// the socket (drops included) and drops. `v3` for TPACKET_V3 sockets.
int curing_packet_statistics(int fd, bool v3, uint64_t *packets, uint64_t *drops);

/// A non-blocking, close-on-exec eventfd, or -errno.
int curing_eventfd(void);

// ---- opening files beneath a directory --------------------------------------

/// O_PATH (hidden from Swift, which imports glibc without _GNU_SOURCE).
static inline int curing_o_path(void) { return 010000000; }

/// openat2(2) (glibc 2.36 has no wrapper): opens `path` relative to
/// `dirfd` read-only, close-on-exec, non-blocking and without a controlling
/// terminal, resolving it with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS. Returns the fd or -errno (-ENOSYS where the
/// kernel lacks it, -EPERM where a seccomp filter refuses it).
int curing_open_beneath(int dirfd, const char *path);

/// The SCM_RIGHTS descriptors of a received message: writes at most `cap`
/// of them to `fds` and returns how many there were in all (more than `cap`
/// means some were closed here), or -1 if a control message other than
/// SCM_RIGHTS came. Every descriptor not returned is closed.
int curing_received_descriptors(struct msghdr *msg, int *fds, int cap);

/// Sends `len` bytes with one descriptor (SCM_RIGHTS) riding on them.
/// Returns bytes sent or -errno.
long curing_send_with_descriptor(int socket, const void *bytes, size_t len, int fd);

/// accept4(SOCK_CLOEXEC | SOCK_NONBLOCK). The fd or -errno.
int curing_accept(int listener);

/// SO_PEERCRED of a connected Unix socket. 0 or -errno.
int curing_peer_credentials(int socket, int32_t *pid, uint32_t *uid, uint32_t *gid);

static inline uint16_t curing_fanout_hash(void) { return PACKET_FANOUT_HASH; }
static inline uint16_t curing_fanout_lb(void) { return PACKET_FANOUT_LB; }
static inline uint16_t curing_fanout_cpu(void) { return PACKET_FANOUT_CPU; }
static inline uint16_t curing_fanout_qm(void) { return PACKET_FANOUT_QM; }
static inline uint8_t curing_packet_outgoing(void) { return PACKET_OUTGOING; }

#endif
