// liburing, and nothing else: thin functions over its inline helpers and
// macros, and the flags Swift cannot import, so that Swift calls plain
// functions. What Linux itself offers (threads, AF_PACKET, descriptors) is in
// CLinux. System headers come before <liburing.h>, which sets _XOPEN_SOURCE
// (see swift-nio's CNIOLinux). Every function returns 0 or -errno unless it
// says otherwise.
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

// ---- io_uring flags built from enum shifts, hidden from Swift ----------

static inline uint32_t curing_setup_single_issuer(void) { return IORING_SETUP_SINGLE_ISSUER; }
static inline uint32_t curing_setup_defer_taskrun(void) { return IORING_SETUP_DEFER_TASKRUN; }

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

#endif
