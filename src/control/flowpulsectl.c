/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * flowpulsectl: command-line client of the flowpulse control socket. Sends one request line,
 * prints the JSON answer (data lines on stdout, the final line's error on stderr).
 * Exit status: 0 ok, 1 the daemon reported an error, 2 usage error, 3 daemon unreachable.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fp_time.h"
#include "control/control.h"
#include "control/control_internal.h"

enum {
    EXIT_OK = 0,
    EXIT_DAEMON = 1,
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: flowpulsectl [-s SOCKET] [-p] [-t SECONDS] COMMAND [ARGS...]\n"
            "commands:\n"
            "  status                 version, uptime, mode, packets, flows, collectors\n"
            "  stats                  every counter (decode, flow cache, classification, export)\n"
            "  collectors             state and counters of each collector\n"
            "  reload                 re-read and apply the configuration file\n"
            "  flows [FILTER]... [--limit N] [--sort bytes|packets|last]\n"
            "                         live flows as JSON lines; up to %d filters (AND):\n"
            "                         src=|dst=|host=ADDR[/PREFIX] port=|sport=|dport=N\n"
            "                         proto=tcp|udp|icmp|N app=NAME class=NAME\n"
            "                         'age>SECONDS' 'idle<SECONDS' 'qoe<SCORE'\n"
            "options:\n"
            "  -s SOCKET  control socket (default %s)\n"
            "  -p, --pretty  indent the JSON\n"
            "  -t SECONDS    give up waiting for the answer after this long (default 30)\n"
            "exit status: 0 ok, 1 daemon error, 2 usage error, 3 daemon not reachable\n",
            FP_CONTROL_MAX_FILTERS, FP_CONTROL_DEFAULT_SOCKET);
}

/* Print one data line (pretty or as is). */
static void emit(const char *line, bool pretty)
{
    if (pretty) {
        struct fp_control_json pj = {0};
        if (fp_control_json_pretty(line, &pj) == 0) {
            fputs(pj.buf, stdout);
            fp_control_json_free(&pj);
            return;
        }
        fp_control_json_free(&pj);
    }
    fputs(line, stdout);
    fputc('\n', stdout);
}

int main(int argc, char **argv)
{
    const char *sock = FP_CONTROL_DEFAULT_SOCKET;
    bool pretty = false;
    unsigned timeout_s = 30;
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"pretty", no_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    /* '+': stop at the command, so that its arguments (--limit, --sort) are not ours. */
    while ((opt = getopt_long(argc, argv, "+s:pt:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            sock = optarg;
            break;
        case 'p':
            pretty = true;
            break;
        case 't': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || v > 3600) {
                fprintf(stderr, "flowpulsectl: -t %s: expected 1..3600 seconds\n", optarg);
                return EXIT_USAGE;
            }
            timeout_s = (unsigned)v;
            break;
        }
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "flowpulsectl: missing command\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    if (strcmp(cmd, "status") && strcmp(cmd, "stats") && strcmp(cmd, "collectors") &&
        strcmp(cmd, "reload") && strcmp(cmd, "flows")) {
        fprintf(stderr, "flowpulsectl: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "flows") != 0 && optind + 1 < argc) {
        fprintf(stderr, "flowpulsectl: %s: unexpected argument \"%s\"\n", cmd, argv[optind + 1]);
        return EXIT_USAGE;
    }
    /* The request line: the command and its arguments separated by one blank each. */
    char req[FP_CONTROL_LINE_MAX];
    size_t len = 0;
    for (int i = optind; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (l == 0 || strpbrk(argv[i], " \t\r\n")) {
            fprintf(stderr, "flowpulsectl: \"%s\": arguments cannot be empty or contain blanks\n",
                    argv[i]);
            return EXIT_USAGE;
        }
        if (len + l + 2 > sizeof(req)) {
            fprintf(stderr, "flowpulsectl: request too long\n");
            return EXIT_USAGE;
        }
        if (len)
            req[len++] = ' ';
        memcpy(req + len, argv[i], l);
        len += l;
    }
    req[len] = '\0';
    if (strcmp(cmd, "flows") == 0) {
        struct fp_control_query q;
        char err[320];
        if (fp_control_query_parse(&q, req + 5, err, sizeof(err)) != 0) {
            fprintf(stderr, "flowpulsectl: flows: %s\n", err);
            return EXIT_USAGE;
        }
    }
    req[len++] = '\n';

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "flowpulsectl: socket path too long: %s\n", sock);
        return EXIT_USAGE;
    }
    memcpy(sa.sun_path, sock, strlen(sock));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "flowpulsectl: cannot reach flowpulse at %s: %s\n", sock, strerror(errno));
        return EXIT_UNREACHABLE;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            fprintf(stderr, "flowpulsectl: %s: sending the request: %s\n", sock, strerror(errno));
            close(fd);
            return EXIT_UNREACHABLE;
        }
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);

    /* Read lines; print each data line once the next one has arrived, so that the last
     * line (the final ok/error line) is never printed as data. */
    size_t cap = 1 << 16, have = 0;
    char *buf = malloc(cap);
    char *pending = NULL;
    int rc = EXIT_DAEMON;
    bool eof = false;
    uint64_t deadline = fp_time_monotonic_ns() + (uint64_t)timeout_s * FP_NS_PER_S;
    if (!buf) {
        fprintf(stderr, "flowpulsectl: out of memory\n");
        close(fd);
        return EXIT_DAEMON;
    }
    while (!eof) {
        uint64_t now = fp_time_monotonic_ns();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = now < deadline ? poll(&pfd, 1, (int)((deadline - now) / FP_NS_PER_MS) + 1) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            fprintf(stderr, "flowpulsectl: %s: no complete answer within %u s\n", sock, timeout_s);
            goto out;
        }
        if (have + 1 >= cap) {
            char *nb = cap < (256u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                fprintf(stderr, "flowpulsectl: answer line too long\n");
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = recv(fd, buf + have, cap - 1 - have, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fprintf(stderr, "flowpulsectl: %s: %s\n", sock, strerror(errno));
            goto out;
        }
        if (got == 0)
            eof = true;
        have += (size_t)got;
        buf[have] = '\0';
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', have - (size_t)(start - buf))) != NULL) {
            *nl = '\0';
            if (pending) {
                emit(pending, pretty);
                free(pending);
            }
            pending = strdup(start);
            start = nl + 1;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
    }
    fflush(stdout);
    bool ok, usage_err;
    char err[1024];
    if (!pending || fp_control_end_parse(pending, &ok, &usage_err, err, sizeof(err)) != 0) {
        if (pending)
            emit(pending, pretty);
        fprintf(stderr, "flowpulsectl: %s: the answer ended without its final line\n", sock);
        goto out;
    }
    if (ok) {
        if (strcmp(cmd, "reload") == 0)
            emit(pending, pretty); /* carries the daemon's message */
        rc = EXIT_OK;
    } else {
        fprintf(stderr, "flowpulsectl: %s\n", err);
        rc = usage_err ? EXIT_USAGE : EXIT_DAEMON;
    }
out:
    fflush(stdout);
    free(pending);
    free(buf);
    close(fd);
    return rc;
}
