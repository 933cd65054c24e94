/*
 * gen-pcap: fast synthetic classic-pcap generator for replay benchmarks.
 *
 * Usage: gen-pcap OUT COUNT FRAMELEN [FLOWS]
 *
 * Writes a classic pcap file (magic 0xa1b2c3d4 written little-endian,
 * microsecond timestamps, version 2.4, LINKTYPE_ETHERNET, snaplen 65535)
 * holding COUNT Ethernet/IPv4/UDP frames of exactly FRAMELEN bytes each
 * (60 <= FRAMELEN <= 65535), spread over FLOWS (default 4096) distinct
 * bidirectional UDP flows.
 *
 * Flow f (0 <= f < FLOWS):
 *   client 10.0.0.0/8 address  = 10.  bijective-mix24(f)   (unique per flow)
 *   server 172.16.0.0/12 addr  = 172.16/12 + mix20(f)
 *   client port                = 49153 + mix(f) % 16383   (49153..65535)
 *   server port                = 32768 + mix'(f) % 16384  (32768..49151)
 * The port ranges avoid every UDP port tcpdump 4.99 dissects by number
 * (e.g. 53, 4789 VXLAN, 6081 Geneve, 30490 SOME/IP, 49152 BCM-LI), so
 * `tcpdump -nn -r` shows plain "UDP, length N" for every packet.
 * Both addresses and both ports vary, so a symmetric (direction-agnostic)
 * 5-tuple hash spreads the flows.  Each packet picks a flow from a fixed-seed
 * xorshift64* PRNG (so the output is deterministic); each flow alternates
 * direction (client->server, server->client, ...) on successive packets, so
 * every flow carries half of its packets (+-1) in each direction.
 *
 * IPv4: IHL 5, DF, TTL 64, id = packet index & 0xffff, correct total length
 * and header checksum.  UDP: correct length, checksum 0 (none).
 * Timestamps start at 1700000000.000000 and increase by 1 us per packet.
 *
 * Speed: the output buffer holds a whole number of fixed-size records, so the
 * payload is written into it once; per packet only the 16-byte record header
 * and the 42 bytes of Ethernet/IPv4/UDP headers are rewritten.  Buffers of
 * ~8 MiB are handed to fwrite().
 *
 * Build: gcc -O2 -o gen-pcap gen-pcap.c
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_HDR_LEN   24
#define REC_HDR_LEN    16
#define ETH_LEN        14
#define IP_LEN         20
#define UDP_LEN        8
#define HDRS_LEN       (ETH_LEN + IP_LEN + UDP_LEN)
#define MIN_FRAMELEN   60
#define MAX_FRAMELEN   65535
#define SNAPLEN        65535
#define DEFAULT_FLOWS  4096
#define MAX_FLOWS      (1u << 24)
#define TARGET_BUF     (8u << 20)
#define TS_START_SEC   1700000000u

struct flow {
    uint32_t client_ip;   /* host order */
    uint32_t server_ip;   /* host order */
    uint16_t client_port;
    uint16_t server_port;
    uint32_t ip_sum;      /* partial one's-complement sum, all IPv4 header
                             words except id and checksum; identical for both
                             directions since src/dst only swap places */
    uint8_t  next_to_server; /* direction of this flow's next packet */
};

static inline void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v;
}

/* 32-bit integer mixer (lowbias32); bijective on uint32_t. */
static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16; x *= 0x7feb352du;
    x ^= x >> 15; x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* Bijection on [0, 2^24): odd multiplier and xorshift, both invertible mod 2^24. */
static uint32_t mix24(uint32_t x)
{
    x &= 0xffffffu;
    x = (x * 0x9e3779u) & 0xffffffu;   /* odd constant -> bijective */
    x ^= x >> 12;
    x = (x * 0x2c1b3du) & 0xffffffu;   /* odd */
    x ^= x >> 11;
    return x;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static inline uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static int parse_u64(const char *s, const char *what, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s[0] == '-' || s[0] == '\0') goto bad;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "gen-pcap: invalid %s: '%s'\n", what, s);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s OUT COUNT FRAMELEN [FLOWS]\n"
                        "  FRAMELEN %d..%d, FLOWS 1..%u (default %d)\n",
                argv[0], MIN_FRAMELEN, MAX_FRAMELEN, MAX_FLOWS, DEFAULT_FLOWS);
        return 2;
    }
    const char *out = argv[1];
    uint64_t count, framelen, nflows = DEFAULT_FLOWS;
    if (parse_u64(argv[2], "COUNT", &count) ||
        parse_u64(argv[3], "FRAMELEN", &framelen) ||
        (argc == 5 && parse_u64(argv[4], "FLOWS", &nflows)))
        return 2;
    if (framelen < MIN_FRAMELEN || framelen > MAX_FRAMELEN) {
        fprintf(stderr, "gen-pcap: FRAMELEN must be %d..%d\n", MIN_FRAMELEN, MAX_FRAMELEN);
        return 2;
    }
    if (nflows < 1 || nflows > MAX_FLOWS) {
        fprintf(stderr, "gen-pcap: FLOWS must be 1..%u\n", MAX_FLOWS);
        return 2;
    }

    const uint16_t ip_total = (uint16_t)(framelen - ETH_LEN);
    const uint16_t udp_len = (uint16_t)(framelen - ETH_LEN - IP_LEN);

    struct flow *flows = calloc(nflows, sizeof *flows);
    if (!flows) { perror("gen-pcap: calloc flows"); return 1; }
    for (uint32_t f = 0; f < nflows; f++) {
        struct flow *fl = &flows[f];
        fl->client_ip = (10u << 24) | (mix24(f) ^ 0x5a5a5au);
        fl->server_ip = (172u << 24) | (16u << 16) | (mix32(f ^ 0x5bd1e995u) & 0xfffffu);
        fl->client_port = (uint16_t)(49153u + mix32(f * 2u + 1u) % 16383u);
        fl->server_port = (uint16_t)(32768u + mix32(f * 2u + 0x12345u) % 16384u);
        uint32_t s = 0x4500u + ip_total + 0x4000u /* DF */ + ((64u << 8) | 17u);
        s += fl->client_ip >> 16; s += fl->client_ip & 0xffffu;
        s += fl->server_ip >> 16; s += fl->server_ip & 0xffffu;
        fl->ip_sum = s;
        fl->next_to_server = (uint8_t)(f & 1u);
    }

    const size_t reclen = REC_HDR_LEN + (size_t)framelen;
    size_t per_buf = TARGET_BUF / reclen;
    if (per_buf == 0) per_buf = 1;
    if (count < per_buf) per_buf = count ? (size_t)count : 1;
    uint8_t *buf = malloc(per_buf * reclen);
    if (!buf) { perror("gen-pcap: malloc buffer"); return 1; }

    /* Template record: static fields + payload, replicated into every slot. */
    uint8_t *tpl = buf;
    memset(tpl, 0, reclen);
    put_le32(tpl + 8, (uint32_t)framelen);          /* caplen */
    put_le32(tpl + 12, (uint32_t)framelen);         /* orig len */
    uint8_t *fr = tpl + REC_HDR_LEN;
    put_be16(fr + 12, 0x0800);                      /* EtherType IPv4 */
    uint8_t *ip = fr + ETH_LEN;
    ip[0] = 0x45; ip[1] = 0;
    put_be16(ip + 2, ip_total);
    put_be16(ip + 6, 0x4000);                       /* DF, offset 0 */
    ip[8] = 64; ip[9] = 17;                         /* TTL, UDP */
    uint8_t *udp = ip + IP_LEN;
    put_be16(udp + 4, udp_len);
    put_be16(udp + 6, 0);                           /* no UDP checksum */
    for (size_t k = HDRS_LEN; k < framelen; k++)
        fr[k] = (uint8_t)(k * 31u + 7u);
    for (size_t r = 1; r < per_buf; r++)
        memcpy(buf + r * reclen, tpl, reclen);

    FILE *fp = fopen(out, "wb");
    if (!fp) { fprintf(stderr, "gen-pcap: %s: %s\n", out, strerror(errno)); return 1; }
    setvbuf(fp, NULL, _IONBF, 0);   /* we hand over whole big chunks */

    uint8_t gh[PCAP_HDR_LEN];
    put_le32(gh + 0, 0xa1b2c3d4u);  /* magic, microsecond resolution */
    put_le16(gh + 4, 2);            /* version major */
    put_le16(gh + 6, 4);            /* version minor */
    put_le32(gh + 8, 0);            /* thiszone */
    put_le32(gh + 12, 0);           /* sigfigs */
    put_le32(gh + 16, SNAPLEN);
    put_le32(gh + 20, 1);           /* LINKTYPE_ETHERNET */
    if (fwrite(gh, 1, sizeof gh, fp) != sizeof gh) goto werr;

    static const uint8_t mac_client[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
    static const uint8_t mac_server[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

    uint32_t ts_sec = TS_START_SEC, ts_usec = 0;
    uint64_t i = 0, c2s = 0;
    while (i < count) {
        size_t n = per_buf;
        if (count - i < n) n = (size_t)(count - i);
        for (size_t r = 0; r < n; r++, i++) {
            uint8_t *rec = buf + r * reclen;
            put_le32(rec + 0, ts_sec);
            put_le32(rec + 4, ts_usec);
            if (++ts_usec == 1000000u) { ts_usec = 0; ts_sec++; }

            uint64_t rnd = rng_next();
            struct flow *fl = &flows[(uint32_t)((rnd >> 32) % nflows)];
            int to_server = fl->next_to_server;
            fl->next_to_server ^= 1u;
            c2s += (uint64_t)to_server;

            uint8_t *e = rec + REC_HDR_LEN;
            uint8_t *iph = e + ETH_LEN;
            uint8_t *uh = iph + IP_LEN;
            uint32_t sip, dip; uint16_t sp, dp;
            if (to_server) {
                memcpy(e, mac_server, 6); memcpy(e + 6, mac_client, 6);
                sip = fl->client_ip; dip = fl->server_ip;
                sp = fl->client_port; dp = fl->server_port;
            } else {
                memcpy(e, mac_client, 6); memcpy(e + 6, mac_server, 6);
                sip = fl->server_ip; dip = fl->client_ip;
                sp = fl->server_port; dp = fl->client_port;
            }
            uint16_t id = (uint16_t)i;
            uint32_t s = fl->ip_sum + id;
            s = (s & 0xffffu) + (s >> 16);
            s = (s & 0xffffu) + (s >> 16);
            put_be16(iph + 4, id);
            put_be16(iph + 10, (uint16_t)~s);
            put_be32(iph + 12, sip);
            put_be32(iph + 16, dip);
            put_be16(uh + 0, sp);
            put_be16(uh + 2, dp);
        }
        if (fwrite(buf, reclen, n, fp) != n) goto werr;
    }
    if (fclose(fp) != 0) { fp = NULL; goto werr; }

    fprintf(stderr, "gen-pcap: wrote %s: %llu frames x %llu bytes, %llu flows, "
                    "%llu client->server / %llu server->client\n",
            out, (unsigned long long)count, (unsigned long long)framelen,
            (unsigned long long)nflows, (unsigned long long)c2s,
            (unsigned long long)(count - c2s));
    free(buf);
    free(flows);
    return 0;

werr:
    fprintf(stderr, "gen-pcap: write %s: %s\n", out, strerror(errno));
    if (fp) fclose(fp);
    return 1;
}
