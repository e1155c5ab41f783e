/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Control: the local control socket (Unix stream socket, mode 0660) that `flowpulsectl`
 * talks to. Pipeline place: none; control never reaches into the pipeline. main.c hands it
 * callbacks (struct fp_control_ops) for status, statistics, collectors, reload and the
 * live-flow query; control owns the protocol, the request parsing and the JSON.
 *
 * Protocol: the client sends one request line (a command and its arguments, at most
 * FP_CONTROL_LINE_MAX bytes, ending with '\n'); the daemon answers with JSON: one object
 * line (status, stats, collectors) or one object line per flow (flows), then always one
 * final line `{"ok":true,...}` or `{"ok":false,"error":"..."}` and closes the connection.
 * Errors caused by the request itself (unknown command, bad filter) carry `"usage":true`.
 *
 * Threads: fp_control_start()/fp_control_stop() run on the main thread. One control
 * pthread accepts clients one after another; every callback in struct fp_control_ops runs
 * on that thread. Socket reads and writes have timeouts (FP_CONTROL_IO_TIMEOUT_MS) so a
 * slow or stuck client delays other clients at most that long and never the daemon.
 *
 * The JSON writer below is public because the stats callback writes its counters with it
 * (control does not know the counter lists of the other modules).
 */
#ifndef FP_CONTROL_H
#define FP_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow/flow.h"

#define FP_CONTROL_LINE_MAX 4096         /**< request line, bytes including '\n' */
#define FP_CONTROL_IO_TIMEOUT_MS 2000    /**< per read/write on a client socket */
#define FP_CONTROL_QUERY_TIMEOUT_MS 5000 /**< flow query: longest wait for the workers */
#define FP_CONTROL_DEFAULT_SOCKET "/run/flowpulse/control.sock"

/* ---- JSON writer ---------------------------------------------------------------------- */

/**
 * Growable JSON text buffer. Values are appended with the fp_control_json_* calls, which
 * insert commas themselves; @p key is the member name inside an object and NULL inside an
 * array or at the top level. On allocation failure the writer stops growing and sets
 * @c failed (the text is then incomplete; callers answer with an error instead).
 */
struct fp_control_json {
    char *buf;   /**< NUL-terminated text (malloc'ed; NULL until the first write) */
    size_t len;  /**< bytes used, without the NUL */
    size_t cap;  /**< bytes allocated */
    bool comma;  /**< a value was written at this level: the next one needs a comma */
    bool failed; /**< allocation failed or FP_CONTROL_JSON_MAX exceeded */
};

#define FP_CONTROL_JSON_MAX (64u << 20) /**< largest text a writer grows to */

/** Empty the text, keep the memory. */
void fp_control_json_reset(struct fp_control_json *j);
/** Free the memory (the struct may be reused after fp_control_json_reset). */
void fp_control_json_free(struct fp_control_json *j);
void fp_control_json_obj_begin(struct fp_control_json *j, const char *key);
void fp_control_json_obj_end(struct fp_control_json *j);
void fp_control_json_arr_begin(struct fp_control_json *j, const char *key);
void fp_control_json_arr_end(struct fp_control_json *j);
void fp_control_json_u64(struct fp_control_json *j, const char *key, uint64_t v);
void fp_control_json_i64(struct fp_control_json *j, const char *key, int64_t v);
void fp_control_json_bool(struct fp_control_json *j, const char *key, bool v);
/** A string value: escaped (quote, backslash, control characters as \\uXXXX, invalid UTF-8
 *  bytes as U+FFFD), so any C string gives valid JSON. */
void fp_control_json_str(struct fp_control_json *j, const char *key, const char *s);
/** Like fp_control_json_str for at most @p n bytes of @p s (stops at a NUL). */
void fp_control_json_strn(struct fp_control_json *j, const char *key, const char *s, size_t n);
/** A time in ns since the UNIX epoch as ISO 8601 UTC with milliseconds ("…T…:…:….123Z"). */
void fp_control_json_time(struct fp_control_json *j, const char *key, uint64_t ns);
/** Append raw text (already valid JSON, or the newline between lines). */
void fp_control_json_raw(struct fp_control_json *j, const char *text);

/* ---- what main.c supplies -------------------------------------------------------------- */

/** Answer of the status command (filled by fp_control_ops.status; zeroed before). */
struct fp_control_status {
    char version[64];
    uint64_t start_ms;      /**< daemon start, ms since the UNIX epoch */
    uint64_t now_ms;        /**< wall clock, ms since the UNIX epoch */
    uint64_t flow_clock_ns; /**< the flows' clock: newest packet time when reading a
                             *   capture file, else the wall clock (age/idle filters) */
    char capture_file[256]; /**< "" = live capture */
    unsigned ports;
    unsigned workers;
    uint64_t flows_active;
    uint64_t packets_received;
    uint64_t packets_metered;
    uint64_t packets_not_metered;
    uint64_t packets_dropped; /**< ring drops (live) */
    unsigned collectors_up;
    unsigned collectors_down; /**< every collector not up */
    bool running;             /**< capture created and not finished */
};

/** One row of the collectors command. */
struct fp_control_collector {
    char url[256];
    char transport[8]; /**< "udp", "tcp", "tls", "dtls", "file" */
    char state[16];    /**< "up", "down", "connecting", "closed" */
    uint64_t records;
    uint64_t messages;
    uint64_t octets;
    uint64_t records_not_sent;
    uint64_t reconnects;
    uint64_t records_queued;
    char last_error[160]; /**< "" = none */
};

/** Callbacks into the daemon; all run on the control thread. */
struct fp_control_ops {
    /** Fill @p out (zeroed before). */
    void (*status)(void *arg, struct fp_control_status *out);
    /** Write every counter as members of the object @p j is inside. */
    void (*stats)(void *arg, struct fp_control_json *j);
    /** Number of collectors. */
    unsigned (*collector_count)(void *arg);
    /** Fill row @p i (zeroed before). */
    void (*collector)(void *arg, unsigned i, struct fp_control_collector *out);
    /**
     * Reload the configuration file.
     * @param err on failure: what went wrong ("file:line: setting: problem")
     * @return 0 when the new configuration is in force, or -errno
     */
    int (*reload)(void *arg, char *err, size_t errlen);
    /**
     * Query the live flow caches (fp_capture_query_flows semantics): @p match runs on the
     * workers and must be pure (no allocation, lock, syscall).
     * @param out room for status.workers * @p max_per_worker records
     * @return 0, -EAGAIN (no capture running), -EINVAL, -ENOMEM, or -ETIMEDOUT (partial
     *         results in @p out)
     */
    int (*flows)(void *arg, bool (*match)(void *marg, const struct fp_flow_record *r),
                 void *match_arg, struct fp_flow_record *out, unsigned max_per_worker,
                 unsigned *n_out, unsigned timeout_ms);
    void *arg;
};

struct fp_control_params {
    const char *socket_path;          /**< Unix socket path (copied); "" or NULL = no socket
                                       *   (the thread still serves SIGHUP reloads) */
    const struct fp_control_ops *ops; /**< copied */
};

struct fp_control;

/**
 * Create the socket (its directory too when missing, mode 0755; the socket 0660) and start
 * the control thread (also without a socket: it serves fp_control_request_reload). A stale socket
 * file (no daemon answers) is replaced; a live one is left alone and start fails with EADDRINUSE.
 * @return the control handle, or NULL with errno = EINVAL (path too long),
 *         EADDRINUSE (another daemon answers on the path), EEXIST (the path exists and is
 *         not a socket), or the errno of mkdir, socket,
 *         bind, listen, chmod or pthread_create. Main thread.
 */
struct fp_control *fp_control_start(const struct fp_control_params *p);

/**
 * Ask the control thread to run ops->reload and log the result (SIGHUP).
 * Async-signal-safe (one write to a non-blocking pipe). NULL accepted.
 */
void fp_control_request_reload(struct fp_control *c);

/** Stop the thread (a client being served is finished or timed out first), close and
 *  remove the socket. NULL accepted. Main thread. */
void fp_control_stop(struct fp_control *c);

#endif /* FP_CONTROL_H */
