/* app_live.c: live interfaces on the libuv loop. Split from app.c, and so
 * the second file that includes uv.h, to keep app.c about the run as a
 * whole: here are only the handles of live capture (a poll per interface, a
 * fallback timer where there is no descriptor, the wall-clock tick and the
 * SIGHUP watcher) and libpcap's counters. Frames go to app.c's hooks. */
#include "app_live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "log.h"

/* Longest wait between two ticks: how late an idle timeout can be on a quiet
 * link. Script timers due sooner get a tick of their own. */
#define TICK_MAX_MS 250
/* Poll period when libpcap gives no descriptor and no period of its own. */
#define FALLBACK_MS 10

struct src {
    struct ls_live *l;
    struct ls_capture *cap;
    uv_poll_t poll;   /* readable descriptor, or ... */
    uv_timer_t timer; /* ... a period when there is none */
    bool use_timer;
    bool started; /* the handle above was initialised */
    bool dead;    /* failed for good */
    struct ls_iface_stats last;
};

struct ls_live {
    struct src *src;
    size_t n;
    size_t alive;
    const struct ls_log *lg;
    struct ls_live_hooks hooks;
    uv_timer_t tick;
    uv_signal_t sighup;
    bool running;
    bool stopped; /* ls_live_stop ran: the handles may be closing */
};

/* ---- reading ------------------------------------------------------------ */

static void snapshot(struct src *s)
{
    struct ls_iface_stats st;

    if (ls_capture_stats(s->cap, &st) == 0)
        s->last = st;
}

static void read_src(struct src *s)
{
    struct ls_live *l = s->l;

    if (!l->running || s->dead)
        return;
    if (l->hooks.readable(l->hooks.ud, s->cap) >= 0)
        return;
    snapshot(s);
    s->dead = true;
    if (s->use_timer)
        uv_timer_stop(&s->timer);
    else
        uv_poll_stop(&s->poll);
    if (--l->alive == 0 && l->running) {
        l->running = false;
        l->hooks.ended(l->hooks.ud);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    LS_UNUSED(events);
    /* An error on the descriptor is libpcap's to report: the read says what. */
    LS_UNUSED(status);
    read_src(h->data);
}

static void on_fallback(uv_timer_t *h)
{
    read_src(h->data);
}

/* Reads every interface first, so that the frames the kernel stamped before
 * `now` are handled before the clock is moved past them. */
static void on_tick(uv_timer_t *h)
{
    struct ls_live *l = h->data;
    uv_timeval64_t tv;
    double now;
    int ms;

    if (uv_gettimeofday(&tv) != 0)
        return;
    now = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    for (size_t i = 0; i < l->n && l->running; i++)
        read_src(&l->src[i]);
    if (!l->running)
        return;
    ms = l->hooks.tick(l->hooks.ud, now);
    if (!l->running)
        return;
    if (ms < 1)
        ms = 1;
    if (ms > TICK_MAX_MS)
        ms = TICK_MAX_MS;
    uv_timer_start(&l->tick, on_tick, (uint64_t)ms, 0);
}

/* A reload would have to move every connection, its box, its handlers and
 * the script's state into a new Lua state, and re-filter interfaces whose
 * privileges are gone: not safe, so SIGHUP only says so (docs/live.md). The
 * watcher also keeps a hang-up from ending the capture without a flush. */
static void on_sighup(uv_signal_t *h, int signum)
{
    struct ls_live *l = h->data;

    LS_UNUSED(signum);
    ls_log(l->lg, LS_LOG_WARN,
           "SIGHUP: reloading the script is not supported; "
           "restart luasniff to load a new one (capture continues)");
}

/* ---- setup -------------------------------------------------------------- */

int ls_live_open(struct ls_live **out, const char *const *ifaces, size_t n,
                 const struct ls_live_options *opt, const struct ls_log *lg,
                 char errbuf[LS_ERRBUF_SIZE])
{
    char warn[LS_ERRBUF_SIZE];
    struct ls_live *l;
    int rc;

    *out = NULL;
    l = calloc(1, sizeof *l);
    if (l == NULL || (l->src = calloc(n, sizeof *l->src)) == NULL) {
        free(l);
        snprintf(errbuf, LS_ERRBUF_SIZE, "%s", ls_strerror(LS_ENOMEM));
        return LS_ENOMEM;
    }
    l->lg = lg;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(ifaces[i], ifaces[j]) == 0) {
                snprintf(errbuf, LS_ERRBUF_SIZE, "-i %s: given twice", ifaces[i]);
                ls_live_free(l);
                return LS_ECAPTURE;
            }
        rc = ls_capture_open_live(&l->src[i].cap, ifaces[i], opt, errbuf, warn);
        if (rc != 0) {
            ls_live_free(l);
            return rc;
        }
        l->n++;
        l->src[i].l = l;
        l->src[i].last.name = ls_capture_name(l->src[i].cap);
        if (warn[0] != '\0')
            ls_log(lg, LS_LOG_WARN, "%s", warn);
        if (ls_capture_linktype(l->src[i].cap) == LS_LINK_UNSUPPORTED) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: link type %s not supported", ifaces[i],
                     ls_capture_linktype_name(l->src[i].cap));
            ls_live_free(l);
            return LS_ECAPTURE;
        }
    }
    *out = l;
    return 0;
}

int ls_live_prepare(struct ls_live *l, const char *filter, const char *path, struct ls_dump **dump,
                    char errbuf[LS_ERRBUF_SIZE])
{
    int rc;

    for (size_t i = 0; i < l->n; i++) {
        if ((rc = ls_capture_set_filter(l->src[i].cap, filter, errbuf)) != 0)
            return rc;
        if (path != NULL && (rc = ls_capture_dump_attach(l->src[i].cap, dump, path, errbuf)) != 0)
            return rc == LS_EINVAL ? LS_ECAPTURE : rc;
    }
    return 0;
}

int ls_live_start(struct ls_live *l, uv_loop_t *loop, const struct ls_live_hooks *hooks,
                  char errbuf[LS_ERRBUF_SIZE])
{
    int rc, fd, ms;

    l->hooks = *hooks;
    uv_timer_init(loop, &l->tick);
    l->tick.data = l;
    uv_signal_init(loop, &l->sighup);
    l->sighup.data = l;
    if ((rc = uv_signal_start(&l->sighup, on_sighup, SIGHUP)) != 0)
        ls_log(l->lg, LS_LOG_WARN, "cannot handle SIGHUP: %s", uv_strerror(rc));
    for (size_t i = 0; i < l->n; i++) {
        struct src *s = &l->src[i];

        fd = ls_capture_fd(s->cap);
        if (fd >= 0) {
            uv_poll_init(loop, &s->poll, fd);
            s->poll.data = s;
            s->started = true;
            rc = uv_poll_start(&s->poll, UV_READABLE, on_poll);
        } else {
            ms = ls_capture_poll_timeout_ms(s->cap);
            if (ms <= 0)
                ms = FALLBACK_MS;
            s->use_timer = true;
            uv_timer_init(loop, &s->timer);
            s->timer.data = s;
            s->started = true;
            rc = uv_timer_start(&s->timer, on_fallback, (uint64_t)ms, (uint64_t)ms);
        }
        if (rc != 0) {
            snprintf(errbuf, LS_ERRBUF_SIZE, "%s: cannot poll: %s", ls_capture_name(s->cap),
                     uv_strerror(rc));
            return LS_ECAPTURE;
        }
        ls_log(l->lg, LS_LOG_INFO, "capturing on %s (link type %s)", ls_capture_name(s->cap),
               ls_capture_linktype_name(s->cap));
    }
    l->alive = l->n;
    l->running = true;
    /* The first tick starts the capture clock: timers set while loading
     * count from the start of the capture, even on a quiet link. */
    uv_timer_start(&l->tick, on_tick, 1, 0);
    return 0;
}

/* ---- stop and counters -------------------------------------------------- */

void ls_live_stop(struct ls_live *l)
{
    if (l == NULL || l->stopped)
        return;
    l->stopped = true;
    for (size_t i = 0; i < l->n; i++) {
        struct src *s = &l->src[i];

        if (!s->dead)
            snapshot(s);
        if (!s->started)
            continue;
        if (s->use_timer)
            uv_timer_stop(&s->timer);
        else
            uv_poll_stop(&s->poll);
    }
    if (l->running)
        uv_timer_stop(&l->tick);
    l->running = false;
}

bool ls_live_stats(struct ls_live *l, size_t i, struct ls_iface_stats *out)
{
    if (l == NULL || i >= l->n)
        return false;
    if (l->running && !l->src[i].dead)
        snapshot(&l->src[i]);
    *out = l->src[i].last;
    return true;
}

void ls_live_report(struct ls_live *l, const struct ls_log *lg)
{
    if (l == NULL || !ls_log_enabled(lg, LS_LOG_WARN))
        return;
    for (size_t i = 0; i < l->n; i++) {
        const struct ls_iface_stats *st = &l->src[i].last;

        fprintf(stderr,
                "luasniff: %s: %llu packets received by filter, %llu dropped by kernel, "
                "%llu dropped by interface\n",
                st->name, (unsigned long long)st->received, (unsigned long long)st->dropped,
                (unsigned long long)st->if_dropped);
    }
    fflush(stderr);
}

void ls_live_free(struct ls_live *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        ls_capture_close(l->src[i].cap);
    free(l->src);
    free(l);
}
