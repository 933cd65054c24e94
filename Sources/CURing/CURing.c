#include "CURing.h"

#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <sys/ioctl.h>

// ---- io_uring for capture ------------------------------------------------

int curing_ring_init(struct io_uring *ring, unsigned entries, unsigned flags, bool *downgraded) {
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = flags;
    *downgraded = false;
    int r = io_uring_queue_init_params(entries, ring, &p);
    if (r == -EINVAL && (flags & (IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER))) {
        memset(&p, 0, sizeof(p));
        p.flags = flags & ~(IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER);
        *downgraded = true;
        r = io_uring_queue_init_params(entries, ring, &p);
    }
    return r;
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) {
        io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
    }
    return sqe;
}

int curing_arm_poll(struct io_uring *ring, int fd, uint64_t tag) {
    struct io_uring_sqe *sqe = get_sqe(ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_poll_multishot(sqe, fd, POLLIN);
    io_uring_sqe_set_data64(sqe, tag);
    return 0;
}

int curing_arm_recvmsg(struct io_uring *ring, int fd, struct msghdr *msg, uint16_t bgid, uint64_t tag) {
    struct io_uring_sqe *sqe = get_sqe(ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_recvmsg_multishot(sqe, fd, msg, MSG_TRUNC);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = bgid;
    io_uring_sqe_set_data64(sqe, tag);
    return 0;
}

int curing_prep_writev(struct io_uring *ring, int fd, const struct iovec *iov, unsigned count, uint64_t offset,
                       int rw_flags, uint64_t tag) {
    struct io_uring_sqe *sqe = get_sqe(ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_writev2(sqe, fd, iov, count, offset, rw_flags);
    io_uring_sqe_set_data64(sqe, tag);
    return 0;
}

int curing_limit_iowq(struct io_uring *ring, const int32_t *cpus, int32_t count, unsigned max_workers) {
    if (count > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int32_t i = 0; i < count; i++) {
            if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
        }
        int r = io_uring_register_iowq_aff(ring, sizeof(set), &set);
        if (r < 0) return r;
    }
    if (max_workers > 0) {
        unsigned values[2] = {max_workers, max_workers};
        int r = io_uring_register_iowq_max_workers(ring, values);
        if (r < 0) return r;
    }
    return 0;
}

int curing_cancel_fd(struct io_uring *ring, int fd) {
    struct io_uring_sqe *sqe = get_sqe(ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, 0);
    return 0;
}

int curing_submit_and_wait(struct io_uring *ring, unsigned wait, int64_t timeout_ns) {
    if (wait == 0 || timeout_ns == 0) {
        /* With DEFER_TASKRUN completions are posted only inside an enter
         * with GETEVENTS: a plain submit with nothing queued would not even
         * enter, and a busy-polling worker would never see a frame. */
        int r = io_uring_submit_and_get_events(ring);
        if (r < 0) return r;
        return (int)io_uring_cq_ready(ring);
    }
    struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    struct io_uring_cqe *cqe = NULL;
    int r = io_uring_submit_and_wait_timeout(ring, &cqe, wait, &ts, NULL);
    if (r < 0 && r != -ETIME) return r;
    return (int)io_uring_cq_ready(ring);
}

unsigned curing_reap(struct io_uring *ring, uint64_t *user_data, int32_t *res, uint32_t *flags, unsigned max) {
    unsigned head, n = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
        if (n == max) break;
        user_data[n] = cqe->user_data;
        res[n] = cqe->res;
        flags[n] = cqe->flags;
        n++;
    }
    io_uring_cq_advance(ring, n);
    return n;
}

struct io_uring_buf_ring *curing_buf_ring_setup(struct io_uring *ring, unsigned entries, uint16_t bgid) {
    size_t size = entries * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) return NULL;
    struct io_uring_buf_ring *br = mem;
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (unsigned long)mem;
    reg.ring_entries = entries;
    reg.bgid = bgid;
    int r = io_uring_register_buf_ring(ring, &reg, 0);
    if (r < 0) {
        munmap(mem, size);
        errno = -r;
        return NULL;
    }
    return br;
}

int curing_buf_ring_unregister(struct io_uring *ring, uint16_t bgid) {
    return io_uring_unregister_buf_ring(ring, bgid);
}

void curing_buf_ring_unmap(struct io_uring_buf_ring *br, unsigned entries) {
    munmap(br, entries * sizeof(struct io_uring_buf));
}

void curing_buf_ring_add(struct io_uring_buf_ring *br, void *addr, unsigned len, uint16_t bid, unsigned entries, unsigned offset) {
    io_uring_buf_ring_add(br, addr, len, bid, io_uring_buf_ring_mask(entries), (int)offset);
}

void curing_buf_ring_advance(struct io_uring_buf_ring *br, unsigned count) {
    io_uring_buf_ring_advance(br, (int)count);
}

int curing_recvmsg_frame(void *buf, int len, struct msghdr *msg, curing_received_frame *out) {
    struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, len, msg);
    if (!o) return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->payload = io_uring_recvmsg_payload(o, msg);
    out->captured = io_uring_recvmsg_payload_length(o, len, msg);
    out->real = o->payloadlen;
    if (o->namelen >= sizeof(struct sockaddr_ll) && msg->msg_namelen >= sizeof(struct sockaddr_ll)) {
        struct sockaddr_ll *ll = io_uring_recvmsg_name(o);
        out->pkttype = ll->sll_pkttype;
    }
    struct tpacket_auxdata aux;
    for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, msg); c != NULL;
         c = io_uring_recvmsg_cmsg_nexthdr(o, msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            out->timestamp_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        } else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
                   c->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
            memcpy(&aux, CMSG_DATA(c), sizeof(aux));
            out->has_auxdata = true;
            out->status = aux.tp_status;
        }
    }
    // libpcap's rule (pcap-linux.c): a tag is there to put back when the
    // kernel says so, or (older kernels) when the TCI is not zero.
    if (out->has_auxdata && (aux.tp_vlan_tci != 0 || (aux.tp_status & TP_STATUS_VLAN_VALID)) &&
        out->captured >= 12 && out->payload - (uint8_t *)buf >= 4) {
        uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : ETH_P_8021Q;
        uint8_t *start = out->payload - 4;
        memmove(start, out->payload, 12);
        uint16_t be_tpid = htons(tpid), be_tci = htons(aux.tp_vlan_tci);
        memcpy(start + 12, &be_tpid, 2);
        memcpy(start + 14, &be_tci, 2);
        out->payload = start;
        out->captured += 4;
        out->real += 4;
        out->vlan_reinserted = true;
    }
    return 0;
}

