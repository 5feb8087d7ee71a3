/* main.c: the command line. Parses options into a struct ls_config, runs the
 * app, and maps its result to an exit status (0 done, 1 runtime failure,
 * 2 usage or script load error). The only file that calls exit(). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "config.h"
#include "log.h"

#define PROG "luasniff"

static const char usage_text[] =
    "usage: " PROG " [options] [SCRIPT.lua [script args...]]\n"
    "  -r FILE                  read a capture (pcap or pcapng; - for stdin); repeatable\n"
    "  -i IFACE                 capture live on IFACE (any: all); repeatable\n"
    "  -w FILE                  also write the packets that pass the filter to FILE\n"
    "  -Z USER                  drop root for USER once interfaces are open\n"
    "  -s SNAPLEN               bytes kept per live packet (default 262144)\n"
    "  -p                       do not put interfaces in promiscuous mode\n"
    "  -B KIB                   kernel capture buffer in KiB (default 2048)\n"
    "  --no-immediate-mode      let the kernel batch live packets (up to 200 ms)\n"
    "  -f EXPR                  BPF capture filter\n"
    "  -c COUNT                 stop after COUNT packets\n"
    "  -e CODE                  run a Lua chunk before SCRIPT; repeatable\n"
    "  -q                       quieter: errors only, no summary\n"
    "  -v                       more log (-v: summary at exit, -vv: debug)\n"
    "  --idle-timeout SEC       close connections idle this long (default 300)\n"
    "  --deliver ack|arrival    hand bytes to Lua when ACKed (default) or in order\n"
    "  --overlap linux|first|last  which copy wins when retransmitted bytes\n"
    "                           differ (default linux: as a Linux receiver)\n"
    "  --max-connections N      connections tracked at once; the idlest is evicted\n"
    "  --max-buffer BYTES       bytes held for reassembly in total (suffix k, M, G)\n"
    "  --max-conn-buffer BYTES  bytes held per connection direction\n"
    "  --strict                 a script handler error stops the run (exit 1)\n"
    "  --max-lua-memory BYTES   memory the Lua state may hold (default: no limit)\n"
    "  --checksums MODE         which packets with a wrong checksum are dropped:\n"
    "                           auto (a sender's once it has sent a right one;\n"
    "                           the default), all, or none\n"
    "  --verify-checksums       the same as --checksums all\n"
    "  --max-frag-buffer BYTES  bytes held for IP fragment reassembly (default 16M)\n"
    "  --frag-timeout SEC       drop incomplete IP datagrams after this (default 30)\n"
    "  --lua-path DIR           bundled Lua modules (default: $LS_LUA_PATH, then installed)\n"
    "  --version, --help\n"
    "Without a script, one summary line is printed per connection.\n"
    "Exit status: 0 done, 1 runtime failure, 2 usage or script load error.\n";

enum {
    OPT_IDLE = 256,
    OPT_DELIVER,
    OPT_OVERLAP,
    OPT_MAXCONN,
    OPT_MAXBUF,
    OPT_MAXCONNBUF,
    OPT_STRICT,
    OPT_LUAPATH,
    OPT_VERSION,
    OPT_HELP,
    OPT_NOIMMEDIATE,
    OPT_CHECKSUMS,
    OPT_VERIFY,
    OPT_FRAGBUF,
    OPT_FRAGTIME,
    OPT_LUAMEM,
};

static const struct option longopts[] = {
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"deliver", required_argument, NULL, OPT_DELIVER},
    {"overlap", required_argument, NULL, OPT_OVERLAP},
    {"max-connections", required_argument, NULL, OPT_MAXCONN},
    {"max-buffer", required_argument, NULL, OPT_MAXBUF},
    {"max-conn-buffer", required_argument, NULL, OPT_MAXCONNBUF},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"lua-path", required_argument, NULL, OPT_LUAPATH},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {"no-immediate-mode", no_argument, NULL, OPT_NOIMMEDIATE},
    {"checksums", required_argument, NULL, OPT_CHECKSUMS},
    {"verify-checksums", no_argument, NULL, OPT_VERIFY},
    {"max-frag-buffer", required_argument, NULL, OPT_FRAGBUF},
    {"frag-timeout", required_argument, NULL, OPT_FRAGTIME},
    {"max-lua-memory", required_argument, NULL, OPT_LUAMEM},
    {NULL, 0, NULL, 0},
};

/* Every command-line mistake ends here: one line naming the option. */
static void LS_PRINTF(1, 2) usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* A positive integer no larger than `max`, with an optional binary suffix
 * (k, M, G) when `suffixes` is set. */
static uint64_t parse_count(const char *opt, const char *s, uint64_t max, bool suffixes)
{
    unsigned long long v;
    unsigned shift = 0;
    char *end;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (suffixes && end != s && *end != '\0' && end[1] == '\0') {
        switch (*end) {
        case 'k':
        case 'K':
            shift = 10;
            end++;
            break;
        case 'm':
        case 'M':
            shift = 20;
            end++;
            break;
        case 'g':
        case 'G':
            shift = 30;
            end++;
            break;
        }
    }
    if (errno != 0 || end == s || *end != '\0' || *s == '-' || v == 0 ||
        (shift > 0 && v > (UINT64_MAX >> shift)) || ((uint64_t)v << shift) > max)
        usage_error("%s: expected a positive number%s, got '%s'", opt,
                    suffixes ? " (suffix k, M or G allowed)" : "", s);
    return (uint64_t)v << shift;
}

static double parse_seconds(const char *opt, const char *s)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0)
        usage_error("%s: expected a positive number of seconds, got '%s'", opt, s);
    return v;
}

/* --lua-path, else $LS_LUA_PATH, else the installed directory if present,
 * else the source tree, so that a fresh build runs in place. */
static const char *lua_dir(const char *opt)
{
    const char *env = getenv("LS_LUA_PATH");
    struct stat sb;

    if (opt != NULL)
        return opt;
    if (env != NULL && *env != '\0')
        return env;
    if (stat(LS_LUA_DIR_DEFAULT, &sb) == 0 && S_ISDIR(sb.st_mode))
        return LS_LUA_DIR_DEFAULT;
    return LS_LUA_DIR_SOURCE;
}

/* A descriptor 0-2 that the caller closed (cron, daemons: `<&-`) would be
 * taken by the first file or socket opened, which then reads as stdin or
 * receives prints, and libuv refuses to close its own descriptors there
 * (an assertion at exit). Each one closed is opened on /dev/null, as
 * OpenSSH does. */
static void guard_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (nfd >= 0 && nfd != fd) /* lower ones are open by now */
                close(nfd);
        }
}

int main(int argc, char **argv)
{
    struct ls_config cfg = {0};
    const char **files, **chunks, **ifaces;
    const char *luapath = NULL;
    char errbuf[LS_ERRBUF_SIZE];
    struct ls_log lg;
    bool quiet = false;
    int verbose = 0, c, rc;

    guard_std_fds();
    files = calloc((size_t)argc, sizeof *files);
    chunks = calloc((size_t)argc, sizeof *chunks);
    ifaces = calloc((size_t)argc, sizeof *ifaces);
    if (files == NULL || chunks == NULL || ifaces == NULL) {
        fputs(PROG ": out of memory\n", stderr);
        return 1;
    }
    ls_flow_config_default(&cfg.flow);
    /* tcpdump's defaults, but immediate delivery: scripts react to packets. */
    cfg.live.snaplen = 262144;
    cfg.live.promisc = true;
    cfg.live.immediate = true;
    cfg.live.buffer_size = 2048 * 1024;
    ls_frag_config_default(&cfg.frag);
    opterr = 0; /* our messages name the option and fit on one line */
    /* "+": stop at the script name, so its own arguments are left alone. */
    while ((c = getopt_long(argc, argv, "+:r:f:c:e:qvi:w:Z:s:pB:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': files[cfg.nfiles++] = optarg; break;
        case 'f': cfg.filter = optarg; break;
        case 'c': cfg.count = parse_count("-c", optarg, UINT64_MAX, false); break;
        case 'e': chunks[cfg.nchunks++] = optarg; break;
        case 'q': quiet = true; break;
        case 'v': verbose++; break;
        case 'i': ifaces[cfg.nifaces++] = optarg; break;
        case 'w': cfg.write_file = optarg; break;
        case 'Z': cfg.user = optarg; break;
        case 's': cfg.live.snaplen = (int)parse_count("-s", optarg, 262144, false); break;
        case 'p': cfg.live.promisc = false; break;
        case 'B':
            cfg.live.buffer_size = (int)parse_count("-B", optarg, 1 << 20, false) * 1024;
            break;
        case OPT_NOIMMEDIATE: cfg.live.immediate = false; break;
        case OPT_IDLE: cfg.flow.idle_timeout = parse_seconds("--idle-timeout", optarg); break;
        case OPT_DELIVER:
            if (strcmp(optarg, "ack") == 0)
                cfg.flow.deliver = LS_DELIVER_ACK;
            else if (strcmp(optarg, "arrival") == 0)
                cfg.flow.deliver = LS_DELIVER_ARRIVAL;
            else
                usage_error("--deliver: expected ack or arrival, got '%s'", optarg);
            break;
        case OPT_OVERLAP:
            if (strcmp(optarg, "first") == 0)
                cfg.flow.overlap = LS_OVERLAP_FIRST;
            else if (strcmp(optarg, "last") == 0)
                cfg.flow.overlap = LS_OVERLAP_LAST;
            else if (strcmp(optarg, "linux") == 0)
                cfg.flow.overlap = LS_OVERLAP_LINUX;
            else
                usage_error("--overlap: expected linux, first or last, got '%s'", optarg);
            break;
        case OPT_MAXCONN:
            cfg.flow.max_connections =
                (uint32_t)parse_count("--max-connections", optarg, UINT32_MAX, false);
            break;
        case OPT_MAXBUF:
            cfg.flow.max_buffer = (size_t)parse_count("--max-buffer", optarg, SIZE_MAX, true);
            break;
        case OPT_MAXCONNBUF:
            cfg.flow.max_conn_buffer =
                (size_t)parse_count("--max-conn-buffer", optarg, SIZE_MAX, true);
            break;
        case OPT_STRICT: cfg.strict = true; break;
        case OPT_LUAMEM:
            cfg.lua_memory = (size_t)parse_count("--max-lua-memory", optarg, SIZE_MAX, true);
            break;
        case OPT_CHECKSUMS:
            if (strcmp(optarg, "auto") == 0)
                cfg.checksums = LS_CHECKSUMS_AUTO;
            else if (strcmp(optarg, "all") == 0)
                cfg.checksums = LS_CHECKSUMS_ALL;
            else if (strcmp(optarg, "none") == 0)
                cfg.checksums = LS_CHECKSUMS_NONE;
            else
                usage_error("--checksums: expected auto, all or none, got '%s'", optarg);
            break;
        case OPT_VERIFY: cfg.checksums = LS_CHECKSUMS_ALL; break;
        case OPT_FRAGBUF:
            cfg.frag.max_mem = (size_t)parse_count("--max-frag-buffer", optarg, SIZE_MAX, true);
            break;
        case OPT_FRAGTIME: cfg.frag.timeout = parse_seconds("--frag-timeout", optarg); break;
        case OPT_LUAPATH: luapath = optarg; break;
        case 'V':
        case OPT_VERSION: printf(PROG " %s\n", LS_VERSION); exit(0);
        case 'h':
        case OPT_HELP: fputs(usage_text, stdout); exit(0);
        case ':': usage_error("%s: needs an argument", argv[optind - 1]); break;
        default:
            /* A long option given a value it does not take comes here too,
             * with its own code in optopt. */
            if (strncmp(argv[optind - 1], "--", 2) == 0 && strchr(argv[optind - 1], '=') &&
                optopt != 0)
                usage_error("%s: takes no value (see --help)", argv[optind - 1]);
            if (optopt > 0 && optopt < 256)
                usage_error("-%c: unknown option (see --help)", optopt);
            usage_error("%s: unknown option (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        cfg.script = argv[optind];
        cfg.args = argv + optind + 1;
        cfg.nargs = argc - optind - 1;
    }
    if (cfg.nfiles == 0 && cfg.nifaces == 0)
        usage_error("no input: give -r FILE or -i IFACE (see --help)");
    if (cfg.nfiles > 0 && cfg.nifaces > 0)
        usage_error("-r and -i: read files or capture live, not both");
    if (cfg.write_file != NULL && *cfg.write_file == '\0')
        usage_error("-w: needs a file name");
    if (cfg.user != NULL && *cfg.user == '\0')
        usage_error("-Z: needs a user name");
    for (size_t i = 0; cfg.script != NULL && strcmp(cfg.script, "-") == 0 && i < cfg.nfiles; i++)
        if (strcmp(files[i], "-") == 0)
            usage_error("-r - and the script - cannot both be standard input");
    cfg.files = files;
    cfg.ifaces = ifaces;
    cfg.chunks = chunks;
    cfg.lua_dir = lua_dir(luapath);
    cfg.verbosity = quiet ? -1 : verbose;

    rc = ls_app_run(&cfg, errbuf);
    ls_log_init(&lg, PROG, cfg.verbosity);
    if (rc != 0 && errbuf[0] != '\0')
        ls_log(&lg, LS_LOG_ERROR, "%s", errbuf);
    free(files);
    free(chunks);
    free(ifaces);
    if (rc == 0)
        return 0;
    return rc == LS_ESCRIPT || rc == LS_EINVAL ? 2 : 1;
}
