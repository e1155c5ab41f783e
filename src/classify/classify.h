/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Classification stage: metadata extractors (TLS ClientHello/ServerHello, QUIC Initial,
 * DNS, HTTP/1.x request) used to name and classify flows.
 *
 * Pipeline place: decode → flow → **classify**. Called by worker lcores on the first
 * payload-carrying packets of a flow only. Every extractor is pure and bounded: it reads
 * only inside [p, p + len), writes only into caller-owned fixed-size outputs, allocates
 * nothing, takes no lock, does not log. Each call returns an enum fp_classify_result whose
 * value the caller counts (FP_CLASSIFY_RESULTS gives the names).
 *
 * Memory ownership: the reassembly buffers (struct fp_classify_reasm) and all outputs
 * belong to the caller (typically the per-flow inspection slot). struct fp_quic_ctx is
 * per worker: created once at init with pre-fetched OpenSSL objects, never shared.
 *
 * Strings in the outputs are NUL-terminated, valid UTF-8 without control characters
 * (see fp_classify_utf8_sanitize()); host-like names (SNI, DNS names, HTTP Host) are
 * lower-cased (ASCII only).
 */
#ifndef FP_CLASSIFY_H
#define FP_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Outcome of an extractor call: name, description. The caller counts each value. */
#define FP_CLASSIFY_RESULTS(X)                                                              \
    X(OK, "metadata extracted")                                                            \
    X(NEED_MORE, "message incomplete: feed more data (reassembly)")                        \
    X(NOT_PROTO, "payload is not this protocol")                                           \
    X(TRUNCATED, "message ends inside a field")                                            \
    X(BAD_LENGTH, "a length field disagrees with its container")                           \
    X(MALFORMED, "invalid structure (label type, pointer, frame type, ...)")               \
    X(OVERFLOW, "message larger than the reassembly buffer")                               \
    X(UNSUPPORTED, "unsupported protocol version")                                         \
    X(GQUIC, "Google QUIC (not IETF QUIC)")                                                \
    X(NOT_INITIAL, "QUIC packet is not an Initial (short header, 0-RTT, Handshake, VN)")   \
    X(DECRYPT_FAIL, "QUIC Initial failed authentication (not a client Initial?)")          \
    X(CRYPTO_ERROR, "OpenSSL call failed")

enum fp_classify_result {
#define FP_X_ENUM(name, desc) FP_CLASSIFY_##name,
    FP_CLASSIFY_RESULTS(FP_X_ENUM)
#undef FP_X_ENUM
        FP_CLASSIFY_RESULT_MAX,
};

/** Short names of enum fp_classify_result ("ok", "need_more", ...), for counters. */
extern const char *const fp_classify_result_names[FP_CLASSIFY_RESULT_MAX];

/** Buffer size of host-like names: 253 presentation characters + NUL fit. */
#define FP_CLASSIFY_NAME_MAX 256
/** Buffer size of one ALPN protocol id (longer ids are cut, alpn_truncated set). */
#define FP_CLASSIFY_ALPN_MAX 64
/** Buffer size of the comma-separated ALPN list (cut at an entry boundary). */
#define FP_CLASSIFY_ALPN_LIST_MAX 128
/** Buffer size of the HTTP method. */
#define FP_CLASSIFY_METHOD_MAX 16
/** Buffer size of the HTTP User-Agent (longer values are cut, ua_truncated set). */
#define FP_CLASSIFY_UA_MAX 256

/* ------------------------------------------------------------------------------------ */
/* UTF-8                                                                                 */
/* ------------------------------------------------------------------------------------ */

/**
 * Make a byte string valid UTF-8 in place, keeping its length: every byte that is not
 * part of a well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF, no truncated sequence) and every C0 control or DEL (0x00-0x1f, 0x7f)
 * is replaced by '?'. Used by every extractor on its string outputs.
 * @param s   bytes to fix (not necessarily NUL-terminated)
 * @param len number of bytes
 * @return number of bytes replaced (0: the input was already clean)
 */
size_t fp_classify_utf8_sanitize(char *s, size_t len);

/* ------------------------------------------------------------------------------------ */
/* Reassembly of a byte stream (TCP payload or QUIC CRYPTO stream) into a fixed buffer   */
/* ------------------------------------------------------------------------------------ */

/** Out-of-order ranges tracked beyond the contiguous prefix. */
#define FP_CLASSIFY_REASM_RANGES 16

/**
 * Reassembly state over a caller-owned buffer: bytes are placed at their stream offset,
 * so out-of-order pieces are kept; [0, contig) is the contiguous prefix parsers read.
 * Bytes at or beyond cap are dropped and counted.
 */
struct fp_classify_reasm {
    uint8_t *buf;          /**< caller-owned storage, cap bytes */
    uint32_t cap;          /**< size of buf */
    uint32_t contig;       /**< bytes valid from offset 0 */
    uint32_t base_seq;     /**< TCP: sequence number of offset 0 (set on the first add) */
    bool base_set;         /**< base_seq valid */
    bool frozen;           /**< a parser rewrote buf in place; further adds are refused */
    uint8_t n_ranges;      /**< entries used in ranges[] */
    struct {
        uint32_t start;
        uint32_t end;
    } ranges[FP_CLASSIFY_REASM_RANGES]; /**< disjoint, unsorted, all start > contig */
    uint32_t n_overflow;   /**< adds that had bytes at or beyond cap */
    uint32_t n_no_range;   /**< out-of-order pieces dropped: ranges[] full */
};

/**
 * Initialise reassembly over buf. cap should be 2 KB..16 KB (8 KB holds a post-quantum
 * ClientHello).
 * @param r   state to initialise
 * @param buf caller-owned storage; must outlive r
 * @param cap size of buf in bytes
 */
void fp_classify_reasm_init(struct fp_classify_reasm *r, uint8_t *buf, uint32_t cap);

/**
 * Add bytes at a stream offset.
 * @param r    state
 * @param off  stream offset of data[0]
 * @param data bytes
 * @param len  number of bytes
 * @return 0; -ENOSPC when some bytes lay at or beyond cap (dropped, n_overflow counted);
 *         -ENOBUFS when an out-of-order piece found no free range slot (dropped,
 *         n_no_range counted); -EPERM when r is frozen
 */
int fp_classify_reasm_add(struct fp_classify_reasm *r, uint64_t off, const uint8_t *data,
                          size_t len);

/**
 * Add one TCP segment's payload. The first call fixes base_seq = seq (pass the SYN's
 * seq + 1 via base_seq/base_set beforehand when known); data before base_seq is ignored.
 * @return as fp_classify_reasm_add()
 */
int fp_classify_reasm_tcp_add(struct fp_classify_reasm *r, uint32_t seq, const uint8_t *data,
                              size_t len);

/* ------------------------------------------------------------------------------------ */
/* TLS                                                                                   */
/* ------------------------------------------------------------------------------------ */

/** Metadata of a TLS ClientHello or ServerHello. */
struct fp_classify_tls {
    uint8_t hs_type;         /**< 1 ClientHello, 2 ServerHello */
    uint16_t legacy_version; /**< legacy_version field (0x0303 for TLS 1.2/1.3) */
    uint16_t version;        /**< ClientHello: highest non-GREASE supported_versions entry,
                                  else legacy_version. ServerHello: selected version */
    uint16_t cipher_suite;   /**< ServerHello: selected suite; ClientHello: 0 */
    uint16_t n_ext;          /**< number of extensions */
    bool has_sni;            /**< sni valid (first host_name entry) */
    bool sni_too_long;       /**< a host_name longer than 255 bytes was ignored */
    bool has_alpn;           /**< alpn valid */
    bool alpn_truncated;     /**< first protocol id cut to FP_CLASSIFY_ALPN_MAX - 1 */
    bool alpn_list_truncated; /**< alpn_list lacks entries that did not fit */
    bool has_supported_versions; /**< extension 43 present */
    bool has_ech;            /**< encrypted_client_hello (0xfe0d): sni is the public name */
    bool has_quic_tp;        /**< quic_transport_parameters (57 or draft 0xffa5) */
    uint16_t n_replaced;     /**< bytes fixed by the UTF-8 sanitizer in all strings */
    uint16_t sni_len;        /**< strlen(sni) */
    uint16_t alpn_len;       /**< strlen(alpn) */
    char sni[FP_CLASSIFY_NAME_MAX];            /**< server_name host_name, lower case */
    char alpn[FP_CLASSIFY_ALPN_MAX];           /**< first (ServerHello: selected) protocol */
    char alpn_list[FP_CLASSIFY_ALPN_LIST_MAX]; /**< all offered protocols, comma-separated */
};

/**
 * Parse one handshake message (no record header: 1-byte type, 3-byte length, body), as
 * found in a QUIC CRYPTO stream or after TLS record reassembly. Only ClientHello (1) and
 * ServerHello (2) are accepted.
 * @param hs  first byte of the handshake message
 * @param len bytes available
 * @param out filled on OK (cleared first)
 * @return OK; NEED_MORE when fewer than 4 + length bytes are available; NOT_PROTO for
 *         another handshake type; BAD_LENGTH, TRUNCATED, MALFORMED for broken messages
 */
enum fp_classify_result fp_classify_tls_hello_parse(const uint8_t *hs, size_t len,
                                                    struct fp_classify_tls *out);

/**
 * Fast path: parse the ClientHello/ServerHello at the start of one TCP payload (TLS record
 * type 22). Zero-copy; handles the message when it lies within the first record.
 * @param p   L4 payload
 * @param len payload length
 * @param out filled on OK
 * @return OK; NEED_MORE when the message continues in later bytes or records (then feed
 *         this and the following payloads to a struct fp_classify_reasm and call
 *         fp_classify_tls_stream_parse()); NOT_PROTO; BAD_LENGTH; MALFORMED; TRUNCATED
 */
enum fp_classify_result fp_classify_tls_parse(const uint8_t *p, size_t len,
                                              struct fp_classify_tls *out);

/**
 * Parse the first handshake message from a reassembled TCP stream (records included),
 * also when it spans several TLS records. When it does, the records' payloads are joined
 * in place inside r->buf and r is frozen (no further adds).
 * @param r   reassembly state fed with the TCP payloads of one direction
 * @param out filled on OK
 * @return as fp_classify_tls_parse(), plus OVERFLOW when the message cannot fit in r->cap
 */
enum fp_classify_result fp_classify_tls_stream_parse(struct fp_classify_reasm *r,
                                                     struct fp_classify_tls *out);

/* ------------------------------------------------------------------------------------ */
/* QUIC Initial                                                                          */
/* ------------------------------------------------------------------------------------ */

#define FP_QUIC_V1 0x00000001u
#define FP_QUIC_V2 0x6b3343cfu /**< RFC 9369 */
#define FP_QUIC_DCID_MAX 20

/** Per-worker QUIC crypto context (opaque): pre-fetched HKDF/AES objects, scratch buffer. */
struct fp_quic_ctx;

/** Client Initial protection keys (RFC 9001 §5.2). */
struct fp_classify_quic_keys {
    uint8_t secret[32]; /**< client_initial_secret */
    uint8_t key[16];    /**< AEAD_AES_128_GCM key */
    uint8_t iv[12];     /**< AEAD nonce base */
    uint8_t hp[16];     /**< header protection key (AES-128-ECB) */
};

/** Per-flow QUIC Initial state: CRYPTO stream reassembly plus cached keys. */
struct fp_classify_quic_flow {
    struct fp_classify_reasm crypto; /**< CRYPTO stream (Initial level), caller's buffer */
    uint32_t version;                /**< version of the Initials seen (0: none yet) */
    uint8_t dcid_len;
    uint8_t dcid[FP_QUIC_DCID_MAX];  /**< DCID the cached keys derive from */
    bool keys_valid;
    int64_t largest_pn;              /**< largest packet number decrypted, -1 none */
    struct fp_classify_quic_keys keys;
    uint16_t n_initials;             /**< Initial packets decrypted */
    uint16_t n_decrypt_fail;         /**< Initial packets that failed authentication */
};

/**
 * Create a worker's QUIC context (init time only: allocates, fetches HMAC-SHA256 for HKDF,
 * AES-128-ECB and AES-128-GCM, binds one cipher context to each cipher, 64 KB scratch).
 * @return the context, or NULL with errno = ENOMEM or EIO (OpenSSL failure)
 */
struct fp_quic_ctx *fp_classify_quic_ctx_create(void);

/** Destroy a context; NULL is accepted. */
void fp_classify_quic_ctx_destroy(struct fp_quic_ctx *ctx);

/**
 * Derive the client Initial keys for a version and Destination Connection ID.
 * Runs once per flow (keys are cached in struct fp_classify_quic_flow); OpenSSL makes a few
 * small internal allocations per HMAC key setup here, none per packet afterwards.
 * @param ctx      worker context
 * @param version  QUIC version (v1, v2, drafts 29-32)
 * @param dcid     client's original Destination Connection ID
 * @param dcid_len its length (0..20)
 * @param out      derived keys
 * @return 0; -ENOTSUP for a version without known salt; -EINVAL for dcid_len > 20;
 *         -EIO when OpenSSL fails
 */
int fp_classify_quic_keys_derive(struct fp_quic_ctx *ctx, uint32_t version,
                                 const uint8_t *dcid, size_t dcid_len,
                                 struct fp_classify_quic_keys *out);

/**
 * Initialise per-flow QUIC state.
 * @param f   state
 * @param buf caller-owned CRYPTO reassembly buffer (4..16 KB; Chromium's post-quantum
 *            ClientHello needs about 2 KB)
 * @param cap size of buf
 */
void fp_classify_quic_flow_init(struct fp_classify_quic_flow *f, uint8_t *buf, uint32_t cap);

/**
 * Process one client→server UDP datagram: every coalesced Initial packet is unprotected,
 * decrypted, its CRYPTO frames added to f->crypto; once the ClientHello is complete it is
 * parsed into out.
 * @param ctx worker context
 * @param f   per-flow state (keep it across the flow's first datagrams)
 * @param p   UDP payload
 * @param len payload length
 * @param out filled on OK
 * @return OK; NEED_MORE (ClientHello not complete yet); GQUIC; NOT_INITIAL; UNSUPPORTED;
 *         DECRYPT_FAIL; BAD_LENGTH; TRUNCATED; MALFORMED; OVERFLOW; CRYPTO_ERROR; or a TLS
 *         parse result for the reassembled ClientHello
 */
enum fp_classify_result fp_classify_quic_parse(struct fp_quic_ctx *ctx,
                                               struct fp_classify_quic_flow *f,
                                               const uint8_t *p, size_t len,
                                               struct fp_classify_tls *out);

/* ------------------------------------------------------------------------------------ */
/* DNS                                                                                   */
/* ------------------------------------------------------------------------------------ */

#define FP_DNS_TYPE_A 1
#define FP_DNS_TYPE_CNAME 5
#define FP_DNS_TYPE_AAAA 28

/** One stored answer record (A, AAAA or CNAME of class IN). */
struct fp_classify_dns_answer {
    uint16_t type;                    /**< FP_DNS_TYPE_A, _AAAA or _CNAME */
    uint32_t ttl;                     /**< seconds */
    uint8_t addr[16];                 /**< A: bytes 0..3; AAAA: 16 bytes; network order */
    char name[FP_CLASSIFY_NAME_MAX];  /**< owner name, lower case, no trailing dot */
    char cname[FP_CLASSIFY_NAME_MAX]; /**< CNAME target ("" otherwise) */
};

/** Header and question of a DNS message. */
struct fp_classify_dns {
    uint16_t id;
    bool qr;          /**< response */
    uint8_t opcode;
    uint8_t rcode;    /**< header RCODE (4 bits) */
    bool aa, tc, rd, ra;
    uint16_t qdcount, ancount, nscount, arcount;
    bool has_question; /**< qname/qtype/qclass valid (also on TRUNCATED) */
    uint16_t qtype, qclass;
    uint16_t qname_len;
    uint16_t n_answers;          /**< entries written to the caller's answer array */
    uint16_t n_answers_dropped;  /**< A/AAAA/CNAME records that did not fit the array */
    uint16_t n_answers_other;    /**< answer records of other types or classes */
    uint16_t n_replaced;         /**< bytes fixed by the UTF-8 sanitizer */
    char qname[FP_CLASSIFY_NAME_MAX]; /**< first question name, lower case, "" = root */
};

/**
 * Parse a DNS message: header, first question, answer section (A/AAAA/CNAME stored).
 * Names are decoded with compression: pointers must point strictly backwards (each target
 * below the previous one), at most 32 jumps, wire length ≤ 255, labels ≤ 63.
 * @param p       L4 payload (UDP: the message; TCP: 2-byte length prefix + message)
 * @param len     payload length
 * @param tcp     true for DNS over TCP (length prefix)
 * @param out     header/question (cleared first)
 * @param ans     caller array for answers (may be NULL when max_ans is 0)
 * @param max_ans entries in ans
 * @return OK (answer section complete); NEED_MORE (TCP message longer than the payload);
 *         NOT_PROTO (shorter than a header, or no question and no answer); TRUNCATED (data
 *         ends inside a record: fields parsed so far are valid); MALFORMED (bad label,
 *         pointer or name; wrong A/AAAA length)
 */
enum fp_classify_result fp_classify_dns_parse(const uint8_t *p, size_t len, bool tcp,
                                              struct fp_classify_dns *out,
                                              struct fp_classify_dns_answer *ans,
                                              unsigned max_ans);

/* ------------------------------------------------------------------------------------ */
/* HTTP/1.x                                                                              */
/* ------------------------------------------------------------------------------------ */

/** HTTP/1.x request metadata. */
struct fp_classify_http {
    uint8_t version_minor;       /**< 0 (HTTP/1.0) or 1 (HTTP/1.1) */
    bool has_host;               /**< host valid (Host header, else absolute-form target) */
    bool host_too_long;          /**< a Host longer than 255 bytes was ignored */
    bool host_dup;               /**< more than one Host header (first kept) */
    bool has_user_agent;
    bool ua_truncated;           /**< user_agent cut to FP_CLASSIFY_UA_MAX - 1 bytes */
    bool headers_complete;       /**< the empty line ending the header block was seen */
    uint16_t port;               /**< port from Host (0 when absent) */
    uint16_t n_replaced;         /**< bytes fixed by the UTF-8 sanitizer */
    char method[FP_CLASSIFY_METHOD_MAX];
    char host[FP_CLASSIFY_NAME_MAX];    /**< lower case, without port or IPv6 brackets */
    char user_agent[FP_CLASSIFY_UA_MAX];
};

/**
 * Parse an HTTP/1.x request head from the first payload bytes of a TCP flow.
 * @param p   payload (or a reassembled stream prefix)
 * @param len length
 * @param out filled on OK (cleared first)
 * @return OK (header block complete, or data ended after a Host header); NEED_MORE
 *         (plausible request, no Host yet); NOT_PROTO (not a request line of HTTP/1.x);
 *         MALFORMED (header line without colon, bad Host port)
 */
enum fp_classify_result fp_classify_http_parse(const uint8_t *p, size_t len,
                                               struct fp_classify_http *out);

#endif /* FP_CLASSIFY_H */
