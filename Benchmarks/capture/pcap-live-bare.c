/*
 * pcap-live-bare: libpcap's bare live loop (TPACKET_V3 underneath): a
 * pcap_dispatch callback that counts. Runs until SIGINT/SIGTERM, then
 * prints: received, bytes, kernel packets and drops (pcap_stats).
 *
 *   pcap-live-bare IFACE
 *
 * Build: cc -O2 -o pcap-live-bare pcap-live-bare.c -lpcap
 */
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>

static volatile sig_atomic_t stop;
static long received, bytes;
static void on_signal(int s) { (void)s; stop = 1; }
static void count(u_char *u, const struct pcap_pkthdr *h, const u_char *b) {
    (void)u; (void)b;
    received++;
    bytes += h->caplen;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: pcap-live-bare IFACE\n"); return 64; }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_create(argv[1], err);
    if (!p) { fprintf(stderr, "%s\n", err); return 1; }
    pcap_set_snaplen(p, 262144);
    pcap_set_promisc(p, 1);
    pcap_set_timeout(p, 100);
    pcap_set_buffer_size(p, 32 << 20);
    if (pcap_activate(p) < 0) { fprintf(stderr, "%s\n", pcap_geterr(p)); return 1; }
    pcap_setnonblock(p, 1, err);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct pollfd pfd = {.fd = pcap_get_selectable_fd(p), .events = POLLIN};
    fprintf(stderr, "pcap-live-bare: ready\n");
    while (!stop) {
        int n = pcap_dispatch(p, 64, count, NULL);
        if (n == 0) poll(&pfd, 1, 100);
    }
    while (pcap_dispatch(p, 64, count, NULL) > 0) {}
    struct pcap_stat st;
    pcap_stats(p, &st);
    printf("received %ld bytes %ld kernel_packets %u kernel_drops %u\n", received, bytes, st.ps_recv, st.ps_drop);
    return 0;
}
