/* strayfin.c: bare FINs that opened no connection, kept a moment. */
#include "strayfin.h"

#include <string.h>

#include "common.h"
#include "conn.h"
#include "csum.h"

void ls_strayfin_init(struct ls_strayfins *k)
{
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < LS_ARRAY_SIZE(k->kept); i++)
        k->kept[i].ts = -1;
}

void ls_strayfin_keep(struct ls_strayfins *k, const struct ls_packet *pkt, double ts, uint32_t hash,
                      bool check_sums)
{
    if ((pkt->flags & (LS_TCP_FIN | LS_TCP_SYN | LS_TCP_RST)) != LS_TCP_FIN || pkt->payload_len ||
        pkt->payload_missing ||
        (check_sums && ls_csum_check(pkt) == LS_CSUM_BAD && !ls_csum_offload_artifact(pkt)))
        return;
    size_t i = k->next++ % LS_ARRAY_SIZE(k->kept);
    k->kept[i].hash = hash;
    k->kept[i].ts = ts;
    k->kept[i].pkt = *pkt;
    struct ls_packet *p = &k->kept[i].pkt;
    p->payload = p->l3 = p->l4 = NULL;
    p->l3_len = p->l4_len = 0;
}

bool ls_strayfin_take(struct ls_strayfins *k, const struct ls_conn *c, double now,
                      struct ls_packet *fin)
{
    for (size_t i = 0; i < LS_ARRAY_SIZE(k->kept); i++) {
        if (k->kept[i].ts < 0 || k->kept[i].hash != c->hash ||
            k->kept[i].ts + LS_STRAYFIN_WAIT < now || ls_conn_packet_dir(c, &k->kept[i].pkt) < 0)
            continue;
        *fin = k->kept[i].pkt;
        k->kept[i].ts = -1;
        return true;
    }
    return false;
}
