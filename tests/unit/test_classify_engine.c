/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests of the classification engine: class table (and its agreement with the shared
 * taxonomy), operator rules, the DNS answer cache, the inspection-context pool, the decision
 * order, and end-to-end runs over real captures of ../shared/pcaps through the real flow
 * cache (skipped with a message when the folder is absent). */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_engine.h"
#include "decode/decode.h"
#include "flow/flow.h"
#include "tests/unit/fp_test.h"

#define TAXONOMY "../shared/taxonomy/app-classes.tsv"
#define PCAPS "../shared/pcaps/"
#define CONF_TABLE "conf/app-classes.conf"

static char err[256];

/* ---- class table --------------------------------------------------------------------- */

static void test_class_names(void)
{
    CU_ASSERT_EQUAL(fp_app_class_from_name("video"), FP_APP_CLASS_VIDEO);
    CU_ASSERT_EQUAL(fp_app_class_from_name("software-update"), FP_APP_CLASS_SOFTWARE_UPDATE);
    CU_ASSERT_EQUAL(fp_app_class_from_name("infrastructure"), FP_APP_CLASS_INFRASTRUCTURE);
    CU_ASSERT_EQUAL(fp_app_class_from_name("Video"), -EINVAL);
    CU_ASSERT_EQUAL(fp_app_class_from_name("streaming"), -EINVAL);
    CU_ASSERT_EQUAL(fp_app_class_from_name(NULL), -EINVAL);
    CU_ASSERT_STRING_EQUAL(fp_app_method_names[FP_APP_METHOD_SNI], "sni");
    /* Confidence is ordered: rule > DPI > SNI > Host > DNS > port > none. */
    CU_ASSERT_EQUAL(fp_classify_method_confidence(FP_APP_METHOD_RULE), 100);
    CU_ASSERT(fp_classify_method_confidence(FP_APP_METHOD_DPI) >
              fp_classify_method_confidence(FP_APP_METHOD_SNI));
    CU_ASSERT(fp_classify_method_confidence(FP_APP_METHOD_SNI) >
              fp_classify_method_confidence(FP_APP_METHOD_DNS));
    CU_ASSERT(fp_classify_method_confidence(FP_APP_METHOD_DNS) >
              fp_classify_method_confidence(FP_APP_METHOD_PORT));
    CU_ASSERT_EQUAL(fp_classify_method_confidence(FP_APP_METHOD_NONE), 0);
}

static void test_class_table_parse(void)
{
    const char *text = "# comment\n"
                       "YouTube\tvideo\n"
                       "  Zoom   conferencing  # trailing comment\n"
                       "YouTube\tweb\n" /* duplicate: the first row wins */
                       "category:Media\tvideo\n"
                       "host:example-video.test\tYouTube\n"
                       "host:a.b.test\tZoom\n"
                       "host:b.test\tSteam\n"
                       "\n";
    struct fp_classify_classes *c = fp_classify_classes_parse(text, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(fp_classify_classes_count(c), 3);
    CU_ASSERT_EQUAL(fp_classify_classes_app(c, "YouTube"), FP_APP_CLASS_VIDEO);
    CU_ASSERT_EQUAL(fp_classify_classes_app(c, "Zoom"), FP_APP_CLASS_CONFERENCING);
    CU_ASSERT_EQUAL(fp_classify_classes_app(c, "youtube"), -ENOENT); /* exact case */
    CU_ASSERT_EQUAL(fp_classify_classes_app(c, "Media"), -ENOENT);
    CU_ASSERT_EQUAL(fp_classify_classes_app(c, "category:Media"), -ENOENT);
    CU_ASSERT_EQUAL(fp_classify_classes_category(c, "Media"), FP_APP_CLASS_VIDEO);
    CU_ASSERT_EQUAL(fp_classify_classes_category(c, "Web"), -ENOENT);
    CU_ASSERT_EQUAL(fp_classify_classes_host_count(c), 3);
    int r = fp_classify_classes_host(c, "cdn1.Example-Video.TEST");
    CU_ASSERT_FATAL(r >= 0);
    CU_ASSERT_STRING_EQUAL(fp_classify_classes_host_app(c, (unsigned)r), "YouTube");
    CU_ASSERT_EQUAL(fp_classify_classes_host(c, "notexample-video.test"), -ENOENT);
    CU_ASSERT_EQUAL(fp_classify_classes_host(c, "video.test"), -ENOENT);
    /* The longest suffix wins. */
    r = fp_classify_classes_host(c, "x.a.b.test");
    CU_ASSERT_FATAL(r >= 0);
    CU_ASSERT_STRING_EQUAL(fp_classify_classes_host_app(c, (unsigned)r), "Zoom");
    r = fp_classify_classes_host(c, "x.b.test");
    CU_ASSERT_FATAL(r >= 0);
    CU_ASSERT_STRING_EQUAL(fp_classify_classes_host_app(c, (unsigned)r), "Steam");
    fp_classify_classes_destroy(c);

    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"YouTube\tstreaming\n", "line 1: unknown class \"streaming\""},
        {"ok\tweb\nYouTube\n", "line 2: expected NAME CLASS"},
        {"YouTube video extra\n", "line 1: expected NAME CLASS"},
        {"host:\tYouTube\n", "line 1: empty host suffix"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CU_ASSERT_PTR_NULL(fp_classify_classes_parse(bad[i].text, err, sizeof(err)));
        CU_ASSERT_EQUAL(errno, EINVAL);
        CU_ASSERT_STRING_EQUAL(err, bad[i].msg);
    }
    CU_ASSERT_PTR_NULL(fp_classify_classes_load("/nonexistent/classes.conf", err, sizeof(err)));
    CU_ASSERT_EQUAL(errno, ENOENT);
}

/* Every row of the shared taxonomy is in conf/app-classes.conf and in the built-in table,
 * with the same class. */
static void check_taxonomy_agreement(const struct fp_classify_classes *c, const char *what)
{
    FILE *f = fopen(TAXONOMY, "r");
    if (!f) {
        printf("\n  [classify_engine] %s absent: taxonomy agreement skipped\n", TAXONOMY);
        return;
    }
    char line[512];
    unsigned rows = 0, bad = 0;
    while (fgets(line, sizeof(line), f)) {
        char name[256], cls[64];
        if (line[0] == '#' || sscanf(line, "%255s %63s", name, cls) != 2)
            continue;
        int want = fp_app_class_from_name(cls);
        CU_ASSERT(want >= 0); /* the taxonomy only uses FlowPulse classes */
        int got = strncmp(name, "category:", 9) == 0 ? fp_classify_classes_category(c, name + 9)
                                                     : fp_classify_classes_app(c, name);
        if (got != want) {
            printf("\n  [classify_engine] %s: %s is %s in the taxonomy, %d here\n", what, name, cls,
                   got);
            bad++;
        }
        rows++;
    }
    fclose(f);
    CU_ASSERT(rows > 100);
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_class_table_taxonomy(void)
{
    struct fp_classify_classes *builtin = fp_classify_classes_load(NULL, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(builtin);
    check_taxonomy_agreement(builtin, "built-in table");
    /* The built-in copy is conf/app-classes.conf (when run from the repository root). */
    struct fp_classify_classes *file = fp_classify_classes_load(CONF_TABLE, err, sizeof(err));
    if (file) {
        check_taxonomy_agreement(file, CONF_TABLE);
        CU_ASSERT_EQUAL(fp_classify_classes_count(file), fp_classify_classes_count(builtin));
        CU_ASSERT_EQUAL(fp_classify_classes_host_count(file),
                        fp_classify_classes_host_count(builtin));
        fp_classify_classes_destroy(file);
    } else {
        printf("\n  [classify_engine] %s not found (run from the repository root)\n", CONF_TABLE);
    }
    /* Independent spot checks of FlowPulse's own rows. */
    CU_ASSERT_EQUAL(fp_classify_classes_app(builtin, "BitTorrent"), -ENOENT);
    CU_ASSERT_EQUAL(fp_classify_classes_category(builtin, "Download"), FP_APP_CLASS_FILE_STORAGE);
    int r = fp_classify_classes_host(builtin, "rr3---sn-4g5e6nsz.googlevideo.com");
    CU_ASSERT_FATAL(r >= 0);
    CU_ASSERT_STRING_EQUAL(fp_classify_classes_host_app(builtin, (unsigned)r), "YouTube");
    /* Every host row names an application that has a class (its own row or nDPI's
     * category is checked by the engine; here: at least the listed ones). */
    unsigned listed = 0;
    for (unsigned i = 0; i < fp_classify_classes_host_count(builtin); i++)
        listed += fp_classify_classes_app(builtin, fp_classify_classes_host_app(builtin, i)) >= 0;
    CU_ASSERT(listed > fp_classify_classes_host_count(builtin) * 9 / 10);
    fp_classify_classes_destroy(builtin);
}

/* ---- rules ---------------------------------------------------------------------------- */

static void test_rules(void)
{
    CU_ASSERT_TRUE(fp_classify_name_suffix_match("a.corp.example", "corp.example"));
    CU_ASSERT_TRUE(fp_classify_name_suffix_match("corp.example", "corp.example"));
    CU_ASSERT_TRUE(fp_classify_name_suffix_match("A.CORP.Example", "corp.example"));
    CU_ASSERT_FALSE(fp_classify_name_suffix_match("xcorp.example", "corp.example"));
    CU_ASSERT_FALSE(fp_classify_name_suffix_match("example", "corp.example"));
    CU_ASSERT_FALSE(fp_classify_name_suffix_match("a.corp.example", ""));

    const struct fp_classify_rule_spec specs[] = {
        {.name_suffix = "*.corp.example", .app = "Corp", .cls = "web"},
        {.prefix = "10.1.0.0/16", .port = 3389, .proto = 6, .app = "RDP", .cls = "remote-access"},
        {.prefix = "10.0.0.0/8", .app = "Lan", .cls = "infrastructure"},
        {.prefix = "2001:db8:40::/42", .app = "V6", .cls = "vpn"},
        {.port = 27015, .proto = 17, .app = "Game", .cls = "gaming"},
    };
    struct fp_classify_rules *rs = fp_classify_rules_create(specs, 5, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    CU_ASSERT_EQUAL(fp_classify_rules_count(rs), 5);
    uint8_t a_cli[16] = {192, 0, 2, 1}, a_rdp[16] = {10, 1, 2, 3}, a_lan[16] = {10, 9, 9, 9};
    uint8_t a_pub[16] = {198, 51, 100, 7};
    struct fp_classify_rule_input in = {
        .names = {"www.corp.example", NULL, NULL},
        .addr = {a_cli, a_rdp},
        .ip_version = 4,
        .proto = 6,
        .server_port = 3389,
    };
    /* Precedence: the first matching rule in configuration order. */
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), 0);
    in.names[0] = NULL;
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), 1);
    CU_ASSERT_STRING_EQUAL(fp_classify_rules_app(rs, 1), "RDP");
    CU_ASSERT_EQUAL(fp_classify_rules_class(rs, 1), FP_APP_CLASS_REMOTE_ACCESS);
    in.server_port = 3390; /* port differs: the /8 rule */
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), 2);
    in.proto = 17;
    in.server_port = 3389; /* protocol differs */
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), 2);
    in.addr[1] = a_lan;
    in.addr[0] = a_pub; /* a prefix matches either end */
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), 2);
    in.addr[0] = a_lan;
    in.addr[1] = a_pub;
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), 2);
    in.addr[0] = a_cli;
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), -ENOENT);
    in.server_port = 27015;
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), 4);
    in.names[2] = "files.corp.example"; /* the DNS name counts as well */
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), 0);
    /* IPv6 prefix of 42 bits: 2001:db8:40:: .. 2001:db8:7f:ffff:: */
    uint8_t v6a[16], v6b[16];
    inet_pton(AF_INET6, "2001:db8:7f:ffff::1", v6a);
    inet_pton(AF_INET6, "2001:db8:80::1", v6b);
    struct fp_classify_rule_input in6 = {
        .addr = {v6b, v6a}, .ip_version = 6, .proto = 6, .server_port = 443};
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in6), 3);
    in6.addr[1] = v6b;
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in6), -ENOENT);
    in6.ip_version = 4; /* an IPv4 rule never matches IPv6 and back */
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in6), -ENOENT);
    fp_classify_rules_destroy(rs);

    static const struct {
        struct fp_classify_rule_spec s;
        const char *msg;
    } bad[] = {
        {{.app = "X", .cls = "web"},
         "rules[0]: needs a criterion (name_suffix, prefix, port or "
         "proto)"},
        {{.port = 1, .cls = "web"}, "rules[0]: app is required"},
        {{.port = 1, .app = "X", .cls = "fast"}, "rules[0]: class is not a FlowPulse class"},
        {{.prefix = "10.1.2.3/8", .app = "X", .cls = "web"},
         "rules[0]: prefix is not ADDRESS[/LEN] with zero host bits"},
        {{.prefix = "10.0.0.0/33", .app = "X", .cls = "web"},
         "rules[0]: prefix is not ADDRESS[/LEN] with zero host bits"},
        {{.prefix = "nonsense", .app = "X", .cls = "web"},
         "rules[0]: prefix is not ADDRESS[/LEN] with zero host bits"},
        {{.port = 65536, .app = "X", .cls = "web"}, "rules[0]: port out of range 0..65535"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CU_ASSERT_PTR_NULL(fp_classify_rules_create(&bad[i].s, 1, err, sizeof(err)));
        CU_ASSERT_STRING_EQUAL(err, bad[i].msg);
    }
    /* An empty rule set matches nothing. */
    rs = fp_classify_rules_create(NULL, 0, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    CU_ASSERT_EQUAL(fp_classify_rules_match(rs, &in), -ENOENT);
    fp_classify_rules_destroy(rs);
}

/* ---- DNS cache ------------------------------------------------------------------------ */

#define SEC 1000000000ull

static void test_dns_cache(void)
{
    CU_ASSERT_PTR_NULL(fp_classify_dns_cache_create(3, false));
    /* 4 entries: one set of 4 ways, so every address competes for the same slots. */
    struct fp_classify_dns_cache *c = fp_classify_dns_cache_create(4, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    uint8_t a[6][16] = {
        {192, 0, 2, 1}, {192, 0, 2, 2}, {192, 0, 2, 3}, {192, 0, 2, 4}, {192, 0, 2, 5}};
    inet_pton(AF_INET6, "2001:db8::1", a[5]);
    uint64_t t = 1000 * SEC;
    CU_ASSERT_PTR_NULL(fp_classify_dns_cache_lookup(c, 4, a[0], t));
    fp_classify_dns_cache_insert(c, 4, a[0], "one.example", 300, t);
    fp_classify_dns_cache_insert(c, 6, a[5], "six.example", 300, t);
    const char *n = fp_classify_dns_cache_lookup(c, 4, a[0], t + SEC);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_STRING_EQUAL(n, "one.example");
    n = fp_classify_dns_cache_lookup(c, 6, a[5], t + SEC);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_STRING_EQUAL(n, "six.example");
    /* Same bytes, other family: not found. */
    CU_ASSERT_PTR_NULL(fp_classify_dns_cache_lookup(c, 6, a[0], t + SEC));
    /* TTL: valid until t + 300 s, gone after. */
    CU_ASSERT_PTR_NOT_NULL(fp_classify_dns_cache_lookup(c, 4, a[0], t + 299 * SEC));
    CU_ASSERT_PTR_NULL(fp_classify_dns_cache_lookup(c, 4, a[0], t + 301 * SEC));
    CU_ASSERT_EQUAL(fp_classify_dns_cache_stats(c)->expired, 1);
    /* A TTL of 0 is clamped to 30 s. */
    fp_classify_dns_cache_insert(c, 4, a[1], "zero.example", 0, t);
    CU_ASSERT_PTR_NOT_NULL(fp_classify_dns_cache_lookup(c, 4, a[1], t + 29 * SEC));
    CU_ASSERT_PTR_NULL(fp_classify_dns_cache_lookup(c, 4, a[1], t + 31 * SEC));
    /* A later answer refreshes the entry (new name, new TTL). */
    fp_classify_dns_cache_insert(c, 4, a[0], "uno.example", 60, t + 400 * SEC);
    n = fp_classify_dns_cache_lookup(c, 4, a[0], t + 401 * SEC);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_STRING_EQUAL(n, "uno.example");
    fp_classify_dns_cache_destroy(c);

    /* LRU: fill the 4 ways, touch the oldest, insert a 5th: the least recently used goes. */
    c = fp_classify_dns_cache_create(4, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char name[32];
    for (unsigned i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "n%u.example", i);
        fp_classify_dns_cache_insert(c, 4, a[i], name, 3600, t + i);
    }
    CU_ASSERT_PTR_NOT_NULL(fp_classify_dns_cache_lookup(c, 4, a[0], t + 10));
    fp_classify_dns_cache_insert(c, 4, a[4], "n4.example", 3600, t + 11);
    CU_ASSERT_EQUAL(fp_classify_dns_cache_stats(c)->evictions, 1);
    CU_ASSERT_PTR_NOT_NULL(fp_classify_dns_cache_lookup(c, 4, a[0], t + 12));
    CU_ASSERT_PTR_NULL(fp_classify_dns_cache_lookup(c, 4, a[1], t + 12)); /* evicted */
    CU_ASSERT_PTR_NOT_NULL(fp_classify_dns_cache_lookup(c, 4, a[2], t + 12));
    CU_ASSERT_PTR_NOT_NULL(fp_classify_dns_cache_lookup(c, 4, a[4], t + 12));
    /* Names that do not fit are not stored (a cut name is another name). */
    char longname[80];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    fp_classify_dns_cache_insert(c, 4, a[3], longname, 3600, t + 13);
    CU_ASSERT_EQUAL(fp_classify_dns_cache_stats(c)->too_long, 1);
    n = fp_classify_dns_cache_lookup(c, 4, a[3], t + 14);
    CU_ASSERT(n == NULL || strcmp(n, longname) != 0);
    fp_classify_dns_cache_destroy(c);
    fp_classify_dns_cache_destroy(NULL);
}

/* ---- synthetic packets ----------------------------------------------------------------- */

struct pkt {
    uint8_t frame[1600];
    uint32_t len;
    struct fp_pkt_meta m;
};

/* Ethernet + IPv4 + TCP (flags) or UDP, payload; decoded by the real decoder. */
static void build_v4(struct pkt *p, uint8_t proto, const uint8_t src[4], uint16_t sport,
                     const uint8_t dst[4], uint16_t dport, uint8_t tcp_flags, uint32_t seq,
                     const uint8_t *pl, uint16_t plen)
{
    memset(p, 0, sizeof(*p));
    uint8_t *f = p->frame;
    f[12] = 0x08; /* EtherType IPv4 */
    uint8_t *ip = f + 14;
    unsigned l4len = proto == 6 ? 20u : 8u;
    unsigned tot = 20 + l4len + plen;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    uint8_t *l4 = ip + 20;
    l4[0] = (uint8_t)(sport >> 8);
    l4[1] = (uint8_t)sport;
    l4[2] = (uint8_t)(dport >> 8);
    l4[3] = (uint8_t)dport;
    if (proto == 6) {
        l4[4] = (uint8_t)(seq >> 24);
        l4[5] = (uint8_t)(seq >> 16);
        l4[6] = (uint8_t)(seq >> 8);
        l4[7] = (uint8_t)seq;
        l4[12] = 0x50;
        l4[13] = tcp_flags;
        l4[14] = 0xff;
        l4[15] = 0xff;
    } else {
        l4[4] = (uint8_t)((8 + plen) >> 8);
        l4[5] = (uint8_t)(8 + plen);
    }
    if (plen)
        memcpy(l4 + l4len, pl, plen);
    p->len = 14 + tot;
    struct fp_decode_params dp;
    fp_decode_params_default(&dp);
    CU_ASSERT_EQUAL_FATAL(fp_decode_packet(p->frame, p->len, &dp, &p->m), FP_DECODE_OK);
}

/* A TLS ClientHello record with the server_name extension. */
static uint16_t client_hello(uint8_t *b, const char *sni)
{
    size_t sl = strlen(sni);
    unsigned ext_len = 4 + 2 + 1 + 2 + (unsigned)sl;
    unsigned body = 2 + 32 + 1 + 4 + 2 + 2 + ext_len;
    unsigned i = 0;
    b[i++] = 22;
    b[i++] = 3;
    b[i++] = 1;
    b[i++] = (uint8_t)((body + 4) >> 8);
    b[i++] = (uint8_t)(body + 4);
    b[i++] = 1;
    b[i++] = 0;
    b[i++] = (uint8_t)(body >> 8);
    b[i++] = (uint8_t)body;
    b[i++] = 3;
    b[i++] = 3;
    for (unsigned k = 0; k < 32; k++)
        b[i++] = (uint8_t)(k * 7 + 1);
    b[i++] = 0;             /* session id */
    b[i++] = 0, b[i++] = 2; /* cipher suites */
    b[i++] = 0x13, b[i++] = 0x01;
    b[i++] = 1, b[i++] = 0;           /* compression */
    b[i++] = (uint8_t)(ext_len >> 8); /* extensions */
    b[i++] = (uint8_t)ext_len;
    b[i++] = 0, b[i++] = 0; /* server_name */
    b[i++] = (uint8_t)((sl + 5) >> 8);
    b[i++] = (uint8_t)(sl + 5);
    b[i++] = (uint8_t)((sl + 3) >> 8);
    b[i++] = (uint8_t)(sl + 3);
    b[i++] = 0;
    b[i++] = (uint8_t)(sl >> 8);
    b[i++] = (uint8_t)sl;
    memcpy(b + i, sni, sl);
    return (uint16_t)(i + sl);
}

/* A DNS response: question qname/A, one A answer. */
static uint16_t dns_response(uint8_t *b, const char *qname, const uint8_t addr[4], uint32_t ttl)
{
    unsigned i = 0;
    static const uint8_t hdr[12] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    memcpy(b, hdr, 12);
    i = 12;
    const char *p = qname;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        b[i++] = (uint8_t)l;
        memcpy(b + i, p, l);
        i += (unsigned)l;
        p += l + (dot ? 1 : 0);
    }
    b[i++] = 0;
    b[i++] = 0, b[i++] = 1, b[i++] = 0, b[i++] = 1; /* A IN */
    b[i++] = 0xc0, b[i++] = 12;                     /* pointer to the qname */
    b[i++] = 0, b[i++] = 1, b[i++] = 0, b[i++] = 1;
    b[i++] = (uint8_t)(ttl >> 24), b[i++] = (uint8_t)(ttl >> 16);
    b[i++] = (uint8_t)(ttl >> 8), b[i++] = (uint8_t)ttl;
    b[i++] = 0, b[i++] = 4;
    memcpy(b + i, addr, 4);
    return (uint16_t)(i + 4);
}

struct engine_fixture {
    struct fp_classify_classes *classes;
    struct fp_classify_rules *rules;
    struct fp_classify_engine *e;
};

static void fixture_make(struct engine_fixture *fx, unsigned contexts, unsigned max_packets,
                         const struct fp_classify_rule_spec *rules, unsigned n_rules)
{
    memset(fx, 0, sizeof(*fx));
    fx->classes = fp_classify_classes_load(NULL, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(fx->classes);
    fx->rules = fp_classify_rules_create(rules, n_rules, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(fx->rules);
    struct fp_classify_params p = {
        .max_packets = max_packets,
        .contexts = contexts,
        .dns_cache = 1024,
        .classes = fx->classes,
        .rules = fx->rules,
        .prefault = max_packets != 5, /* both ways of mapping the pool are used */
    };
    fx->e = fp_classify_engine_create(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fx->e);
}

static void fixture_free(struct engine_fixture *fx)
{
    fp_classify_engine_destroy(fx->e);
    fp_classify_rules_destroy(fx->rules);
    fp_classify_classes_destroy(fx->classes);
}

static const uint8_t CLI[4] = {192, 168, 1, 10};
static const uint8_t SRV[4] = {203, 0, 113, 7};
static const uint8_t DNSSRV[4] = {192, 168, 1, 1};

/* TCP handshake then a ClientHello: decided on the ClientHello. */
static bool tls_flow(struct fp_classify_engine *e, struct fp_classify_flow *f, uint16_t sport,
                     const char *sni)
{
    static struct pkt p;
    uint64_t t = 1000 * SEC;
    build_v4(&p, 6, CLI, sport, SRV, 443, 0x02, 100, NULL, 0);
    bool d = fp_classify_flow_packet(e, f, 0, &p.m, p.frame, t);
    build_v4(&p, 6, SRV, 443, CLI, sport, 0x12, 500, NULL, 0);
    d |= fp_classify_flow_packet(e, f, 1, &p.m, p.frame, t + 1000);
    uint8_t ch[600];
    uint16_t n = client_hello(ch, sni);
    build_v4(&p, 6, CLI, sport, SRV, 443, 0x18, 101, ch, n);
    d |= fp_classify_flow_packet(e, f, 0, &p.m, p.frame, t + 2000);
    return d;
}

static void test_engine_decide(void)
{
    struct engine_fixture fx;
    fixture_make(&fx, 4, 12, NULL, 0);
    const struct fp_classify_stats *st = fp_classify_engine_stats(fx.e);

    /* TLS with a YouTube server name: application YouTube, class video (taxonomy). */
    struct fp_classify_flow f1;
    memset(&f1, 0, sizeof(f1));
    CU_ASSERT_TRUE(tls_flow(fx.e, &f1, 40001, "rr4---sn-aigl6n7e.googlevideo.com"));
    CU_ASSERT_STRING_EQUAL(f1.app.server_name, "rr4---sn-aigl6n7e.googlevideo.com");
    CU_ASSERT_STRING_EQUAL(f1.app.name, "YouTube");
    CU_ASSERT_EQUAL(f1.app.cls, FP_APP_CLASS_VIDEO);
    CU_ASSERT_EQUAL(f1.app.method, FP_APP_METHOD_SNI);
    CU_ASSERT_EQUAL(f1.app.confidence, fp_classify_method_confidence(FP_APP_METHOD_SNI));
    CU_ASSERT_EQUAL(f1.app.inspected, 1);
    CU_ASSERT(f1.app.app_id != 0);
    CU_ASSERT_EQUAL(f1.ctx, 0); /* released as soon as decided */
    CU_ASSERT_EQUAL(st->ctx_in_use, 0);
    /* Decided: further packets change nothing. */
    static struct pkt p;
    build_v4(&p, 6, SRV, 443, CLI, 40001, 0x10, 501, (const uint8_t *)"xx", 2);
    CU_ASSERT_FALSE(fp_classify_flow_packet(fx.e, &f1, 1, &p.m, p.frame, 1001 * SEC));
    CU_ASSERT_STRING_EQUAL(f1.app.name, "YouTube");

    /* A DNS answer names a later flow to the answered address (method DNS). */
    struct fp_classify_flow fd;
    memset(&fd, 0, sizeof(fd));
    uint8_t q[512];
    uint16_t qn = dns_response(q, "api.dropboxapi.com", SRV, 300);
    q[2] = 0x01, q[3] = 0x00, q[7] = 0; /* the query: QR clear, no answer */
    build_v4(&p, 17, CLI, 5353 + 1, DNSSRV, 53, 0, 0, q, (uint16_t)(qn - 16));
    fp_classify_flow_packet(fx.e, &fd, 0, &p.m, p.frame, 1002 * SEC);
    qn = dns_response(q, "api.dropboxapi.com", SRV, 300);
    build_v4(&p, 17, DNSSRV, 53, CLI, 5353 + 1, 0, 0, q, qn);
    fp_classify_flow_packet(fx.e, &fd, 1, &p.m, p.frame, 1002 * SEC + 5000);
    fp_classify_flow_finish(fx.e, &fd);
    CU_ASSERT_STRING_EQUAL(fd.app.dns_name, "api.dropboxapi.com");
    CU_ASSERT_EQUAL(fp_classify_dns_cache_stats(fp_classify_engine_dns_cache(fx.e))->inserts, 1);
    fp_classify_flow_release(fx.e, &fd);

    uint64_t by_dns0 = st->by_dns, gave_up0 = st->gave_up;
    struct fp_classify_flow f2;
    memset(&f2, 0, sizeof(f2));
    for (unsigned i = 0; i < 12; i++) { /* payload-less packets until the cap */
        build_v4(&p, 6, CLI, 40002, SRV, 8443, i == 0 ? 0x02 : 0x10, 100, NULL, 0);
        fp_classify_flow_packet(fx.e, &f2, 0, &p.m, p.frame, 1003 * SEC + i);
    }
    CU_ASSERT_EQUAL(f2.state, 2);
    CU_ASSERT_STRING_EQUAL(f2.app.dns_name, "api.dropboxapi.com");
    CU_ASSERT_STRING_EQUAL(f2.app.name, "Dropbox");
    CU_ASSERT_EQUAL(f2.app.cls, FP_APP_CLASS_FILE_STORAGE);
    CU_ASSERT_EQUAL(f2.app.method, FP_APP_METHOD_DNS);
    CU_ASSERT_EQUAL(st->gave_up, gave_up0 + 1);
    CU_ASSERT_EQUAL(st->by_dns, by_dns0 + 1);
    CU_ASSERT_EQUAL(st->ctx_in_use, 0);
    /* The snapshot merges the DNS cache's counters into the engine's. */
    struct fp_classify_stats snap;
    fp_classify_engine_stats_read(fx.e, &snap);
    const struct fp_classify_dns_cache_stats *dc =
        fp_classify_dns_cache_stats(fp_classify_engine_dns_cache(fx.e));
    CU_ASSERT_EQUAL(snap.dns_cache_inserts, 1);
    CU_ASSERT(snap.dns_cache_lookups >= 1);  /* the second flow looked its server up */
    CU_ASSERT(snap.dns_cache_hits >= 1);     /* ... and found the name */
    CU_ASSERT_EQUAL(snap.dns_cache_lookups, dc->lookups);
    CU_ASSERT_EQUAL(snap.dns_cache_hits, dc->hits);
    CU_ASSERT_EQUAL(snap.by_dns, st->by_dns);
    CU_ASSERT_EQUAL(snap.flows, st->flows);
    CU_ASSERT_EQUAL(st->dns_cache_hits, 0); /* the engine's own block does not carry them */
    fixture_free(&fx);
}

static void test_engine_rules_first(void)
{
    const struct fp_classify_rule_spec rules[] = {
        {.name_suffix = "googlevideo.com", .app = "CorpVideo", .cls = "web"},
        {.port = 8443, .proto = 6, .app = "AltHttps", .cls = "remote-access"},
    };
    struct engine_fixture fx;
    fixture_make(&fx, 4, 12, rules, 2);
    struct fp_classify_flow f;
    memset(&f, 0, sizeof(f));
    CU_ASSERT_TRUE(tls_flow(fx.e, &f, 40003, "r1.googlevideo.com"));
    CU_ASSERT_STRING_EQUAL(f.app.name, "CorpVideo"); /* the rule wins over nDPI and SNI */
    CU_ASSERT_EQUAL(f.app.cls, FP_APP_CLASS_WEB);
    CU_ASSERT_EQUAL(f.app.method, FP_APP_METHOD_RULE);
    CU_ASSERT_EQUAL(f.app.confidence, 100);
    CU_ASSERT(f.app.app_id >= 0x8000); /* not an nDPI name */
    /* Port/protocol rule on a flow nothing else names. */
    memset(&f, 0, sizeof(f));
    static struct pkt p;
    for (unsigned i = 0; i < 12; i++) {
        build_v4(&p, 6, CLI, 40004, SRV, 8443, 0x10, 1, NULL, 0);
        fp_classify_flow_packet(fx.e, &f, 0, &p.m, p.frame, 1000 * SEC + i);
    }
    CU_ASSERT_STRING_EQUAL(f.app.name, "AltHttps");
    CU_ASSERT_EQUAL(f.app.cls, FP_APP_CLASS_REMOTE_ACCESS);
    CU_ASSERT_EQUAL(fp_classify_engine_stats(fx.e)->by_rule, 2);
    fixture_free(&fx);
}

static void test_engine_pool(void)
{
    struct engine_fixture fx;
    fixture_make(&fx, 2, 5, NULL, 0);
    const struct fp_classify_stats *st = fp_classify_engine_stats(fx.e);
    struct fp_classify_flow f[4];
    memset(f, 0, sizeof(f));
    static struct pkt p;
    /* Three flows start: the pool has two contexts, the third is not inspected. */
    for (unsigned i = 0; i < 3; i++) {
        build_v4(&p, 6, CLI, (uint16_t)(41000 + i), SRV, 443, 0x02, 1, NULL, 0);
        bool d = fp_classify_flow_packet(fx.e, &f[i], 0, &p.m, p.frame, 1000 * SEC);
        CU_ASSERT_EQUAL(d, i == 2);
    }
    CU_ASSERT_EQUAL(st->inspected, 2);
    CU_ASSERT_EQUAL(st->not_inspected_pool_empty, 1);
    CU_ASSERT_EQUAL(st->ctx_in_use, 2);
    CU_ASSERT_EQUAL(f[2].app.inspected, 0);
    CU_ASSERT_EQUAL(f[2].state, 2); /* decided without payload: port guess or unknown */
    CU_ASSERT(f[2].app.method == FP_APP_METHOD_PORT || f[2].app.method == FP_APP_METHOD_NONE);
    /* Flow end while inspecting: the context goes back. */
    CU_ASSERT_TRUE(fp_classify_flow_finish(fx.e, &f[0]));
    CU_ASSERT_EQUAL(st->ctx_in_use, 1);
    CU_ASSERT_EQUAL(st->ended_inspecting, 1);
    CU_ASSERT_FALSE(fp_classify_flow_finish(fx.e, &f[0])); /* already decided */
    fp_classify_flow_release(fx.e, &f[0]);
    CU_ASSERT_EQUAL(st->ctx_in_use, 1);
    /* A new flow gets the freed context; it is released at the packet cap (give up). */
    uint64_t gave_up0 = st->gave_up;
    for (unsigned i = 0; i < 5; i++) {
        build_v4(&p, 17, CLI, 41010, SRV, 40000, 0, 0, (const uint8_t *)"\x01\x02\x03", 3);
        fp_classify_flow_packet(fx.e, &f[3], 0, &p.m, p.frame, 1001 * SEC + i);
        if (i == 0)
            CU_ASSERT_EQUAL(st->ctx_in_use, 2);
    }
    CU_ASSERT_EQUAL(f[3].state, 2);
    CU_ASSERT_EQUAL(st->gave_up, gave_up0 + 1);
    CU_ASSERT_EQUAL(st->ctx_in_use, 1);
    /* Release of a flow still holding a context (flow leaves the cache). */
    fp_classify_flow_release(fx.e, &f[1]);
    CU_ASSERT_EQUAL(st->ctx_in_use, 0);
    CU_ASSERT_EQUAL(st->ctx_released, 3);
    /* All contexts are free again: two new flows are inspected. */
    struct fp_classify_flow g[2];
    memset(g, 0, sizeof(g));
    for (unsigned i = 0; i < 2; i++) {
        build_v4(&p, 6, CLI, (uint16_t)(42000 + i), SRV, 443, 0x02, 1, NULL, 0);
        fp_classify_flow_packet(fx.e, &g[i], 0, &p.m, p.frame, 1002 * SEC);
    }
    CU_ASSERT_EQUAL(st->inspected, 5);
    CU_ASSERT_EQUAL(st->not_inspected_pool_empty, 1);
    fixture_free(&fx); /* contexts still taken are freed with the engine (ASan: no leak) */

    struct fp_classify_params bad = {.max_packets = 0, .contexts = 1, .dns_cache = 4};
    CU_ASSERT_PTR_NULL(fp_classify_engine_create(&bad));
    CU_ASSERT_EQUAL(errno, EINVAL);
    fp_classify_engine_destroy(NULL);
}

/* ---- real captures through the real flow cache ---------------------------------------- */

#define E2E_MAX 4096

struct e2e_rec {
    struct fp_flow_record rec;
};

struct e2e {
    struct fp_classify_engine *e;
    struct e2e_rec *out;
    unsigned n;
};

static void e2e_packet(void *arg, void *state, unsigned dir, bool created,
                       const struct fp_pkt_meta *m, const uint8_t *frame, uint64_t ts_ns)
{
    struct e2e *x = arg;
    (void)created;
    fp_classify_flow_packet(x->e, state, dir, m, frame, ts_ns);
}

static void e2e_release(void *arg, void *state)
{
    struct e2e *x = arg;
    fp_classify_flow_release(x->e, state);
}

static void e2e_emit(void *arg, struct fp_flow_record *rec, void *ext, bool final)
{
    struct e2e *x = arg;
    (void) final;
    struct fp_classify_flow *f = ext;
    fp_classify_flow_finish(x->e, f);
    rec->app = f->app;
    if (x->n < E2E_MAX)
        x->out[x->n++].rec = *rec;
}

/* Run a capture; @return number of records, or -1 when the capture is absent. */
static int e2e_run(const char *name, unsigned contexts, struct e2e *x,
                   struct fp_classify_stats *st_out)
{
    char path[256], perr[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof(path), PCAPS "%s", name);
    pcap_t *pc = pcap_open_offline(path, perr);
    if (!pc) {
        printf("\n  [classify_engine] %s absent: end-to-end check skipped\n", path);
        return -1;
    }
    struct engine_fixture fx;
    fixture_make(&fx, contexts, 12, NULL, 0);
    x->e = fx.e;
    x->n = 0;
    struct fp_flow_table_params tp = {
        .capacity = 4096,
        .idle_timeout_ms = 3600000,
        .active_timeout_ms = 3600000,
        .tcp_end_ms = 1000,
        .frag_entries = 64,
        .sink = {.emit = e2e_emit, .arg = x},
        .ext = {.size = sizeof(struct fp_classify_flow),
                .packet = e2e_packet,
                .release = e2e_release,
                .arg = x},
    };
    struct fp_flow_table *ft = fp_flow_table_create(&tp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);
    struct fp_decode_params dp;
    fp_decode_params_default(&dp);
    CU_ASSERT_EQUAL(fp_decode_linktype_from_dlt(pcap_datalink(pc), &dp.link), 0);
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(pc, &h, &data) == 1) {
        struct fp_pkt_meta m;
        if (fp_decode_packet(data, h->caplen, &dp, &m) != FP_DECODE_OK)
            continue;
        uint64_t ts = (uint64_t)h->ts.tv_sec * SEC + (uint64_t)h->ts.tv_usec * 1000;
        const struct fp_pkt_meta *mp = &m;
        const uint8_t *fr = data;
        fp_flow_table_update_burst(ft, &mp, &fr, &ts, 0, 1);
    }
    pcap_close(pc);
    fp_flow_table_flush(ft, FP_END_FORCED);
    *st_out = *fp_classify_engine_stats(fx.e);
    fp_flow_table_destroy(ft);
    fixture_free(&fx);
    return (int)x->n;
}

static const struct fp_flow_record *find(const struct e2e *x, const char *addr, uint16_t port)
{
    uint8_t a[16] = {0};
    inet_pton(AF_INET, addr, a);
    for (unsigned i = 0; i < x->n; i++) {
        const struct fp_flow_record *r = &x->out[i].rec;
        if ((memcmp(r->dst, a, 4) == 0 && r->dport == port) ||
            (memcmp(r->src, a, 4) == 0 && r->sport == port))
            return r;
    }
    return NULL;
}

static void test_e2e_captures(void)
{
    struct e2e x;
    struct fp_classify_stats st;
    x.out = calloc(E2E_MAX, sizeof(*x.out));
    CU_ASSERT_PTR_NOT_NULL_FATAL(x.out);

    /* chrome.pcap: TLS to 146.48.58.18:443, SNI www.iit.cnr.it (reference/chrome.pcap.out);
     * TLS is web in the taxonomy. */
    if (e2e_run("chrome.pcap", 64, &x, &st) > 0) {
        const struct fp_flow_record *r = find(&x, "146.48.58.18", 443);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_STRING_EQUAL(r->app.server_name, "www.iit.cnr.it");
        CU_ASSERT_EQUAL(r->app.cls, FP_APP_CLASS_WEB);
        CU_ASSERT_STRING_EQUAL(r->app.name, "TLS");
        CU_ASSERT_EQUAL(r->app.inspected, 1);
        CU_ASSERT_EQUAL(st.ctx_in_use, 0);
        CU_ASSERT(st.sni_found >= 6);
    }
    /* 1kxun.pcap: 8.8.8.8 answers pic.1kxun.com = 106.187.35.246 and HTTP flows to that
     * address follow (reference/1kxun.pcap.out); 1kxun is video in the taxonomy. */
    if (e2e_run("1kxun.pcap", 256, &x, &st) > 0) {
        const struct fp_flow_record *r = find(&x, "106.187.35.246", 80);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_STRING_EQUAL(r->app.dns_name, "pic.1kxun.com");
        CU_ASSERT_EQUAL(r->app.cls, FP_APP_CLASS_VIDEO);
        CU_ASSERT_STRING_EQUAL(r->app.name, "1kxun");
        CU_ASSERT(st.dns_parsed > 0);
        CU_ASSERT_EQUAL(st.ctx_in_use, 0);
    }
    /* The same capture with one context: flows are not inspected, never stalled, and the
     * context is not leaked. */
    if (e2e_run("1kxun.pcap", 1, &x, &st) > 0) {
        CU_ASSERT(st.not_inspected_pool_empty > 0);
        CU_ASSERT_EQUAL(st.flows,
                        st.inspected + st.not_inspected_pool_empty + st.not_inspected_no_l4);
        CU_ASSERT_EQUAL(st.ctx_in_use, 0);
        CU_ASSERT_EQUAL(st.ctx_released, st.inspected);
    }
    /* quic-v2.pcapng: QUIC v2 Initial with SNI "test" (reference), which nDPI 4.2 does not
     * decode: our decryption names it and QUIC is web. */
    if (e2e_run("quic-v2.pcapng", 64, &x, &st) > 0) {
        CU_ASSERT_EQUAL_FATAL(x.n >= 1, 1);
        bool found = false;
        for (unsigned i = 0; i < x.n; i++) {
            const struct fp_flow_record *r = &x.out[i].rec;
            if (r->proto == 17 && (r->dport == 4443 || r->sport == 4443)) {
                found = true;
                CU_ASSERT_STRING_EQUAL(r->app.server_name, "test");
                CU_ASSERT_EQUAL(r->app.cls, FP_APP_CLASS_WEB);
            }
        }
        CU_ASSERT_TRUE(found);
    }
    free(x.out);
}

void fp_test_register_classify_engine(void);
void fp_test_register_classify_engine(void)
{
    static CU_TestInfo tests[] = {
        {"class_names", test_class_names},
        {"class_table_parse", test_class_table_parse},
        {"class_table_taxonomy", test_class_table_taxonomy},
        {"rules", test_rules},
        {"dns_cache", test_dns_cache},
        {"engine_decide", test_engine_decide},
        {"engine_rules_first", test_engine_rules_first},
        {"engine_pool", test_engine_pool},
        {"e2e_captures", test_e2e_captures},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("classify_engine", tests);
}
