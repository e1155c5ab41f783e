/* SPDX-License-Identifier: BSD-3-Clause */
/* SNMP OID view (no snmpd needed): order, GET/GETNEXT, subtree bounds, encodings of
 * FLOWPULSE-MIB and IPFIX-MIB objects built from a snapshot. */
#include <stdlib.h>
#include <string.h>

#include "snmp/snmp.h"
#include "snmp/snmp_internal.h"
#include "tests/unit/fp_test.h"

static struct fp_snapshot *mk_snap(void)
{
    struct fp_snapshot *s = calloc(1, sizeof(*s));
    snprintf(s->version, sizeof(s->version), "v1.2");
    s->start_time_ms = 1700000000123ull; /* 2023-11-14 22:13:20.123 UTC */
    s->now_ms = s->start_time_ms + 12345;
    s->not_metered[1] = 5;
    s->not_metered[FP_DECODE_RESULT_MAX - 1] = 7;
    s->packets_metered = 100;
    s->packets_received = 112;
    s->n_ports = 1;
    s->ports[0].missed = 9;
    s->n_workers = 2;
    s->workers[1].flows_active = 5000000000ull; /* saturates a Gauge32 */
    s->workers[1].cache_capacity = 10;
    s->n_collectors = 2;
    s->collectors[0].transport = FP_SNAP_TRANSPORT_FILE;
    s->collectors[1].transport = FP_SNAP_TRANSPORT_TCP;
    s->collectors[1].protocol = FP_SNAP_PROTOCOL_IPFIX;
    s->collectors[1].state = FP_SNAP_COLLECTOR_UP;
    s->collectors[1].addr_family = 6;
    s->collectors[1].addr[15] = 1;
    s->collectors[1].records = 1ull << 40;
    s->collectors[1].n_templates = 1;
    s->collectors[1].templates[0].template_id = 300;
    s->collectors[1].templates[0].set_id = 3;
    s->collectors[1].templates[0].odid = 5;
    s->collectors[1].templates[0].n_fields = 2;
    s->collectors[1].templates[0].fields[0].flags = FP_SNAP_FIELD_SCOPE;
    s->collectors[1].templates[0].fields[1].flags = FP_SNAP_FIELD_FLOW_KEY;
    s->collectors[1].templates[0].fields[1].ie_id = 8;
    return s;
}

static const struct fp_snmp_entry *get(const struct fp_snmp_view *v, const uint32_t *o, size_t n)
{
    return fp_snmp_view_get(v, o, n);
}

static void test_order_and_lookup(void)
{
    struct fp_snapshot *s = mk_snap();
    struct fp_snmp_view *v = calloc(1, sizeof(*v));
    struct fp_snmp_derived d = {.drop_rate = 3};
    CU_ASSERT_EQUAL_FATAL(fp_snmp_view_build(v, s, &d, 32473), 0);
    CU_ASSERT(v->n > 50);
    for (size_t i = 1; i < v->n; i++)
        CU_ASSERT(fp_snmp_oid_cmp(v->e[i - 1].oid, v->e[i - 1].oid_len, v->e[i].oid,
                                  v->e[i].oid_len) < 0);

    /* fpVersion.0 and fpUptime.0 (centiseconds) */
    uint32_t ver[] = {1, 3, 6, 1, 4, 1, 32473, 1, 1, 1, 1, 0};
    const struct fp_snmp_entry *e = get(v, ver, 12);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->type, FP_SNMP_OCTETS);
    CU_ASSERT_EQUAL(e->len, 4);
    CU_ASSERT_EQUAL(memcmp(e->ptr, "v1.2", 4), 0);
    ver[10] = 2;
    e = get(v, ver, 12);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->type, FP_SNMP_TIMETICKS);
    CU_ASSERT_EQUAL(e->num, 1234);
    /* fpStartTime: DateAndTime 2023-11-14 22:13:20.1 +0:0 */
    ver[10] = 3;
    e = get(v, ver, 12);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    static const uint8_t dt[11] = {0x07, 0xe7, 11, 14, 22, 13, 20, 1, '+', 0, 0};
    CU_ASSERT_EQUAL(e->len, 11);
    CU_ASSERT_EQUAL(memcmp(e->ptr, dt, 11), 0);
    /* fpPacketsNotMetered = 12, fpDropRate = 3 */
    ver[10] = 6;
    CU_ASSERT_EQUAL(get(v, ver, 12)->num, 12);
    ver[10] = 7;
    CU_ASSERT_EQUAL(get(v, ver, 12)->num, 3);
    /* not an instance: the column itself, and an index past the table */
    CU_ASSERT_PTR_NULL(get(v, ver, 11));
    uint32_t w[] = {1, 3, 6, 1, 4, 1, 32473, 1, 1, 4, 1, 3, 1};
    e = get(v, w, 13);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->type, FP_SNMP_GAUGE32);
    CU_ASSERT_EQUAL(e->num, UINT32_MAX);
    w[11] = 11; /* occupancy capped at 100 % */
    CU_ASSERT_EQUAL(get(v, w, 13)->num, 100);
    w[12] = 2;
    CU_ASSERT_PTR_NULL(get(v, w, 13));

    /* Counter64 above 2^32 */
    uint32_t rec[] = {1, 3, 6, 1, 4, 1, 32473, 1, 1, 5, 1, 9, 2};
    e = get(v, rec, 13);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->type, FP_SNMP_COUNTER64);
    CU_ASSERT_EQUAL(e->num, 1ull << 40);

    /* IPFIX-MIB: the file collector (1) has no transport session; the TCP one (2) has */
    uint32_t st[] = {1, 3, 6, 1, 2, 1, 193, 1, 1, 1, 1, 16, 1};
    CU_ASSERT_PTR_NULL(get(v, st, 13));
    st[12] = 2;
    e = get(v, st, 13);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->num, 2); /* active */
    st[11] = 2;                 /* protocol: TCP */
    CU_ASSERT_EQUAL(get(v, st, 13)->num, 6);
    st[11] = 6; /* destination ::1, 16 octets */
    e = get(v, st, 13);
    CU_ASSERT_EQUAL(e->len, 16);
    CU_ASSERT_EQUAL(((const uint8_t *)e->ptr)[15], 1);
    /* template definition flags: BITS scope(0) = 0x80, flowKey(1) = 0x40 */
    uint32_t fl[] = {1, 3, 6, 1, 2, 1, 193, 1, 1, 3, 1, 5, 2, 5, 300, 1};
    e = get(v, fl, 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->len, 1);
    CU_ASSERT_EQUAL(((const uint8_t *)e->ptr)[0], 0x80);
    fl[15] = 2;
    CU_ASSERT_EQUAL(((const uint8_t *)get(v, fl, 16)->ptr)[0], 0x40);
    fl[11] = 2;
    CU_ASSERT_EQUAL(get(v, fl, 16)->num, 8);
    /* template set id 3 (options) */
    uint32_t ts[] = {1, 3, 6, 1, 2, 1, 193, 1, 1, 2, 1, 3, 2, 5, 300};
    CU_ASSERT_EQUAL(get(v, ts, 15)->num, 3);
    /* export member type: one session → primary(1) */
    uint32_t ex[] = {1, 3, 6, 1, 2, 1, 193, 1, 1, 4, 1, 2, 1, 1, 2};
    CU_ASSERT_EQUAL(get(v, ex, 15)->num, 1);

    fp_snmp_view_free(v);
    free(v);
    free(s);
}

static void test_getnext_bounds(void)
{
    struct fp_snapshot *s = mk_snap();
    struct fp_snmp_view *v = calloc(1, sizeof(*v));
    struct fp_snmp_derived d = {0};
    CU_ASSERT_EQUAL_FATAL(fp_snmp_view_build(v, s, &d, 99999), 0);

    uint32_t root[8];
    size_t rl = fp_snmp_fp_root(99999, root);
    /* from the subtree root: the first object is fpVersion.0 */
    const struct fp_snmp_entry *e = fp_snmp_view_next(v, root, rl, root, rl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    uint32_t first[] = {1, 3, 6, 1, 4, 1, 99999, 1, 1, 1, 1, 0};
    CU_ASSERT_EQUAL(fp_snmp_oid_cmp(e->oid, e->oid_len, first, 12), 0);
    /* from an instance: the next one, strictly after */
    const struct fp_snmp_entry *n = fp_snmp_view_next(v, e->oid, e->oid_len, root, rl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT(fp_snmp_oid_cmp(n->oid, n->oid_len, e->oid, e->oid_len) > 0);
    CU_ASSERT_EQUAL(n->oid[10], 2);
    /* walking the whole subtree visits every FLOWPULSE entry once, in order */
    size_t count = 0;
    uint32_t cur[FP_SNMP_OID_MAX];
    size_t cl = rl;
    memcpy(cur, root, rl * sizeof(*cur));
    while ((e = fp_snmp_view_next(v, cur, cl, root, rl)) != NULL) {
        memcpy(cur, e->oid, e->oid_len * sizeof(*cur));
        cl = e->oid_len;
        count++;
    }
    size_t expect = 0;
    for (size_t i = 0; i < v->n; i++)
        expect += v->e[i].oid[6] == 99999 && v->e[i].oid[4] == 4;
    CU_ASSERT_EQUAL(count, expect);
    CU_ASSERT(count > 20);
    /* IPFIX-MIB subtree ends before enterprises: next never leaves the prefix */
    uint32_t last_ipfix[] = {1, 3, 6, 1, 2, 1, 193, 9};
    CU_ASSERT_PTR_NULL(fp_snmp_view_next(v, last_ipfix, 8, fp_snmp_ipfix_mib_oid, 7));
    /* the default PEN subtree is empty when another PEN is configured */
    uint32_t def[8];
    size_t dl = fp_snmp_fp_root(32473, def);
    CU_ASSERT_PTR_NULL(fp_snmp_view_next(v, def, dl, def, dl));
    /* a request before the subtree gets the first object of the subtree */
    uint32_t before[] = {1, 3, 6, 1, 2, 1, 100};
    e = fp_snmp_view_next(v, before, 7, fp_snmp_ipfix_mib_oid, 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    uint32_t sess_proto[] = {1, 3, 6, 1, 2, 1, 193, 1, 1, 1, 1, 2, 2};
    CU_ASSERT_EQUAL(fp_snmp_oid_cmp(e->oid, e->oid_len, sess_proto, 13), 0);

    fp_snmp_view_free(v);
    free(v);
    free(s);
}

static void test_start_rejects_bad_params(void)
{
    struct fp_snmp_params p = {0};
    CU_ASSERT_PTR_NULL(fp_snmp_start(&p)); /* no fill callback */
    CU_ASSERT_PTR_NULL(fp_snmp_start(NULL));
    fp_snmp_stop(NULL);
    CU_ASSERT_EQUAL(fp_snmp_connected(NULL), 0);
}

static void test_oid_cmp(void)
{
    uint32_t a[] = {1, 3, 6}, b[] = {1, 3, 6, 1}, c[] = {1, 4};
    CU_ASSERT(fp_snmp_oid_cmp(a, 3, b, 4) < 0);
    CU_ASSERT(fp_snmp_oid_cmp(b, 4, a, 3) > 0);
    CU_ASSERT(fp_snmp_oid_cmp(b, 4, c, 2) < 0);
    CU_ASSERT_EQUAL(fp_snmp_oid_cmp(a, 3, a, 3), 0);
    uint8_t dt[11];
    fp_snmp_date_and_time(0, dt);
    CU_ASSERT_EQUAL(dt[0] * 256 + dt[1], 1970);
    CU_ASSERT_EQUAL(dt[2], 1);
    CU_ASSERT_EQUAL(dt[3], 1);
}

void fp_test_register_snmp(void);
void fp_test_register_snmp(void)
{
    static const CU_TestInfo tests[] = {
        {"view order, GET and encodings", test_order_and_lookup},
        {"GETNEXT and subtree bounds", test_getnext_bounds},
        {"start parameter checks", test_start_rejects_bad_params},
        {"OID compare, DateAndTime", test_oid_cmp},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("snmp", tests);
}
