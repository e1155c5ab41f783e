/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for src/config/: defaults, file loading and its errors, -o overrides,
 * collector URLs, validation, dump/reload, and agreement with flowpulse.conf.example. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "tests/unit/fp_test.h"

#define EXAMPLE_PATH "flowpulse.conf.example"

static char tmpdir[64];
static char errbuf[512];

static void tmpdir_make(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fp_test_config.XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
}

static void tmpdir_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* Write @p text to tmpdir/name; @return the path (static buffer per call site is enough). */
static const char *write_file(const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* ---------------------------------------------------------------------------------------- */

static void test_defaults(void)
{
    struct fp_config c;

    memset(&c, 0xA5, sizeof(c));
    fp_config_defaults(&c);
    /* Expected values are the documented defaults of config.h. */
    CU_ASSERT_STRING_EQUAL(c.eal_args, "--no-huge --no-pci --in-memory");
    CU_ASSERT_EQUAL(c.n_ports, 0);
    CU_ASSERT_EQUAL(c.workers, 1);
    CU_ASSERT_EQUAL(c.burst, 32);
    CU_ASSERT_EQUAL(c.mbufs, 0);
    CU_ASSERT_EQUAL(c.mbuf_size, 2176); /* DPDK's default: 2048 + 128 headroom */
    CU_ASSERT_EQUAL(c.rx_desc, 1024);
    CU_ASSERT_EQUAL(c.dist_ring_size, 4096);
    CU_ASSERT_STRING_EQUAL(c.capture_file, "");
    CU_ASSERT_TRUE(c.progress);
    CU_ASSERT_EQUAL(c.duration_s, 0);
    CU_ASSERT_TRUE(c.decap_tunnels);
    CU_ASSERT_EQUAL(c.vxlan_port, 4789);
    CU_ASSERT_EQUAL(c.gtpu_port, 2152);
    CU_ASSERT_EQUAL(c.flow_capacity, 1048576);
    CU_ASSERT_EQUAL(c.idle_timeout_ms, 15000);
    CU_ASSERT_EQUAL(c.active_timeout_ms, 60000);
    CU_ASSERT_EQUAL(c.tcp_end_ms, 2000);
    CU_ASSERT_EQUAL(c.frag_table_size, 4096);
    CU_ASSERT_EQUAL(c.n_collectors, 0);
    CU_ASSERT_EQUAL(c.observation_domain, 1);
    CU_ASSERT_EQUAL(c.export_ring_size, 65536);
    CU_ASSERT_EQUAL(c.template_refresh_s, 60);
    CU_ASSERT_EQUAL(c.template_refresh_msgs, 0);
    CU_ASSERT_EQUAL(c.stats_interval_s, 60);
    CU_ASSERT_TRUE(c.export_enterprise);
    CU_ASSERT_EQUAL(c.export_pen, 32473);
    CU_ASSERT_STRING_EQUAL(c.log_level, "info");

    /* Defaults are valid once a capture source exists. */
    snprintf(c.capture_file, sizeof(c.capture_file), "x.pcap");
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), 0);
}

/* The table itself: unique paths, contiguous sections, field sizes match types. */
static void test_table_sane(void)
{
    const char *done_sections[16];
    size_t n_done = 0;

    for (size_t i = 0; i < fp_config_n_settings; i++) {
        const struct fp_config_setting *s = &fp_config_settings[i];
        size_t sl = strcspn(s->path, ".");

        CU_ASSERT(s->path[sl] == '.');
        CU_ASSERT_PTR_NOT_NULL(s->help);
        for (size_t j = 0; j < i; j++)
            CU_ASSERT(strcmp(s->path, fp_config_settings[j].path) != 0);
        if (s->type == FP_CONFIG_INT || s->type == FP_CONFIG_DURATION) {
            CU_ASSERT(s->size == 1 || s->size == 2 || s->size == 4 || s->size == 8);
            CU_ASSERT(s->min <= s->def && s->def <= s->max);
            if (s->size < 8)
                CU_ASSERT(s->max < (1LL << (8 * s->size)));
        }
        if (s->type == FP_CONFIG_DURATION)
            CU_ASSERT(s->scale == 1 || s->scale == 1000);
        if (s->type == FP_CONFIG_BOOL)
            CU_ASSERT_EQUAL(s->size, sizeof(bool));
        if (s->type == FP_CONFIG_ENUM || s->type == FP_CONFIG_STRING)
            CU_ASSERT_PTR_NOT_NULL(s->def_str);
        /* A new section must not have been seen before (sections are contiguous). */
        if (i == 0 || strncmp(s->path, fp_config_settings[i - 1].path, sl + 1) != 0) {
            for (size_t k = 0; k < n_done; k++)
                CU_ASSERT(strncmp(done_sections[k], s->path, sl + 1) != 0);
            if (n_done < 16)
                done_sections[n_done++] = s->path;
        }
    }
    /* Every list belongs to a section that has scalar settings (the dump prints it there). */
    for (size_t i = 0; i < fp_config_n_lists; i++) {
        const char *lp = fp_config_lists[i].path;
        size_t sl = strcspn(lp, ".");
        bool found = false;
        for (size_t j = 0; j < fp_config_n_settings; j++)
            found |= strncmp(fp_config_settings[j].path, lp, sl + 1) == 0;
        CU_ASSERT_TRUE(found);
    }
}

/* flowpulse.conf.example sets every scalar setting, each to its default. */
static void test_example_matches_defaults(void)
{
    struct fp_config def, ex;
    bool seen[64] = {false};
    static const char *const list_members[] = {"ports", "device =", "rx_queues =",
                                               "collectors", "url =", "biflow =", "mtu =",
                                               "rules =", "name_suffix =", "prefix =",
                                               "proto =", "class ="};

    CU_ASSERT_FATAL(fp_config_n_settings <= 64);
    fp_config_defaults(&def);
    fp_config_defaults(&ex);
    memset(ex.eal_args, 'x', 10); /* the example must set it back to the default */
    ex.progress = !ex.progress;
    int rc = fp_config_load_file_seen(&ex, EXAMPLE_PATH, seen, errbuf, sizeof(errbuf));
    if (rc != 0)
        fprintf(stderr, "\n%s (run from the repository root)\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    for (size_t i = 0; i < fp_config_n_settings; i++) {
        const struct fp_config_setting *s = &fp_config_settings[i];
        if (!seen[i])
            fprintf(stderr, "\n%s: %s is not set in the example\n", EXAMPLE_PATH, s->path);
        CU_ASSERT_TRUE(seen[i]);
        bool same = memcmp((char *)&def + s->offset, (char *)&ex + s->offset, s->size) == 0;
        if (!same)
            fprintf(stderr, "\n%s: %s differs from the built-in default\n", EXAMPLE_PATH,
                    s->path);
        CU_ASSERT_TRUE(same);
    }
    CU_ASSERT_EQUAL(ex.n_ports, 0);
    CU_ASSERT_EQUAL(ex.n_collectors, 0);

    /* The list members are documented too (as commented examples). */
    FILE *f = fopen(EXAMPLE_PATH, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char text[32768];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t i = 0; i < sizeof(list_members) / sizeof(list_members[0]); i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(text, list_members[i]));
}

/* The demo configuration loads and validates once -r gives the capture. */
static void test_demo_conf(void)
{
    struct fp_config c;

    fp_config_defaults(&c);
    CU_ASSERT_EQUAL_FATAL(fp_config_load_file(&c, "conf/flowpulse-demo.conf", errbuf,
                                              sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.workers, 1);
    CU_ASSERT_EQUAL_FATAL(c.n_collectors, 1);
    CU_ASSERT_EQUAL(c.collectors[0].transport, FP_TRANSPORT_UDP);
    CU_ASSERT_STRING_EQUAL(c.collectors[0].host, "127.0.0.1");
    CU_ASSERT_EQUAL(c.collectors[0].port, 4739);
    snprintf(c.capture_file, sizeof(c.capture_file), "demo.pcap");
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), 0);
}

static void test_load_valid(void)
{
    struct fp_config c;
    char path[256], inc[256];

    tmpdir_make();
    write_file("inc.conf", "log = { level = \"debug\"; };\n", inc, sizeof(inc));
    write_file("valid.conf",
               "# comment\n"
               "capture = {\n"
               "  eal_args = \"-l 0-2 --no-huge\";\n"
               "  workers = 2;\n"
               "  burst = 64;\n"
               "  progress = false;\n"
               "  ports = (\n"
               "    { device = \"0000:01:00.0\"; rx_queues = 2; },\n"
               "    { device = \"net_pcap0,rx_pcap=/tmp/x.pcap\"; }\n"
               "  );\n"
               "};\n"
               "decode: { tunnels = \"outer\"; vxlan_port = 8472; };\n"
               "flow = {\n"
               "  capacity = 0x10000;\n"
               "  idle_timeout = 2.5;\n"
               "  active_timeout = 300;\n"
               "  tcp_end_timeout = 0;\n"
               "};\n"
               "export = {\n"
               "  observation_domain = 4000000000L;\n"
               "  template_refresh = 30.0;\n"
               "  collectors = (\n"
               "    { url = \"udp://127.0.0.1:9995\"; biflow = true; mtu = 9000; },\n"
               "    { url = \"file:/tmp/out.ipfix\"; }\n"
               "  );\n"
               "};\n"
               "@include \"inc.conf\"\n",
               path, sizeof(path));
    fp_config_defaults(&c);
    int rc = fp_config_load_file(&c, path, errbuf, sizeof(errbuf));
    if (rc != 0)
        fprintf(stderr, "\n%s\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(c.eal_args, "-l 0-2 --no-huge");
    CU_ASSERT_EQUAL(c.workers, 2);
    CU_ASSERT_EQUAL(c.burst, 64);
    CU_ASSERT_FALSE(c.progress);
    CU_ASSERT_EQUAL(c.mbufs, 0); /* untouched default */
    CU_ASSERT_EQUAL_FATAL(c.n_ports, 2);
    CU_ASSERT_STRING_EQUAL(c.ports[0].device, "0000:01:00.0");
    CU_ASSERT_EQUAL(c.ports[0].rx_queues, 2);
    CU_ASSERT_STRING_EQUAL(c.ports[1].device, "net_pcap0,rx_pcap=/tmp/x.pcap");
    CU_ASSERT_EQUAL(c.ports[1].rx_queues, 0);
    CU_ASSERT_FALSE(c.decap_tunnels);
    CU_ASSERT_EQUAL(c.vxlan_port, 8472);
    CU_ASSERT_EQUAL(c.flow_capacity, 65536);
    CU_ASSERT_EQUAL(c.idle_timeout_ms, 2500);
    CU_ASSERT_EQUAL(c.active_timeout_ms, 300000);
    CU_ASSERT_EQUAL(c.tcp_end_ms, 0);
    CU_ASSERT_EQUAL(c.observation_domain, 4000000000u);
    CU_ASSERT_EQUAL(c.template_refresh_s, 30);
    CU_ASSERT_EQUAL_FATAL(c.n_collectors, 2);
    CU_ASSERT_EQUAL(c.collectors[0].transport, FP_TRANSPORT_UDP);
    CU_ASSERT_STRING_EQUAL(c.collectors[0].url, "udp://127.0.0.1:9995");
    CU_ASSERT_STRING_EQUAL(c.collectors[0].host, "127.0.0.1");
    CU_ASSERT_EQUAL(c.collectors[0].port, 9995);
    CU_ASSERT_TRUE(c.collectors[0].biflow);
    CU_ASSERT_EQUAL(c.collectors[0].mtu, 9000);
    CU_ASSERT_EQUAL(c.collectors[1].transport, FP_TRANSPORT_FILE);
    CU_ASSERT_STRING_EQUAL(c.collectors[1].path, "/tmp/out.ipfix");
    CU_ASSERT_FALSE(c.collectors[1].biflow);
    CU_ASSERT_EQUAL(c.collectors[1].mtu, 1400);
    CU_ASSERT_STRING_EQUAL(c.log_level, "debug");
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), 0);

    /* A setting name inside a string on the same line does not confuse the check for
     * truncated 32-bit literals. */
    write_file("names.conf",
               "capture = { ports = (\n"
               "  { device = \"net_null0,rx_queues=3\"; rx_queues = 2; } ); };\n",
               path, sizeof(path));
    CU_ASSERT_EQUAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.n_ports, 1);
    CU_ASSERT_EQUAL(c.ports[0].rx_queues, 2);

    /* A list in a later file replaces the earlier one. */
    write_file("second.conf", "export = { collectors = ( { url = \"tcp://[::1]\"; } ); };\n",
               path, sizeof(path));
    CU_ASSERT_EQUAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.n_collectors, 1);
    CU_ASSERT_EQUAL(c.collectors[0].transport, FP_TRANSPORT_TCP);
    CU_ASSERT_EQUAL(c.n_ports, 1);
    tmpdir_remove();
}

struct error_case {
    const char *text;
    const char *expect; /* after "PATH:" */
};

static void test_load_errors(void)
{
    static const struct error_case cases[] = {
        {"capture = {\n  burst = ;\n};\n", "2: syntax error: syntax error"},
        {"flow = {\n  capacity = 1;\n  capacity = 2;\n};\n",
         "3: syntax error: duplicate setting name"},
        {"flow = {\n  capacity = \"big\";\n};\n",
         "2: flow.capacity: expected an integer, got a string"},
        {"flow = {\n  capacity = 1.5;\n};\n", "2: flow.capacity: expected an integer, got a float"},
        {"capture = {\n  progress = 1;\n};\n",
         "2: capture.progress: expected a boolean (true or false), got an integer"},
        {"flow = {\n  idle_timeout = \"15\";\n};\n",
         "2: flow.idle_timeout: expected a number of seconds, got a string"},
        {"log = {\n  level = 3;\n};\n", "2: log.level: expected a string, got an integer"},
        {"\ncapture = {\n  burst = 300;\n};\n", "3: capture.burst: 300 is out of range (1..256)"},
        {"capture = {\n  workers = 0;\n};\n", "2: capture.workers: 0 is out of range (1..64)"},
        {"capture = {\n  mbuf_size = 128;\n};\n",
         "2: capture.mbuf_size: 128 is out of range (256..65535)"},
        {"capture = {\n  workers = -1;\n};\n", "2: capture.workers: -1 is out of range (1..64)"},
        {"flow = {\n  idle_timeout = 0.001;\n};\n",
         "2: flow.idle_timeout: 0.001 s is out of range (0.01..86400 s)"},
        {"flow = {\n  active_timeout = 700000;\n};\n",
         "2: flow.active_timeout: 700000 s is out of range (0.01..604800 s)"},
        {"flow = {\n  idle_timeout = 1.0005;\n};\n",
         "2: flow.idle_timeout: 1.0005 s is finer than the resolution of 1/1000 s"},
        {"export = {\n  template_refresh = 1.5;\n};\n",
         "2: export.template_refresh: 1.5 s is not a whole number of seconds"},
        {"export = {\n  ring_size = 3000;\n};\n",
         "2: export.ring_size: 3000 is not a power of two"},
        {"export = {\n  observation_domain = 4294967296;\n};\n",
         "2: export.observation_domain: integer does not fit in 32 bits: add an L suffix "
         "(e.g. 4294967295L)"},
        {"export = {\n  observation_domain = 4294967296L;\n};\n",
         "2: export.observation_domain: 4294967296 is out of range (0..4294967295)"},
        {"flow = {\n  capacity = 4294968320;\n};\n",
         "2: flow.capacity: integer does not fit in 32 bits: add an L suffix (e.g. 4294967295L)"},
        {"decode = {\n  tunnels = \"both\";\n};\n",
         "2: decode.tunnels: invalid value \"both\" (expected one of: inner, outer)"},
        {"log = {\n  level = \"verbose\";\n};\n",
         "2: log.level: invalid value \"verbose\" (expected one of: error, warning, notice, "
         "info, debug)"},
        {"flow = {\n  capacity = 2048;\n  idle_timout = 3;\n};\n",
         "3: flow.idle_timout: unknown setting (did you mean \"flow.idle_timeout\"?)"},
        {"workers = 2;\n", "1: workers: unknown setting (did you mean \"capture.workers\"?)"},
        {"flw = {\n};\n", "1: flw: unknown setting (did you mean \"flow\"?)"},
        {"decode = {\n  zzzzzzzz = 1;\n};\n", "2: decode.zzzzzzzz: unknown setting"},
        {"flow = 5;\n", "1: flow: expected a group { ... }, got an integer"},

        {"export = {\n  collectors = (\n    { url = \"http://x\"; }\n  );\n};\n",
         "3: export.collectors[0].url: unknown scheme \"http\" (expected udp://, tcp://, tls://, dtls://, file:, nfv9+udp://, nfv5+udp://)"},
        {"export = {\n  collectors = (\n    { url = \"udp://a\"; },\n    { url = \"udp://::1\"; }\n"
         "  );\n};\n",
         "4: export.collectors[1].url: IPv6 addresses must be in brackets, e.g. "
         "udp://[::1]:4739"},
        {"export = {\n  collectors = (\n    { mtu = 1400; }\n  );\n};\n",
         "3: export.collectors[0]: missing \"url\""},
        {"export = {\n  collectors = (\n    { url = \"udp://a\";\n      mtuu = 1400; }\n  );\n};\n",
         "4: export.collectors[0].mtuu: unknown setting (did you mean \"mtu\"?)"},
        {"export = {\n  collectors = (\n    { url = \"udp://a\"; mtu = 100; }\n  );\n};\n",
         "3: export.collectors[0].mtu: 100 is out of range (512..65000)"},
        {"export = {\n  collectors = \"udp://a\";\n};\n",
         "2: export.collectors: expected a list ( { ... }, ... ), got a string"},
        {"capture = {\n  ports = ( \"0000:01:00.0\" );\n};\n",
         "2: capture.ports[0]: expected a group { ... }, got a string"},
        {"capture = {\n  ports = ( { device = 1; } );\n};\n",
         "2: capture.ports[0].device: expected a string, got an integer"},
        {"export = {\n  collectors = (\n"
         "{url=\"udp://a:1\";},{url=\"udp://a:2\";},{url=\"udp://a:3\";},{url=\"udp://a:4\";},\n"
         "{url=\"udp://a:5\";},{url=\"udp://a:6\";},{url=\"udp://a:7\";},{url=\"udp://a:8\";},\n"
         "{url=\"udp://a:9\";}\n  );\n};\n",
         "2: export.collectors: too many entries (9, at most 8)"},
    };
    struct fp_config c, before;
    char path[256], expect[1024];

    tmpdir_make();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "bad%zu.conf", i);
        write_file(name, cases[i].text, path, sizeof(path));
        fp_config_defaults(&c);
        c.workers = 3; /* not a default: the failed load must leave it */
        memcpy(&before, &c, sizeof(c));
        errbuf[0] = '\0';
        CU_ASSERT_EQUAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), -EINVAL);
        snprintf(expect, sizeof(expect), "%s:%s", path, cases[i].expect);
        if (strcmp(errbuf, expect) != 0)
            fprintf(stderr, "\ncase %zu:\n  got    \"%s\"\n  wanted \"%s\"\n", i, errbuf, expect);
        CU_ASSERT_STRING_EQUAL(errbuf, expect);
        CU_ASSERT_EQUAL(memcmp(&c, &before, sizeof(c)), 0);
    }

    /* A string longer than its field. */
    static char long_text[1200];
    strcpy(long_text, "capture = {\n  eal_args = \"");
    memset(long_text + strlen(long_text), 'a', 1100);
    strcat(long_text, "\";\n};\n");
    write_file("long.conf", long_text, path, sizeof(path));
    fp_config_defaults(&c);
    CU_ASSERT_EQUAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), -EINVAL);
    snprintf(expect, sizeof(expect),
             "%s:2: capture.eal_args: string too long (1100 characters, at most 1023)", path);
    if (strcmp(errbuf, expect) != 0)
        fprintf(stderr, "\n  got    \"%s\"\n  wanted \"%s\"\n", errbuf, expect);
    CU_ASSERT_STRING_EQUAL(errbuf, expect);
    CU_ASSERT_STRING_EQUAL(c.eal_args, "--no-huge --no-pci --in-memory"); /* unchanged */

    /* An error inside an included file names that file and its line. */
    char inc[256];
    write_file("inc_bad.conf", "\n\nflow = { capacity = 7; };\n", inc, sizeof(inc));
    write_file("main.conf", "capture = { workers = 2; };\n@include \"inc_bad.conf\"\n", path,
               sizeof(path));
    fp_config_defaults(&c);
    CU_ASSERT_EQUAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), -EINVAL);
    snprintf(expect, sizeof(expect), "%s:3: flow.capacity: 7 is out of range (1024..268435456)",
             inc);
    if (strcmp(errbuf, expect) != 0)
        fprintf(stderr, "\n  got    \"%s\"\n  wanted \"%s\"\n", errbuf, expect);
    CU_ASSERT_STRING_EQUAL(errbuf, expect);

    write_file("inc_syntax.conf", "flow = {\n  capacity = ;\n};\n", inc, sizeof(inc));
    write_file("main2.conf", "@include \"inc_syntax.conf\"\n", path, sizeof(path));
    CU_ASSERT_EQUAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), -EINVAL);
    snprintf(expect, sizeof(expect), "%s:2: syntax error: syntax error", inc);
    if (strcmp(errbuf, expect) != 0)
        fprintf(stderr, "\n  got    \"%s\"\n  wanted \"%s\"\n", errbuf, expect);
    CU_ASSERT_STRING_EQUAL(errbuf, expect);

    /* Missing file. */
    snprintf(path, sizeof(path), "%s/nonexistent.conf", tmpdir);
    CU_ASSERT_EQUAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), -ENOENT);
    snprintf(expect, sizeof(expect), "%s: cannot read: %s", path, strerror(ENOENT));
    if (strcmp(errbuf, expect) != 0)
        fprintf(stderr, "\n  got    \"%s\"\n  wanted \"%s\"\n", errbuf, expect);
    CU_ASSERT_STRING_EQUAL(errbuf, expect);
    tmpdir_remove();
}

static void test_override(void)
{
    struct fp_config c, before;

    fp_config_defaults(&c);
    CU_ASSERT_EQUAL(fp_config_override(&c, "capture.progress=false", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_FALSE(c.progress);
    CU_ASSERT_EQUAL(fp_config_override(&c, "capture.progress = on", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_TRUE(c.progress);
    CU_ASSERT_EQUAL(fp_config_override(&c, "capture.burst=64", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.burst, 64);
    CU_ASSERT_EQUAL(fp_config_override(&c, "decode.vxlan_port=8472", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.vxlan_port, 8472);
    CU_ASSERT_EQUAL(
        fp_config_override(&c, "export.observation_domain=0xFFFFFFFF", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.observation_domain, 4294967295u);
    CU_ASSERT_EQUAL(fp_config_override(&c, "flow.idle_timeout=0.5", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.idle_timeout_ms, 500);
    CU_ASSERT_EQUAL(fp_config_override(&c, "flow.active_timeout=120", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.active_timeout_ms, 120000);
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.stats_interval=30", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.stats_interval_s, 30);
    CU_ASSERT_EQUAL(fp_config_override(&c, "capture.duration=10", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.duration_s, 10);
    CU_ASSERT_EQUAL(fp_config_override(&c, "capture.eal_args=--vdev=net_null0 -l 0-1", errbuf,
                                       sizeof(errbuf)),
                    0);
    CU_ASSERT_STRING_EQUAL(c.eal_args, "--vdev=net_null0 -l 0-1");
    CU_ASSERT_EQUAL(fp_config_override(&c, "capture.eal_args=\"--no-huge\"", errbuf,
                                       sizeof(errbuf)),
                    0);
    CU_ASSERT_STRING_EQUAL(c.eal_args, "--no-huge");
    CU_ASSERT_EQUAL(fp_config_override(&c, "decode.tunnels=outer", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_FALSE(c.decap_tunnels);
    CU_ASSERT_EQUAL(fp_config_override(&c, "log.level=debug", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_STRING_EQUAL(c.log_level, "debug");

    static const struct {
        const char *assign;
        const char *expect;
    } bad[] = {
        {"capture.burst", "-o capture.burst: expected SETTING=VALUE"},
        {"capture.burst=abc", "-o capture.burst=abc: expected an integer, got \"abc\""},
        {"capture.burst=", "-o capture.burst=: expected an integer, got \"\""},
        {"capture.burst=12x", "-o capture.burst=12x: expected an integer, got \"12x\""},
        {"capture.burst=0", "-o capture.burst=0: 0 is out of range (1..256)"},
        {"capture.burst=99999999999999999999",
         "-o capture.burst=99999999999999999999: 99999999999999999999 is out of range (1..256)"},
        {"export.ring_size=3000", "-o export.ring_size=3000: 3000 is not a power of two"},
        {"capture.progress=maybe",
         "-o capture.progress=maybe: expected true or false, got \"maybe\""},
        {"flow.idle_timeout=soon",
         "-o flow.idle_timeout=soon: expected a number of seconds, got \"soon\""},
        {"flow.idle_timeout=nan", "-o flow.idle_timeout=nan: expected a number of seconds, "
                                  "got \"nan\""},
        {"flow.idle_timeout=-1", "-o flow.idle_timeout=-1: -1 s is out of range (0.01..86400 s)"},
        {"export.template_refresh=0.5",
         "-o export.template_refresh=0.5: 0.5 s is not a whole number of seconds"},
        {"decode.tunnels=both",
         "-o decode.tunnels=both: invalid value \"both\" (expected one of: inner, outer)"},
        {"flow.idle_timout=3",
         "-o flow.idle_timout=3: unknown setting \"flow.idle_timout\" (did you mean "
         "\"flow.idle_timeout\"?)"},
        {"bogus=1", "-o bogus=1: unknown setting \"bogus\""},
        {"flow=1", "-o flow=1: flow is a section, not a setting"},
        {"export.collectors=udp://a",
         "-o export.collectors=udp://a: export.collectors is a list: set it in the file or add "
         "collectors with -e URL"},
        {"capture.ports=x", "-o capture.ports=x: capture.ports is a list: set it in the file"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(&before, &c, sizeof(c));
        errbuf[0] = '\0';
        CU_ASSERT_EQUAL(fp_config_override(&c, bad[i].assign, errbuf, sizeof(errbuf)), -EINVAL);
        if (strcmp(errbuf, bad[i].expect) != 0)
            fprintf(stderr, "\n  got    \"%s\"\n  wanted \"%s\"\n", errbuf, bad[i].expect);
        CU_ASSERT_STRING_EQUAL(errbuf, bad[i].expect);
        CU_ASSERT_EQUAL(memcmp(&c, &before, sizeof(c)), 0);
    }
}

static void test_collector_url(void)
{
    static const struct {
        const char *url;
        enum fp_transport transport;
        const char *host;
        unsigned port;
        const char *path;
    } good[] = {
        {"udp://127.0.0.1:4739", FP_TRANSPORT_UDP, "127.0.0.1", 4739, ""},
        {"udp://collector.example.net", FP_TRANSPORT_UDP, "collector.example.net", 4739, ""},
        {"tcp://[2001:db8::1]:9995", FP_TRANSPORT_TCP, "2001:db8::1", 9995, ""},
        {"tcp://[::1]", FP_TRANSPORT_TCP, "::1", 4739, ""},
        {"udp://[fe80::1%lo]:2055", FP_TRANSPORT_UDP, "fe80::1%lo", 2055, ""},
        {"UDP://localhost:65535", FP_TRANSPORT_UDP, "localhost", 65535, ""},
        {"file:/tmp/flows.ipfix", FP_TRANSPORT_FILE, "", 0, "/tmp/flows.ipfix"},
        {"file:///tmp/flows.ipfix", FP_TRANSPORT_FILE, "", 0, "/tmp/flows.ipfix"},
        {"file:out.ipfix", FP_TRANSPORT_FILE, "", 0, "out.ipfix"},
    };
    static const struct {
        const char *url;
        const char *problem;
    } bad[] = {
        {"http://x:80", "unknown scheme \"http\" (expected udp://, tcp://, tls://, dtls://, file:, nfv9+udp://, nfv5+udp://)"},
        {"127.0.0.1:4739", "unknown scheme \"127.0.0.1\" (expected udp://, tcp://, tls://, dtls://, file:, nfv9+udp://, nfv5+udp://)"},
        {"collector", "missing scheme (expected udp://, tcp://, tls://, dtls://, file:, nfv9+udp://, nfv5+udp://)"},
        {"udp:127.0.0.1", "expected udp://HOST[:PORT]"},
        {"udp://", "missing host"},
        {"udp://:4739", "missing host"},
        {"udp://host:", "missing port after ':'"},
        {"udp://host:0", "invalid port \"0\" (expected 1..65535)"},
        {"udp://host:65536", "invalid port \"65536\" (expected 1..65535)"},
        {"udp://host:47a9", "invalid port \"47a9\" (expected 1..65535)"},
        {"udp://host:-1", "invalid port \"-1\" (expected 1..65535)"},
        {"udp://host:4739/path", "unexpected path \"/path\" after the port"},
        {"udp://::1", "IPv6 addresses must be in brackets, e.g. udp://[::1]:4739"},
        {"udp://2001:db8::1:4739", "IPv6 addresses must be in brackets, e.g. udp://[::1]:4739"},
        {"tcp://[::1", "missing ']' after IPv6 address"},
        {"tcp://[]:1", "invalid IPv6 address \"\""},
        {"tcp://[zz::1]:1", "invalid IPv6 address \"zz::1\""},
        {"tcp://[::1]4739", "unexpected \"4739\" after the address (expected :PORT)"},
        {"udp://300.1.1.1", "invalid IPv4 address \"300.1.1.1\""},
        {"udp://bad!host", "invalid host name \"bad!host\""},
        {"udp://-bad.example", "invalid host name \"-bad.example\""},
        {"file:", "missing path (expected file:PATH)"},
    };
    struct fp_config c;
    char expect[512];

    fp_config_defaults(&c);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int rc = fp_config_add_collector_url(&c, good[i].url, errbuf, sizeof(errbuf));
        if (rc != 0)
            fprintf(stderr, "\n%s\n", errbuf);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        const struct fp_collector_config *col = &c.collectors[c.n_collectors - 1];
        CU_ASSERT_STRING_EQUAL(col->url, good[i].url);
        CU_ASSERT_EQUAL(col->transport, good[i].transport);
        CU_ASSERT_STRING_EQUAL(col->host, good[i].host);
        CU_ASSERT_EQUAL(col->port, good[i].port);
        CU_ASSERT_STRING_EQUAL(col->path, good[i].path);
        CU_ASSERT_FALSE(col->biflow);
        CU_ASSERT_EQUAL(col->mtu, 1400);
        if (c.n_collectors == FP_MAX_COLLECTORS)
            c.n_collectors = 0;
    }
    fp_config_defaults(&c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errbuf[0] = '\0';
        CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, bad[i].url, errbuf, sizeof(errbuf)),
                        -EINVAL);
        snprintf(expect, sizeof(expect), "-e %s: %s", bad[i].url, bad[i].problem);
        if (strcmp(errbuf, expect) != 0)
            fprintf(stderr, "\n  got    \"%s\"\n  wanted \"%s\"\n", errbuf, expect);
        CU_ASSERT_STRING_EQUAL(errbuf, expect);
        CU_ASSERT_EQUAL(c.n_collectors, 0);
    }
    /* Capacity. */
    for (unsigned i = 0; i < FP_MAX_COLLECTORS; i++) {
        char url[64];
        snprintf(url, sizeof(url), "udp://127.0.0.1:%u", 5000 + i);
        CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, url, errbuf, sizeof(errbuf)), 0);
    }
    CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, "udp://127.0.0.1:6000", errbuf, sizeof(errbuf)),
                    -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "-e udp://127.0.0.1:6000: too many collectors (at most 8)");
    CU_ASSERT_EQUAL(c.n_collectors, FP_MAX_COLLECTORS);
}

static void test_validate(void)
{
    struct fp_config c;

    fp_config_defaults(&c);
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf,
                           "capture.ports: no capture port configured and no capture file (-r)");

    snprintf(c.capture_file, sizeof(c.capture_file), "x.pcap");
    c.export_ring_size = 3000;
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "export.ring_size: 3000 is not a power of two");

    fp_config_defaults(&c);
    snprintf(c.capture_file, sizeof(c.capture_file), "x.pcap");
    c.burst = 512;
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "capture.burst: 512 is out of range (1..256)");

    fp_config_defaults(&c);
    snprintf(c.capture_file, sizeof(c.capture_file), "x.pcap");
    c.flow_capacity = 1000;
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "flow.capacity: 1000 is out of range (1024..268435456)");

    fp_config_defaults(&c);
    snprintf(c.capture_file, sizeof(c.capture_file), "x.pcap");
    c.idle_timeout_ms = 5;
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "flow.idle_timeout: 0.005 s is out of range (0.01..86400 s)");

    fp_config_defaults(&c);
    snprintf(c.capture_file, sizeof(c.capture_file), "x.pcap");
    snprintf(c.log_level, sizeof(c.log_level), "loud");
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "log.level: invalid value");

    /* Ports: mbufs must cover the RX rings; devices unique. */
    fp_config_defaults(&c);
    c.n_ports = 1;
    snprintf(c.ports[0].device, sizeof(c.ports[0].device), "0000:01:00.0");
    c.workers = 4;
    c.rx_desc = 4096;
    c.mbufs = 16384;
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "capture.mbufs: 16384 is too small to fill 4 RX queue(s) of "
                                   "4096 descriptors (capture.rx_desc) plus one burst per "
                                   "worker: need at least 16512");
    c.mbufs = 16512;
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), 0);
    c.ports[0].rx_queues = 65;
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "capture.ports[0].rx_queues: 65 is out of range (0..64)");
    c.ports[0].rx_queues = 0;
    c.n_ports = 2;
    snprintf(c.ports[1].device, sizeof(c.ports[1].device), "0000:01:00.0");
    c.mbufs = 1 << 20;
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf,
                           "capture.ports[1].device: \"0000:01:00.0\" is already capture.ports[0]");
    c.ports[1].device[0] = '\0';
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "capture.ports[1].device: must not be empty");
    c.n_ports = 1;

    /* Collectors: same destination twice. */
    CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, "udp://Collector:4739", errbuf,
                                                sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, "tcp://collector", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, "udp://collector", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "export.collectors[2].url: \"udp://collector\" duplicates "
                                   "export.collectors[0] (\"udp://Collector:4739\")");
    c.n_collectors = 2;
    c.collectors[1].mtu = 100;
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_STRING_EQUAL(errbuf, "export.collectors[1].mtu: 100 is out of range (512..65000)");
}

/* Dump, reload over the defaults, compare: the dump is complete and parseable. */
static void dump_reload_equal(const struct fp_config *orig)
{
    struct fp_config back;
    char path[256];

    snprintf(path, sizeof(path), "%s/dump.conf", tmpdir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fp_config_dump(orig, f), 0);
    fclose(f);
    fp_config_defaults(&back);
    int rc = fp_config_load_file(&back, path, errbuf, sizeof(errbuf));
    if (rc != 0)
        fprintf(stderr, "\n%s\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    memcpy(back.capture_file, orig->capture_file, sizeof(back.capture_file));
    for (size_t i = 0; i < fp_config_n_settings; i++) {
        const struct fp_config_setting *s = &fp_config_settings[i];
        bool same = memcmp((const char *)orig + s->offset, (char *)&back + s->offset, s->size) == 0;
        if (!same)
            fprintf(stderr, "\ndump/reload: %s differs\n", s->path);
        CU_ASSERT_TRUE(same);
    }
    CU_ASSERT_EQUAL(memcmp(orig, &back, sizeof(back)), 0);
}

static void test_dump_roundtrip(void)
{
    struct fp_config c;

    tmpdir_make();
    fp_config_defaults(&c);
    dump_reload_equal(&c);

    memset(c.eal_args, 0, sizeof(c.eal_args));
    snprintf(c.eal_args, sizeof(c.eal_args), "--vdev \"x\" \\ tab\there\x01");
    snprintf(c.capture_file, sizeof(c.capture_file), "trace.pcap");
    c.workers = 4;
    c.progress = false;
    c.duration_s = 3600;
    c.decap_tunnels = false;
    c.idle_timeout_ms = 1234;
    c.active_timeout_ms = 90500;
    c.tcp_end_ms = 0;
    c.observation_domain = 4000000000u;
    c.template_refresh_msgs = 100;
    snprintf(c.log_level, sizeof(c.log_level), "warning");
    c.n_ports = 2;
    snprintf(c.ports[0].device, sizeof(c.ports[0].device), "0000:01:00.0");
    c.ports[0].rx_queues = 2;
    snprintf(c.ports[1].device, sizeof(c.ports[1].device), "net_pcap0,rx_pcap=/tmp/a b.pcap");
    CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, "udp://[2001:db8::1]:2055", errbuf,
                                                sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, "file:/tmp/x.ipfix", errbuf, sizeof(errbuf)),
                    0);
    c.collectors[0].biflow = true;
    c.collectors[1].mtu = 9000;
    dump_reload_equal(&c);

    /* The dump mentions every setting by name. */
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(fp_config_dump(&c, m), 0);
    fclose(m);
    for (size_t i = 0; i < fp_config_n_settings; i++) {
        char needle[96];
        snprintf(needle, sizeof(needle), " %s = ", strchr(fp_config_settings[i].path, '.') + 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, needle));
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "observation_domain = 4000000000L;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "idle_timeout = 1.234;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "active_timeout = 90.5;"));
    free(text);
    tmpdir_remove();
}

/* classify.* settings and the classify.rules list (values, ranges, required members). */
static void test_classify_settings(void)
{
    struct fp_config c;
    char path[128];

    tmpdir_make();
    fp_config_defaults(&c);
    CU_ASSERT_TRUE(c.classify_enabled);
    CU_ASSERT_EQUAL(c.classify_max_packets, 12);
    CU_ASSERT_EQUAL(c.classify_contexts, 8192);
    CU_ASSERT_EQUAL(c.n_classify_rules, 0);
    write_file("cl.conf",
               "classify = {\n  enabled = false;\n  max_packets = 20;\n  contexts = 64;\n"
               "  dns_cache = 1024;\n  classes = \"/etc/fp/classes.conf\";\n  rules = (\n"
               "    { name_suffix = \"corp.example\"; app = \"Corp\"; class = \"web\"; },\n"
               "    { prefix = \"10.0.0.0/8\"; port = 3389; proto = 6; app = \"RDP\";"
               " class = \"remote-access\"; }\n  );\n};\n",
               path, sizeof(path));
    CU_ASSERT_EQUAL_FATAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_FALSE(c.classify_enabled);
    CU_ASSERT_EQUAL(c.classify_max_packets, 20);
    CU_ASSERT_EQUAL(c.classify_contexts, 64);
    CU_ASSERT_EQUAL(c.classify_dns_cache, 1024);
    CU_ASSERT_STRING_EQUAL(c.classify_classes, "/etc/fp/classes.conf");
    CU_ASSERT_EQUAL_FATAL(c.n_classify_rules, 2);
    CU_ASSERT_STRING_EQUAL(c.classify_rules[0].name_suffix, "corp.example");
    CU_ASSERT_STRING_EQUAL(c.classify_rules[0].cls, "web");
    CU_ASSERT_EQUAL(c.classify_rules[0].port, 0);
    CU_ASSERT_STRING_EQUAL(c.classify_rules[1].prefix, "10.0.0.0/8");
    CU_ASSERT_EQUAL(c.classify_rules[1].port, 3389);
    CU_ASSERT_EQUAL(c.classify_rules[1].proto, 6);
    CU_ASSERT_STRING_EQUAL(c.classify_rules[1].app, "RDP");
    CU_ASSERT_STRING_EQUAL(c.classify_rules[1].cls, "remote-access");

    static const char *const bad[] = {
        "classify = {\n  max_packets = 0;\n};\n",
        "classify = {\n  max_packets = 256;\n};\n",
        "classify = {\n  rules = ( { app = \"X\"; class = \"fast\"; } );\n};\n",
        "classify = {\n  rules = ( { name_suffix = \"a.b\"; class = \"web\"; } );\n};\n",
        "classify = {\n  rules = ( { port = 70000; app = \"X\"; class = \"web\"; } );\n};\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fp_config_defaults(&c);
        write_file("bad.conf", bad[i], path, sizeof(path));
        errbuf[0] = '\0';
        CU_ASSERT_EQUAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), -EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "classify."));
    }
    tmpdir_remove();
}

/* tls:// and dtls:// URLs (port 4740), TLS files required, mode, retry, queue, spool. */
static void test_tls_export_settings(void)
{
    struct fp_config c;

    fp_config_defaults(&c);
    CU_ASSERT_EQUAL(c.export_mode, FP_EXPORT_MODE_ALL);
    CU_ASSERT_EQUAL(c.retry_min_ms, 60000); /* RFC 7011 10.4.4: once per minute by default */
    CU_ASSERT_EQUAL(c.retry_max_ms, 600000);
    CU_ASSERT_STRING_EQUAL(c.tls_min_version, "1.2");
    CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, "tls://collector.example.net", errbuf,
                                                sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.collectors[0].transport, FP_TRANSPORT_TLS);
    CU_ASSERT_EQUAL(c.collectors[0].port, 4740);
    CU_ASSERT_STRING_EQUAL(c.collectors[0].server_name, "");
    CU_ASSERT_EQUAL(fp_config_add_collector_url(&c, "DTLS://[::1]:5000", errbuf, sizeof(errbuf)),
                    0);
    CU_ASSERT_EQUAL(c.collectors[1].transport, FP_TRANSPORT_DTLS);
    CU_ASSERT_EQUAL(c.collectors[1].port, 5000);
    CU_ASSERT_STRING_EQUAL(c.collectors[1].host, "::1");
    snprintf(c.capture_file, sizeof(c.capture_file), "x.pcap");
    /* mutual authentication is mandatory: every TLS file must be configured */
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "export.tls_cert"));
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.tls_cert=/x/c.pem", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.tls_key=/x/k.pem", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "export.tls_ca"));
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.tls_ca=/x/ca.pem", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), 0);
    /* mode, versions, backoff, queue and spool */
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.mode=failover", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.export_mode, FP_EXPORT_MODE_FAILOVER);
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.mode=some", errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.tls_min_version=1.3", errbuf, sizeof(errbuf)),
                    0);
    CU_ASSERT_STRING_EQUAL(c.tls_min_version, "1.3");
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.tls_min_version=1.1", errbuf, sizeof(errbuf)),
                    -EINVAL); /* RFC 8996: nothing below 1.2 */
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.retry_min=0.05", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.retry_min_ms, 50);
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.retry_max=0.02", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "export.retry_max"));
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.retry_max=1", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.queue_records=0", errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.spool_dir=/var/spool/fp", errbuf,
                                       sizeof(errbuf)), 0);
    CU_ASSERT_STRING_EQUAL(c.spool_dir, "/var/spool/fp");
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.spool_max_mb=0", errbuf, sizeof(errbuf)),
                    -EINVAL);
    CU_ASSERT_EQUAL(fp_config_validate(&c, errbuf, sizeof(errbuf)), 0);
    /* server_name in a collector group */
    tmpdir_make();
    char path[256];
    write_file("tls.conf",
               "export = { tls_cert = \"c\"; tls_key = \"k\"; tls_ca = \"a\";\n"
               "  tls_peer_cn = \"a.test, b.test\";\n"
               "  collectors = ( { url = \"tls://10.0.0.1\"; server_name = \"ipfix.test\";"
               " peer_cn = \"ipfix.test\"; }, { url = \"dtls://10.0.0.2\"; } );"
               " };\n",
               path, sizeof(path));
    fp_config_defaults(&c);
    CU_ASSERT_STRING_EQUAL(c.tls_peer_cn, ""); /* default: no CN allow-list */
    CU_ASSERT_EQUAL_FATAL(fp_config_load_file(&c, path, errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_STRING_EQUAL(c.collectors[0].server_name, "ipfix.test");
    CU_ASSERT_EQUAL(c.collectors[0].port, 4740);
    /* RFC 7011 section 11 CN allow-list: global, and per collector (replaces the global) */
    CU_ASSERT_STRING_EQUAL(c.tls_peer_cn, "a.test, b.test");
    CU_ASSERT_STRING_EQUAL(c.collectors[0].peer_cn, "ipfix.test");
    CU_ASSERT_STRING_EQUAL(c.collectors[1].peer_cn, "");
    CU_ASSERT_EQUAL(fp_config_override(&c, "export.tls_peer_cn=c.test", errbuf, sizeof(errbuf)),
                    0);
    CU_ASSERT_STRING_EQUAL(c.tls_peer_cn, "c.test");
}

void fp_test_register_config(void);
void fp_test_register_config(void)
{
    static CU_TestInfo tests[] = {
        {"defaults", test_defaults},
        {"table_sane", test_table_sane},
        {"example_matches_defaults", test_example_matches_defaults},
        {"demo_conf", test_demo_conf},
        {"load_valid", test_load_valid},
        {"load_errors", test_load_errors},
        {"override", test_override},
        {"collector_url", test_collector_url},
        {"tls_export_settings", test_tls_export_settings},
        {"validate", test_validate},
        {"dump_roundtrip", test_dump_roundtrip},
        {"classify_settings", test_classify_settings},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("config", tests);
}
