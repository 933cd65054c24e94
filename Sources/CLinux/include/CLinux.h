// CLinux: what Swift cannot see of Linux itself (as swift-nio's CNIOLinux):
// _GNU_SOURCE declarations, macros and headers Glibc's module leaves out.
// Every shim returns its result, or -errno on failure.
#ifndef CLINUX_H
#define CLINUX_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

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

#endif
