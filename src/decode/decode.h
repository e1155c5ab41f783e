/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Decode: one captured frame → struct fp_pkt_meta (see src/decode/README.md for the
 * metering rules). Pipeline place: capture → decode → flow. Called by worker lcores;
 * stateless, no allocation, reads only inside [frame, frame + caplen).
 */
#ifndef FP_DECODE_H
#define FP_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/fp_compiler.h"

/** Link type of a port (per capture file or per NIC). */
enum fp_linktype {
    FP_LINK_ETHER,
    FP_LINK_RAW,
    FP_LINK_SLL,
    FP_LINK_SLL2,
    FP_LINK_NULL,
};

/** Tunnel type recorded in the flow key (outermost decapsulated tunnel). */
enum fp_tunnel {
    FP_TUNNEL_NONE,
    FP_TUNNEL_IPIP,
    FP_TUNNEL_GRE,
    FP_TUNNEL_VXLAN,
    FP_TUNNEL_GTPU,
};

enum fp_frag {
    FP_FRAG_NONE,
    FP_FRAG_FIRST,
    FP_FRAG_LATER,
};

/**
 * Decode outcomes. OK means "meter this packet"; every other value is a reason the
 * packet was not metered, counted by the worker (received = metered + sum of these).
 */
#define FP_DECODE_RESULTS(X)                                                                \
    X(OK, "metered")                                                                       \
    X(L2_TRUNC, "link-layer header truncated")                                             \
    X(NOT_IP, "not IPv4/IPv6 (ARP, LLDP, other EtherType)")                                \
    X(IP_TRUNC, "IP header truncated")                                                     \
    X(IP_HDR_BAD, "IP header invalid (version, IHL, total length)")                        \
    X(IP6_EXT_BAD, "IPv6 extension header chain truncated or too long")

enum fp_decode_result {
#define FP_X_ENUM(name, desc) FP_DECODE_##name,
    FP_DECODE_RESULTS(FP_X_ENUM)
#undef FP_X_ENUM
        FP_DECODE_RESULT_MAX,
};

/**
 * Notes on a metered packet (bits of fp_pkt_meta.notes); the worker counts each bit.
 * They never stop metering.
 */
#define FP_DECODE_NOTES(X)                                                                  \
    X(L4_TRUNC, 0, "transport header truncated (ports 0)")                                 \
    X(L4_HDR_BAD, 1, "transport header invalid (TCP data offset < 5)")                     \
    X(TUNNEL_INNER_BAD, 2, "tunnel payload malformed, metered as outer packet")            \
    X(TUNNEL_DEPTH, 3, "tunnel nesting deeper than the limit, metered at the limit")       \
    X(IP_SNAPLEN, 4, "IP packet longer than captured (snaplen)")

enum fp_decode_note {
#define FP_X_ENUM(name, bit, desc) FP_NOTE_##name = 1u << (bit),
    FP_DECODE_NOTES(FP_X_ENUM)
#undef FP_X_ENUM
};
#define FP_DECODE_NOTE_COUNT 5

/** What decode fills for one packet. Addresses in network order; IPv4 in bytes 0..3. */
struct fp_pkt_meta {
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;          /**< host order; 0 when the protocol has no ports */
    uint16_t dport;          /**< host order */
    uint8_t ip_version;      /**< 4 or 6 (of the metered header) */
    uint8_t proto;           /**< IPv4 protocol / IPv6 final next header */
    uint8_t tos;             /**< IPv4 TOS / IPv6 traffic class */
    uint8_t ttl;             /**< TTL / hop limit */
    uint16_t tcp_flags;      /**< 12 bits incl. NS (0x100) */
    uint16_t icmp_type_code; /**< type*256 + code for ICMP/ICMPv6 */
    uint32_t ip_bytes;       /**< bytes metered: IP total length (IPv6: 40 + payload len) */
    uint16_t vlan[2];        /**< outer, inner VID; valid below n_vlan */
    uint8_t n_vlan;
    uint8_t frag;            /**< enum fp_frag */
    uint8_t tunnel;          /**< enum fp_tunnel, outermost decapsulated */
    uint8_t tunnel_depth;    /**< number of tunnels decapsulated */
    uint32_t vni;            /**< VXLAN VNI (key context), 0 otherwise */
    uint32_t frag_id;        /**< IPv4 identification or IPv6 fragment identification */
    uint16_t notes;          /**< FP_NOTE_* bits */
    uint16_t l3_off;         /**< offset of the metered IP header in the frame */
    uint16_t l4_off;         /**< offset of the L4 header (0 when not parsed) */
    uint16_t payload_off;    /**< offset of L4 payload (0 when none) */
    uint16_t payload_len;    /**< captured L4 payload bytes (min of capture and IP length) */
    uint16_t tcp_win;        /**< raw TCP window field */
    uint32_t tcp_seq;        /**< host order */
    uint32_t tcp_ack;        /**< host order */
};

/** Per-port decode parameters (from config). */
struct fp_decode_params {
    enum fp_linktype link;
    bool decap;          /**< meter inner packets of tunnels (default true) */
    uint16_t vxlan_port; /**< default 4789 */
    uint16_t gtpu_port;  /**< default 2152 */
};

/**
 * Decode one frame.
 * @param frame  first captured byte
 * @param caplen captured length
 * @param p      parameters (link type, tunnel policy)
 * @param m      filled on FP_DECODE_OK; partially filled otherwise
 * @return FP_DECODE_OK, or the reason the packet is not metered
 */
enum fp_decode_result fp_decode_packet(const uint8_t *frame, uint32_t caplen,
                                       const struct fp_decode_params *p, struct fp_pkt_meta *m);

/** Default parameters: Ethernet, decapsulation on, standard ports. */
void fp_decode_params_default(struct fp_decode_params *p);

/** Map a libpcap DLT value to our link type. @return 0, or -ENOTSUP */
int fp_decode_linktype_from_dlt(int dlt, enum fp_linktype *out);

extern const char *const fp_decode_result_names[FP_DECODE_RESULT_MAX];
extern const char *const fp_decode_note_names[FP_DECODE_NOTE_COUNT];
/** One-line descriptions (the X-macro desc strings), same indexes as the name tables. */
extern const char *const fp_decode_result_descs[FP_DECODE_RESULT_MAX];
extern const char *const fp_decode_note_descs[FP_DECODE_NOTE_COUNT];

#endif /* FP_DECODE_H */
