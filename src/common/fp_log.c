/* SPDX-License-Identifier: BSD-3-Clause */
#include "common/fp_log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = FP_LOG_INFO;
static _Atomic bool use_syslog;

static const char *const level_names[] = {
    [FP_LOG_ERR] = "error", [FP_LOG_WARNING] = "warning", [FP_LOG_NOTICE] = "notice",
    [FP_LOG_INFO] = "info", [FP_LOG_DEBUG] = "debug",
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

void fp_log_open_syslog(void)
{
    openlog("flowpulse", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    atomic_store(&use_syslog, true);
}

void fp_vlog(enum fp_log_level level, const char *module, const char *fmt, va_list ap)
{
    if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (atomic_load_explicit(&use_syslog, memory_order_relaxed)) {
        syslog((int)level, "%s: %s", module, msg);
        return;
    }
    char line[1200];
    int n = snprintf(line, sizeof(line), "flowpulse: %s: %s: %s\n", level_names[level], module, msg);
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
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
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (now_ms - rl->window_start_ms >= 10000) {
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
