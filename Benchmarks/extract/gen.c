// Writes the input of the extraction benchmark: a nanosecond pcap of N
// Ethernet/IPv4/UDP frames over F flows (flow i: 10.a.b.c <-> 172.16.b.c
// from i's bytes, ports from i), flows drawn uniformly at random
// (xorshift, fixed seed), timestamps evenly spread over SECONDS from
// 1700000000. Sizes: "64" (every frame 64 bytes) or "imix" (64, 576 and
// 1500 bytes, 7:4:1).
//   cc -O2 -o gen gen.c && ./gen OUT.pcap FRAMES FLOWS SECONDS 64|imix
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: gen OUT.pcap FRAMES FLOWS SECONDS 64|imix\n");
        return 64;
    }
    FILE *f = fopen(argv[1], "wb");
    if (!f) { perror(argv[1]); return 1; }
    setvbuf(f, NULL, _IOFBF, 1 << 22);
    uint64_t frames = strtoull(argv[2], 0, 10), flows = strtoull(argv[3], 0, 10);
    uint64_t span = strtoull(argv[4], 0, 10) * 1000000000ull;
    int imix = strcmp(argv[5], "imix") == 0;
    uint32_t header[6] = {0xA1B23C4D, 2 | (4u << 16), 0, 0, 65535, 1};
    fwrite(header, 4, 6, f);
    static uint8_t frame[1514];
    uint64_t t0 = 1700000000ull * 1000000000ull;
    for (uint64_t k = 0; k < frames; k++) {
        uint64_t i = next() % flows;
        int size = 64;
        if (imix) {
            uint64_t r = next() % 12;
            size = r < 7 ? 64 : (r < 11 ? 576 : 1500);
        }
        memset(frame, 0, 64);
        frame[0] = 2; frame[5] = 1; frame[6] = 2; frame[11] = 2;
        frame[12] = 0x08; frame[13] = 0x00;
        uint8_t *ip = frame + 14;
        int total = size - 14;
        ip[0] = 0x45; ip[2] = total >> 8; ip[3] = total & 255; ip[8] = 64; ip[9] = 17;
        int forward = next() & 1;
        uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        uint8_t b[4] = {172, 16, (uint8_t)(i >> 8), (uint8_t)i};
        memcpy(ip + 12, forward ? a : b, 4);
        memcpy(ip + 16, forward ? b : a, 4);
        uint8_t *udp = ip + 20;
        uint16_t sport = 1024 + (i % 60000), dport = 53;
        if (!forward) { uint16_t x = sport; sport = dport; dport = x; }
        udp[0] = sport >> 8; udp[1] = sport; udp[2] = dport >> 8; udp[3] = dport;
        udp[4] = (total - 20) >> 8; udp[5] = (total - 20) & 255;
        uint64_t ts = t0 + k * (span / frames);
        uint32_t record[4] = {(uint32_t)(ts / 1000000000ull), (uint32_t)(ts % 1000000000ull), (uint32_t)size,
                              (uint32_t)size};
        fwrite(record, 4, 4, f);
        fwrite(frame, 1, size, f);
    }
    return fclose(f) == 0 ? 0 : 1;
}
