/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of src/control/: flow filter parsing and matching, JSON escaping and times, the
 * request dispatcher and its final line, and the socket server (mode, stale socket, slow
 * client). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fp_time.h"
#include "control/control.h"
#include "control/control_internal.h"
#include "fp_test.h"

#define NS 1000000000ull

/* ---- helpers ----------------------------------------------------------------------------- */

static int parse(struct fp_control_query *q, const char *args, char *err, size_t errlen)
{
    err[0] = '\0';
    return fp_control_query_parse(q, args, err, errlen);
}

static void expect_parse_error(const char *args, const char *token)
{
    struct fp_control_query q;
    char err[400];
    int rc = parse(&q, args, err, sizeof(err));
    CU_ASSERT_EQUAL(rc, -EINVAL);
    if (!strstr(err, token)) {
        fprintf(stderr, "\nparse(\"%s\"): error \"%s\" does not name \"%s\"\n", args, err, token);
        CU_FAIL("error does not name the token");
    }
}

/* 10.1.2.3:40000 -> 192.0.2.10:443 TCP, first 100 s, last 130 s, 10+8 packets. */
static void rec_v4(struct fp_flow_record *r)
{
    memset(r, 0, sizeof(*r));
    r->ip_version = 4;
    inet_pton(AF_INET, "10.1.2.3", r->src);
    inet_pton(AF_INET, "192.0.2.10", r->dst);
    r->sport = 40000;
    r->dport = 443;
    r->proto = 6;
    r->dir[0].packets = 10;
    r->dir[0].bytes = 1000;
    r->dir[0].first_ns = 100 * NS;
    r->dir[0].last_ns = 120 * NS;
    r->dir[1].packets = 8;
    r->dir[1].bytes = 9000;
    r->dir[1].first_ns = 101 * NS;
    r->dir[1].last_ns = 130 * NS;
    snprintf(r->app.name, sizeof(r->app.name), "YouTube");
    r->app.cls = FP_APP_CLASS_VIDEO;
    r->qoe.have = FP_QOE_HAVE_SCORE;
    r->qoe.score = 40;
}

/* [2001:db8::1]:5353 -> [2001:db8:1::2]:53 UDP, only one direction seen, no QoE score. */
static void rec_v6(struct fp_flow_record *r)
{
    memset(r, 0, sizeof(*r));
    r->ip_version = 6;
    inet_pton(AF_INET6, "2001:db8::1", r->src);
    inet_pton(AF_INET6, "2001:db8:1::2", r->dst);
    r->sport = 5353;
    r->dport = 53;
    r->proto = 17;
    r->dir[0].packets = 1;
    r->dir[0].bytes = 80;
    r->dir[0].first_ns = 190 * NS;
    r->dir[0].last_ns = 190 * NS;
}

static bool matches(const char *args, const struct fp_flow_record *r, uint64_t now_ns)
{
    struct fp_control_query q;
    char err[400];
    int rc = parse(&q, args, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "\nparse(\"%s\"): %s\n", args, err);
        CU_FAIL("unexpected parse error");
        return false;
    }
    q.now_ns = now_ns;
    return fp_control_query_match(&q, r);
}

/* ---- parsing ------------------------------------------------------------------------------ */

static void test_parse_keys(void)
{
    struct fp_control_query q;
    char err[400];

    CU_ASSERT_EQUAL_FATAL(parse(&q, "", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(q.n, 0);
    CU_ASSERT_EQUAL(q.limit, FP_CONTROL_DEFAULT_LIMIT);
    CU_ASSERT_EQUAL(q.sort, FP_CONTROL_SORT_NONE);

    CU_ASSERT_EQUAL_FATAL(parse(&q, "src=10.1.2.0/23", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(q.n, 1);
    CU_ASSERT_EQUAL(q.f[0].kind, FP_CONTROL_F_SRC);
    CU_ASSERT_EQUAL(q.f[0].ip_version, 4);
    uint8_t a[16], m[16];
    memcpy(a, q.f[0].addr, 16);
    memcpy(m, q.f[0].mask, 16);
    static const uint8_t want_a[16] = {10, 1, 2, 0};
    static const uint8_t want_m[16] = {255, 255, 254, 0};
    CU_ASSERT_EQUAL(memcmp(a, want_a, 16), 0);
    CU_ASSERT_EQUAL(memcmp(m, want_m, 16), 0);

    /* Host bits beyond the prefix are cleared; no prefix = full length. */
    CU_ASSERT_EQUAL_FATAL(parse(&q, "dst=2001:db8:ffff::1/33 host=2001:db8::7", err, sizeof(err)),
                          0);
    CU_ASSERT_EQUAL(q.n, 2);
    CU_ASSERT_EQUAL(q.f[0].kind, FP_CONTROL_F_DST);
    CU_ASSERT_EQUAL(q.f[0].ip_version, 6);
    memcpy(a, q.f[0].addr, 16);
    memcpy(m, q.f[0].mask, 16);
    static const uint8_t want_a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x80};
    static const uint8_t want_m6[16] = {0xff, 0xff, 0xff, 0xff, 0x80};
    CU_ASSERT_EQUAL(memcmp(a, want_a6, 16), 0);
    CU_ASSERT_EQUAL(memcmp(m, want_m6, 16), 0);
    CU_ASSERT_EQUAL(q.f[1].kind, FP_CONTROL_F_HOST);
    memcpy(m, q.f[1].mask, 16);
    for (int i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(m[i], 0xff);

    CU_ASSERT_EQUAL_FATAL(parse(&q, "port=0 sport=65535 dport=443 proto=udp", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(q.n, 4);
    CU_ASSERT_EQUAL(q.f[0].kind, FP_CONTROL_F_PORT);
    CU_ASSERT_EQUAL(q.f[0].port, 0);
    CU_ASSERT_EQUAL(q.f[1].kind, FP_CONTROL_F_SPORT);
    CU_ASSERT_EQUAL(q.f[1].port, 65535);
    CU_ASSERT_EQUAL(q.f[2].kind, FP_CONTROL_F_DPORT);
    CU_ASSERT_EQUAL(q.f[2].port, 443);
    CU_ASSERT_EQUAL(q.f[3].proto[0], 17);
    CU_ASSERT_EQUAL(q.f[3].proto[1], 17);

    CU_ASSERT_EQUAL_FATAL(parse(&q, "proto=icmp proto=132 proto=tcp", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(q.f[0].proto[0], 1);
    CU_ASSERT_EQUAL(q.f[0].proto[1], 58);
    CU_ASSERT_EQUAL(q.f[1].proto[0], 132);
    CU_ASSERT_EQUAL(q.f[2].proto[0], 6);

    CU_ASSERT_EQUAL_FATAL(
        parse(&q, "app=YouTube class=software-update age>1.5 idle<30 qoe<60", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(q.n, 5);
    CU_ASSERT_STRING_EQUAL(q.f[0].name, "youtube");
    CU_ASSERT_EQUAL(q.f[1].value, FP_APP_CLASS_SOFTWARE_UPDATE);
    CU_ASSERT_EQUAL(q.f[2].kind, FP_CONTROL_F_AGE);
    CU_ASSERT_EQUAL(q.f[2].ns, 1500000000ull);
    CU_ASSERT_EQUAL(q.f[3].kind, FP_CONTROL_F_IDLE);
    CU_ASSERT_EQUAL(q.f[3].ns, 30 * NS);
    CU_ASSERT_EQUAL(q.f[4].kind, FP_CONTROL_F_QOE);
    CU_ASSERT_EQUAL(q.f[4].value, 60);

    CU_ASSERT_EQUAL_FATAL(parse(&q, "--limit 7 --sort bytes proto=tcp", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(q.limit, 7);
    CU_ASSERT_EQUAL(q.sort, FP_CONTROL_SORT_BYTES);
    CU_ASSERT_EQUAL(q.n, 1);
    CU_ASSERT_EQUAL_FATAL(parse(&q, "--limit=10000 --sort=last", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(q.limit, 10000);
    CU_ASSERT_EQUAL(q.sort, FP_CONTROL_SORT_LAST);
    CU_ASSERT_EQUAL_FATAL(parse(&q, "--sort packets", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(q.sort, FP_CONTROL_SORT_PACKETS);
}

static void test_parse_errors(void)
{
    expect_parse_error("srcip=10.0.0.1", "\"srcip=10.0.0.1\": unknown filter");
    expect_parse_error("proto=tcp bogus", "\"bogus\"");
    expect_parse_error("src=10.0.0.300", "\"src=10.0.0.300\": bad address");
    expect_parse_error("src=", "\"src=\"");
    expect_parse_error("dst=10.0.0.0/33", "\"dst=10.0.0.0/33\": bad prefix length");
    expect_parse_error("dst=10.0.0.0/", "\"dst=10.0.0.0/\"");
    expect_parse_error("host=2001:db8::/129", "\"host=2001:db8::/129\": bad prefix length");
    expect_parse_error("host=2001:db8::/-1", "\"host=2001:db8::/-1\"");
    expect_parse_error("host=2001:db8:::1", "bad address");
    expect_parse_error("port=65536", "\"port=65536\": bad port");
    expect_parse_error("sport=-1", "\"sport=-1\"");
    expect_parse_error("dport=44x", "\"dport=44x\"");
    expect_parse_error("proto=foo", "\"proto=foo\": bad protocol");
    expect_parse_error("proto=256", "\"proto=256\"");
    expect_parse_error("class=cats", "\"class=cats\": unknown class");
    expect_parse_error("app=", "\"app=\"");
    expect_parse_error("app=abcdefghijklmnopqrstuvwxyz0123456789", "\"app=abcdefghij");
    expect_parse_error("age=5", "\"age=5\": expected age>VALUE");
    expect_parse_error("idle>5", "\"idle>5\": expected idle<VALUE");
    expect_parse_error("age>x", "\"age>x\": bad duration");
    expect_parse_error("age>1.", "\"age>1.\"");
    expect_parse_error("qoe<200", "\"qoe<200\": bad score");
    expect_parse_error("qoe=5", "\"qoe=5\"");
    expect_parse_error("--limit 0", "--limit \"0\"");
    expect_parse_error("--limit 10001", "--limit \"10001\"");
    expect_parse_error("--limit", "--limit: missing value");
    expect_parse_error("--sort size", "--sort \"size\"");
    expect_parse_error("--verbose", "\"--verbose\": unknown option");
    /* Five filters are fine, a sixth is refused and named. */
    struct fp_control_query q;
    char err[400];
    CU_ASSERT_EQUAL(parse(&q, "proto=tcp port=1 port=2 port=3 port=4", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(q.n, 5);
    expect_parse_error("proto=tcp port=1 port=2 port=3 port=4 port=5",
                       "\"port=5\": too many filters (at most 5");
}

/* ---- matching ------------------------------------------------------------------------------ */

static void test_match_addresses(void)
{
    struct fp_flow_record r4, r6;
    rec_v4(&r4);
    rec_v6(&r6);

    CU_ASSERT_TRUE(matches("", &r4, 0));
    CU_ASSERT_TRUE(matches("src=10.1.2.3", &r4, 0));
    CU_ASSERT_TRUE(matches("src=10.1.0.0/16", &r4, 0));
    CU_ASSERT_TRUE(matches("src=10.1.2.2/31", &r4, 0));
    CU_ASSERT_FALSE(matches("src=10.1.2.4/31", &r4, 0));
    CU_ASSERT_FALSE(matches("src=10.2.0.0/16", &r4, 0));
    CU_ASSERT_FALSE(matches("src=192.0.2.10", &r4, 0)); /* that is the destination */
    CU_ASSERT_TRUE(matches("dst=192.0.2.0/24", &r4, 0));
    CU_ASSERT_FALSE(matches("dst=10.1.2.3", &r4, 0));
    CU_ASSERT_TRUE(matches("host=10.1.2.3", &r4, 0));
    CU_ASSERT_TRUE(matches("host=192.0.2.10", &r4, 0));
    CU_ASSERT_FALSE(matches("host=192.0.2.11", &r4, 0));
    /* /0 matches every address of its own family only. */
    CU_ASSERT_TRUE(matches("src=0.0.0.0/0", &r4, 0));
    CU_ASSERT_FALSE(matches("src=0.0.0.0/0", &r6, 0));
    CU_ASSERT_TRUE(matches("src=::/0", &r6, 0));
    CU_ASSERT_FALSE(matches("src=::/0", &r4, 0));
    /* An IPv4-mapped or v6 prefix with the same leading bytes is not the v4 address. */
    CU_ASSERT_FALSE(matches("src=a01:203::/32", &r4, 0));

    CU_ASSERT_TRUE(matches("src=2001:db8::1", &r6, 0));
    CU_ASSERT_TRUE(matches("src=2001:db8::/32", &r6, 0));
    CU_ASSERT_TRUE(matches("dst=2001:db8:1::/48", &r6, 0));
    CU_ASSERT_FALSE(matches("dst=2001:db8:2::/48", &r6, 0));
    CU_ASSERT_TRUE(matches("dst=2001:db8::/46", &r6, 0));
    CU_ASSERT_FALSE(matches("dst=2001:db8:1::4/127", &r6, 0));
    CU_ASSERT_TRUE(matches("dst=2001:db8:1::3/127", &r6, 0));
    CU_ASSERT_TRUE(matches("dst=2001:db8:1::3/126", &r6, 0));
    CU_ASSERT_TRUE(matches("host=2001:db8:1::2", &r6, 0));
    CU_ASSERT_FALSE(matches("host=2001:db8:1::1", &r6, 0));
}

static void test_match_other_keys(void)
{
    struct fp_flow_record r4, r6, ri;
    rec_v4(&r4);
    rec_v6(&r6);
    rec_v4(&ri);
    ri.proto = 1;
    ri.sport = ri.dport = 0;

    CU_ASSERT_TRUE(matches("port=443", &r4, 0));
    CU_ASSERT_TRUE(matches("port=40000", &r4, 0));
    CU_ASSERT_FALSE(matches("port=53", &r4, 0));
    CU_ASSERT_TRUE(matches("sport=40000", &r4, 0));
    CU_ASSERT_FALSE(matches("sport=443", &r4, 0));
    CU_ASSERT_TRUE(matches("dport=443", &r4, 0));
    CU_ASSERT_FALSE(matches("dport=40000", &r4, 0));

    CU_ASSERT_TRUE(matches("proto=tcp", &r4, 0));
    CU_ASSERT_TRUE(matches("proto=6", &r4, 0));
    CU_ASSERT_FALSE(matches("proto=udp", &r4, 0));
    CU_ASSERT_TRUE(matches("proto=udp", &r6, 0));
    CU_ASSERT_TRUE(matches("proto=icmp", &ri, 0));
    ri.proto = 58;
    CU_ASSERT_TRUE(matches("proto=icmp", &ri, 0));
    CU_ASSERT_FALSE(matches("proto=1", &ri, 0));
    CU_ASSERT_FALSE(matches("proto=icmp", &r4, 0));

    CU_ASSERT_TRUE(matches("app=youtube", &r4, 0));
    CU_ASSERT_TRUE(matches("app=YOUTUBE", &r4, 0));
    CU_ASSERT_FALSE(matches("app=youtub", &r4, 0));
    CU_ASSERT_FALSE(matches("app=youtubex", &r4, 0));
    CU_ASSERT_FALSE(matches("app=unknown", &r4, 0));
    CU_ASSERT_TRUE(matches("app=unknown", &r6, 0));
    CU_ASSERT_TRUE(matches("class=video", &r4, 0));
    CU_ASSERT_FALSE(matches("class=web", &r4, 0));
    CU_ASSERT_TRUE(matches("class=unknown", &r6, 0));
    /* A full-length name (31 characters, no NUL before the end of the filter). */
    struct fp_flow_record rl = r4;
    memset(rl.app.name, 'a', sizeof(rl.app.name) - 1);
    rl.app.name[sizeof(rl.app.name) - 1] = '\0';
    CU_ASSERT_TRUE(matches("app=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &rl, 0));
    CU_ASSERT_FALSE(matches("app=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &rl, 0));

    /* Time: r4 first 100 s, last 130 s. now = 200 s: age 100 s, idle 70 s. */
    CU_ASSERT_TRUE(matches("age>99", &r4, 200 * NS));
    CU_ASSERT_FALSE(matches("age>100", &r4, 200 * NS));
    CU_ASSERT_TRUE(matches("age>99.999", &r4, 200 * NS));
    CU_ASSERT_TRUE(matches("idle<70.001", &r4, 200 * NS));
    CU_ASSERT_FALSE(matches("idle<70", &r4, 200 * NS));
    CU_ASSERT_FALSE(matches("age>0", &r4, 50 * NS)); /* clock behind the flow */
    CU_ASSERT_TRUE(matches("idle<1", &r4, 50 * NS));
    /* first = the earlier direction even when it is direction 1 */
    struct fp_flow_record rb = r4;
    rb.dir[0].first_ns = 150 * NS;
    CU_ASSERT_TRUE(matches("age>98", &rb, 200 * NS));
    CU_ASSERT_FALSE(matches("age>99", &rb, 200 * NS));
    /* only direction 1 seen */
    rb.dir[0].first_ns = rb.dir[0].last_ns = 0;
    CU_ASSERT_TRUE(matches("age>98", &rb, 200 * NS));

    CU_ASSERT_TRUE(matches("qoe<41", &r4, 0));
    CU_ASSERT_FALSE(matches("qoe<40", &r4, 0));
    CU_ASSERT_FALSE(matches("qoe<101", &r6, 0)); /* no score: never below */
}

static void test_match_combined(void)
{
    struct fp_flow_record r4, r6;
    rec_v4(&r4);
    rec_v6(&r6);
    const char *five = "src=10.0.0.0/8 dport=443 proto=tcp idle<100 qoe<50";
    CU_ASSERT_TRUE(matches(five, &r4, 200 * NS));
    CU_ASSERT_FALSE(matches(five, &r6, 200 * NS));
    /* each filter alone can veto */
    CU_ASSERT_FALSE(matches("src=11.0.0.0/8 dport=443 proto=tcp idle<100 qoe<50", &r4, 200 * NS));
    CU_ASSERT_FALSE(matches("src=10.0.0.0/8 dport=444 proto=tcp idle<100 qoe<50", &r4, 200 * NS));
    CU_ASSERT_FALSE(matches("src=10.0.0.0/8 dport=443 proto=udp idle<100 qoe<50", &r4, 200 * NS));
    CU_ASSERT_FALSE(matches("src=10.0.0.0/8 dport=443 proto=tcp idle<60 qoe<50", &r4, 200 * NS));
    CU_ASSERT_FALSE(matches("src=10.0.0.0/8 dport=443 proto=tcp idle<100 qoe<40", &r4, 200 * NS));
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void test_json_escaping(void)
{
    struct fp_control_json j = {0};
    /* quote, backslash, newline, tab, 0x01, DEL, valid UTF-8 (é, 😀), invalid byte 0xff,
     * truncated sequence 0xe2 0x82 at the end */
    fp_control_json_obj_begin(&j, NULL);
    fp_control_json_str(&j, "sni",
                        "a\"b\\c\nd\te\x01"
                        "f\x7f"
                        "\xc3\xa9\xf0\x9f\x98\x80\xff"
                        "g\xe2\x82");
    fp_control_json_obj_end(&j);
    CU_ASSERT_FALSE(j.failed);
    CU_ASSERT_STRING_EQUAL(j.buf, "{\"sni\":\"a\\\"b\\\\c\\nd\\te\\u0001f\\u007f"
                                  "\xc3\xa9\xf0\x9f\x98\x80\\ufffdg\\ufffd\\ufffd\"}");
    /* overlong "/" (0xc0 0xaf) and a surrogate (ed a0 80) are not passed through */
    fp_control_json_reset(&j);
    fp_control_json_str(&j, NULL, "\xc0\xaf\xed\xa0\x80");
    CU_ASSERT_STRING_EQUAL(j.buf, "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* strn stops at n bytes or the NUL */
    fp_control_json_reset(&j);
    fp_control_json_strn(&j, NULL, "abcdef", 3);
    CU_ASSERT_STRING_EQUAL(j.buf, "\"abc\"");
    /* nesting and commas */
    fp_control_json_reset(&j);
    fp_control_json_obj_begin(&j, NULL);
    fp_control_json_u64(&j, "a", 18446744073709551615ull);
    fp_control_json_arr_begin(&j, "b");
    fp_control_json_i64(&j, NULL, -5);
    fp_control_json_bool(&j, NULL, true);
    fp_control_json_obj_begin(&j, NULL);
    fp_control_json_obj_end(&j);
    fp_control_json_arr_end(&j);
    fp_control_json_time(&j, "t", 1700000000123456789ull);
    fp_control_json_obj_end(&j);
    CU_ASSERT_STRING_EQUAL(j.buf, "{\"a\":18446744073709551615,\"b\":[-5,true,{}],"
                                  "\"t\":\"2023-11-14T22:13:20.123Z\"}");
    fp_control_json_free(&j);
}

static void test_flow_json(void)
{
    struct fp_flow_record r;
    rec_v4(&r);
    snprintf(r.app.server_name, sizeof(r.app.server_name), "evil\"\n.example");
    r.n_vlan = 2;
    r.vlan[0] = 100;
    r.vlan[1] = 7;
    r.dir[0].tcp_flags = 0x02 | 0x10 | 0x01; /* SYN ACK FIN */
    r.dir[0].first_ns = 1700000000123000000ull;
    r.dir[0].last_ns = 1700000001999000000ull;
    r.dir[1].first_ns = r.dir[1].last_ns = 0;
    struct fp_control_json j = {0};
    fp_control_flow_json(&j, &r);
    CU_ASSERT_FALSE_FATAL(j.failed);
    const char *want[] = {
        "{\"src\":\"10.1.2.3\",\"dst\":\"192.0.2.10\",\"sport\":40000,\"dport\":443,\"proto\":6,",
        "\"packets\":[10,8],\"bytes\":[1000,9000]",
        "\"first\":\"2023-11-14T22:13:20.123Z\",\"first_ms\":1700000000123",
        "\"last\":\"2023-11-14T22:13:21.999Z\",\"last_ms\":1700000001999",
        "\"tcp_flags\":[\"...A..SF\",\"........\"]",
        "\"vlan\":[100,7]",
        "\"app\":{\"name\":\"YouTube\",\"class\":\"video\",\"method\":\"none\"}",
        "\"server_name\":\"evil\\\"\\n.example\"",
        "\"qoe\":{\"score\":40}",
    };
    for (unsigned i = 0; i < FP_ARRAY_SIZE(want); i++) {
        if (!strstr(j.buf, want[i])) {
            fprintf(stderr, "\nflow JSON %s lacks %s\n", j.buf, want[i]);
            CU_FAIL("flow JSON member missing");
        }
    }
    CU_ASSERT_PTR_NULL(strchr(j.buf, '\n'));
    /* v6 without replies: address text, no tcp_flags, no qoe */
    rec_v6(&r);
    fp_control_json_reset(&j);
    fp_control_flow_json(&j, &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(j.buf, "\"src\":\"2001:db8::1\",\"dst\":\"2001:db8:1::2\""));
    CU_ASSERT_PTR_NULL(strstr(j.buf, "tcp_flags"));
    CU_ASSERT_PTR_NULL(strstr(j.buf, "\"qoe\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(j.buf, "\"app\":{\"name\":\"unknown\",\"class\":\"unknown\""));
    fp_control_json_free(&j);
}

static void test_pretty_and_end_parse(void)
{
    struct fp_control_json j = {0};
    CU_ASSERT_EQUAL(fp_control_json_pretty("{\"a\":[1,{\"b\":\"x,{y}\"}],\"c\":{}}", &j), 0);
    CU_ASSERT_STRING_EQUAL(j.buf, "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x,{y}\"\n    }\n"
                                  "  ],\n  \"c\": {}\n}\n");
    fp_control_json_reset(&j);
    CU_ASSERT_EQUAL(fp_control_json_pretty("{\"a\":[1}", &j), -EINVAL);
    fp_control_json_reset(&j);
    CU_ASSERT_EQUAL(fp_control_json_pretty("{\"a\":\"unterminated}", &j), -EINVAL);

    bool ok, usage;
    char err[64];
    fp_control_json_reset(&j);
    fp_control_end_error(&j, "\"x=1\": unknown\tfilter", true);
    CU_ASSERT_STRING_EQUAL(j.buf, "{\"ok\":false,\"error\":\"\\\"x=1\\\": unknown\\tfilter\","
                                  "\"usage\":true}\n");
    CU_ASSERT_EQUAL(fp_control_end_parse(j.buf, &ok, &usage, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_TRUE(usage);
    CU_ASSERT_STRING_EQUAL(err, "\"x=1\": unknown\tfilter");
    CU_ASSERT_EQUAL(
        fp_control_end_parse("{\"ok\":true,\"flows\":3}", &ok, &usage, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_FALSE(usage);
    CU_ASSERT_EQUAL(fp_control_end_parse("{\"src\":\"1.2.3.4\"}", &ok, &usage, err, sizeof(err)),
                    -EINVAL);
    fp_control_json_free(&j);
}

/* ---- dispatcher with fake callbacks ----------------------------------------------------- */

struct fake {
    struct fp_flow_record recs[3];
    int reload_ret;
    unsigned flows_calls;
    unsigned last_max_per_worker;
};

static void fake_status(void *arg, struct fp_control_status *st)
{
    (void)arg;
    snprintf(st->version, sizeof(st->version), "flowpulse test");
    st->start_ms = 1700000000000ull;
    st->now_ms = 1700000042000ull;
    st->flow_clock_ns = 200 * NS;
    st->workers = 2;
    st->ports = 1;
    st->running = true;
    st->packets_received = 1234;
    st->collectors_up = 1;
}

static void fake_stats(void *arg, struct fp_control_json *j)
{
    (void)arg;
    fp_control_json_u64(j, "counter", 77);
}

static unsigned fake_count(void *arg)
{
    (void)arg;
    return 1;
}

static void fake_collector(void *arg, unsigned i, struct fp_control_collector *c)
{
    (void)arg;
    (void)i;
    snprintf(c->url, sizeof(c->url), "udp://127.0.0.1:4739");
    snprintf(c->state, sizeof(c->state), "up");
    c->records = 5;
}

static int fake_reload(void *arg, char *err, size_t errlen)
{
    struct fake *f = arg;
    if (f->reload_ret)
        snprintf(err, errlen, "/etc/fp.conf:3: flow.idle_timeout: 0 s is out of range");
    return f->reload_ret;
}

/* Behaves like fp_capture_query_flows with 2 workers holding recs[0..2]. */
static int fake_flows(void *arg, bool (*match)(void *, const struct fp_flow_record *), void *marg,
                      struct fp_flow_record *out, unsigned max_per_worker, unsigned *n_out,
                      unsigned timeout_ms)
{
    struct fake *f = arg;
    (void)timeout_ms;
    f->flows_calls++;
    f->last_max_per_worker = max_per_worker;
    unsigned n = 0;
    for (unsigned i = 0; i < 3; i++)
        if (match(marg, &f->recs[i]) && n < 2 * max_per_worker)
            out[n++] = f->recs[i];
    *n_out = n;
    return 0;
}

static unsigned count_lines(const char *s)
{
    unsigned n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const char *last_line(const char *s)
{
    size_t l = strlen(s);
    if (l < 2)
        return s;
    const char *p = s + l - 2;
    while (p > s && p[-1] != '\n')
        p--;
    return p;
}

static void test_dispatch(void)
{
    struct fake f;
    memset(&f, 0, sizeof(f));
    rec_v4(&f.recs[0]);
    rec_v6(&f.recs[1]);
    rec_v4(&f.recs[2]);
    f.recs[2].dir[1].bytes = 1; /* fewer bytes than recs[0] */
    f.recs[2].sport = 40001;
    f.recs[2].worker = 1;
    struct fp_control_ops ops = {
        .status = fake_status,
        .stats = fake_stats,
        .collector_count = fake_count,
        .collector = fake_collector,
        .reload = fake_reload,
        .flows = fake_flows,
        .arg = &f,
    };
    struct fp_control_json out = {0};

    fp_control_handle_request(&ops, "status", &out);
    CU_ASSERT_EQUAL(count_lines(out.buf), 2);
    CU_ASSERT_STRING_EQUAL(last_line(out.buf), "{\"ok\":true}\n");
    CU_ASSERT_PTR_NOT_NULL(strstr(out.buf, "\"uptime_s\":42"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.buf, "\"mode\":\"live\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.buf, "\"received\":1234"));

    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "  stats \r", &out);
    CU_ASSERT_STRING_EQUAL(out.buf, "{\"counter\":77}\n{\"ok\":true}\n");

    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "collectors", &out);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out.buf, "{\"collectors\":[{\"index\":0,\"url\":\"udp://127.0.0.1:4739\""));
    CU_ASSERT_STRING_EQUAL(last_line(out.buf), "{\"ok\":true}\n");

    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "status now", &out);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out.buf, "{\"ok\":false,\"error\":\"status: unexpected argument"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.buf, "\"usage\":true}\n"));

    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "frobnicate", &out);
    CU_ASSERT_EQUAL(count_lines(out.buf), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.buf, "unknown command \\\"frobnicate\\\""));

    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "", &out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.buf, "\"usage\":true"));

    /* reload: the callback's error text reaches the client unchanged, not as usage */
    f.reload_ret = -EINVAL;
    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "reload", &out);
    CU_ASSERT_STRING_EQUAL(out.buf, "{\"ok\":false,\"error\":\"/etc/fp.conf:3: flow.idle_timeout: "
                                    "0 s is out of range\"}\n");
    f.reload_ret = 0;
    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "reload", &out);
    CU_ASSERT_STRING_EQUAL(out.buf, "{\"ok\":true,\"message\":\"configuration reloaded\"}\n");

    /* flows: filter, sort, limit; end line counts */
    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "flows proto=tcp --sort bytes", &out);
    CU_ASSERT_EQUAL(count_lines(out.buf), 3);
    const char *first = strstr(out.buf, "\"sport\":40000");
    const char *second = strstr(out.buf, "\"sport\":40001");
    CU_ASSERT_PTR_NOT_NULL(first);
    CU_ASSERT_PTR_NOT_NULL(second);
    CU_ASSERT_TRUE(first && second && first < second);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_line(out.buf), "{\"ok\":true,\"flows\":2,\"matched\":2,"
                                                      "\"truncated\":false"));
    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "flows --limit 1", &out);
    CU_ASSERT_EQUAL(count_lines(out.buf), 2);
    CU_ASSERT_EQUAL(f.last_max_per_worker, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_line(out.buf), "{\"ok\":true,\"flows\":1,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_line(out.buf), "\"truncated\":true"));
    /* the clock of the status callback drives age/idle: now 200 s, recs idle 70 s / 10 s */
    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "flows idle<20", &out);
    CU_ASSERT_EQUAL(count_lines(out.buf), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.buf, "\"src\":\"2001:db8::1\""));
    /* a bad filter is a usage error and the workers are not asked */
    unsigned calls = f.flows_calls;
    fp_control_json_reset(&out);
    fp_control_handle_request(&ops, "flows src=1.2.3.4/40", &out);
    CU_ASSERT_EQUAL(f.flows_calls, calls);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.buf, "\\\"src=1.2.3.4/40\\\": bad prefix length"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.buf, "\"usage\":true"));
    fp_control_json_free(&out);
}

/* ---- socket server ------------------------------------------------------------------------ */

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -1;
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send a request, read the whole answer (up to 5 s). */
static int ask(const char *path, const char *req, char *buf, size_t size)
{
    int fd = connect_to(path);
    if (fd < 0)
        return -1;
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    size_t n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fd);
    return (int)n;
}

static void test_server(void)
{
    char dir[] = "/tmp/fp-control-test.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[100];
    snprintf(path, sizeof(path), "%.60s/sub/dir/ctl.sock", dir);
    struct fake f;
    memset(&f, 0, sizeof(f));
    struct fp_control_ops ops = {
        .status = fake_status,
        .stats = fake_stats,
        .collector_count = fake_count,
        .collector = fake_collector,
        .reload = fake_reload,
        .flows = fake_flows,
        .arg = &f,
    };
    struct fp_control_params p = {.socket_path = path, .ops = &ops};
    struct fp_control *c = fp_control_start(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));
    CU_ASSERT_EQUAL(st.st_mode & 07777, 0660);

    char buf[4096];
    CU_ASSERT_TRUE(ask(path, "stats\n", buf, sizeof(buf)) > 0);
    CU_ASSERT_STRING_EQUAL(buf, "{\"counter\":77}\n{\"ok\":true}\n");

    /* A second daemon on the same path is refused while the first answers. */
    struct fp_control *c2 = fp_control_start(&p);
    CU_ASSERT_PTR_NULL(c2);
    CU_ASSERT_EQUAL(errno, EADDRINUSE);
    fp_control_stop(c2);

    /* A silent client holds the thread for at most the I/O timeout. */
    int idle = connect_to(path);
    CU_ASSERT_TRUE(idle >= 0);
    uint64_t t0 = fp_time_monotonic_ns();
    CU_ASSERT_TRUE(ask(path, "stats\n", buf, sizeof(buf)) > 0);
    uint64_t waited_ms = (fp_time_monotonic_ns() - t0) / FP_NS_PER_MS;
    CU_ASSERT_STRING_EQUAL(buf, "{\"counter\":77}\n{\"ok\":true}\n");
    CU_ASSERT_TRUE(waited_ms < FP_CONTROL_IO_TIMEOUT_MS + 1500);
    if (idle >= 0)
        close(idle);

    /* Overlong request line */
    static char big[FP_CONTROL_LINE_MAX + 100];
    memset(big, 'a', sizeof(big) - 2);
    big[sizeof(big) - 2] = '\n';
    CU_ASSERT_TRUE(ask(path, big, buf, sizeof(buf)) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "request line too long"));

    fp_control_stop(c);
    CU_ASSERT_NOT_EQUAL(stat(path, &st), 0); /* removed at stop */

    /* A stale socket file (nobody listening) is replaced. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path));
    CU_ASSERT_EQUAL(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    c = fp_control_start(&p);
    CU_ASSERT_PTR_NOT_NULL(c);
    CU_ASSERT_TRUE(ask(path, "status\n", buf, sizeof(buf)) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"version\":\"flowpulse test\""));
    fp_control_stop(c);

    /* A regular file is never removed. */
    FILE *fp = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fclose(fp);
    c = fp_control_start(&p);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_EQUAL(errno, EEXIST);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    unlink(path);

    char d[300];
    snprintf(d, sizeof(d), "%s/sub/dir", dir);
    rmdir(d);
    snprintf(d, sizeof(d), "%s/sub", dir);
    rmdir(d);
    rmdir(dir);
}

void fp_test_register_control(void);
void fp_test_register_control(void)
{
    static CU_TestInfo tests[] = {
        {"parse_keys", test_parse_keys},
        {"parse_errors", test_parse_errors},
        {"match_addresses", test_match_addresses},
        {"match_other_keys", test_match_other_keys},
        {"match_combined", test_match_combined},
        {"json_escaping", test_json_escaping},
        {"flow_json", test_flow_json},
        {"pretty_and_end_parse", test_pretty_and_end_parse},
        {"dispatch", test_dispatch},
        {"server", test_server},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("control", tests);
}
