/*
 * blast: send COUNT UDP frames of LEN bytes out of IFACE through a raw
 * AF_PACKET socket with sendmmsg, as fast as possible or at PPS.
 *
 *   blast IFACE COUNT LEN [PPS] [FLOWS]
 *
 * Prints: sent, seconds, pps. Build: cc -O2 -o blast blast.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t checksum(const uint8_t *p, int n) {
    uint32_t s = 0;
    for (int i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: blast IFACE COUNT LEN [PPS] [FLOWS]\n");
        return 64;
    }
    const char *iface = argv[1];
    long count = atol(argv[2]);
    int len = atoi(argv[3]);
    double pps = argc > 4 ? atof(argv[4]) : 0;
    int flows = argc > 5 ? atoi(argv[5]) : 256;
    if (len < 60 || len > 9000) { fprintf(stderr, "LEN must be 60...9000\n"); return 64; }
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(iface), .sll_halen = 6};
    if (sll.sll_ifindex == 0) { perror(iface); return 1; }
    int sndbuf = 64 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
    static uint8_t frames[BATCH][9000];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    long sent = 0;
    double start = now();
    while (sent < count) {
        int n = count - sent < BATCH ? (int)(count - sent) : BATCH;
        for (int i = 0; i < n; i++) {
            uint8_t *f = frames[i];
            long seq = sent + i;
            int flow = (int)(seq % flows);
            memset(f, 0, 42);
            memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
            uint8_t *ip = f + 14;
            int iplen = len - 14;
            ip[0] = 0x45; ip[2] = iplen >> 8; ip[3] = iplen & 0xff; ip[8] = 64; ip[9] = 17;
            ip[12] = 10; ip[13] = (uint8_t)(1 + (flow >> 16)); ip[14] = (flow >> 8) & 0xff; ip[15] = flow & 0xff;
            ip[16] = 10; ip[17] = 2; ip[18] = 0; ip[19] = 1;
            uint16_t c = checksum(ip, 20);
            ip[10] = c >> 8; ip[11] = c & 0xff;
            uint8_t *udp = ip + 20;
            int sport = 1024 + flow;
            udp[0] = sport >> 8; udp[1] = sport & 0xff; udp[2] = 0; udp[3] = 53;
            udp[4] = (iplen - 20) >> 8; udp[5] = (iplen - 20) & 0xff;
            iov[i].iov_base = f;
            iov[i].iov_len = (size_t)len;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &sll;
            msgs[i].msg_hdr.msg_namelen = sizeof sll;
        }
        int r = sendmmsg(fd, msgs, (unsigned)n, 0);
        if (r < 0) { perror("sendmmsg"); usleep(100); continue; }
        sent += r;
        if (pps > 0) {
            double due = start + sent / pps;
            double wait = due - now();
            if (wait > 0) usleep((useconds_t)(wait * 1e6));
        }
    }
    double secs = now() - start;
    printf("sent %ld seconds %.6f pps %.0f\n", sent, secs, sent / secs);
    return 0;
}
