/* floor.c: the libpcap read floor. Reads every record of a capture and
 * touches its bytes, nothing more: the time any libpcap-based tool needs
 * just to see the packets. luasniff's figures are ratios against it. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

struct acc {
    uint64_t packets, bytes, sum;
};

static void on_packet(u_char *ud, const struct pcap_pkthdr *h, const u_char *p)
{
    struct acc *a = (struct acc *)ud;
    a->packets++;
    a->bytes += h->caplen;
    a->sum += h->caplen ? p[h->caplen - 1] : 0; /* the bytes are really there */
}

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: floor FILE.pcap\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "floor: %s\n", err);
        return 1;
    }
    struct acc a = {0};
    if (pcap_loop(p, -1, on_packet, (u_char *)&a) == PCAP_ERROR) {
        fprintf(stderr, "floor: %s\n", pcap_geterr(p));
        return 1;
    }
    pcap_close(p);
    printf("packets=%llu bytes=%llu check=%llu\n", (unsigned long long)a.packets,
           (unsigned long long)a.bytes, (unsigned long long)a.sum);
    return 0;
}
