/* app.c: the run as a whole, on a libuv loop. Reads the capture files in
 * sequence in batches from an idle handle, so that signals are served between
 * batches, or live interfaces as they become readable (app_live.c); passes
 * each frame through decode, script timers, the `packet` handler and the flow
 * table; and owns the setup and shutdown order. With app_live.c, the only
 * file that includes uv.h. */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "app_live.h"
#include "capture.h"
#include "csum.h"
#include "decode.h"
#include "log.h"
#include "priv.h"
#include "pcapw.h"
#include "script.h"

/* Records per idle tick: large enough to amortise the loop, small enough
 * that a signal is answered quickly. */
#define BATCH 256
/* Batches per readiness of a live interface: the level-triggered poll comes
 * back for the rest, after the other interfaces, timers and signals. */
#define LIVE_BATCHES 8
/* How far the capture clock stays behind the wall clock on a quiet link, so
 * that a frame the kernel stamped just before a tick is not behind the clock
 * when it is read. Without immediate mode frames wait up to the kernel's
 * buffer timeout. */
#define LIVE_LAG 0.005
/* Longest wait between wall-clock ticks when no script timer is due sooner. */
#define LIVE_TICK_MS 250

_Static_assert(LS_DECODE__COUNT <= LS_ARRAY_SIZE(((struct ls_stats *)0)->decode),
               "struct ls_stats.decode is too small for enum ls_decode_status");

/* Records of a file our reader takes are seen up to this many ahead of
 * their turn, and decoded then. What handling a record touches is fetched
 * in four steps, each once the previous one has arrived: the hash bucket
 * AHEAD records before its turn, the connection at AHEAD / 2, what the
 * connection points to (held segments, age-list neighbours) at AHEAD / 4,
 * and at AHEAD / 8 the held bytes its ACK may release and where its own
 * bytes go. The decode is reused at the record's turn when the slot holds
 * that record (same number) at the same address (the reader's buffer may
 * have moved it since). */
#define AHEAD      16
#define AHEAD_RING 32 /* a power of two above AHEAD */

struct ahead_slot {
    uint64_t index;      /* the record's number in the file */
    const uint8_t *data; /* where it was seen, or NULL for an empty slot */
    enum ls_decode_status status;
    uint32_t hash; /* ls_flow_hash, for TCP */
    struct ls_packet pkt;
};

struct ls_app {
    const struct ls_config *cfg;
    struct ls_log log;
    uv_loop_t loop;
    uv_idle_t idle;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    bool loop_ready;
    struct ls_flow_table *ft;
    struct ls_flow_hooks sh; /* the script's hooks, reached through fwd_* */
    struct ls_script *s;
    struct ls_stats *st;    /* the flow table's counters; the app adds its own */
    struct ls_capture *cap; /* the file being read, or NULL */
    enum ls_linktype link;
    size_t next_file; /* index in cfg->files of the next file to open */
    char *filter;     /* -f and sniff.filter() combined, or NULL */
    bool stopping;    /* read no more: stop, -c count or a signal */
    bool finished;    /* finish() has run */
    bool failed;      /* a file could not be read: the run exits 1 */
    bool warned_link; /* this file's unsupported link type was reported */
    uint64_t frames_unsupported, frames_readable; /* this file's, by link type */
    /* A sample of segments without payload whose checksums were checked,
     * and how many were wrong: tells whether the capture's checksums can
     * be trusted (see defrag). */
    uint64_t csum_sampled, csum_wrong;
    struct ls_live *live;       /* -i interfaces, or NULL */
    struct ls_dump *dump;       /* -w file, or NULL */
    struct ls_capture *reading; /* the source in ls_capture_dispatch */
    struct ls_frame frame;      /* the frame being processed, for carving (fwd_packet) */
    bool progress;              /* draw the progress line (stderr is a terminal, no -q) */
    bool progress_shown;        /* the line is on screen: clear it before going on */
    uint64_t progress_start;    /* uv_hrtime() when the file was opened */
    uint64_t progress_last;     /* uv_hrtime() of the last update */
    struct ls_frag_table *frag;
    bool ahead;          /* the file being read shows records ahead */
    uint64_t ahead_last; /* number of the last record shown, + 1 (0: none) */
    struct ahead_slot ring[AHEAD_RING];
};

/* ---- progress ------------------------------------------------------------ */

/* Updates per second of the progress line. */
#define PROGRESS_HZ 4

static void progress_clear(struct ls_app *a)
{
    if (a->progress_shown) {
        fputs("\r\033[K", stderr);
        a->progress_shown = false;
    }
}

/* "file.pcap: 12.3/45.6 MB (27%), 120345 packets, 301 connections,
 * 40.1 MB/s, ETA 0:01", redrawn in place a few times per second. */
static void progress_update(struct ls_app *a)
{
    uint64_t now = uv_hrtime(), done, total;
    double secs, rate;

    if (!a->progress || a->cap == NULL || now - a->progress_last < 1000000000u / PROGRESS_HZ)
        return;
    a->progress_last = now;
    if (!ls_capture_position(a->cap, &done, &total) || total == 0)
        return;
    secs = (double)(now - a->progress_start) / 1e9;
    rate = secs > 0 ? (double)done / secs : 0;
    if (done > total)
        done = total;
    fprintf(stderr, "\r%s: %.1f/%.1f MB (%d%%), %llu packets, %llu connections, %.1f MB/s",
            ls_capture_name(a->cap), (double)done / 1e6, (double)total / 1e6,
            (int)(100.0 * (double)done / (double)total), (unsigned long long)a->st->packets,
            (unsigned long long)a->st->connections, rate / 1e6);
    if (rate > 0) {
        unsigned long eta = (unsigned long)((double)(total - done) / rate);
        fprintf(stderr, ", ETA %lu:%02lu", eta / 60, eta % 60);
    }
    fputs("\033[K", stderr);
    fflush(stderr);
    a->progress_shown = true;
}

/* ---- hooks -------------------------------------------------------------- */

/* The flow table copies its hooks when it is created, but the script, which
 * provides them, needs the table to exist first. So the table gets these
 * forwarders, and they reach the script's hooks once it is loaded. */

static bool fwd_open(void *ud, struct ls_conn *c)
{
    struct ls_app *a = ud;
    return a->sh.open == NULL || a->sh.open(a->sh.ud, c);
}

static void fwd_data(void *ud, struct ls_conn *c, enum ls_dir d, const uint8_t *p, size_t n,
                     double ts)
{
    struct ls_app *a = ud;
    if (a->sh.data != NULL)
        a->sh.data(a->sh.ud, c, d, p, n, ts);
}

static void fwd_gap(void *ud, struct ls_conn *c, enum ls_dir d, uint64_t n)
{
    struct ls_app *a = ud;
    if (a->sh.gap != NULL)
        a->sh.gap(a->sh.ud, c, d, n);
}

static void fwd_closed(void *ud, struct ls_conn *c, enum ls_close_reason why)
{
    struct ls_app *a = ud;
    if (a->sh.closed != NULL)
        a->sh.closed(a->sh.ud, c, why);
}

static void fwd_teardown(void *ud, struct ls_conn *c)
{
    struct ls_app *a = ud;
    if (a->sh.teardown != NULL)
        a->sh.teardown(a->sh.ud, c);
}

/* Carving: a connection that keeps its frames (conn:keep_packets,
 * sniff.keep_packets) or is being saved (writer:save) gets this one. */
static void fwd_packet(void *ud, struct ls_conn *c, enum ls_dir d)
{
    struct ls_app *a = ud;
    LS_UNUSED(d);
    if (c->keep != NULL)
        ls_keep_frame(c->keep, &a->frame);
}

static void fwd_log(void *ud, enum ls_log_level level, struct ls_conn *c, const char *msg)
{
    struct ls_app *a = ud;
    if (a->sh.log != NULL)
        a->sh.log(a->sh.ud, level, c, msg);
    else
        ls_log(&a->log, level, "%s", msg);
}

/* ---- per frame ---------------------------------------------------------- */

/* Fires the script timers due up to `ts`, each at its own deadline: the clock
 * moves to the deadline first, so sniff.now() reads it and connections idle
 * by then expire before the timer runs, exactly as on every replay. */
static void run_timers(struct ls_app *a, double ts)
{
    double t, prev = -1.0;

    while (!ls_script_stop_requested(a->s)) {
        t = ls_script_next_timer(a->s);
        /* A timer re-armed at the deadline just run waits for the next
         * step rather than spinning here: the next later deadline. */
        if (t >= 0 && t <= prev)
            t = ls_script_next_timer_after(a->s, prev);
        if (t < 0 || t > ts)
            break;
        ls_flow_advance(a->ft, t);
        ls_script_run_timers(a->s, t, ts);
        prev = t;
    }
}

/* A fragment goes to the reassembly table; when it completes a datagram,
 * *pkt becomes the whole datagram (pointing into the table until its next
 * call) and its status is returned. */
static enum ls_decode_status defrag(struct ls_app *a, struct ls_packet *pkt)
{
    struct ls_packet whole;
    enum ls_decode_status st = ls_frag_input(a->frag, pkt, ls_flow_now(a->ft), &whole);

    a->st->frag = *ls_frag_stats(a->frag);
    if (st == LS_DECODE_FRAGMENT)
        return st;
    *pkt = whole;
    /* Fragments of two datagrams can make a third when an IP id comes
     * round again (a stray copy left behind, RFC 4963): the receiver's
     * transport checksum drops it, so we do the same once this file's
     * checksums are known to be right (at least two checked, fewer than
     * one in ten wrong; anonymized traces and the capturing host's own
     * segments with offload are not); --checksums all checks them all. */
    bool trusted = a->csum_sampled >= 2 && a->csum_wrong * 10 <= a->csum_sampled;
    if (st == LS_DECODE_TCP && a->cfg->checksums == LS_CHECKSUMS_AUTO && trusted &&
        ls_csum_check(pkt) == LS_CSUM_BAD) {
        a->csum_sampled++; /* evidence too: many such, and the check goes off */
        a->csum_wrong++;
        a->st->bad_checksums++;
        return LS_DECODE_MALFORMED;
    }
    return st;
}

/* TCP segments without payload have their checksum checked (the header
 * only: cheap), every one of a file's first 64, then every 16th packet's,
 * for defrag's judgement of the capture. */
static void sample_checksum(struct ls_app *a, const struct ls_packet *pkt)
{
    if (pkt->payload_len != 0 || pkt->payload_missing != 0 ||
        (a->csum_sampled >= 64 && (a->st->packets & 15) != 0))
        return;
    enum ls_csum_result r = ls_csum_check(pkt);
    if (r == LS_CSUM_UNKNOWN)
        return;
    a->csum_sampled++;
    a->csum_wrong += r == LS_CSUM_BAD;
}

/* --checksums all: false when a TCP or UDP packet, or an IPv4 fragment
 * (its header), must be dropped. */
static bool checksum_ok(struct ls_app *a, const struct ls_packet *pkt)
{
    if (a->cfg->checksums != LS_CHECKSUMS_ALL || ls_csum_check(pkt) != LS_CSUM_BAD)
        return true;
    a->st->bad_checksums++;
    return false;
}

/* Prefetch step `stage` for the record `back` before the last one shown,
 * if it was shown. */
static void prefetch_back(struct ls_app *a, uint64_t back, int stage)
{
    if (a->ahead_last <= back)
        return;
    uint64_t index = a->ahead_last - 1 - back;
    const struct ahead_slot *s = &a->ring[index & (AHEAD_RING - 1)];
    if (s->index == index && s->data != NULL && s->status == LS_DECODE_TCP)
        ls_flow_prefetch(a->ft, &s->pkt, s->hash, stage);
}

/* A record ahead of its turn (see AHEAD): decoded into the ring, and the
 * prefetch steps moved on by one record. */
static void on_ahead(void *ud, uint64_t index, const uint8_t *data, uint32_t caplen,
                     uint32_t wirelen)
{
    struct ls_app *a = ud;
    struct ahead_slot *s = &a->ring[index & (AHEAD_RING - 1)];

    s->index = index;
    s->data = data;
    s->status = ls_decode(a->link, data, caplen, wirelen, &s->pkt);
    if (s->status == LS_DECODE_TCP)
        s->hash = ls_flow_hash(a->ft, &s->pkt);
    a->ahead_last = index + 1;
    prefetch_back(a, 0, 0);
    prefetch_back(a, AHEAD / 2, 1);
    prefetch_back(a, AHEAD * 3 / 4, 2);
    prefetch_back(a, AHEAD * 7 / 8, 3);
}

static void on_frame(void *ud, double ts, const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    struct ls_app *a = ud;
    struct ls_packet own; /* decoded here, or reassembled from fragments */
    const struct ls_packet *pkt = &own;
    enum ls_decode_status status;

    a->st->packets++;
    a->st->bytes += caplen;
    /* The source's link type, per frame: a pcapng file may mix interfaces. */
    enum ls_linktype link = ls_capture_linktype(a->reading);
    uint64_t index = a->ahead ? ls_capture_record_index(a->reading) : 0;
    const struct ahead_slot *seen = a->ahead ? &a->ring[index & (AHEAD_RING - 1)] : NULL;
    bool hashed = false; /* the look-ahead's hash applies (a TCP segment as seen) */
    uint32_t hash = 0;
    if (seen != NULL && seen->index == index && seen->data == data) {
        /* The slot stays put until the next record is shown ahead, after
         * this call. */
        status = seen->status;
        pkt = &seen->pkt;
        hashed = status == LS_DECODE_TCP;
        hash = seen->hash;
    } else {
        status = ls_decode(link, data, caplen, wirelen, &own);
    }
    if (status == LS_DECODE_UNSUPPORTED_LINK)
        a->frames_unsupported++;
    else
        a->frames_readable++;
    if (status == LS_DECODE_UNSUPPORTED_LINK && !a->warned_link) {
        /* A pcapng interface of a type we cannot decode: say so once. */
        char msg[LS_ERRBUF_SIZE];
        a->warned_link = true;
        snprintf(msg, sizeof msg, "%s: link type %s not supported, its packets are skipped",
                 ls_capture_name(a->reading), ls_capture_linktype_name(a->reading));
        fwd_log(a, LS_LOG_WARN, NULL, msg); /* a diagnostic about packets: the script's */
    }
    if ((unsigned)status < LS_ARRAY_SIZE(a->st->decode))
        a->st->decode[status]++;
    /* Every frame moves the capture clock, whatever it carries, so that
     * timers and idle expiry keep time through stretches without TCP. The
     * clock moves before the `packet` handler so that sniff.now() there
     * reads this packet's time (ls_flow_input would move it the same way). */
    run_timers(a, ts);
    if (!ls_script_stop_requested(a->s)) {
        ls_flow_advance(a->ft, ts);
        if (a->st->frag.datagrams > 0) {
            ls_frag_expire(a->frag, ls_flow_now(a->ft));
            a->st->frag = *ls_frag_stats(a->frag);
        }
        if (status == LS_DECODE_TCP)
            sample_checksum(a, pkt);
        if (status == LS_DECODE_FRAGMENT) {
            if (pkt != &own)
                own = *pkt;
            pkt = &own;
            /* A fragment the receiver drops for its header checksum must
             * neither complete a datagram nor spoil one by disagreeing. */
            status = checksum_ok(a, pkt) ? defrag(a, &own) : LS_DECODE_MALFORMED;
        }
        bool l4 = (status == LS_DECODE_TCP || status == LS_DECODE_UDP) && checksum_ok(a, pkt);
        /* Asked each time: a handler may register `packet` at any moment. */
        if (l4 && ls_script_wants_packets(a->s))
            ls_script_packet(a->s, pkt, ts);
        if (l4 && status == LS_DECODE_TCP && !ls_script_stop_requested(a->s)) {
            a->frame = (struct ls_frame){
                .ts = ts, .data = data, .caplen = caplen, .wirelen = wirelen, .link = link};
            if (hashed)
                ls_flow_input_hashed(a->ft, pkt, ts, hash);
            else
                ls_flow_input(a->ft, pkt, ts);
        }
    }
    if (ls_script_stop_requested(a->s) || (a->cfg->count && a->st->packets >= a->cfg->count)) {
        a->stopping = true;
        ls_capture_break(a->reading);
    }
}

/* ---- sources and shutdown ----------------------------------------------- */

/* Opens the next readable file with a supported link type. Files that fail
 * are reported, skipped, and make the run fail; returns false when none are
 * left. */
static bool open_next(struct ls_app *a)
{
    char err[LS_ERRBUF_SIZE];
    int rc;

    while (a->next_file < a->cfg->nfiles) {
        const char *path = a->cfg->files[a->next_file++];

        if (ls_capture_open_file(&a->cap, path, a->filter, err) != 0) {
            ls_log(&a->log, LS_LOG_ERROR, "%s", err);
            a->failed = true;
            continue;
        }
        a->warned_link = false;
        a->frames_unsupported = a->frames_readable = 0;
        a->csum_sampled = a->csum_wrong = 0; /* each file is judged on its own */
        a->link = ls_capture_linktype(a->cap);
        /* A file with interfaces of several types is judged frame by frame. */
        if (a->link == LS_LINK_UNSUPPORTED && !ls_capture_per_interface(a->cap)) {
            ls_log(&a->log, LS_LOG_ERROR, "%s: link type %s not supported, skipping file",
                   ls_capture_name(a->cap), ls_capture_linktype_name(a->cap));
            a->failed = true;
            ls_capture_close(a->cap);
            a->cap = NULL;
            continue;
        }
        if (a->cfg->write_file != NULL &&
            (rc = ls_capture_dump_attach(a->cap, &a->dump, a->cfg->write_file, err)) != 0) {
            ls_log(&a->log, LS_LOG_ERROR, "%s", err);
            a->failed = true;
            ls_capture_close(a->cap);
            a->cap = NULL;
            /* Without the file there is nothing left to do; a file of
             * another link type is only skipped. */
            if (rc != LS_EINVAL) {
                a->stopping = true;
                return false;
            }
            continue;
        }
        ls_log(&a->log, LS_LOG_INFO, "reading %s (link type %s)", ls_capture_name(a->cap),
               ls_capture_linktype_name(a->cap));
        a->ahead_last = 0;
        memset(a->ring, 0, sizeof a->ring);
        a->ahead = ls_capture_set_ahead(a->cap, on_ahead, a, AHEAD);
        a->progress_start = a->progress_last = uv_hrtime();
        return true;
    }
    return false;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    LS_UNUSED(arg);
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Input is over (end of files, stop, -c, signal): close what is still open,
 * in creation order, then tell the script. Pending script timers do not
 * fire: their time never came. Closing the handles lets uv_run return. */
static void finish(struct ls_app *a)
{
    if (a->finished)
        return;
    a->finished = true;
    progress_clear(a);
    uv_idle_stop(&a->idle);
    ls_live_stop(a->live);
    ls_capture_close(a->cap);
    a->cap = NULL;
    ls_flow_finish(a->ft, LS_CLOSE_END);
    ls_script_done(a->s);
    uv_walk(&a->loop, close_walk, NULL);
}

static void on_idle(uv_idle_t *h)
{
    struct ls_app *a = h->data;
    char err[LS_ERRBUF_SIZE];
    int n;

    if (a->stopping || ls_script_stop_requested(a->s)) {
        finish(a);
        return;
    }
    if (a->cap == NULL && !open_next(a)) {
        finish(a);
        return;
    }
    a->reading = a->cap;
    n = ls_capture_dispatch(a->cap, BATCH, on_frame, a, err);
    a->reading = NULL;
    progress_update(a);
    if (n < 0 || ls_capture_eof(a->cap))
        progress_clear(a);
    if (n < 0) {
        ls_log(&a->log, LS_LOG_ERROR, "%s", err);
        a->failed = true;
    }
    if (n >= 0 && ls_capture_eof(a->cap) && a->frames_unsupported > 0 && a->frames_readable == 0) {
        /* A pcapng file whose every interface has an unsupported type: as
         * bad as a pcap file of that type (see open_next). */
        ls_log(&a->log, LS_LOG_ERROR, "%s: no frame of a supported link type, nothing read",
               ls_capture_name(a->cap));
        a->failed = true;
    }
    if (n < 0 || ls_capture_eof(a->cap)) {
        ls_capture_close(a->cap);
        a->cap = NULL;
    }
    if (a->stopping)
        finish(a);
}

/* SIGINT/SIGTERM: the handlers are one-shot, so the default action is back
 * the moment the signal arrives; a second one ends the process at once, even
 * when a script is stuck and the loop never gets here. */
static void on_signal(uv_signal_t *h, int signum)
{
    struct ls_app *a = h->data;

    uv_signal_stop(&a->sigint);
    uv_signal_stop(&a->sigterm);
    ls_log(&a->log, LS_LOG_INFO, "caught %s, stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
    a->stopping = true;
    finish(a);
}

/* ---- live interfaces ---------------------------------------------------- */

/* A live interface is readable: a few batches, then back to the loop. */
static int live_readable(void *ud, struct ls_capture *cap)
{
    struct ls_app *a = ud;
    char err[LS_ERRBUF_SIZE];
    int n = 0;

    a->link = ls_capture_linktype(cap);
    a->reading = cap;
    for (int i = 0; i < LIVE_BATCHES && !a->stopping; i++) {
        n = ls_capture_dispatch(cap, BATCH, on_frame, a, err);
        if (n <= 0)
            break;
    }
    a->reading = NULL;
    if (n < 0) {
        ls_log(&a->log, LS_LOG_ERROR, "%s", err);
        a->failed = true;
    }
    if (a->stopping || ls_script_stop_requested(a->s)) {
        a->stopping = true;
        finish(a);
    }
    return n < 0 ? n : 0;
}

/* The wall clock moves the capture clock while the link is quiet, so that
 * idle timeouts and script timers fire without traffic; replaying a -w file
 * fires them at the next packet instead, in the same order. */
static int live_tick(void *ud, double now)
{
    struct ls_app *a = ud;
    double t, ms;

    if (a->stopping)
        return LIVE_TICK_MS;
    now -= a->cfg->live.immediate ? LIVE_LAG : LS_LIVE_BUFFER_TIMEOUT_MS / 1000.0 + LIVE_LAG;
    if (now > ls_flow_now(a->ft)) {
        run_timers(a, now);
        if (!ls_script_stop_requested(a->s))
            ls_flow_advance(a->ft, now);
    }
    ls_capture_dump_flush(a->dump);
    if (ls_script_stop_requested(a->s)) {
        a->stopping = true;
        finish(a);
        return LIVE_TICK_MS;
    }
    t = ls_script_next_timer(a->s);
    if (t < 0)
        return LIVE_TICK_MS;
    ms = (t - ls_flow_now(a->ft)) * 1000.0 + 1.0;
    return ms < LIVE_TICK_MS ? (int)ms : LIVE_TICK_MS;
}

static void live_ended(void *ud)
{
    struct ls_app *a = ud;

    ls_log(&a->log, LS_LOG_ERROR, "no interface left to capture on");
    a->stopping = true;
    finish(a);
}

static bool live_ifstats(void *ud, size_t i, struct ls_iface_stats *out)
{
    struct ls_app *a = ud;
    return ls_live_stats(a->live, i, out);
}

/* Before the script loads: the interfaces need the privileges -Z gives up,
 * and a script must never run as root once -Z was asked for. */
static int open_live(struct ls_app *a, char *errbuf)
{
    const struct ls_config *cfg = a->cfg;
    int rc;

    if (cfg->nifaces > 0 &&
        (rc = ls_live_open(&a->live, cfg->ifaces, cfg->nifaces, &cfg->live, &a->log, errbuf)) != 0)
        return rc;
    if (cfg->user != NULL) {
        if ((rc = ls_priv_drop(cfg->user, errbuf)) != 0)
            return rc;
        ls_log(&a->log, LS_LOG_INFO, "running as user %s", cfg->user);
    }
    return 0;
}

static int start_live(struct ls_app *a, char *errbuf)
{
    const struct ls_live_hooks hooks = {
        .ud = a,
        .readable = live_readable,
        .tick = live_tick,
        .ended = live_ended,
    };
    int rc;

    if (a->live == NULL)
        return 0;
    /* The -w file is created after -Z, as tcpdump does. */
    rc = ls_live_prepare(a->live, a->filter, a->cfg->write_file, &a->dump, errbuf);
    if (rc != 0)
        return rc;
    ls_script_set_ifstats(a->s, live_ifstats, a);
    return ls_live_start(a->live, &a->loop, &hooks, errbuf);
}

/* ---- setup and teardown ------------------------------------------------- */

static int make_filter(struct ls_app *a, char *errbuf)
{
    const char *f1 = a->cfg->filter, *f2 = ls_script_filter(a->s);
    char err[LS_ERRBUF_SIZE];
    size_t n;
    int rc;

    if (f1 != NULL && *f1 == '\0')
        f1 = NULL;
    if (f2 != NULL && *f2 == '\0')
        f2 = NULL;
    if (f1 == NULL && f2 == NULL)
        return 0;
    if (f1 == NULL || f2 == NULL) {
        a->filter = strdup(f1 != NULL ? f1 : f2);
    } else {
        n = strlen(f1) + strlen(f2) + sizeof "() and ()";
        if ((a->filter = malloc(n)) != NULL)
            snprintf(a->filter, n, "(%s) and (%s)", f1, f2);
    }
    if (a->filter == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s", ls_strerror(LS_ENOMEM));
        return LS_ENOMEM;
    }
    /* Reject a bad expression now, as a usage error, rather than once per file. */
    rc = ls_capture_check_filter(a->filter, err);
    if (rc != 0)
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s", err);
    return rc;
}

static int setup_loop(struct ls_app *a, char *errbuf)
{
    int rc;

    if ((rc = uv_loop_init(&a->loop)) != 0) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "event loop: %s", uv_strerror(rc));
        return LS_ENOMEM;
    }
    a->loop_ready = true;
    uv_idle_init(&a->loop, &a->idle);
    uv_signal_init(&a->loop, &a->sigint);
    uv_signal_init(&a->loop, &a->sigterm);
    a->idle.data = a->sigint.data = a->sigterm.data = a;
    if (a->cfg->nifaces == 0)
        uv_idle_start(&a->idle, on_idle);
    /* Without signal handling the run still works; the default action of
     * SIGINT then ends it without flushing. */
    if ((rc = uv_signal_start_oneshot(&a->sigint, on_signal, SIGINT)) != 0 ||
        (rc = uv_signal_start_oneshot(&a->sigterm, on_signal, SIGTERM)) != 0)
        ls_log(&a->log, LS_LOG_WARN, "cannot handle signals: %s", uv_strerror(rc));
    return 0;
}

static int setup(struct ls_app *a, char *errbuf)
{
    const struct ls_config *cfg = a->cfg;
    const struct ls_flow_hooks fwd = {
        .ud = a,
        .open = fwd_open,
        .data = fwd_data,
        .gap = fwd_gap,
        .closed = fwd_closed,
        .teardown = fwd_teardown,
        .packet = fwd_packet,
        .log = fwd_log,
    };
    const struct ls_script_config scfg = {
        .path = cfg->script,
        .chunks = cfg->chunks,
        .nchunks = cfg->nchunks,
        .args = cfg->args,
        .nargs = cfg->nargs,
        .lua_dir = cfg->lua_dir,
        .strict = cfg->strict,
        .max_memory = cfg->lua_memory,
    };
    int rc;

    struct ls_flow_config flow = cfg->flow;
    /* With all, every bad packet is gone before the table; with none, none is. */
    flow.check_senders = cfg->checksums == LS_CHECKSUMS_AUTO;
    a->ft = ls_flow_new(&flow, &fwd);
    if (a->ft == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s", ls_strerror(LS_ENOMEM));
        return LS_ENOMEM;
    }
    a->st = ls_flow_stats(a->ft);
    a->frag = ls_frag_new(&cfg->frag);
    if (a->frag == NULL) {
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s", ls_strerror(LS_ENOMEM));
        return LS_ENOMEM;
    }
    a->s = ls_script_new(&scfg, a->ft, &a->log, errbuf);
    if (a->s == NULL)
        return LS_ESCRIPT;
    if ((rc = open_live(a, errbuf)) != 0)
        return rc;
    if ((rc = ls_script_load(a->s, errbuf)) != 0)
        return rc;
    ls_script_hooks(a->s, &a->sh);
    if ((rc = make_filter(a, errbuf)) != 0)
        return rc;
    if ((rc = setup_loop(a, errbuf)) != 0)
        return rc;
    return start_live(a, errbuf);
}

static void print_stats(const struct ls_app *a)
{
    const struct ls_stats *st = a->st;
    uint64_t closed = 0;

    for (size_t i = 0; i < LS_ARRAY_SIZE(st->closed); i++)
        closed += st->closed[i];
    ls_log(&a->log, LS_LOG_INFO,
           "%llu packets (%llu TCP, %llu bytes), %llu connections (%llu closed, peak %llu), "
           "%llu payload bytes, %llu gaps (%llu bytes), %llu script errors",
           (unsigned long long)st->packets, (unsigned long long)st->decode[LS_DECODE_TCP],
           (unsigned long long)st->bytes, (unsigned long long)st->connections,
           (unsigned long long)closed, (unsigned long long)st->peak_active,
           (unsigned long long)st->payload_bytes, (unsigned long long)st->gaps,
           (unsigned long long)st->gap_bytes, (unsigned long long)st->script_errors);
    if (ls_log_enabled(&a->log, LS_LOG_DEBUG))
        for (int i = 0; i < LS_DECODE__COUNT; i++)
            ls_log(&a->log, LS_LOG_DEBUG, "decode %s: %llu",
                   ls_decode_status_name((enum ls_decode_status)i),
                   (unsigned long long)st->decode[i]);
    /* Without -v, handler errors still deserve a final word. */
    if (!ls_log_enabled(&a->log, LS_LOG_INFO) && st->script_errors > 0)
        ls_log(&a->log, LS_LOG_WARN, "%llu script errors", (unsigned long long)st->script_errors);
}

/* Releases everything in the fixed order: script (finalizers may still log),
 * flow table, loop. Safe after a partial setup. */
static void cleanup(struct ls_app *a)
{
    char err[LS_ERRBUF_SIZE];
    int rc;

    ls_capture_close(a->cap);
    a->cap = NULL;
    ls_live_stop(a->live);
    if (a->loop_ready) {
        uv_walk(&a->loop, close_walk, NULL);
        uv_run(&a->loop, UV_RUN_DEFAULT);
        if ((rc = uv_loop_close(&a->loop)) != 0)
            ls_log(&a->log, LS_LOG_WARN, "event loop: %s", uv_strerror(rc));
    }
    /* pcap_close only now that no handle polls the descriptors. */
    if (a->finished)
        ls_live_report(a->live, &a->log);
    ls_live_free(a->live);
    a->live = NULL; /* sniff.stats() from a finalizer finds no interface */
    if (ls_capture_dump_close(a->dump, err) != 0) {
        ls_log(&a->log, LS_LOG_ERROR, "%s", err);
        a->failed = true;
    }
    if (a->s != NULL)
        ls_script_free(a->s);
    if (a->finished)
        print_stats(a);
    if (a->ft != NULL)
        ls_flow_free(a->ft);
    ls_frag_free(a->frag);
    free(a->filter);
}

int ls_app_run(const struct ls_config *cfg, char errbuf[LS_ERRBUF_SIZE])
{
    struct ls_app a;
    int rc;

    memset(&a, 0, sizeof a);
    a.cfg = cfg;
    errbuf[0] = '\0';
    a.progress = cfg->verbosity >= 0 && isatty(STDERR_FILENO);
    ls_log_init(&a.log, "luasniff", cfg->verbosity);
    rc = setup(&a, errbuf);
    if (rc == 0) {
        uv_run(&a.loop, UV_RUN_DEFAULT);
        if (ls_script_failed(a.s)) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "stopped after a script error (--strict)");
            rc = LS_ESTOP;
        } else if (a.failed) {
            rc = LS_EIO; /* each failure was logged as it happened */
        }
    }
    cleanup(&a);
    if (rc == 0 && a.failed)
        rc = LS_EIO; /* the -w file could not be completed */
    return rc;
}
