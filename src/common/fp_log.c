/* SPDX-License-Identifier: BSD-3-Clause */
#include "common/fp_log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = FP_LOG_INFO;
static _Atomic int log_target = FP_LOG_TARGET_AUTO;

static const char *const level_names[] = {
    [FP_LOG_ERR] = "error", [FP_LOG_WARNING] = "warning", [FP_LOG_NOTICE] = "notice",
    [FP_LOG_INFO] = "info", [FP_LOG_DEBUG] = "debug",
};

static const char *const target_names[] = {
    [FP_LOG_TARGET_AUTO] = "auto",
    [FP_LOG_TARGET_STDERR] = "stderr",
    [FP_LOG_TARGET_JOURNAL] = "journal",
    [FP_LOG_TARGET_SYSLOG] = "syslog",
};

void fp_log_set_level(enum fp_log_level level)
{
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

int fp_log_level_parse(const char *name, enum fp_log_level *out)
{
    for (int l = FP_LOG_ERR; l <= FP_LOG_DEBUG; l++) {
        if (strcmp(name, level_names[l]) == 0) {
            *out = (enum fp_log_level)l;
            return 0;
        }
    }
    return -EINVAL;
}

int fp_log_target_parse(const char *name, enum fp_log_target *out)
{
    for (int t = FP_LOG_TARGET_AUTO; t <= FP_LOG_TARGET_SYSLOG; t++) {
        if (strcmp(name, target_names[t]) == 0) {
            *out = (enum fp_log_target)t;
            return 0;
        }
    }
    return -EINVAL;
}

const char *fp_log_target_name(enum fp_log_target target)
{
    if ((int)target < FP_LOG_TARGET_AUTO || (int)target > FP_LOG_TARGET_SYSLOG)
        return "?";
    return target_names[target];
}

int fp_log_fd_is_journal(int fd)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;
    char *end;

    if (js == NULL || fstat(fd, &st) != 0)
        return 0;
    errno = 0;
    dev = strtoull(js, &end, 10);
    if (errno || end == js || *end != ':')
        return 0;
    const char *p = end + 1;
    ino = strtoull(p, &end, 10);
    if (errno || end == p || *end != '\0')
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static enum fp_log_target resolve(enum fp_log_target t)
{
    if (t != FP_LOG_TARGET_AUTO)
        return t;
    return fp_log_fd_is_journal(STDERR_FILENO) ? FP_LOG_TARGET_JOURNAL : FP_LOG_TARGET_STDERR;
}

void fp_log_set_target(enum fp_log_target target)
{
    enum fp_log_target t = resolve(target);
    int old = atomic_exchange(&log_target, (int)t);

    if (t == FP_LOG_TARGET_SYSLOG && old != FP_LOG_TARGET_SYSLOG)
        openlog("flowpulse", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    else if (t != FP_LOG_TARGET_SYSLOG && old == FP_LOG_TARGET_SYSLOG)
        closelog();
}

enum fp_log_target fp_log_get_target(void)
{
    int t = atomic_load_explicit(&log_target, memory_order_relaxed);

    if (t == FP_LOG_TARGET_AUTO) {
        /* First line without fp_log_set_target(): decide once (racing threads agree). */
        int want = (int)resolve(FP_LOG_TARGET_AUTO);
        if (atomic_compare_exchange_strong(&log_target, &t, want))
            t = want;
    }
    return (enum fp_log_target)t;
}

void fp_log_open_syslog(void)
{
    fp_log_set_target(FP_LOG_TARGET_SYSLOG);
}

void fp_vlog(enum fp_log_level level, const char *module, const char *fmt, va_list ap)
{
    if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    if ((int)level < FP_LOG_ERR)
        level = FP_LOG_ERR;
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* One message, one line (a journal entry per line; syslog readers expect the same). */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    char line[1200];
    int n;
    switch (fp_log_get_target()) {
    case FP_LOG_TARGET_SYSLOG:
        syslog((int)level, "%s: %s", module, msg);
        return;
    case FP_LOG_TARGET_JOURNAL:
        n = snprintf(line, sizeof(line), "<%d>%s: %s\n", (int)level, module, msg);
        break;
    default:
        n = snprintf(line, sizeof(line), "flowpulse: %s: %s: %s\n", level_names[level], module,
                     msg);
        break;
    }
    if (n < 0)
        return;
    if (n > (int)sizeof(line) - 1) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    /* One write per line so concurrent threads do not interleave. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void fp_log(enum fp_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fp_vlog(level, module, fmt, ap);
    va_end(ap);
}

void fp_log_ratelimited(struct fp_log_ratelimit *rl, unsigned burst, enum fp_log_level level,
                        const char *module, const char *fmt, ...)
{
    if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (now_ms - rl->window_start_ms >= FP_LOG_RATELIMIT_WINDOW_MS) {
        if (rl->suppressed)
            fp_log(level, module, "%u similar messages suppressed", rl->suppressed);
        rl->window_start_ms = now_ms;
        rl->in_window = 0;
        rl->suppressed = 0;
    }
    if (rl->in_window >= burst) {
        rl->suppressed++;
        return;
    }
    rl->in_window++;
    va_list ap;
    va_start(ap, fmt);
    fp_vlog(level, module, fmt, ap);
    va_end(ap);
}
