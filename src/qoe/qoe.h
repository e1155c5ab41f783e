/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * QoE: per-flow quality-of-experience engines (TCP delays/RTT/retransmissions, TLS and DNS
 * timing, RTP jitter/loss/MOS, video throughput and bursts, gaming latency, SPLT) and the
 * per-class QoE score. Pipeline place: decode → flow → **classify/qoe** → export.
 *
 * Every engine is a small state struct living inside the flow entry plus an update function
 * the worker lcore calls once per packet with (state, direction, packet meta, frame, time).
 * Direction 0 = initiator → responder ("client → server"), 1 = the reverse. Update functions
 * never allocate, lock, log or make syscalls; they only read the frame inside
 * [frame + m->payload_off, frame + m->payload_off + m->payload_len). State is owned by the
 * worker that owns the flow; results are copied out (struct fp_qoe_result) at flow end.
 *
 * Times: callers pass ns since the UNIX epoch. Engines store 32-bit µs timestamps
 * (t_ns / 1000 mod 2^32) and compare them with serial arithmetic, so every measured interval
 * must be shorter than 2^31 µs (35.8 min); longer intervals are not measured (see README).
 * Sequence numbers use serial arithmetic mod 2^32 (TCP) and mod 2^16 (RTP).
 *
 * Size: struct fp_qoe_flow (everything QoE for one flow) is ≤ 256 bytes; each part is
 * locked by FP_STATIC_ASSERT below. See src/qoe/README.md for definitions, units, limits.
 */
#ifndef FP_QOE_H
#define FP_QOE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/fp_compiler.h"
#include "decode/decode.h"
#include "flow/flow.h"

/* ------------------------------------------------------------------------------------ */
/* Common helpers                                                                         */
/* ------------------------------------------------------------------------------------ */

/** 32-bit µs clock derived from a ns timestamp (wraps every 71.6 min; compare serially). */
static inline uint32_t fp_qoe_us(uint64_t t_ns)
{
    return (uint32_t)(t_ns / 1000u);
}

/** a < b in serial arithmetic mod 2^32 (RFC 1982 style; valid for |a - b| < 2^31). */
static inline bool fp_qoe_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static inline bool fp_qoe_seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

/**
 * Full L4 payload length of a packet, from the IP length (not limited by the capture
 * length): IP total length − (IP + L4 headers). 0 when decode found no payload.
 */
static inline uint32_t fp_qoe_l4_len(const struct fp_pkt_meta *m)
{
    if (m->payload_off == 0 || m->payload_off < m->l3_off)
        return m->payload_len;
    uint32_t hdrs = (uint32_t)(m->payload_off - m->l3_off);
    uint32_t len = m->ip_bytes > hdrs ? m->ip_bytes - hdrs : 0;
    return len > m->payload_len ? len : m->payload_len;
}

/* ------------------------------------------------------------------------------------ */
/* Classes and parameters                                                                 */
/* ------------------------------------------------------------------------------------ */

/** Traffic class used to pick the class engine and the score formula. */
#define FP_QOE_CLASSES(X)                                                                   \
    X(UNKNOWN, "unknown")                                                                  \
    X(WEB, "web")                                                                          \
    X(VIDEO, "video")                                                                      \
    X(CONF, "conferencing")                                                                \
    X(GAMING, "gaming")                                                                    \
    X(DNS, "dns")                                                                          \
    X(BULK, "bulk")

enum fp_qoe_class {
#define FP_X_ENUM(name, desc) FP_QOE_CLASS_##name,
    FP_QOE_CLASSES(FP_X_ENUM)
#undef FP_X_ENUM
        FP_QOE_CLASS_MAX,
};
extern const char *const fp_qoe_class_names[FP_QOE_CLASS_MAX];

/**
 * Metrics that feed the score. X(name, description). Values are integers in the unit in the
 * name; "higher is worse" unless the threshold pair says otherwise (good > bad).
 */
#define FP_QOE_METRICS(X)                                                                   \
    X(RTT_US, "network RTT at the probe (handshake SND+CND, else data RTT means), us")    \
    X(ART_US, "application response time, us")                                             \
    X(RETX_PERMILLE, "retransmitted packets per 1000 packets, both directions")            \
    X(TLS_HS_US, "TLS handshake time, us")                                                 \
    X(DNS_US, "DNS response time, us")                                                     \
    X(DNS_FAIL, "DNS failure: 1 unanswered or rcode != 0 and != 3, else 0")                \
    X(MOS_X100, "RTP MOS x100, worse direction")                                           \
    X(RTP_LOSS_PERMILLE, "RTP loss per 1000 expected packets, worse direction")            \
    X(RTP_JITTER_US, "RTP interarrival jitter, worse direction, us")                       \
    X(VIDEO_KBPS, "video download throughput, mean of 1 s bins, kbit/s")                   \
    X(VIDEO_STALL_BINS, "video stall indicator, 1 s bins")                                 \
    X(GAME_LAT_US, "gaming request/response latency mean, us")                             \
    X(GAME_JITTER_US, "gaming server->client inter-arrival jitter, us")                    \
    X(GAME_SPIKES, "gaming lag spikes (latency samples over the threshold)")

enum fp_qoe_metric {
#define FP_X_ENUM(name, desc) FP_QOE_METRIC_##name,
    FP_QOE_METRICS(FP_X_ENUM)
#undef FP_X_ENUM
        FP_QOE_METRIC_MAX,
};
extern const char *const fp_qoe_metric_names[FP_QOE_METRIC_MAX];

/** Score threshold of one metric in one class: sub-score 100 at `good`, 0 at `bad`. */
struct fp_qoe_threshold {
    int64_t good;
    int64_t bad;    /**< may be < good for "higher is better" metrics (MOS, throughput) */
    uint32_t weight; /**< 0 = metric not used for this class */
};

/** Maximum SPLT entries stored per flow (compile time; runtime N ≤ this). */
#ifndef FP_QOE_SPLT_CAP
#define FP_QOE_SPLT_CAP 20
#endif
FP_STATIC_ASSERT(FP_QOE_SPLT_CAP >= 1 && FP_QOE_SPLT_CAP <= 32, "SPLT capacity 1..32");

/** QoE parameters (from config; fp_qoe_params_default gives the documented defaults). */
struct fp_qoe_params {
    uint8_t splt_n;               /**< SPLT packets recorded, 0..FP_QOE_SPLT_CAP (default 20) */
    uint32_t video_burst_gap_us;  /**< silence that separates two bursts (default 200 ms) */
    uint32_t video_stall_bps;     /**< in-burst 1 s bin below this = stall bin (300 kbit/s) */
    uint32_t game_spike_us;       /**< latency sample above this = lag spike (default 150 ms) */
    uint32_t game_gap_us;         /**< server→client silence above this = gap (default 250 ms) */
    uint32_t rtp_latency_us;      /**< assumed one-way network latency for the E-model (0) */
    struct fp_qoe_threshold thr[FP_QOE_CLASS_MAX][FP_QOE_METRIC_MAX];
};

/** Fill p with the defaults documented in src/qoe/README.md. */
void fp_qoe_params_default(struct fp_qoe_params *p);

/* ------------------------------------------------------------------------------------ */
/* 1. TCP (+ TLS handshake time)                                                          */
/* ------------------------------------------------------------------------------------ */

/** Connection outcome (exported as an unsigned8). */
enum fp_qoe_tcp_outcome {
    FP_QOE_TCP_NO_SYN = 0,      /**< no SYN seen (midstream flow) */
    FP_QOE_TCP_UNANSWERED = 1,  /**< SYN(s) seen, nothing back */
    FP_QOE_TCP_REFUSED = 2,     /**< responder answered the SYN with RST */
    FP_QOE_TCP_INCOMPLETE = 3,  /**< SYN/ACK seen, no handshake ACK and no data */
    FP_QOE_TCP_ESTABLISHED = 4, /**< handshake completed (or data flowed after SYN/ACK) */
};

/** Per-direction TCP state (direction d = segments sent by side d). */
struct fp_qoe_tcp_dir {
    uint32_t snd_max;     /**< highest sequence number + length seen (next expected) */
    uint32_t rtt_seq;     /**< end sequence of the timed segment (RTT_TIMING set) */
    uint32_t rtt_t;       /**< µs clock when the timed segment passed the probe */
    uint32_t hole_lo;     /**< first missing sequence number of the tracked hole */
    uint32_t hole_t;      /**< µs clock when the hole was created */
    uint32_t zw_t;        /**< µs clock when this side started advertising window 0 */
    uint32_t rtt_min;     /**< µs, data→ACK samples (probe ↔ receiver of this direction) */
    uint32_t rtt_max;     /**< µs */
    uint32_t rtt_sum;     /**< µs; halved with rtt_n when it would overflow */
    uint32_t retx_pkts;   /**< retransmitted segments (saturating) */
    uint32_t retx_bytes;  /**< payload bytes of retransmitted segments (saturating) */
    uint32_t zw_us;       /**< total time this side advertised a zero window, µs */
    uint16_t rtt_n;       /**< number of RTT samples (see rtt_sum) */
    uint16_t hole_len;    /**< length of the tracked hole (0 = none) */
    uint16_t ooo_pkts;    /**< out-of-order segments (saturating) */
    uint16_t zw_events;   /**< transitions to a zero window (saturating) */
    uint8_t flags;        /**< FP_QOE_TCPD_* */
};
FP_STATIC_ASSERT(sizeof(struct fp_qoe_tcp_dir) == 60, "tcp dir state size");

/** TCP engine state: handshake, ART, TLS, per-direction sequence tracking. */
struct fp_qoe_tcp {
    struct fp_qoe_tcp_dir d[2];
    uint32_t t_mark;      /**< µs: last handshake event, then first request (ART/TLS) */
    uint32_t snd_us;      /**< server-side delay SYN→SYN/ACK, µs (FP_QOE_TCP_HAVE_SND) */
    uint32_t cnd_us;      /**< client-side delay SYN/ACK→ACK, µs (FP_QOE_TCP_HAVE_CND) */
    uint32_t art_us;      /**< first request byte → first response byte, µs */
    uint32_t tls_us;      /**< ClientHello → client's first 0x17 record, µs */
    uint8_t hs;           /**< handshake state (internal) */
    uint8_t outcome;      /**< enum fp_qoe_tcp_outcome */
    uint8_t retx_hs;      /**< bit 0: SYN retransmitted, bit 1: SYN/ACK retransmitted */
    uint8_t flags;        /**< FP_QOE_TCP_* */
};
FP_STATIC_ASSERT(sizeof(struct fp_qoe_tcp) == 144, "tcp state size");

/** Bits of struct fp_qoe_tcp.flags. */
#define FP_QOE_TCP_HAVE_SND 0x01u
#define FP_QOE_TCP_HAVE_CND 0x02u
#define FP_QOE_TCP_REQ_SEEN 0x04u  /**< first client payload seen (t_mark = its time) */
#define FP_QOE_TCP_HAVE_ART 0x08u
#define FP_QOE_TCP_TLS_CH 0x10u    /**< first client payload was a TLS ClientHello */
#define FP_QOE_TCP_HAVE_TLS 0x20u

/**
 * Update the TCP engine with one TCP packet.
 * @param s     engine state (zeroed before the first packet)
 * @param dir   0 initiator → responder, 1 reverse
 * @param m     decoded packet (tcp_seq/ack/win/flags, payload offsets, ip_bytes)
 * @param frame captured frame (only the payload's first record headers are read)
 * @param t_ns  packet time, ns
 */
void fp_qoe_tcp_update(struct fp_qoe_tcp *s, unsigned dir, const struct fp_pkt_meta *m,
                       const uint8_t *frame, uint64_t t_ns);

/* ------------------------------------------------------------------------------------ */
/* 2. DNS over UDP                                                                        */
/* ------------------------------------------------------------------------------------ */

struct fp_qoe_dns {
    uint32_t t_query;  /**< µs clock of the first query with `id` */
    uint32_t resp_us;  /**< first query → matching response, µs */
    uint16_t id;       /**< DNS ID of the first query */
    uint8_t rcode;     /**< RCODE of the matching response */
    uint8_t flags;     /**< FP_QOE_DNS_* */
    uint8_t queries;   /**< queries seen (saturating; > 1 with the same ID = retries) */
    uint8_t retries;   /**< queries repeating the first query's ID before the answer */
    uint8_t pad[2];
};
FP_STATIC_ASSERT(sizeof(struct fp_qoe_dns) == 16, "dns state size");
#define FP_QOE_DNS_QUERY 0x01u
#define FP_QOE_DNS_ANSWERED 0x02u

/** Update the DNS engine with one UDP packet (DNS header read from the payload). */
void fp_qoe_dns_update(struct fp_qoe_dns *s, unsigned dir, const struct fp_pkt_meta *m,
                       const uint8_t *frame, uint64_t t_ns);

/* ------------------------------------------------------------------------------------ */
/* 3. RTP                                                                                 */
/* ------------------------------------------------------------------------------------ */

/** Per-direction RTP stream state (RFC 3550 A.1 source + A.8 jitter). */
struct fp_qoe_rtp_dir {
    uint64_t last_arr_ns; /**< arrival of the previous accepted packet */
    uint64_t seen;        /**< bit i: extended max_seq − i received (duplicate detection) */
    uint32_t ssrc;
    uint32_t cycles;      /**< sequence wrap count × 65536 (RFC 3550 A.1) */
    uint32_t base_seq;
    uint32_t bad_seq;
    uint32_t received;    /**< packets accepted (RFC 3550; includes duplicates) */
    uint32_t last_ts;     /**< RTP timestamp of the previous accepted packet */
    /* While clock == 0 (being inferred) the jitter fields hold the clock reference instead:
     * the jitter starts from 0 once the clock is fixed. */
    union {
        uint32_t jitter_q4; /**< clock != 0: RFC 3550 A.8 jitter ×16, in µs */
        uint32_t ref_ts;    /**< clock == 0: RTP timestamp of the reference packet */
    };
    union {
        uint32_t jitter_max_us; /**< clock != 0: largest running jitter, µs */
        uint32_t ref_us;        /**< clock == 0: arrival of the reference, µs mod 2^32 */
    };
    uint16_t max_seq;
    uint16_t reordered;   /**< packets older than max_seq (late), saturating */
    uint16_t dups;        /**< duplicates (within the 64-packet window), saturating */
    uint8_t probation;
    uint8_t pt;           /**< payload type of the first accepted packet */
    uint8_t state;        /**< 0 none, 1 probation, 2 detected */
    uint8_t chan;         /**< 1: carried behind a 4-byte TURN ChannelData header */
    uint8_t clk_n;        /**< clock == 0: packets accepted since the reference (saturating) */
    uint8_t clk_flags;    /**< FP_QOE_RTP_CLK_* */
    uint32_t clock;       /**< RTP clock rate in use, Hz; 0 = not known yet (no jitter) */
};
FP_STATIC_ASSERT(sizeof(struct fp_qoe_rtp_dir) == 64, "rtp dir state size");

struct fp_qoe_rtp {
    struct fp_qoe_rtp_dir d[2];
};
FP_STATIC_ASSERT(sizeof(struct fp_qoe_rtp) == 128, "rtp state size");

/** Clock used when a stream's Δts/Δt fits no standard RTP clock (Opus, RFC 7587). */
#define FP_QOE_RTP_CLOCK_FALLBACK 48000u
/** Inference window: the clock is fixed at the first accepted packet that is at least
 *  FP_QOE_RTP_CLK_MIN_PKTS packets and FP_QOE_RTP_CLK_MIN_US µs after the reference. */
#define FP_QOE_RTP_CLK_MIN_PKTS 8u
#define FP_QOE_RTP_CLK_MIN_US 500000u
/** Largest relative distance (per mille) to a standard clock that still snaps to it. */
#define FP_QOE_RTP_CLK_TOL_PERMILLE 200u

/** fp_qoe_rtp_dir.clk_flags */
#define FP_QOE_RTP_CLK_INFERRED 0x01u /**< clock inferred from the stream (no static clock) */
#define FP_QOE_RTP_CLK_FALLBACK 0x02u /**< inferred rate fit no standard clock: fallback used */

/** Update the RTP engine with one UDP packet (detects RTP, then meters it). */
void fp_qoe_rtp_update(struct fp_qoe_rtp *s, unsigned dir, const struct fp_pkt_meta *m,
                       const uint8_t *frame, uint64_t t_ns);

/**
 * RFC 3551 static clock rate of a payload type.
 * @return Hz, or 0 when the type has no static clock (dynamic 96–127, reserved, unassigned):
 *         the engine then infers the clock from the stream
 */
uint32_t fp_qoe_rtp_clock(uint8_t pt);

/**
 * Standard RTP clock nearest to a measured timestamp rate.
 * @param rate_hz Δts / Δt measured on the stream
 * @return one of 8000, 12000, 16000, 24000, 32000, 44100, 48000, 90000 within
 *         FP_QOE_RTP_CLK_TOL_PERMILLE of rate_hz (relative), or 0 when none is
 */
uint32_t fp_qoe_rtp_clock_snap(uint64_t rate_hz);

/**
 * Clock rate used for one direction of an RTP flow.
 * @param s     RTP state
 * @param dir   0 or 1
 * @param flags if not NULL, set to FP_QOE_RTP_CLK_* of the direction
 * @return Hz, or 0 when no stream was detected or its clock is still being inferred
 */
uint32_t fp_qoe_rtp_clock_get(const struct fp_qoe_rtp *s, unsigned dir, unsigned *flags);

/**
 * Simplified E-model (standards.md §8, "widespread simplified variant" + G.107 R→MOS).
 * @param latency_us one-way network latency (µs)
 * @param jitter_us  interarrival jitter (µs)
 * @param loss_ppm   packet loss, parts per million
 * @param r_x100     if not NULL, R-factor ×100 (rounded)
 * @return MOS ×100 (100..450, rounded)
 */
uint32_t fp_qoe_emodel_mos(uint32_t latency_us, uint32_t jitter_us, uint32_t loss_ppm,
                           int32_t *r_x100);

/** G.107 R → MOS (R ≤ 0 → 1.0, R ≥ 100 → 4.5). @return MOS ×100, rounded. */
uint32_t fp_qoe_r_to_mos_x100(double r);

/* ------------------------------------------------------------------------------------ */
/* 4. Video, 5. Gaming                                                                    */
/* ------------------------------------------------------------------------------------ */

struct fp_qoe_video {
    uint64_t bytes;       /**< server→client L4 payload bytes */
    uint32_t bin_start;   /**< µs clock where the current 1 s bin starts */
    uint32_t bin_bytes;   /**< bytes in the current bin */
    uint32_t peak_bin;    /**< bytes in the fullest bin so far */
    uint32_t last_t;      /**< µs clock of the previous server→client data packet */
    uint32_t burst_cur;   /**< bytes of the current burst */
    uint32_t burst_max;   /**< bytes of the largest burst */
    uint16_t nbins;       /**< complete bins before the current one (saturating) */
    uint16_t bursts;      /**< bursts (chunks) seen, saturating */
    uint16_t stall_bins;  /**< stall indicator (see README), saturating */
    uint8_t flags;
    uint8_t pad;
};
FP_STATIC_ASSERT(sizeof(struct fp_qoe_video) == 40, "video state size");

/** Update the video engine (only server→client packets with payload count). */
void fp_qoe_video_update(struct fp_qoe_video *v, const struct fp_qoe_params *p, unsigned dir,
                         const struct fp_pkt_meta *m, uint64_t t_ns);

struct fp_qoe_game {
    uint32_t last_t[2];   /**< µs clock of the previous packet with payload, per direction */
    uint32_t iat_prev;    /**< previous server→client inter-arrival time, µs */
    uint32_t jitter_q4;   /**< EWMA(1/16) of |IAT_i − IAT_i−1| ×16, µs */
    uint32_t req_t;       /**< µs clock of the outstanding request */
    uint32_t lat_min;     /**< request → response latency, µs */
    uint32_t lat_max;
    uint32_t lat_sum;     /**< halved with lat_n on overflow */
    uint16_t lat_n;
    uint16_t spikes;      /**< latency samples > game_spike_us */
    uint16_t gaps;        /**< server→client silences > game_gap_us */
    uint8_t flags;
    uint8_t pad;
};
FP_STATIC_ASSERT(sizeof(struct fp_qoe_game) == 40, "game state size");

/** Update the gaming engine (packets with payload only; TCP or UDP). */
void fp_qoe_game_update(struct fp_qoe_game *g, const struct fp_qoe_params *p, unsigned dir,
                        const struct fp_pkt_meta *m, uint64_t t_ns);

/* ------------------------------------------------------------------------------------ */
/* 7. SPLT                                                                                */
/* ------------------------------------------------------------------------------------ */

/**
 * Sequence of packet lengths and times of the first N packets. One 24-bit entry per packet:
 * bit 23 direction, bits 22..12 L4 payload length (clamped to 2047), bits 11..0 inter-arrival
 * time code (µs, 4-bit exponent e + 8-bit mantissa m: value = m << e; exact below 256 µs,
 * relative error < 0.8% above, clamped at 255 << 15 µs = 8.36 s). First IAT is 0.
 */
struct fp_qoe_splt {
    uint32_t last_t;      /**< µs clock of the previous recorded packet */
    uint8_t n;            /**< entries recorded */
    uint8_t cap;          /**< entries to record (runtime N) */
    uint8_t e[FP_QOE_SPLT_CAP][3];
};
FP_STATIC_ASSERT(sizeof(struct fp_qoe_splt) <= 6 + 3 * FP_QOE_SPLT_CAP + 3, "splt size");

#define FP_QOE_SPLT_LEN_MAX 2047u
#define FP_QOE_SPLT_IAT_MAX (255u << 15)

/** Start recording the first n packets (n clamped to FP_QOE_SPLT_CAP). */
void fp_qoe_splt_init(struct fp_qoe_splt *s, unsigned n);
/** Record one packet (no-op after N). */
void fp_qoe_splt_update(struct fp_qoe_splt *s, unsigned dir, const struct fp_pkt_meta *m,
                        uint64_t t_ns);
/** Decode entry i (< s->n): direction, L4 payload length, inter-arrival time in µs. */
void fp_qoe_splt_get(const struct fp_qoe_splt *s, unsigned i, unsigned *dir, uint32_t *len,
                     uint32_t *iat_us);
/** IAT code ↔ µs (exposed for the exporter and tests). */
uint16_t fp_qoe_splt_iat_encode(uint32_t us);
uint32_t fp_qoe_splt_iat_decode(uint16_t code);

/* ------------------------------------------------------------------------------------ */
/* Per-flow aggregate                                                                     */
/* ------------------------------------------------------------------------------------ */

/** Engines active in a struct fp_qoe_flow (bits of .engines). */
#define FP_QOE_ENG_TCP 0x01u
#define FP_QOE_ENG_RTP 0x02u
#define FP_QOE_ENG_DNS 0x04u
#define FP_QOE_ENG_VIDEO 0x08u
#define FP_QOE_ENG_GAME 0x10u
#define FP_QOE_ENG_INIT 0x80u

/**
 * Everything QoE for one flow. Zero it when the flow entry is created. The transport engine
 * (TCP; DNS for UDP port 53; RTP for other UDP) is chosen on the first packet; the class
 * engine (video or gaming) starts when fp_qoe_flow_set_class() names such a class.
 */
struct fp_qoe_flow {
    union {
        struct fp_qoe_tcp tcp;
        struct fp_qoe_rtp rtp;
        struct fp_qoe_dns dns;
    } l4;
    union {
        struct fp_qoe_video video;
        struct fp_qoe_game game;
    } app;
    struct fp_qoe_splt splt;
    uint8_t engines;      /**< FP_QOE_ENG_* */
    uint8_t cls;          /**< enum fp_qoe_class */
};
FP_STATIC_ASSERT(sizeof(struct fp_qoe_flow) <= 256, "QoE per flow must stay <= 256 bytes");

/** Per-packet entry point for the worker. p must stay valid while flows use it. */
void fp_qoe_flow_update(struct fp_qoe_flow *q, const struct fp_qoe_params *p, unsigned dir,
                        const struct fp_pkt_meta *m, const uint8_t *frame, uint64_t t_ns);

/** Tell the flow its class (once it is known); starts the video or gaming engine. */
void fp_qoe_flow_set_class(struct fp_qoe_flow *q, enum fp_qoe_class cls);

/* ------------------------------------------------------------------------------------ */
/* Results and score                                                                      */
/* ------------------------------------------------------------------------------------ */

/* struct fp_qoe_result (the exported QoE values) is part of the record contract: src/flow/flow.h. */

/**
 * Compute the results of a flow.
 * @param q       flow QoE state (not modified)
 * @param p       parameters (E-model latency)
 * @param packets packets per direction (from the flow counters; used for rates), may be NULL
 * @param t_end_ns time of the flow's last packet (closes an open zero-window interval)
 * @param r       filled
 */
void fp_qoe_flow_result(const struct fp_qoe_flow *q, const struct fp_qoe_params *p,
                        const uint64_t packets[2], uint64_t t_end_ns, struct fp_qoe_result *r);

/** Metric vector for the score: fills v[] and returns a bitmask of the metrics present. */
uint32_t fp_qoe_result_metrics(const struct fp_qoe_result *r, const uint64_t packets[2],
                               int64_t v[FP_QOE_METRIC_MAX]);

/**
 * QoE score 0..100: weighted mean over the class's metrics of
 * 100 × clamp((bad − v) / (bad − good), 0, 1), see README.
 * @return score 0..100, or -ENODATA when no metric of the class is present
 */
int fp_qoe_score(enum fp_qoe_class cls, const struct fp_qoe_params *p,
                 const int64_t v[FP_QOE_METRIC_MAX], uint32_t present);

/** Per-engine result helpers (used by fp_qoe_flow_result; exposed for tests). */
void fp_qoe_tcp_result(const struct fp_qoe_tcp *s, uint64_t t_end_ns, struct fp_qoe_result *r);
void fp_qoe_dns_result(const struct fp_qoe_dns *s, struct fp_qoe_result *r);
void fp_qoe_rtp_result(const struct fp_qoe_rtp *s, const struct fp_qoe_params *p,
                       struct fp_qoe_result *r);
void fp_qoe_video_result(const struct fp_qoe_video *v, struct fp_qoe_result *r);
void fp_qoe_game_result(const struct fp_qoe_game *g, struct fp_qoe_result *r);

#endif /* FP_QOE_H */
