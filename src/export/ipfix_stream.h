/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * @brief IPFIX message-stream helpers for flowpulse-relay (src/relay/): no sockets, no threads.
 *
 * - struct fp_ipfix_framer cuts a TLS/TCP byte stream into IPFIX messages by their Length
 *   field (RFC 7011 §10.4), whatever the chunk boundaries of the reads.
 * - fp_ipfix_msg_check() validates one message (version 10, length, Sets, template records).
 * - struct fp_ipfix_stream (one per exporter transport session) keeps a template cache per
 *   observation domain and re-packs every message for the collector side: messages larger
 *   than the configured maximum are split at Set/record boundaries into valid messages with
 *   recomputed sequence numbers, templates are copied in front of data that follows a split,
 *   template withdrawals are not forwarded over UDP (RFC 7011 §8.1), and the cached templates
 *   can be re-sent on demand (timer, collector restart).
 *
 * Pipeline place: outside the flow pipeline; used by the relay's single thread and by
 * tests/unit/test_relay.c. Not for the packet path: it allocates. Objects are not
 * thread-safe; the caller serialises all calls on one stream.
 */
#ifndef FP_IPFIX_STREAM_H
#define FP_IPFIX_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Largest IPFIX message (the Length field is 16 bits). */
#define FP_IPFIX_MSG_MAX 65535u
/** IPFIX message header length. */
#define FP_IPFIX_HDR_LEN 16u
/** Smallest sensible output message size (header + a Set header + one small record). */
#define FP_IPFIX_OUT_MIN 64u

/** IPFIX message header, network byte order (RFC 7011 §3.1). */
struct fp_ipfix_hdr_wire {
    uint16_t version;
    uint16_t length;
    uint32_t export_time;
    uint32_t sequence;
    uint32_t domain;
} __attribute__((packed));

/** Byte-stream framer. Holds at most one partial message plus whatever was pushed after it. */
struct fp_ipfix_framer {
    size_t off;        /**< start of the unconsumed bytes in buf */
    size_t len;        /**< end of the buffered bytes in buf */
    size_t pending;    /**< length of the message last returned by _next (consumed next call) */
    uint8_t buf[FP_IPFIX_MSG_MAX];
};

/** Reset a framer (no allocation). */
void fp_ipfix_framer_init(struct fp_ipfix_framer *f);

/**
 * Free space at the end of the buffer, for reading straight into it (then _commit).
 * Invalidates the pointer returned by the last fp_ipfix_framer_next().
 * @param ptr  set to the first free byte
 * @return the number of free bytes (> 0 whenever fp_ipfix_framer_next() last returned 0)
 */
size_t fp_ipfix_framer_space(struct fp_ipfix_framer *f, uint8_t **ptr);

/** Declare @p n bytes written at the pointer from fp_ipfix_framer_space(). */
void fp_ipfix_framer_commit(struct fp_ipfix_framer *f, size_t n);

/**
 * Copy as much of @p data as fits (a convenience around _space/_commit).
 * @return the number of bytes taken; call fp_ipfix_framer_next() until it returns 0, then push
 *         the rest.
 */
size_t fp_ipfix_framer_push(struct fp_ipfix_framer *f, const void *data, size_t len);

/**
 * Next complete message. Checks only the header's Version (10) and Length (>= 16); the
 * message content is checked by fp_ipfix_msg_check().
 * @param msg  set to the message (valid until the next call on this framer)
 * @param len  set to its length
 * @return 1 if a message is returned, 0 if more bytes are needed, -EBADMSG if the stream is
 *         not IPFIX (the framer cannot resynchronise: close the session).
 */
int fp_ipfix_framer_next(struct fp_ipfix_framer *f, const uint8_t **msg, size_t *len);

/** Bytes buffered and not yet returned as a message. */
size_t fp_ipfix_framer_buffered(const struct fp_ipfix_framer *f);

/**
 * Validate one message: header, Set walk (IDs 2, 3 or >= 256, lengths >= 4 and inside the
 * message) and every (options) template record (IDs, field counts, scope count, specifiers
 * inside the Set). Data records are checked later, against their template.
 * @param why  if not NULL, set to a static text naming the problem
 * @return 0 if well formed, -EBADMSG otherwise.
 */
int fp_ipfix_msg_check(const uint8_t *msg, size_t len, const char **why);

/** Per-stream counters (X-macro: name, description). */
#define FP_IPFIX_STREAM_COUNTERS(X)                                                          \
    X(msgs_in, "IPFIX messages received")                                                    \
    X(bytes_in, "octets of IPFIX messages received")                                         \
    X(msgs_out, "IPFIX messages handed to the output")                                       \
    X(bytes_out, "octets handed to the output")                                              \
    X(malformed, "messages rejected as malformed")                                           \
    X(splits, "input messages split into several output messages")                           \
    X(oversize, "output messages larger than the maximum (a record or unknown Set too big)") \
    X(data_records, "data records received (sets with a known template)")                   \
    X(unknown_sets, "data sets without a known template (forwarded whole)")                  \
    X(templates_added, "template records added or replaced in the cache")                   \
    X(templates_withdrawn, "template withdrawal records applied")                            \
    X(withdrawals_stripped, "withdrawal records not forwarded (UDP output)")                 \
    X(template_copies, "template records copied in front of data after a split")             \
    X(template_resends, "template re-send messages produced")

struct fp_ipfix_stream_stats {
#define FP_IPFIX_STREAM_X_FIELD(name, desc) uint64_t name;
    FP_IPFIX_STREAM_COUNTERS(FP_IPFIX_STREAM_X_FIELD)
#undef FP_IPFIX_STREAM_X_FIELD
};

/**
 * Output callback: one finished IPFIX message (valid only during the call).
 * @return 0, or a negative errno (counted by the caller; the stream goes on).
 */
typedef int (*fp_ipfix_emit_fn)(void *ctx, const uint8_t *msg, size_t len);

/** Parameters of fp_ipfix_stream_create(). */
struct fp_ipfix_stream_params {
    uint32_t max_msg;        /**< output message size limit in octets (UDP: 1472); 0 = 65535 */
    bool strip_withdrawals;  /**< drop withdrawal records from the output (UDP: true) */
    fp_ipfix_emit_fn emit;   /**< receives every output message */
    void *emit_ctx;          /**< passed to emit */
};

struct fp_ipfix_stream;

/**
 * Create a stream (one per exporter transport session).
 * @return the stream, or NULL with errno = EINVAL (no emit, max_msg < FP_IPFIX_OUT_MIN) or ENOMEM.
 */
struct fp_ipfix_stream *fp_ipfix_stream_create(const struct fp_ipfix_stream_params *p);

/** Free a stream and its template cache. Accepts NULL. */
void fp_ipfix_stream_destroy(struct fp_ipfix_stream *s);

/**
 * Process one complete message: validate it, apply its (options) template records to the
 * cache in order, and emit it (unchanged if it fits and carries nothing to strip, else split)
 * with sequence numbers = exporter's sequence + data records the relay emitted before from this
 * message + the stream's offset (see fp_ipfix_stream_restart_output()).
 * @return 0; -EBADMSG if malformed (nothing emitted when the header/Sets/templates are bad; a
 *         data set that does not match its template stops the message there): close the
 *         session.
 */
int fp_ipfix_stream_process(struct fp_ipfix_stream *s, const uint8_t *msg, size_t len);

/**
 * Emit the cached templates of every observation domain (Template Sets, then Options
 * Template Sets, packed into messages <= max_msg). Each message carries the domain's next
 * expected sequence number and Export Time @p export_time.
 * @return the number of messages emitted (0 if the cache is empty).
 */
unsigned fp_ipfix_stream_resend_templates(struct fp_ipfix_stream *s, uint32_t export_time);

/**
 * The output starts a new transport session (e.g. a new TCP connection to the collector):
 * the next message of every domain will carry sequence number 0 and numbering goes on from
 * there.
 */
void fp_ipfix_stream_restart_output(struct fp_ipfix_stream *s);

/** Number of cached templates (both kinds) of observation domain @p domain. */
unsigned fp_ipfix_stream_template_count(const struct fp_ipfix_stream *s, uint32_t domain);

/**
 * Look up a cached template record.
 * @param set_id  set to 2 (template) or 3 (options template) if found; may be NULL
 * @param rec_len set to the record's length in octets; may be NULL
 * @return the raw template record (network order, as received), or NULL if not cached.
 */
const uint8_t *fp_ipfix_stream_template_find(const struct fp_ipfix_stream *s, uint32_t domain,
                                             uint16_t tid, uint16_t *set_id, size_t *rec_len);

/** Copy the counters. */
void fp_ipfix_stream_get_stats(const struct fp_ipfix_stream *s,
                               struct fp_ipfix_stream_stats *out);

#endif /* FP_IPFIX_STREAM_H */
