/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Logging for every module: fp_log(level, module, fmt, ...) with a level filter, one of
 * three targets, and per-call-site rate limiting for repeating messages (fp_log_ratelimited).
 *
 * Targets (log.target):
 *  - stderr:  "flowpulse: LEVEL: MODULE: message", one line per message (foreground use);
 *  - journal: "<N>MODULE: message" on stderr, N the syslog priority. This is the sd-daemon
 *             prefix journald strips and turns into the entry's PRIORITY when stderr is a
 *             journal stream (systemd sets JOURNAL_STREAM); no libsystemd needed;
 *  - syslog:  syslog(3), ident "flowpulse", facility daemon, LOG_PID;
 *  - auto:    journal when stderr is the stream named by JOURNAL_STREAM (running as a systemd
 *             service), stderr otherwise. This is also the target before any call to
 *             fp_log_set_target().
 *
 * Thread-safe: any thread may log (one write(2) per line, so lines never interleave). The
 * target and level are set by the main thread. The packet path never logs: it counts.
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

/** Where log lines go (see the file comment). */
enum fp_log_target {
    FP_LOG_TARGET_AUTO,
    FP_LOG_TARGET_STDERR,
    FP_LOG_TARGET_JOURNAL,
    FP_LOG_TARGET_SYSLOG,
};

/** Set the maximum level printed. */
void fp_log_set_level(enum fp_log_level level);

/** Parse "error|warning|notice|info|debug". @return 0, or -EINVAL */
int fp_log_level_parse(const char *name, enum fp_log_level *out);

/** Parse "auto|stderr|journal|syslog". @return 0, or -EINVAL */
int fp_log_target_parse(const char *name, enum fp_log_target *out);

/**
 * Choose the log target. FP_LOG_TARGET_AUTO is resolved here (from JOURNAL_STREAM and
 * stderr), FP_LOG_TARGET_SYSLOG opens the syslog connection (closed when another target is
 * chosen). Main thread.
 */
void fp_log_set_target(enum fp_log_target target);

/** The target in use (never FP_LOG_TARGET_AUTO once a line was logged or a target set). */
enum fp_log_target fp_log_get_target(void);

/** Name of a target ("auto", "stderr", "journal", "syslog"). */
const char *fp_log_target_name(enum fp_log_target target);

/**
 * Does JOURNAL_STREAM ("DEV:INODE", set by systemd for a service whose stdout/stderr is
 * connected to journald) name the file open on @p fd?
 * @return 1 yes, 0 no (unset, malformed or another file)
 */
int fp_log_fd_is_journal(int fd);

/** Send further lines to syslog (ident "flowpulse"): fp_log_set_target(SYSLOG). */
void fp_log_open_syslog(void);

void fp_log(enum fp_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fp_vlog(enum fp_log_level level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/**
 * Rate limiter state for one call site (static in the caller, zero-initialised). Used from
 * one thread at a time (a call site shared by threads needs one state per thread).
 */
struct fp_log_ratelimit {
    uint64_t window_start_ms; /**< CLOCK_MONOTONIC ms at the start of the current window */
    uint32_t in_window;       /**< lines logged in the current window */
    uint32_t suppressed;      /**< lines suppressed in the current window */
};

/** Window of fp_log_ratelimited(), in ms. */
#define FP_LOG_RATELIMIT_WINDOW_MS 10000

/**
 * Like fp_log, but at most @p burst lines per FP_LOG_RATELIMIT_WINDOW_MS window; the first
 * line of the next window says how many were suppressed ("N similar messages suppressed").
 * Lines filtered out by the level count neither way.
 */
void fp_log_ratelimited(struct fp_log_ratelimit *rl, unsigned burst, enum fp_log_level level,
                        const char *module, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif /* FP_LOG_H */
