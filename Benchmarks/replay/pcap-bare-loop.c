/*
 * pcap-bare-loop: the "libpcap bare read loop" peer for replay benchmarks.
 *
 * Opens a capture file with pcap_open_offline() and calls
 * pcap_dispatch(p, -1, cb, ...) until EOF.  The callback only counts packets
 * and adds caplen to a byte counter.  Wall time is measured with
 * clock_gettime(CLOCK_MONOTONIC) around the dispatch loop only (open/close
 * are excluded).
 *
 * Output (stdout, one line, machine-parseable):
 *   packets=N bytes=B seconds=S pps=P
 *
 * Build: gcc -O2 -o pcap-bare-loop pcap-bare-loop.c -lpcap
 * Usage: pcap-bare-loop FILE.pcap
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct counters {
    uint64_t packets;
    uint64_t bytes;
};

static void cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    (void)bytes;
    struct counters *c = (struct counters *)user;
    c->packets++;
    c->bytes += h->caplen;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]);
        return 2;
    }

    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
    if (p == NULL) {
        fprintf(stderr, "pcap_open_offline(%s): %s\n", argv[1], errbuf);
        return 1;
    }

    struct counters c = { 0, 0 };
    struct timespec t0, t1;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* For a savefile, pcap_dispatch with cnt -1 processes packets until EOF
     * (returns 0), an error (-1) or pcap_breakloop (-2); loop defensively in
     * case an implementation returns after a partial buffer. */
    while ((rc = pcap_dispatch(p, -1, cb, (u_char *)&c)) > 0)
        ;
    clock_gettime(CLOCK_MONOTONIC, &t1);

    if (rc == PCAP_ERROR) {
        fprintf(stderr, "pcap_dispatch: %s\n", pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);

    double seconds = (double)(t1.tv_sec - t0.tv_sec) +
                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double pps = seconds > 0 ? (double)c.packets / seconds : 0.0;

    printf("packets=%llu bytes=%llu seconds=%.9f pps=%.0f\n",
           (unsigned long long)c.packets, (unsigned long long)c.bytes,
           seconds, pps);
    return 0;
}
