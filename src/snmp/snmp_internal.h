/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Internal to src/snmp/ and tests/unit/test_snmp.c: the OID view of a snapshot.
 *
 * On every refresh the SNMP thread turns the struct fp_snapshot into one sorted array of
 * (OID, type, value) entries covering FLOWPULSE-MIB and the IPFIX-MIB subset. GET is a binary
 * search, GETNEXT the first entry after the requested OID, so a walk sees one consistent
 * snapshot and tables need no per-table code. Pure data code: no net-snmp calls (the ASN_*
 * type codes are the BER tags, defined here to keep this file free of net-snmp headers).
 */
#ifndef FP_SNMP_INTERNAL_H
#define FP_SNMP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/fp_snapshot.h"

#define FP_SNMP_OID_MAX 32

/* BER tags (same values as net-snmp's ASN_*). */
enum fp_snmp_type {
    FP_SNMP_INTEGER = 0x02,
    FP_SNMP_OCTETS = 0x04,
    FP_SNMP_OID = 0x06,
    FP_SNMP_GAUGE32 = 0x42, /* also Unsigned32 */
    FP_SNMP_TIMETICKS = 0x43,
    FP_SNMP_COUNTER64 = 0x46,
};

/** One object instance. Strings point into the owning view's snapshot or the entry's buf. */
struct fp_snmp_entry {
    uint32_t oid[FP_SNMP_OID_MAX];
    uint8_t oid_len;
    uint8_t type;     /**< enum fp_snmp_type */
    uint16_t len;     /**< OCTETS: bytes; OID: sub-identifiers */
    uint64_t num;     /**< INTEGER (as int64 bits), GAUGE32, TIMETICKS, COUNTER64 */
    const void *ptr;  /**< OCTETS: bytes; OID: uint32_t sub-identifiers */
    uint8_t buf[16];  /**< generated OCTETS values (addresses, DateAndTime, BITS) */
};

/** Values the SNMP thread derives from two successive snapshots. */
struct fp_snmp_derived {
    uint32_t session_rate[FP_MAX_COLLECTORS]; /**< octets/s per collector */
    uint32_t drop_rate;                       /**< port drops/s */
    uint32_t drop_threshold;                  /**< pps, 0 = off */
};

/** A sorted OID view. The snapshot it references must outlive it (the view owns a copy). */
struct fp_snmp_view {
    struct fp_snapshot snap;
    struct fp_snmp_entry *e;
    size_t n;
    size_t cap;
    uint32_t pen;
};

extern const uint32_t fp_snmp_ipfix_mib_oid[7];       /**< 1.3.6.1.2.1.193 */
extern const uint32_t fp_snmp_enterprises_oid[7];     /**< 1.3.6.1.4.1 */

/**
 * Rebuild @p v from @p s (copied into v->snap) and @p d, for enterprise number @p pen.
 * @return 0, or -ENOMEM
 */
int fp_snmp_view_build(struct fp_snmp_view *v, const struct fp_snapshot *s,
                       const struct fp_snmp_derived *d, uint32_t pen);

/** Free the entries (the struct itself belongs to the caller). */
void fp_snmp_view_free(struct fp_snmp_view *v);

/** Exact match. @return the entry or NULL */
const struct fp_snmp_entry *fp_snmp_view_get(const struct fp_snmp_view *v, const uint32_t *oid,
                                             size_t len);

/**
 * First entry strictly after @p oid that lies under @p prefix.
 * @return the entry or NULL (end of that subtree)
 */
const struct fp_snmp_entry *fp_snmp_view_next(const struct fp_snmp_view *v, const uint32_t *oid,
                                              size_t len, const uint32_t *prefix, size_t plen);

/** Lexicographic OID comparison (<0, 0, >0). */
int fp_snmp_oid_cmp(const uint32_t *a, size_t alen, const uint32_t *b, size_t blen);

/** FLOWPULSE-MIB root for @p pen: enterprises.pen.1 (8 sub-identifiers) into @p out. */
size_t fp_snmp_fp_root(uint32_t pen, uint32_t *out);

/** DateAndTime (11 octets, UTC) of a Unix time in ms. */
void fp_snmp_date_and_time(uint64_t unix_ms, uint8_t out[11]);

#endif /* FP_SNMP_INTERNAL_H */
