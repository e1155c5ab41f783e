/* SPDX-License-Identifier: BSD-3-Clause */
/* Capture: the RSS key must make the NIC hash symmetric, so both directions of a connection
 * (and every fragment, with the L3-only hash) reach the same worker. Checked with DPDK's
 * software Toeplitz implementation over random IPv4/IPv6 tuples. */
#include <rte_byteorder.h>
#include <rte_thash.h>
#include <string.h>

#include "capture/capture.h"
#include "tests/unit/fp_test.h"

static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static void test_rss_symmetric_v4(void)
{
    const uint8_t *key = fp_capture_rss_key();
    unsigned bad_l4 = 0, bad_l3 = 0, distinct = 0;
    uint32_t first = 0;
    for (int i = 0; i < 20000; i++) {
        union rte_thash_tuple a, b;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        a.v4.src_addr = rnd();
        a.v4.dst_addr = rnd();
        a.v4.sport = (uint16_t)rnd();
        a.v4.dport = (uint16_t)rnd();
        b.v4.src_addr = a.v4.dst_addr;
        b.v4.dst_addr = a.v4.src_addr;
        b.v4.sport = a.v4.dport;
        b.v4.dport = a.v4.sport;
        uint32_t ha = rte_softrss((uint32_t *)&a, RTE_THASH_V4_L4_LEN, key);
        uint32_t hb = rte_softrss((uint32_t *)&b, RTE_THASH_V4_L4_LEN, key);
        bad_l4 += ha != hb;
        bad_l3 += rte_softrss((uint32_t *)&a, RTE_THASH_V4_L3_LEN, key) !=
                  rte_softrss((uint32_t *)&b, RTE_THASH_V4_L3_LEN, key);
        if (i == 0)
            first = ha;
        distinct += ha != first;
    }
    CU_ASSERT_EQUAL(bad_l4, 0);
    CU_ASSERT_EQUAL(bad_l3, 0);
    CU_ASSERT(distinct > 19000); /* symmetric, yet it still spreads */
}

static void test_rss_symmetric_v6(void)
{
    const uint8_t *key = fp_capture_rss_key();
    unsigned bad = 0;
    for (int i = 0; i < 5000; i++) {
        union rte_thash_tuple a, b;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        for (int k = 0; k < 16; k++) {
            a.v6.src_addr[k] = (uint8_t)rnd();
            a.v6.dst_addr[k] = (uint8_t)rnd();
        }
        a.v6.sport = (uint16_t)rnd();
        a.v6.dport = (uint16_t)rnd();
        memcpy(b.v6.src_addr, a.v6.dst_addr, 16);
        memcpy(b.v6.dst_addr, a.v6.src_addr, 16);
        b.v6.sport = a.v6.dport;
        b.v6.dport = a.v6.sport;
        /* rte_softrss wants host-order 32-bit words, as rte_thash_load_v6_addrs gives. */
        union rte_thash_tuple ta, tb;
        memset(&ta, 0, sizeof(ta));
        memset(&tb, 0, sizeof(tb));
        for (int k = 0; k < 4; k++) {
            uint32_t w;
            memcpy(&w, &a.v6.src_addr[4 * k], 4);
            ((uint32_t *)ta.v6.src_addr)[k] = rte_be_to_cpu_32(w);
            memcpy(&w, &a.v6.dst_addr[4 * k], 4);
            ((uint32_t *)ta.v6.dst_addr)[k] = rte_be_to_cpu_32(w);
            memcpy(&w, &b.v6.src_addr[4 * k], 4);
            ((uint32_t *)tb.v6.src_addr)[k] = rte_be_to_cpu_32(w);
            memcpy(&w, &b.v6.dst_addr[4 * k], 4);
            ((uint32_t *)tb.v6.dst_addr)[k] = rte_be_to_cpu_32(w);
        }
        ta.v6.sport = a.v6.sport;
        ta.v6.dport = a.v6.dport;
        tb.v6.sport = b.v6.sport;
        tb.v6.dport = b.v6.dport;
        bad += rte_softrss((uint32_t *)&ta, RTE_THASH_V6_L4_LEN, key) !=
               rte_softrss((uint32_t *)&tb, RTE_THASH_V6_L4_LEN, key);
    }
    CU_ASSERT_EQUAL(bad, 0);
}

static const CU_TestInfo tests[] = {
    {"symmetric RSS key, IPv4 L3 and L4", test_rss_symmetric_v4},
    {"symmetric RSS key, IPv6 L4", test_rss_symmetric_v6},
    CU_TEST_INFO_NULL,
};

void fp_test_register_capture(void);
void fp_test_register_capture(void)
{
    FP_TEST_ADD_SUITE("capture", tests);
}
