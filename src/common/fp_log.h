/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Logging for every module: fp_log(level, module, fmt, ...) → stderr (or syslog when
 * fp_log_open_syslog() was called), with a level filter and per-call-site rate limiting
 * for repeating messages (fp_log_ratelimited). Thread-safe (one write per line).
 * The packet path never logs: it counts (see fp_stats.h).
 */
#ifndef FP_LOG_H
#define FP_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum fp_log_level {
    FP_LOG_ERR = 3,
    FP_LOG_WARNING = 4,
    FP_LOG_NOTICE = 5,
    FP_LOG_INFO = 6,
    FP_LOG_DEBUG = 7,
};

/** Set the maximum level printed. */
void fp_log_set_level(enum fp_log_level level);

/** Parse "error|warning|notice|info|debug". @return 0, or -EINVAL */
int fp_log_level_parse(const char *name, enum fp_log_level *out);

/** Send further lines to syslog (ident "flowpulse") instead of stderr. */
void fp_log_open_syslog(void);

void fp_log(enum fp_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fp_vlog(enum fp_log_level level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/** Rate limiter state for one call site (static in the caller). */
struct fp_log_ratelimit {
    uint64_t window_start_ms;
    uint32_t in_window;
    uint32_t suppressed;
};

/** Like fp_log, but at most @p burst lines per 10 s window; says how many were suppressed. */
void fp_log_ratelimited(struct fp_log_ratelimit *rl, unsigned burst, enum fp_log_level level,
                        const char *module, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif /* FP_LOG_H */
