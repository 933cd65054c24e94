/*
 * uring-bare: the bare io_uring receive loop the uring backend is compared
 * with. One AF_PACKET socket on IFACE, multishot recvmsg into a provided
 * buffer ring of 4 KiB buffers (from malloc), counting frames and bytes and
 * recycling each buffer at once. No decode, no flows. Runs until SIGINT or
 * SIGTERM, then prints: received, bytes, kernel packets and drops, enobufs.
 * With "recv", a multishot recv instead of recvmsg (no address, no
 * truncation length beyond what MSG_TRUNC gives recv). With "aux", recvmsg
 * with PACKET_AUXDATA on and its control message read for every frame, as
 * the uring backend does (for the VLAN tag the kernel took out).
 *
 *   uring-bare IFACE [recv|aux]
 *
 * Build: cc -O2 -o uring-bare uring-bare.c -luring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define ENTRIES 256
#define BUF 4096

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: uring-bare IFACE [recv]\n"); return 64; }
    int plain = argc > 2 && strcmp(argv[2], "recv") == 0;
    int aux = argc > 2 && strcmp(argv[2], "aux") == 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                              .sll_ifindex = (int)if_nametoindex(argv[1])};
    if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) { perror("socket/bind"); return 1; }
    int rcv = 32 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv);
    int one = 1;
    if (aux && setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0) { perror("PACKET_AUXDATA"); return 1; }
    struct io_uring ring;
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    if (io_uring_queue_init_params(256, &ring, &p) < 0) { perror("io_uring"); return 1; }
    struct io_uring_buf_ring *br = mmap(NULL, ENTRIES * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = ENTRIES, .bgid = 0};
    if (io_uring_register_buf_ring(&ring, &reg, 0) < 0) { perror("buf ring"); return 1; }
    io_uring_buf_ring_init(br);
    char *buffers = aligned_alloc(4096, (size_t)ENTRIES * BUF);
    for (int i = 0; i < ENTRIES; i++)
        io_uring_buf_ring_add(br, buffers + i * BUF, BUF, i, io_uring_buf_ring_mask(ENTRIES), i);
    io_uring_buf_ring_advance(br, ENTRIES);
    struct msghdr msg = {.msg_namelen = sizeof(struct sockaddr_ll),
                         .msg_controllen = aux ? CMSG_SPACE(sizeof(struct tpacket_auxdata)) : 0};
    long tagged = 0;
    int armed = 0;
    long received = 0, bytes = 0, enobufs = 0;
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 100000000};
    fprintf(stderr, "uring-bare: ready\n");
    while (!stop) {
        if (!armed) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            if (plain)
                io_uring_prep_recv_multishot(sqe, fd, NULL, 0, MSG_TRUNC);
            else
                io_uring_prep_recvmsg_multishot(sqe, fd, &msg, MSG_TRUNC);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = 0;
            armed = 1;
        }
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
        unsigned head, n = 0, recycled = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            n++;
            if (!(cqe->flags & IORING_CQE_F_MORE)) armed = 0;
            if (cqe->res < 0) {
                if (cqe->res == -ENOBUFS) enobufs++;
                continue;
            }
            int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
            struct io_uring_recvmsg_out *o;
            if (plain) {
                received++;
                bytes += cqe->res;
            } else if ((o = io_uring_recvmsg_validate(buffers + bid * BUF, cqe->res, &msg)) != NULL) {
                received++;
                bytes += io_uring_recvmsg_payload_length(o, cqe->res, &msg);
                if (aux) {
                    for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, &msg); c;
                         c = io_uring_recvmsg_cmsg_nexthdr(o, &msg, c)) {
                        if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
                            struct tpacket_auxdata a;
                            memcpy(&a, CMSG_DATA(c), sizeof a);
                            if (a.tp_status & TP_STATUS_VLAN_VALID) tagged++;
                        }
                    }
                }
            }
            io_uring_buf_ring_add(br, buffers + bid * BUF, BUF, bid, io_uring_buf_ring_mask(ENTRIES), recycled++);
        }
        io_uring_cq_advance(&ring, n);
        if (recycled) io_uring_buf_ring_advance(br, recycled);
    }
    struct tpacket_stats st;
    socklen_t sl = sizeof st;
    getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
    printf("received %ld bytes %ld kernel_packets %u kernel_drops %u enobufs %ld tagged %ld\n", received, bytes,
           st.tp_packets, st.tp_drops, enobufs, tagged);
    return 0;
}
