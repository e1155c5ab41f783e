/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Control: the request dispatcher and the socket server (one pthread accepting clients one
 * after another, with I/O deadlines so a slow client cannot hold it for long).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fp_log.h"
#include "common/fp_time.h"
#include "control/control.h"
#include "control/control_internal.h"

#define LOGM "control"
#define WRITE_DEADLINE_MS 10000  /* whole response */
#define TOTAL_RECORDS_MAX 65536u /* records buffered by one flows query (all workers) */

/* ---- dispatcher --------------------------------------------------------------------------- */

static void end_ok(struct fp_control_json *j)
{
    j->comma = false;
    fp_control_json_raw(j, "{\"ok\":true}\n");
}

static void cmd_status(const struct fp_control_ops *ops, struct fp_control_json *j)
{
    struct fp_control_status st;
    memset(&st, 0, sizeof(st));
    ops->status(ops->arg, &st);
    j->comma = false;
    fp_control_json_obj_begin(j, NULL);
    fp_control_json_str(j, "version", st.version);
    fp_control_json_time(j, "started", st.start_ms * 1000000u);
    fp_control_json_u64(j, "uptime_s",
                        st.now_ms > st.start_ms ? (st.now_ms - st.start_ms) / 1000 : 0);
    fp_control_json_str(j, "mode", st.capture_file[0] ? "capture file" : "live");
    if (st.capture_file[0])
        fp_control_json_str(j, "capture_file", st.capture_file);
    fp_control_json_bool(j, "running", st.running);
    fp_control_json_time(j, "flow_clock", st.flow_clock_ns);
    fp_control_json_u64(j, "flow_clock_ms", st.flow_clock_ns / 1000000u);
    fp_control_json_u64(j, "ports", st.ports);
    fp_control_json_u64(j, "workers", st.workers);
    fp_control_json_u64(j, "flows_active", st.flows_active);
    fp_control_json_obj_begin(j, "packets");
    fp_control_json_u64(j, "received", st.packets_received);
    fp_control_json_u64(j, "metered", st.packets_metered);
    fp_control_json_u64(j, "not_metered", st.packets_not_metered);
    fp_control_json_u64(j, "dropped", st.packets_dropped);
    fp_control_json_obj_end(j);
    fp_control_json_obj_begin(j, "collectors");
    fp_control_json_u64(j, "up", st.collectors_up);
    fp_control_json_u64(j, "down", st.collectors_down);
    fp_control_json_obj_end(j);
    fp_control_json_obj_end(j);
    fp_control_json_raw(j, "\n");
    end_ok(j);
}

static void cmd_stats(const struct fp_control_ops *ops, struct fp_control_json *j)
{
    j->comma = false;
    fp_control_json_obj_begin(j, NULL);
    ops->stats(ops->arg, j);
    fp_control_json_obj_end(j);
    fp_control_json_raw(j, "\n");
    end_ok(j);
}

static void cmd_collectors(const struct fp_control_ops *ops, struct fp_control_json *j)
{
    unsigned n = ops->collector_count(ops->arg);
    j->comma = false;
    fp_control_json_obj_begin(j, NULL);
    fp_control_json_arr_begin(j, "collectors");
    for (unsigned i = 0; i < n; i++) {
        struct fp_control_collector c;
        memset(&c, 0, sizeof(c));
        ops->collector(ops->arg, i, &c);
        fp_control_json_obj_begin(j, NULL);
        fp_control_json_u64(j, "index", i);
        fp_control_json_str(j, "url", c.url);
        fp_control_json_str(j, "transport", c.transport);
        fp_control_json_str(j, "state", c.state);
        fp_control_json_u64(j, "records", c.records);
        fp_control_json_u64(j, "messages", c.messages);
        fp_control_json_u64(j, "octets", c.octets);
        fp_control_json_u64(j, "records_not_sent", c.records_not_sent);
        fp_control_json_u64(j, "records_queued", c.records_queued);
        fp_control_json_u64(j, "reconnects", c.reconnects);
        fp_control_json_str(j, "last_error", c.last_error);
        fp_control_json_obj_end(j);
    }
    fp_control_json_arr_end(j);
    fp_control_json_obj_end(j);
    fp_control_json_raw(j, "\n");
    end_ok(j);
}

static void cmd_reload(const struct fp_control_ops *ops, struct fp_control_json *j)
{
    char err[512] = "";
    int ret = ops->reload(ops->arg, err, sizeof(err));
    if (ret != 0) {
        if (!err[0])
            snprintf(err, sizeof(err), "reload failed: %s", strerror(-ret));
        fp_control_end_error(j, err, false);
        return;
    }
    j->comma = false;
    fp_control_json_obj_begin(j, NULL);
    fp_control_json_bool(j, "ok", true);
    fp_control_json_str(j, "message", err[0] ? err : "configuration reloaded");
    fp_control_json_obj_end(j);
    fp_control_json_raw(j, "\n");
}

static void cmd_flows(const struct fp_control_ops *ops, const char *args, struct fp_control_json *j)
{
    struct fp_control_query q;
    char err[320];
    if (fp_control_query_parse(&q, args, err, sizeof(err)) != 0) {
        fp_control_end_error(j, err, true);
        return;
    }
    struct fp_control_status st;
    memset(&st, 0, sizeof(st));
    ops->status(ops->arg, &st);
    if (!st.running || st.workers == 0) {
        fp_control_end_error(j, "no capture running: no flows to query", false);
        return;
    }
    q.now_ns = st.flow_clock_ns;
    /* Sorted output needs every match; unsorted, `limit` per worker suffices. Both are
     * bounded so one query never buffers more than TOTAL_RECORDS_MAX records. */
    unsigned per_worker = q.sort != FP_CONTROL_SORT_NONE ? FP_CONTROL_MAX_LIMIT : q.limit;
    unsigned cap = TOTAL_RECORDS_MAX / st.workers;
    per_worker = FP_MAX(1u, FP_MIN(per_worker, cap));
    struct fp_flow_record *recs = calloc((size_t)st.workers * per_worker, sizeof(*recs));
    if (!recs) {
        fp_control_end_error(j, "out of memory for the flow query", false);
        return;
    }
    unsigned n = 0;
    uint64_t t0 = fp_time_monotonic_ns();
    int ret = ops->flows(ops->arg, fp_control_query_match, &q, recs, per_worker, &n,
                         FP_CONTROL_QUERY_TIMEOUT_MS);
    uint64_t elapsed_us = (fp_time_monotonic_ns() - t0) / 1000u;
    if (ret != 0 && ret != -ETIMEDOUT) {
        fp_control_end_error(
            j, ret == -EAGAIN ? "no capture running: no flows to query" : "flow query failed",
            false);
        free(recs);
        return;
    }
    /* A worker whose share is full may have had more matches. */
    bool truncated = false;
    unsigned *per = calloc(256, sizeof(*per)); /* record.worker is 8 bits */
    for (unsigned i = 0; per && i < n; i++)
        if (++per[recs[i].worker] >= per_worker)
            truncated = true;
    free(per);
    fp_control_flows_sort(recs, n, q.sort);
    unsigned shown = FP_MIN(n, q.limit);
    for (unsigned i = 0; i < shown; i++) {
        fp_control_flow_json(j, &recs[i]);
        fp_control_json_raw(j, "\n");
    }
    free(recs);
    if (ret == -ETIMEDOUT) {
        snprintf(err, sizeof(err),
                 "flow query timed out after %u ms: the %u flows above are partial results",
                 FP_CONTROL_QUERY_TIMEOUT_MS, shown);
        fp_control_end_error(j, err, false);
        return;
    }
    j->comma = false;
    fp_control_json_obj_begin(j, NULL);
    fp_control_json_bool(j, "ok", true);
    fp_control_json_u64(j, "flows", shown);
    fp_control_json_u64(j, "matched", n);
    fp_control_json_bool(j, "truncated", truncated || n > shown);
    fp_control_json_time(j, "flow_clock", q.now_ns);
    fp_control_json_u64(j, "query_us", elapsed_us);
    fp_control_json_obj_end(j);
    fp_control_json_raw(j, "\n");
}

void fp_control_handle_request(const struct fp_control_ops *ops, const char *line,
                               struct fp_control_json *out)
{
    char cmd[32];
    const char *p = line + strspn(line, " \t");
    size_t l = strcspn(p, " \t\r\n");
    const char *args = p + l + strspn(p + l, " \t");
    /* Trailing CR/blank are ignored. */
    char rest[FP_CONTROL_LINE_MAX];
    snprintf(rest, sizeof(rest), "%s", args);
    for (size_t n = strlen(rest); n > 0 && strchr(" \t\r\n", rest[n - 1]); n--)
        rest[n - 1] = '\0';

    if (l == 0 || l >= sizeof(cmd)) {
        fp_control_end_error(out,
                             l ? "command too long"
                               : "empty request: expected a command "
                                 "(status, stats, collectors, reload, flows)",
                             true);
        return;
    }
    memcpy(cmd, p, l);
    cmd[l] = '\0';
    bool no_args = rest[0] == '\0';
    char err[FP_CONTROL_LINE_MAX + 96];

    if (strcmp(cmd, "flows") == 0) {
        if (!ops->flows || !ops->status)
            fp_control_end_error(out, "flows: not available", false);
        else
            cmd_flows(ops, rest, out);
        return;
    }
    if (strcmp(cmd, "status") && strcmp(cmd, "stats") && strcmp(cmd, "collectors") &&
        strcmp(cmd, "reload")) {
        snprintf(err, sizeof(err),
                 "unknown command \"%s\" (expected status, stats, collectors, "
                 "reload or flows)",
                 cmd);
        fp_control_end_error(out, err, true);
        return;
    }
    if (!no_args) {
        snprintf(err, sizeof(err), "%s: unexpected argument \"%s\"", cmd, rest);
        fp_control_end_error(out, err, true);
        return;
    }
    if (strcmp(cmd, "status") == 0 && ops->status)
        cmd_status(ops, out);
    else if (strcmp(cmd, "stats") == 0 && ops->stats)
        cmd_stats(ops, out);
    else if (strcmp(cmd, "collectors") == 0 && ops->collector_count && ops->collector)
        cmd_collectors(ops, out);
    else if (strcmp(cmd, "reload") == 0 && ops->reload)
        cmd_reload(ops, out);
    else {
        snprintf(err, sizeof(err), "%s: not available", cmd);
        fp_control_end_error(out, err, false);
    }
    if (out->failed) {
        fp_control_json_reset(out);
        fp_control_end_error(out, "response too large or out of memory", false);
    }
}

/* ---- server -------------------------------------------------------------------------------- */

struct fp_control {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct fp_control_ops ops;
    int lfd;
    int wake[2]; /* stop pipe: the thread polls its read end */
    dev_t dev;   /* the socket file we created (removed at stop only if still ours) */
    ino_t ino;
    pthread_t thread;
    bool started;
};

static int ms_left(uint64_t deadline_ns)
{
    uint64_t now = fp_time_monotonic_ns();
    return now >= deadline_ns ? 0 : (int)((deadline_ns - now) / FP_NS_PER_MS) + 1;
}

/* Read one line (up to '\n') before the deadline. @return length, or -errno. */
static int read_line(int fd, char *buf, size_t size, uint64_t deadline_ns)
{
    size_t n = 0;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int left = ms_left(deadline_ns);
        if (left == 0)
            return -ETIMEDOUT;
        int r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? -ETIMEDOUT : -errno;
        ssize_t got = recv(fd, buf + n, size - 1 - n, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            return n ? (int)n : -ECONNRESET;
        char *nl = memchr(buf + n, '\n', (size_t)got);
        n += (size_t)got;
        if (nl) {
            *nl = '\0';
            return (int)(nl - buf);
        }
        if (n >= size - 1)
            return -EMSGSIZE;
    }
}

static int write_all(int fd, const char *buf, size_t len, uint64_t deadline_ns)
{
    while (len) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int left = ms_left(deadline_ns);
        if (left == 0)
            return -ETIMEDOUT;
        int r = poll(&pfd, 1, FP_MIN(left, FP_CONTROL_IO_TIMEOUT_MS));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? -ETIMEDOUT : -errno;
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w < 0)
            return -errno;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

static void serve_client(struct fp_control *c, int fd, struct fp_control_json *out)
{
    static struct fp_log_ratelimit rl;
    char line[FP_CONTROL_LINE_MAX];
    int n = read_line(fd, line, sizeof(line),
                      fp_time_monotonic_ns() + FP_CONTROL_IO_TIMEOUT_MS * FP_NS_PER_MS);
    fp_control_json_reset(out);
    if (n == -EMSGSIZE) {
        fp_control_end_error(out, "request line too long", true);
    } else if (n < 0) {
        fp_log_ratelimited(&rl, 5, FP_LOG_INFO, LOGM, "client request not read: %s", strerror(-n));
        return;
    } else {
        fp_log(FP_LOG_DEBUG, LOGM, "request: %s", line);
        fp_control_handle_request(&c->ops, line, out);
    }
    int r = write_all(fd, out->buf ? out->buf : "", out->len,
                      fp_time_monotonic_ns() + WRITE_DEADLINE_MS * FP_NS_PER_MS);
    if (r != 0)
        fp_log_ratelimited(&rl, 5, FP_LOG_INFO, LOGM, "response not sent: %s", strerror(-r));
}

/* Reload requested by SIGHUP: same path as the reload command, result logged. */
static void signal_reload(struct fp_control *c)
{
    char err[512] = "";
    if (!c->ops.reload) {
        fp_log(FP_LOG_WARNING, LOGM, "SIGHUP: reload not available");
        return;
    }
    int ret = c->ops.reload(c->ops.arg, err, sizeof(err));
    if (ret == 0)
        fp_log(FP_LOG_NOTICE, LOGM, "SIGHUP: %s", err[0] ? err : "configuration reloaded");
    else
        fp_log(FP_LOG_WARNING, LOGM, "SIGHUP: reload refused, the running configuration stays: %s",
               err[0] ? err : strerror(-ret));
}

static void *control_thread(void *arg)
{
    struct fp_control *c = arg;
    struct fp_control_json out = {0};
    for (;;) {
        struct pollfd pfd[2] = {{.fd = c->wake[0], .events = POLLIN},
                                {.fd = c->lfd, .events = POLLIN}};
        int r = poll(pfd, c->lfd >= 0 ? 2 : 1, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        if (pfd[0].revents & POLLIN) {
            char b;
            if (read(c->wake[0], &b, 1) == 1 && b == 'r') {
                signal_reload(c);
                continue;
            }
            break; /* stop ('x'), or the write end was closed */
        }
        if (pfd[0].revents & POLLHUP)
            break;
        if (!(pfd[1].revents & POLLIN))
            continue;
        int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            continue;
        serve_client(c, fd, &out);
        close(fd);
    }
    fp_control_json_free(&out);
    return NULL;
}

void fp_control_request_reload(struct fp_control *c)
{
    if (c) {
        ssize_t w = write(c->wake[1], "r", 1); /* non-blocking: a full pipe already has one */
        (void)w;
    }
}

/* mkdir -p of the socket's directory (mode 0755 for what is created). */
static int make_parent(const char *path)
{
    char d[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(d, sizeof(d), "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d)
        return 0;
    *slash = '\0';
    for (char *p = d + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char save = *p;
            *p = '\0';
            if (mkdir(d, 0755) != 0 && errno != EEXIST)
                return -errno;
            *p = save;
            if (save == '\0')
                break;
        }
    }
    return 0;
}

struct fp_control *fp_control_start(const struct fp_control_params *p)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct fp_control *c = NULL;
    int err = EINVAL;

    if (!p || !p->ops || (p->socket_path && strlen(p->socket_path) >= sizeof(sa.sun_path))) {
        errno = EINVAL;
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->lfd = c->wake[0] = c->wake[1] = -1;
    c->ops = *p->ops;
    snprintf(c->path, sizeof(c->path), "%s", p->socket_path ? p->socket_path : "");
    memcpy(sa.sun_path, c->path, strlen(c->path));
    int ret;
    if (!c->path[0])
        goto no_socket;

    ret = make_parent(c->path);
    if (ret) {
        err = -ret;
        goto fail;
    }
    c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->lfd < 0) {
        err = errno;
        goto fail;
    }
    struct stat st;
    if (lstat(c->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            err = EEXIST; /* never remove something that is not a socket */
            goto fail;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            err = EADDRINUSE;
            goto fail;
        }
        unlink(c->path); /* stale: left by a daemon that did not exit cleanly */
    }
    if (bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        err = errno;
        goto fail;
    }
    if (chmod(c->path, 0660) != 0 || lstat(c->path, &st) != 0 || listen(c->lfd, 16) != 0) {
        err = errno;
        unlink(c->path);
        goto fail;
    }
    c->dev = st.st_dev;
    c->ino = st.st_ino;
no_socket:
    if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        err = errno;
        goto fail_unlink;
    }
    ret = pthread_create(&c->thread, NULL, control_thread, c);
    if (ret != 0) {
        err = ret;
        goto fail_unlink;
    }
    pthread_setname_np(c->thread, "fp-control");
    c->started = true;
    if (c->path[0])
        fp_log(FP_LOG_INFO, LOGM, "control socket %s", c->path);
    return c;

fail_unlink:
    if (c->path[0] && c->lfd >= 0)
        unlink(c->path);

fail:
    if (c->wake[0] >= 0)
        close(c->wake[0]);
    if (c->wake[1] >= 0)
        close(c->wake[1]);
    if (c->lfd >= 0)
        close(c->lfd);
    free(c);
    errno = err;
    return NULL;
}

void fp_control_stop(struct fp_control *c)
{
    if (!c)
        return;
    if (c->started) {
        if (write(c->wake[1], "x", 1) < 0) {
            close(c->wake[1]); /* POLLHUP wakes the thread as well */
            c->wake[1] = -1;
        }
        pthread_join(c->thread, NULL);
    }
    struct stat st;
    if (c->lfd >= 0 && lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
        unlink(c->path);
    if (c->lfd >= 0)
        close(c->lfd);
    close(c->wake[0]);
    if (c->wake[1] >= 0)
        close(c->wake[1]);
    free(c);
}
