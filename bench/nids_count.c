/* nids_count.c: the C reference a user might write by hand with libnids:
 * reassemble every TCP connection of a capture and count its bytes. Used by
 * bench/run.sh as the yardstick luasniff is compared with. libnids knows no
 * IPv6 TCP, so on mixed workloads it sees only the IPv4 connections.
 * libnids verifies IP and TCP checksums unless told not to, as luasniff
 * does by default for senders that send correct ones (all of the
 * generator's); --no-checksums turns it off, for comparison with
 * luasniff --checksums none. */
#include <nids.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t total, conns;

static void on_tcp(struct tcp_stream *s, void **param)
{
    (void)param;
    switch (s->nids_state) {
    case NIDS_JUST_EST:
        s->client.collect++;
        s->server.collect++;
        conns++;
        break;
    case NIDS_DATA: total += (uint64_t)s->server.count_new + (uint64_t)s->client.count_new; break;
    default: break;
    }
}

int main(int argc, char **argv)
{
    bool checksums = true;
    if (argc == 3 && strcmp(argv[1], "--no-checksums") == 0) {
        checksums = false;
        argv++;
        argc--;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: nids_count [--no-checksums] FILE.pcap\n");
        return 2;
    }
    static struct nids_chksum_ctl no_checksums = {0, 0, NIDS_DONT_CHKSUM, 0};
    nids_params.filename = argv[1];
    nids_params.device = NULL;
    nids_params.scan_num_hosts = 0; /* no port-scan detection */
    nids_params.n_tcp_streams = 1 << 18;
    nids_params.n_hosts = 1 << 16;
    nids_params.tcp_workarounds = 1;
    if (!nids_init()) {
        fprintf(stderr, "nids_count: %s\n", nids_errbuf);
        return 1;
    }
    if (!checksums)
        nids_register_chksum_ctl(&no_checksums, 1);
    nids_register_tcp(on_tcp);
    nids_run();
    printf("connections=%llu bytes=%llu\n", (unsigned long long)conns, (unsigned long long)total);
    nids_exit();
    return 0;
}
