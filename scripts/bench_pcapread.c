/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * bench_pcapread: the file-reading ceiling for scripts/bench.sh. Reads a capture with
 * libpcap's pcap_next_ex() and only counts; a probe that reads the same file through libpcap
 * cannot be faster than this.
 *
 * Usage: bench_pcapread FILE
 * Output (stdout): "packets=N bytes=B max_caplen=C": B is the sum of the original frame
 * lengths, C the longest captured frame (bench.sh sizes DPDK mbufs with it).
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint64_t packets = 0, bytes = 0;
    unsigned max_caplen = 0;
    pcap_t *p;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: bench_pcapread FILE\n");
        return 2;
    }
    p = pcap_open_offline(argv[1], errbuf);
    if (p == NULL) {
        fprintf(stderr, "bench_pcapread: %s\n", errbuf);
        return 1;
    }
    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        packets++;
        bytes += hdr->len;
        if (hdr->caplen > max_caplen)
            max_caplen = hdr->caplen;
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "bench_pcapread: %s\n", pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);
    printf("packets=%" PRIu64 " bytes=%" PRIu64 " max_caplen=%u\n", packets, bytes, max_caplen);
    return 0;
}
