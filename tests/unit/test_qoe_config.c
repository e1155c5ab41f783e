/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the QoE settings of the configuration (qoe.thresholds and the qoe.* knobs)
 * and their conversion to struct fp_qoe_params (fp_capture_qoe_params): defaults equal
 * fp_qoe_params_default, the built-in table written out in flowpulse.conf.example is that
 * table, good entries land in the right cell in the right unit, bad entries are refused with
 * FILE:LINE: qoe.thresholds[i].member: problem, and --dump-config round-trips them. Also the
 * classify.rules checks that now give FILE:LINE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture.h"
#include "config/config.h"
#include "config/config_internal.h"
#include "qoe/qoe.h"
#include "tests/unit/fp_test.h"

static char dir[64];
static char errbuf[512];

static const char *write_conf(const char *name, const char *text)
{
    static char path[128];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/fp_test_qoecfg.XXXXXX");
        CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void cleanup(void)
{
    char cmd[128];
    if (dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CU_ASSERT_EQUAL(system(cmd), 0);
        dir[0] = '\0';
    }
}

/* The metric names of the file, with the src/qoe metric each must mean (written here
 * independently of config.c's table). */
static const struct {
    const char *name;
    enum fp_qoe_metric m;
} metric_map[] = {
    {"rtt", FP_QOE_METRIC_RTT_US},
    {"art", FP_QOE_METRIC_ART_US},
    {"retx_permille", FP_QOE_METRIC_RETX_PERMILLE},
    {"tls_handshake", FP_QOE_METRIC_TLS_HS_US},
    {"dns_time", FP_QOE_METRIC_DNS_US},
    {"dns_fail", FP_QOE_METRIC_DNS_FAIL},
    {"mos", FP_QOE_METRIC_MOS_X100},
    {"rtp_loss_permille", FP_QOE_METRIC_RTP_LOSS_PERMILLE},
    {"rtp_jitter", FP_QOE_METRIC_RTP_JITTER_US},
    {"video_kbps", FP_QOE_METRIC_VIDEO_KBPS},
    {"video_stall_bins", FP_QOE_METRIC_VIDEO_STALL_BINS},
    {"game_latency", FP_QOE_METRIC_GAME_LAT_US},
    {"game_jitter", FP_QOE_METRIC_GAME_JITTER_US},
    {"game_spikes", FP_QOE_METRIC_GAME_SPIKES},
};

static const struct fp_config_list *thr_list(void)
{
    for (size_t i = 0; i < fp_config_n_lists; i++)
        if (strcmp(fp_config_lists[i].path, "qoe.thresholds") == 0)
            return &fp_config_lists[i];
    return NULL;
}

static const struct fp_config_setting *thr_member(const char *name)
{
    const struct fp_config_list *l = thr_list();
    for (size_t k = 0; l && k < l->n_elem; k++)
        if (strcmp(l->elem[k].path, name) == 0)
            return &l->elem[k];
    return NULL;
}

/* The enum tables of the file agree with src/qoe's enums. */
static void test_names_match_qoe(void)
{
    CU_ASSERT_EQUAL(FP_CONFIG_QOE_METRICS, FP_QOE_METRIC_MAX);
    CU_ASSERT_EQUAL(sizeof(metric_map) / sizeof(metric_map[0]), FP_QOE_METRIC_MAX);
    const struct fp_config_setting *ms = thr_member("metric"), *cs = thr_member("class");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ms);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cs);
    unsigned n = 0;
    for (const struct fp_config_enum *e = ms->enums; e->name; e++, n++) {
        bool found = false;
        for (size_t i = 0; i < sizeof(metric_map) / sizeof(metric_map[0]); i++)
            if (strcmp(metric_map[i].name, e->name) == 0) {
                found = true;
                CU_ASSERT_EQUAL(e->value, (long long)metric_map[i].m);
            }
        CU_ASSERT_TRUE(found);
    }
    CU_ASSERT_EQUAL(n, FP_QOE_METRIC_MAX);
    n = 0;
    for (const struct fp_config_enum *e = cs->enums; e->name; e++, n++) {
        CU_ASSERT_FATAL(e->value >= 0 && e->value < FP_QOE_CLASS_MAX);
        CU_ASSERT_STRING_EQUAL(e->name, fp_qoe_class_names[e->value]);
    }
    CU_ASSERT_EQUAL(n, FP_QOE_CLASS_MAX);
}

/* No qoe setting: the parameters are fp_qoe_params_default's. */
static void test_defaults_equal_qoe_default(void)
{
    struct fp_config c;
    struct fp_qoe_params want, got;
    fp_config_defaults(&c);
    CU_ASSERT_EQUAL(c.n_qoe_thresholds, 0);
    fp_qoe_params_default(&want);
    memset(&got, 0x5a, sizeof(got));
    fp_capture_qoe_params(&c, &got);
    CU_ASSERT_EQUAL(memcmp(&want, &got, sizeof(want)), 0);
    /* the example (every scalar at its default) gives the same */
    fp_config_defaults(&c);
    CU_ASSERT_EQUAL_FATAL(fp_config_load_file(&c, "flowpulse.conf.example", errbuf,
                                              sizeof(errbuf)), 0);
    fp_capture_qoe_params(&c, &got);
    CU_ASSERT_EQUAL(memcmp(&want, &got, sizeof(want)), 0);
}

/* The table written out (commented) in flowpulse.conf.example is exactly the built-in one:
 * every entry equals the default cell, and every used default cell is listed. */
static void test_example_table_is_default(void)
{
    FILE *f = fopen("flowpulse.conf.example", "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char text[8192];
    size_t off = (size_t)snprintf(text, sizeof(text), "qoe = {\n");
    char line[256];
    bool in = false;
    while (fgets(line, sizeof(line), f)) {
        const char *p = line + strspn(line, " ");
        if (!in && strncmp(p, "# thresholds = (", 16) == 0)
            in = true;
        if (in) {
            CU_ASSERT_FATAL(p[0] == '#' && off + strlen(p) + 8 < sizeof(text));
            off += (size_t)snprintf(text + off, sizeof(text) - off, "%s", p + 1);
            if (strncmp(p, "# );", 4) == 0)
                break;
        }
    }
    fclose(f);
    CU_ASSERT_TRUE_FATAL(in);
    snprintf(text + off, sizeof(text) - off, "};\n");
    struct fp_config c;
    fp_config_defaults(&c);
    int rc = fp_config_load_file(&c, write_conf("table.conf", text), errbuf, sizeof(errbuf));
    if (rc)
        fprintf(stderr, "\n%s\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    struct fp_qoe_params def;
    fp_qoe_params_default(&def);
    unsigned used = 0;
    for (unsigned k = 0; k < FP_QOE_CLASS_MAX; k++)
        for (unsigned m = 0; m < FP_QOE_METRIC_MAX; m++)
            used += def.thr[k][m].weight > 0;
    CU_ASSERT_EQUAL(c.n_qoe_thresholds, used);
    for (unsigned i = 0; i < c.n_qoe_thresholds; i++) {
        const struct fp_qoe_threshold_config *t = &c.qoe_thresholds[i];
        const struct fp_qoe_threshold *d = &def.thr[t->cls][t->metric];
        CU_ASSERT(d->weight > 0);
        CU_ASSERT_EQUAL(d->weight, t->weight);
        CU_ASSERT_EQUAL(d->good, fp_config_qoe_value(t->metric, t->good));
        CU_ASSERT_EQUAL(d->bad, fp_config_qoe_value(t->metric, t->bad));
    }
    cleanup();
}

/* Good entries: right cell, right unit; the rest unchanged; knobs in µs. */
static void test_good_entries(void)
{
    struct fp_config c;
    fp_config_defaults(&c);
    const char *p = write_conf("good.conf",
        "qoe = {\n"
        "  video_burst_gap = 0.5; video_stall_rate = 1000000; game_spike = 0.08;\n"
        "  game_gap = 1.5; rtp_latency = 0.02;\n"
        "  thresholds = (\n"
        "    { class = \"video\"; metric = \"rtt\"; good = 0.05; bad = 0.3; weight = 2; },\n"
        "    { class = \"conferencing\"; metric = \"mos\"; good = 4.35; bad = 3; },\n"
        "    { class = \"video\"; metric = \"video_kbps\"; good = 8000; bad = 1000; },\n"
        "    { class = \"gaming\"; metric = \"retx_permille\"; good = 0; bad = 20; weight = 0; },\n"
        "    { class = \"dns\"; metric = \"dns_time\"; good = 0.000001; bad = 1;\n"
        "      weight = 1000; },\n"
        "    { class = \"web\"; metric = \"game_spikes\"; good = 1; bad = 4; }\n"
        "  );\n};\n");
    int rc = fp_config_load_file(&c, p, errbuf, sizeof(errbuf));
    if (rc)
        fprintf(stderr, "\n%s\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(c.n_qoe_thresholds, 6);
    struct fp_qoe_params def, q;
    fp_qoe_params_default(&def);
    fp_capture_qoe_params(&c, &q);
    CU_ASSERT_EQUAL(q.video_burst_gap_us, 500000);
    CU_ASSERT_EQUAL(q.video_stall_bps, 1000000);
    CU_ASSERT_EQUAL(q.game_spike_us, 80000);
    CU_ASSERT_EQUAL(q.game_gap_us, 1500000);
    CU_ASSERT_EQUAL(q.rtp_latency_us, 20000);
    const struct fp_qoe_threshold *t = &q.thr[FP_QOE_CLASS_VIDEO][FP_QOE_METRIC_RTT_US];
    CU_ASSERT(t->good == 50000 && t->bad == 300000 && t->weight == 2);
    t = &q.thr[FP_QOE_CLASS_CONF][FP_QOE_METRIC_MOS_X100];
    CU_ASSERT(t->good == 435 && t->bad == 300 && t->weight == 1); /* weight defaults to 1 */
    t = &q.thr[FP_QOE_CLASS_VIDEO][FP_QOE_METRIC_VIDEO_KBPS];
    CU_ASSERT(t->good == 8000 && t->bad == 1000 && t->weight == 1);
    t = &q.thr[FP_QOE_CLASS_GAMING][FP_QOE_METRIC_RETX_PERMILLE];
    CU_ASSERT(t->good == 0 && t->bad == 20 && t->weight == 0);
    t = &q.thr[FP_QOE_CLASS_DNS][FP_QOE_METRIC_DNS_US];
    CU_ASSERT(t->good == 1 && t->bad == 1000000 && t->weight == 1000);
    t = &q.thr[FP_QOE_CLASS_WEB][FP_QOE_METRIC_GAME_SPIKES];
    CU_ASSERT(t->good == 1 && t->bad == 4 && t->weight == 1);
    /* every other cell is the default one */
    unsigned changed = 0;
    for (unsigned k = 0; k < FP_QOE_CLASS_MAX; k++)
        for (unsigned m = 0; m < FP_QOE_METRIC_MAX; m++)
            changed += memcmp(&q.thr[k][m], &def.thr[k][m], sizeof(def.thr[k][m])) != 0;
    CU_ASSERT_EQUAL(changed, 6);
    /* the score follows: gaming retx removed, so a gaming flow with only retx has none */
    int64_t v[FP_QOE_METRIC_MAX] = {0};
    v[FP_QOE_METRIC_RETX_PERMILLE] = 10;
    CU_ASSERT_EQUAL(fp_qoe_score(FP_QOE_CLASS_GAMING, &def, v,
                                 1u << FP_QOE_METRIC_RETX_PERMILLE), 89); /* 100*(1-5/45) */
    CU_ASSERT_EQUAL(fp_qoe_score(FP_QOE_CLASS_GAMING, &q, v, 1u << FP_QOE_METRIC_RETX_PERMILLE),
                    -ENODATA);
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL); /* no capture */
    snprintf(c.capture_file, sizeof(c.capture_file), "x.pcap");
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), 0);

    /* --dump-config prints them so that loading the dump gives them back */
    char dump[160];
    snprintf(dump, sizeof(dump), "%s/dump.conf", dir);
    FILE *f = fopen(dump, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fp_config_dump(&c, f), 0);
    fclose(f);
    struct fp_config back;
    fp_config_defaults(&back);
    rc = fp_config_load_file(&back, dump, errbuf, sizeof(errbuf));
    if (rc)
        fprintf(stderr, "\n%s\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(back.n_qoe_thresholds, c.n_qoe_thresholds);
    CU_ASSERT_EQUAL(memcmp(back.qoe_thresholds, c.qoe_thresholds,
                           sizeof(c.qoe_thresholds[0]) * c.n_qoe_thresholds), 0);
    CU_ASSERT_EQUAL(back.qoe_game_spike_ms, 80);
    cleanup();
}

/* Bad entries: refused with FILE:LINE: setting: problem, naming the member. */
static void test_bad_entries(void)
{
    static const struct {
        const char *body;  /* line 2 of the file */
        const char *where; /* expected after "FILE:2: " */
        const char *why;   /* expected in the problem */
    } bad[] = {
        {"{ class = \"video\"; metric = \"latency\"; good = 0; bad = 1; }",
         "qoe.thresholds[0].metric", "invalid value \"latency\""},
        {"{ class = \"voice\"; metric = \"rtt\"; good = 0; bad = 1; }",
         "qoe.thresholds[0].class", "invalid value \"voice\""},
        {"{ class = \"web\"; metric = \"rtt\"; bad = 1; }", "qoe.thresholds[0]",
         "missing \"good\""},
        {"{ class = \"web\"; metric = \"rtt\"; good = 0.2; bad = 0.2; }",
         "qoe.thresholds[0].bad", "equal to good"},
        {"{ class = \"web\"; metric = \"mos\"; good = 4.215; bad = 2; }",
         "qoe.thresholds[0].good", "finer than the resolution of mos (0.01"},
        {"{ class = \"web\"; metric = \"rtt\"; good = 0.0000005; bad = 1; }",
         "qoe.thresholds[0].good", "finer than the resolution"},
        {"{ class = \"web\"; metric = \"retx_permille\"; good = 5; bad = 1001; }",
         "qoe.thresholds[0].bad", "above 1000 permille"},
        {"{ class = \"web\"; metric = \"dns_fail\"; good = 0; bad = 2; }",
         "qoe.thresholds[0].bad", "above 1"},
        {"{ class = \"web\"; metric = \"rtt\"; good = -1; bad = 1; }",
         "qoe.thresholds[0].good", "out of range"},
        {"{ class = \"web\"; metric = \"rtt\"; good = \"fast\"; bad = 1; }",
         "qoe.thresholds[0].good", "expected a number"},
        {"{ class = \"web\"; metric = \"rtt\"; good = 0; bad = 1; weight = 1001; }",
         "qoe.thresholds[0].weight", "out of range"},
        {"{ class = \"web\"; metric = \"rtt\"; good = 0; bad = 1; colour = 1; }",
         "qoe.thresholds[0].colour", "unknown"},
        {"{ class = \"web\"; metric = \"rtt\"; good = 0; bad = 1; },\n"
         "{ class = \"web\"; metric = \"art\"; good = 0; bad = 1; },\n"
         "{ class = \"web\"; metric = \"rtt\"; good = 0.1; bad = 1; }",
         NULL, "qoe.thresholds[2].metric: class \"web\" metric \"rtt\" is already set by "
               "qoe.thresholds[0]"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512], want[256];
        snprintf(text, sizeof(text), "qoe = { thresholds = (\n%s\n); };\n", bad[i].body);
        const char *p = write_conf("bad.conf", text);
        struct fp_config c;
        fp_config_defaults(&c);
        errbuf[0] = '\0';
        CU_ASSERT_EQUAL(fp_config_load_file(&c, p, errbuf, sizeof(errbuf)), -EINVAL);
        if (bad[i].where)
            snprintf(want, sizeof(want), "%s:2: %s: ", p, bad[i].where);
        else
            snprintf(want, sizeof(want), "%s:4: %s", p, bad[i].why);
        bool ok = strncmp(errbuf, want, strlen(want)) == 0 && strstr(errbuf, bad[i].why);
        if (!ok)
            fprintf(stderr, "\ncase %zu: got \"%s\", want \"%s...%s\"\n", i, errbuf, want,
                    bad[i].why);
        CU_ASSERT_TRUE(ok);
    }
    /* classify.rules errors that only the classify module found before carry FILE:LINE */
    static const struct {
        const char *rule;
        const char *want;
    } rules[] = {
        {"{ prefix = \"10.1.2.3/8\"; app = \"X\"; class = \"web\"; }",
         "classify.rules[0].prefix: \"10.1.2.3/8\" is not ADDRESS[/LEN] with zero host bits"},
        {"{ prefix = \"2001:db8::/129\"; app = \"X\"; class = \"web\"; }",
         "classify.rules[0].prefix"},
        {"{ prefix = \"10.0.0.0/x\"; app = \"X\"; class = \"web\"; }", "classify.rules[0].prefix"},
        {"{ name_suffix = \"*.\"; app = \"X\"; class = \"web\"; }",
         "classify.rules[0]: needs a criterion"},
    };
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        char text[512], want[256];
        snprintf(text, sizeof(text), "classify = { rules = (\n%s\n); };\n", rules[i].rule);
        const char *p = write_conf("rule.conf", text);
        struct fp_config c;
        fp_config_defaults(&c);
        errbuf[0] = '\0';
        CU_ASSERT_EQUAL(fp_config_load_file(&c, p, errbuf, sizeof(errbuf)), -EINVAL);
        snprintf(want, sizeof(want), "%s:2: %s", p, rules[i].want);
        if (strncmp(errbuf, want, strlen(want)) != 0)
            fprintf(stderr, "\nrule case %zu: got \"%s\", want \"%s\"\n", i, errbuf, want);
        CU_ASSERT_EQUAL(strncmp(errbuf, want, strlen(want)), 0);
    }
    /* valid prefixes still load */
    struct fp_config c;
    fp_config_defaults(&c);
    CU_ASSERT_EQUAL(fp_config_load_file(&c, write_conf("ok.conf",
        "classify = { rules = ( { prefix = \"10.0.0.0/8\"; app = \"A\"; class = \"web\"; },\n"
        "  { prefix = \"2001:db8::1\"; app = \"B\"; class = \"web\"; },\n"
        "  { name_suffix = \".example.com\"; app = \"C\"; class = \"web\"; } ); };\n"),
        errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.n_classify_rules, 3);
    /* validation catches an entry poked by code, too */
    c.n_qoe_thresholds = 1;
    c.qoe_thresholds[0] = (struct fp_qoe_threshold_config){.cls = 1, .metric = 0, .good = 7,
                                                           .bad = 7, .weight = 1};
    snprintf(c.capture_file, sizeof(c.capture_file), "x.pcap");
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "qoe.thresholds[0].bad: equal to good"));
    cleanup();
}

void fp_test_register_qoe_config(void);
void fp_test_register_qoe_config(void)
{
    static CU_TestInfo tests[] = {
        {"names_match_qoe", test_names_match_qoe},
        {"defaults_equal_qoe_default", test_defaults_equal_qoe_default},
        {"example_table_is_default", test_example_table_is_default},
        {"good_entries", test_good_entries},
        {"bad_entries", test_bad_entries},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("qoe_config", tests);
}
