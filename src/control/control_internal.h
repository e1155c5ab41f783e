/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Control internals: the flow-query parser and matcher, the flow JSON line, the request
 * dispatcher and the client-side helpers of flowpulsectl. Included by the src/control/ sources and
 * tests/unit/test_control.c only.
 *
 * The matcher (fp_control_query_match) runs on the workers through
 * fp_capture_query_flows(): it is a pure function of the query and the record (no
 * allocation, no lock, no syscall, no locale); everything costly is done by the parser.
 */
#ifndef FP_CONTROL_INTERNAL_H
#define FP_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/control.h"
#include "flow/flow.h"

#define FP_CONTROL_MAX_FILTERS 5
#define FP_CONTROL_DEFAULT_LIMIT 100
#define FP_CONTROL_MAX_LIMIT 10000
#define FP_CONTROL_APP_NAME 32 /**< = sizeof(struct fp_flow_app.name) */

/** Filter keys of the flows command. */
enum fp_control_filter_kind {
    FP_CONTROL_F_SRC,   /**< src=ADDR[/PREFIX] */
    FP_CONTROL_F_DST,   /**< dst=ADDR[/PREFIX] */
    FP_CONTROL_F_HOST,  /**< host=ADDR[/PREFIX]: either side */
    FP_CONTROL_F_PORT,  /**< port=N: either side */
    FP_CONTROL_F_SPORT, /**< sport=N */
    FP_CONTROL_F_DPORT, /**< dport=N */
    FP_CONTROL_F_PROTO, /**< proto=tcp|udp|icmp|N (icmp: ICMP and ICMPv6) */
    FP_CONTROL_F_APP,   /**< app=NAME (case-insensitive; "unknown" = not identified) */
    FP_CONTROL_F_CLASS, /**< class=NAME (enum fp_app_class names) */
    FP_CONTROL_F_AGE,   /**< age>SECONDS: first packet older than that */
    FP_CONTROL_F_IDLE,  /**< idle<SECONDS: last packet more recent than that */
    FP_CONTROL_F_QOE,   /**< qoe<SCORE: QoE score present and below */
};

/** One parsed filter; addresses and names are prepared for a branch-light comparison. */
struct fp_control_filter {
    uint8_t kind;       /**< enum fp_control_filter_kind */
    uint8_t ip_version; /**< address filters: 4 or 6 */
    uint8_t proto[2];   /**< proto: accepted values (equal unless icmp) */
    uint16_t port;
    uint16_t pad;
    uint32_t value;   /**< qoe: score bound; class: enum fp_app_class */
    uint64_t ns;      /**< age/idle: bound in ns */
    uint64_t addr[2]; /**< address filters: the address, already masked (byte order as
                       *   in the record: 16 bytes, IPv4 in bytes 0..3) */
    uint64_t mask[2];
    char name[FP_CONTROL_APP_NAME]; /**< app: lower case, "" for unknown */
};

enum fp_control_sort {
    FP_CONTROL_SORT_NONE,    /**< cache order */
    FP_CONTROL_SORT_BYTES,   /**< both directions, descending */
    FP_CONTROL_SORT_PACKETS, /**< both directions, descending */
    FP_CONTROL_SORT_LAST,    /**< last packet, most recent first */
};

/** A parsed flows request. */
struct fp_control_query {
    struct fp_control_filter f[FP_CONTROL_MAX_FILTERS];
    unsigned n;     /**< filters in use (AND) */
    unsigned limit; /**< flows returned at most (1..FP_CONTROL_MAX_LIMIT) */
    enum fp_control_sort sort;
    uint64_t now_ns; /**< the flows' clock for age/idle (set before matching) */
};

/**
 * Parse the arguments of the flows command (tokens separated by blanks): filters, --limit N,
 * --sort bytes|packets|last.
 * @param err on failure: a message naming the offending token
 * @return 0, or -EINVAL
 */
int fp_control_query_parse(struct fp_control_query *q, const char *args, char *err, size_t errlen);

/**
 * Does @p r pass every filter of @p q (a const struct fp_control_query *)? Pure function, run
 * on the workers.
 */
bool fp_control_query_match(void *q, const struct fp_flow_record *r);

/** Append the JSON object of one flow (no newline). */
void fp_control_flow_json(struct fp_control_json *j, const struct fp_flow_record *r);

/** Sort records as @p sort says (stable for equal keys: by flow_id). */
void fp_control_flows_sort(struct fp_flow_record *r, unsigned n, enum fp_control_sort sort);

/**
 * Answer one request line (without its '\n'): the whole response text, data lines and the
 * final ok/error line, each ending with '\n'. Control thread (runs the callbacks).
 */
void fp_control_handle_request(const struct fp_control_ops *ops, const char *line,
                               struct fp_control_json *out);

/** The final line of a response: `{"ok":false,"error":"...","usage":...}` + '\n'. */
void fp_control_end_error(struct fp_control_json *j, const char *error, bool usage);

/**
 * Client side: read the final line of a response.
 * @param ok     true for {"ok":true,...}
 * @param usage  true when the error was caused by the request
 * @param err    the error text (unescaped, may be truncated)
 * @return 0, or -EINVAL when @p line is not a final line
 */
int fp_control_end_parse(const char *line, bool *ok, bool *usage, char *err, size_t errlen);

/**
 * Re-indent one line of JSON (2 spaces per level) into @p out (appended, raw).
 * @return 0, or -EINVAL when the text is not well-formed enough to indent
 */
int fp_control_json_pretty(const char *in, struct fp_control_json *out);

#endif /* FP_CONTROL_INTERNAL_H */
