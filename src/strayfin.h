/* strayfin.h: bare FINs that opened no connection, kept a moment.
 *
 * A capture that starts in the middle of a connection, behind a mirror port
 * that delays one direction, can see one side's last FIN before the other
 * side's first bytes: the FIN opens nothing, and the connection those bytes
 * open would count an ACK of it as a missing byte. The flow table keeps
 * such FINs here and brings one in after the packet that opens a
 * connection mid-stream on its endpoints. */
#ifndef LS_STRAYFIN_H
#define LS_STRAYFIN_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"

struct ls_conn;

/* How long a kept FIN waits for a connection, in capture seconds. */
#define LS_STRAYFIN_WAIT 1.0

struct ls_strayfins {
    struct {
        uint32_t hash;        /* the flow table's hash of the 4-tuple */
        double ts;            /* < 0: empty */
        struct ls_packet pkt; /* header only */
    } kept[4];
    uint32_t next; /* the oldest, replaced when all are in use */
};

/* Empties the set. */
void ls_strayfin_init(struct ls_strayfins *k);

/* Keeps `pkt`, seen at `ts`, if it is a bare FIN (no payload, SYN or RST) and, with
 * `check_sums`, its checksum is not wrong (damage, or chaff made to end a
 * stream). Header only: the payload and layer pointers are dropped. */
void ls_strayfin_keep(struct ls_strayfins *k, const struct ls_packet *pkt, double ts, uint32_t hash,
                      bool check_sums);

/* Takes out a FIN kept on the endpoints of `c` (either direction; the
 * flow table's own test, so the FIN finds `c`) no longer than
 * LS_STRAYFIN_WAIT before `now` into *fin; false if none. */
bool ls_strayfin_take(struct ls_strayfins *k, const struct ls_conn *c, double now,
                      struct ls_packet *fin);

#endif
