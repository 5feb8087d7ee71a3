/* lsnet.c: real TCP traffic on the loopback interface for the live tests,
 * with the bytes and events a capture of it must show. Listens on
 * 127.0.0.1 (never any other address) on a port the kernel picks, writes it
 * to DIR/port, waits for DIR/go, then plays a scenario between a client
 * (this process) and a server (a child):
 *   basic  connection 1: a request, a reply, 2 MiB up, 1 MiB down, FIN both
 *          ways; connection 2: 9 bytes up, then the server resets it.
 *   hold   one connection: 6 bytes each way, then held open until DIR/stop.
 * It writes DIR/expected.out (what tests/live/streams.lua prints) and
 * DIR/exp/ID.sent, DIR/exp/ID.received (the bytes of each direction).
 * Every wait is bounded: the process ends itself after LIMIT seconds. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define LIMIT 25
#define UP    (2u << 20)
#define DOWN  (1u << 20)

static const char *dir;

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("lsnet: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (%s)\n", strerror(errno));
    exit(1);
}

static char *path(const char *name)
{
    static char buf[4096];

    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static void put(const char *name, const void *p, size_t n)
{
    FILE *f = fopen(path(name), "wb");

    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die("cannot write %s", path(name));
}

static void wait_file(const char *name)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    struct stat sb;

    while (stat(path(name), &sb) != 0)
        nanosleep(&ts, NULL);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 31u + seed * 7u + (i >> 9));
}

static void writeall(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            die("write");
        c += k;
        n -= (size_t)k;
    }
}

static void readall(int fd, void *p, size_t n)
{
    char *c = p;

    while (n > 0) {
        ssize_t k = read(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            die("read (%zu bytes short)", n);
        c += k;
        n -= (size_t)k;
    }
}

static void read_eof(int fd)
{
    char b[4096];
    ssize_t k;

    while ((k = read(fd, b, sizeof b)) != 0)
        if (k < 0 && errno != EINTR)
            die("read to end");
}

static int dial(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect");
    return fd;
}

static int take(int lfd)
{
    int fd = accept(lfd, NULL, NULL);

    if (fd < 0)
        die("accept");
    return fd;
}

static const char req[] = "GET /small\r\n", rep[] = "200 OK\r\n", rst[] = "reset me\n";

static void basic_server(int lfd)
{
    unsigned char *up = malloc(UP), *down = malloc(DOWN);
    char b[64];
    struct linger lg = {1, 0};
    int fd;

    if (up == NULL || down == NULL)
        die("malloc");
    fill(down, DOWN, 2);
    fd = take(lfd);
    readall(fd, b, sizeof req - 1);
    writeall(fd, rep, sizeof rep - 1);
    readall(fd, up, UP);
    writeall(fd, down, DOWN);
    read_eof(fd);
    close(fd);
    free(up);
    free(down);
    fd = take(lfd);
    readall(fd, b, sizeof rst - 1);
    /* Linger 0: close sends RST instead of FIN. */
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0)
        die("SO_LINGER");
    close(fd);
    exit(0);
}

static void basic_client(int port)
{
    unsigned char *up = malloc(sizeof req - 1 + UP), *down = malloc(sizeof rep - 1 + DOWN);
    char b;
    int fd;

    if (up == NULL || down == NULL)
        die("malloc");
    memcpy(up, req, sizeof req - 1);
    fill(up + sizeof req - 1, UP, 1);
    fd = dial(port);
    writeall(fd, up, sizeof req - 1);
    readall(fd, down, sizeof rep - 1);
    writeall(fd, up + sizeof req - 1, UP);
    readall(fd, down + sizeof rep - 1, DOWN);
    shutdown(fd, SHUT_WR);
    read_eof(fd);
    close(fd);
    put("exp/1.sent", up, sizeof req - 1 + UP);
    put("exp/1.received", down, sizeof rep - 1 + DOWN);
    free(up);
    free(down);

    fd = dial(port);
    writeall(fd, rst, sizeof rst - 1);
    /* The reset ends the read with ECONNRESET (or 0 if it raced). */
    while (read(fd, &b, 1) > 0)
        ;
    close(fd);
    put("exp/2.sent", rst, sizeof rst - 1);
    put("exp/2.received", "", 0);
}

static void hold_server(int lfd)
{
    char b[6];
    int fd = take(lfd);

    readall(fd, b, sizeof b);
    writeall(fd, "world\n", 6);
    wait_file("stop");
    close(fd);
    exit(0);
}

static void hold_client(int port)
{
    char b[6];
    int fd = dial(port);

    writeall(fd, "hello\n", 6);
    readall(fd, b, sizeof b);
    put("exp/1.sent", "hello\n", 6);
    put("exp/1.received", "world\n", 6);
    put("exchanged", "", 0);
    wait_file("stop");
    close(fd);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    char buf[256];
    int lfd, port, status = 0, basic;
    pid_t pid;

    if (argc != 3 || (strcmp(argv[1], "basic") != 0 && strcmp(argv[1], "hold") != 0)) {
        fputs("usage: lsnet basic|hold DIR\n", stderr);
        return 2;
    }
    basic = strcmp(argv[1], "basic") == 0;
    dir = argv[2];
    alarm(LIMIT); /* the default action ends a stuck run; the child inherits none */
    if (mkdir(path("exp"), 0755) != 0 && errno != EEXIST)
        die("mkdir %s", path("exp"));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) != 0)
        die("listen on 127.0.0.1");
    port = ntohs(sa.sin_port);
    snprintf(buf, sizeof buf, "%d\n", port);
    put("port.tmp", buf, strlen(buf));
    /* Appears whole: the test polls for it. */
    if (rename(path("port.tmp"), strcat(strcpy(buf, dir), "/port")) != 0)
        die("rename");
    wait_file("go");

    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        alarm(LIMIT);
        if (basic)
            basic_server(lfd);
        hold_server(lfd);
    }
    close(lfd);
    if (basic) {
        basic_client(port);
        snprintf(buf, sizeof buf,
                 "connection\t1\ttrue\nclosed\t1\tfin\t%u\t%u\nteardown\t1\n"
                 "connection\t2\ttrue\nclosed\t2\trst\t%u\t0\nteardown\t2\ndone\t2\n",
                 (unsigned)(sizeof req - 1 + UP), (unsigned)(sizeof rep - 1 + DOWN),
                 (unsigned)(sizeof rst - 1));
    } else {
        hold_client(port);
        snprintf(buf, sizeof buf,
                 "connection\t1\ttrue\nclosed\t1\tend\t6\t6\nteardown\t1\ndone\t1\n");
    }
    put("expected.out", buf, strlen(buf));
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("server failed (status %d)", status);
    return 0;
}
