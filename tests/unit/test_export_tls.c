/* SPDX-License-Identifier: BSD-3-Clause */
/* IPFIX over TLS (exporter = client) against an in-test OpenSSL server thread on loopback,
 * with the test PKI of scripts/make-certs.sh; backlog (queue, spool, replay, caps). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "export/export_internal.h"
#include "fp_test.h"

static char certdir[128];
static bool have_certs;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *cert(const char *name)
{
    static char buf[8][256];
    static unsigned k;
    char *b = buf[k++ % 8];
    snprintf(b, 256, "%s/%s", certdir, name);
    return b;
}

static bool certs_ready(void)
{
    if (certdir[0] == '\0') {
        snprintf(certdir, sizeof(certdir), "/tmp/fp_test_tls_%d", (int)getpid());
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "scripts/make-certs.sh %s >/dev/null 2>&1", certdir);
        have_certs = system(cmd) == 0;
        if (!have_certs)
            fprintf(stderr, "\nscripts/make-certs.sh failed (run from the repository root)\n");
    }
    return have_certs;
}

/* ------------------------------------------------------------------ test TLS server */

struct srv {
    int lfd;
    uint16_t port;
    SSL_CTX *ctx;
    pthread_t th;
    volatile bool stop;
    uint8_t *raw;         /* every byte received before the handshake succeeded */
    size_t raw_len;
    uint8_t *plain;       /* decrypted application data */
    size_t plain_len;
    int handshakes_ok;
    int handshakes_failed;
    char err[256];
};

#define SRV_BUF (4u << 20)

static void srv_append(uint8_t *dst, size_t *len, const void *src, size_t n)
{
    if (*len + n > SRV_BUF)
        n = SRV_BUF - *len;
    memcpy(dst + *len, src, n);
    *len += n;
}

static void srv_flush(int fd, BIO *wb)
{
    char buf[4096];
    int n;
    while ((n = BIO_read(wb, buf, sizeof(buf))) > 0)
        (void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL);
}

static void srv_conn(struct srv *s, int fd)
{
    SSL *ssl = SSL_new(s->ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    SSL_set_accept_state(ssl);
    bool done = false;
    char buf[16384];
    while (!s->stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        if (!done)
            srv_append(s->raw, &s->raw_len, buf, (size_t)n);
        BIO_write(rb, buf, (int)n);
        if (!done) {
            int r = SSL_do_handshake(ssl);
            if (r == 1) {
                done = true;
                s->handshakes_ok++;
            } else if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
                ERR_error_string_n(ERR_get_error(), s->err, sizeof(s->err));
                s->handshakes_failed++;
                srv_flush(fd, wb); /* the alert */
                break;
            }
        }
        if (done) {
            size_t got;
            while (SSL_read_ex(ssl, buf, sizeof(buf), &got) == 1)
                srv_append(s->plain, &s->plain_len, buf, got);
        }
        srv_flush(fd, wb);
    }
    SSL_free(ssl);
    close(fd);
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    while (!s->stop) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd >= 0)
            srv_conn(s, fd);
    }
    return NULL;
}

/* Start a server with certificate NAME on @p port (0 = any). */
static struct srv *srv_start(const char *name, uint16_t port)
{
    struct srv *s = calloc(1, sizeof(*s));
    char pem[64], key[64];
    snprintf(pem, sizeof(pem), "%s.pem", name);
    snprintf(key, sizeof(key), "%s.key", name);
    s->raw = malloc(SRV_BUF);
    s->plain = malloc(SRV_BUF);
    s->ctx = SSL_CTX_new(TLS_server_method());
    CU_ASSERT_FATAL(s->ctx != NULL);
    CU_ASSERT_FATAL(SSL_CTX_use_certificate_chain_file(s->ctx, cert(pem)) == 1);
    CU_ASSERT_FATAL(SSL_CTX_use_PrivateKey_file(s->ctx, cert(key), SSL_FILETYPE_PEM) == 1);
    CU_ASSERT_FATAL(SSL_CTX_load_verify_locations(s->ctx, cert("ca.pem"), NULL) == 1);
    SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CU_ASSERT_FATAL(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CU_ASSERT_FATAL(listen(s->lfd, 8) == 0);
    socklen_t al = sizeof(a);
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, srv_main, s);
    return s;
}

static void srv_stop(struct srv *s)
{
    s->stop = true;
    pthread_join(s->th, NULL);
    close(s->lfd);
    SSL_CTX_free(s->ctx);
}

static void srv_free(struct srv *s)
{
    free(s->raw);
    free(s->plain);
    free(s);
}

/* Does @p buf contain something shaped like one of our IPFIX message headers (version 10,
 * sane length, export time within a day of now, observation domain 7)? */
static bool has_ipfix_header(const uint8_t *b, size_t len)
{
    uint32_t now = (uint32_t)time(NULL);
    for (size_t i = 0; i + 16 <= len; i++) {
        if (b[i] != 0 || b[i + 1] != 10)
            continue;
        uint16_t l = (uint16_t)(b[i + 2] << 8 | b[i + 3]);
        uint32_t t = (uint32_t)b[i + 4] << 24 | (uint32_t)b[i + 5] << 16 |
                     (uint32_t)b[i + 6] << 8 | b[i + 7];
        uint32_t od = (uint32_t)b[i + 12] << 24 | (uint32_t)b[i + 13] << 16 |
                      (uint32_t)b[i + 14] << 8 | b[i + 15];
        if (l >= 16 && (t > now ? t - now : now - t) < 86400 && (od == 7 || od == 0))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ exporter side */

#define FLOW_ID_BASE 0x0123456789000000ull

static void make_rec(struct fp_flow_record *r, unsigned i)
{
    memset(r, 0, sizeof(*r));
    r->ip_version = 4;
    r->proto = 17;
    r->src[0] = 10, r->src[3] = (uint8_t)(i & 0xff);
    r->dst[0] = 192, r->dst[1] = 0, r->dst[2] = 2, r->dst[3] = 1;
    r->sport = (uint16_t)(1024 + i);
    r->dport = 53;
    r->flow_id = FLOW_ID_BASE + i;
    r->dir[0].packets = 1 + i % 3;
    r->dir[0].bytes = 100 + i;
    r->dir[0].first_ns = 1700000000000000000ull + i * 1000000ull;
    r->dir[0].last_ns = r->dir[0].first_ns + 1000000ull;
}

static void tls_cfg(struct fp_config *cfg, uint16_t port, const char *host, const char *name,
                    const char *exporter)
{
    fp_config_defaults(cfg);
    cfg->n_collectors = 1;
    cfg->observation_domain = 7;
    cfg->stats_interval_s = 0;
    cfg->drain_timeout_ms = 3000;
    struct fp_collector_config *c = &cfg->collectors[0];
    c->transport = FP_TRANSPORT_TLS;
    c->port = port;
    snprintf(c->host, sizeof(c->host), "%s", host);
    snprintf(c->server_name, sizeof(c->server_name), "%s", name ? name : "");
    snprintf(c->url, sizeof(c->url), "tls://%s:%u", host, (unsigned)port);
    char pem[64], key[64];
    snprintf(pem, sizeof(pem), "%s.pem", exporter);
    snprintf(key, sizeof(key), "%s.key", exporter);
    snprintf(cfg->tls_cert, sizeof(cfg->tls_cert), "%s", cert(pem));
    snprintf(cfg->tls_key, sizeof(cfg->tls_key), "%s", cert(key));
    snprintf(cfg->tls_ca, sizeof(cfg->tls_ca), "%s", cert("ca.pem"));
}

static struct fp_exporter *mk_exporter(const struct fp_config *cfg, struct rte_ring **r)
{
    struct fp_exporter_params p = {.cfg = cfg, .rings = r, .n_rings = 1,
                                   .tcp_retry_min_ms = 50, .tcp_retry_max_ms = 200,
                                   .flush_ms = 50, .exporting_process_id = 99};
    return fp_exporter_create(&p);
}

static void push(struct rte_ring *r, unsigned from, unsigned n)
{
    for (unsigned i = from; i < from + n; i++) {
        struct fp_flow_record rec;
        make_rec(&rec, i);
        while (!fp_export_ring_put(r, &rec))
            sleep_ms(1);
    }
}

/* Offsets of flow ids FLOW_ID_BASE+from .. +n-1 in @p b (big-endian u64); -1 if absent.
 * @return how many were found, and whether they appear in increasing order. */
static unsigned find_ids(const uint8_t *b, size_t len, unsigned from, unsigned n, bool *ordered)
{
    unsigned found = 0;
    long prev = -1;
    *ordered = true;
    for (unsigned i = from; i < from + n; i++) {
        uint64_t id = FLOW_ID_BASE + i;
        uint8_t be[8];
        for (int k = 0; k < 8; k++)
            be[k] = (uint8_t)(id >> (56 - 8 * k));
        const uint8_t *p = memmem(b, len, be, 8);
        if (p == NULL)
            continue;
        found++;
        if ((long)(p - b) < prev)
            *ordered = false;
        prev = (long)(p - b);
    }
    return found;
}

/* Walk the IPFIX stream: every message well formed, first message's sequence 0, a template
 * set before the first data set. @return number of messages, or -1. */
static int check_stream(const uint8_t *b, size_t len)
{
    size_t off = 0;
    int msgs = 0;
    bool tmpl = false;
    while (off + 16 <= len) {
        uint16_t l = (uint16_t)(b[off + 2] << 8 | b[off + 3]);
        if (b[off] != 0 || b[off + 1] != 10 || l < 16 || off + l > len)
            return -1;
        uint32_t seq = (uint32_t)b[off + 8] << 24 | (uint32_t)b[off + 9] << 16 |
                       (uint32_t)b[off + 10] << 8 | b[off + 11];
        if (msgs == 0 && seq != 0)
            return -1;
        for (size_t so = off + 16; so + 4 <= off + l;) {
            uint16_t sid = (uint16_t)(b[so] << 8 | b[so + 1]);
            uint16_t sl = (uint16_t)(b[so + 2] << 8 | b[so + 3]);
            if (sl < 4)
                return -1;
            if (sid == 2 || sid == 3)
                tmpl = true;
            else if (sid >= 256 && !tmpl)
                return -1;
            so += sl;
        }
        off += l;
        msgs++;
    }
    return off == len ? msgs : -1;
}

static void wait_state(struct fp_exporter *ex, enum fp_collector_state st, unsigned ms)
{
    struct fp_collector_stats s;
    for (unsigned i = 0; i < ms / 10; i++) {
        fp_exporter_get_stats(ex, 0, &s);
        if (s.state == st)
            return;
        sleep_ms(10);
    }
}

/* ------------------------------------------------------------------ tests */

static void test_tls_mutual_ok(void)
{
    if (!certs_ready())
        CU_FAIL_FATAL("no test certificates");
    /* by address (IP SAN) and by a configured expected DNS name */
    for (int mode = 0; mode < 2; mode++) {
        struct srv *s = srv_start("collector", 0);
        struct fp_config cfg;
        tls_cfg(&cfg, s->port, "127.0.0.1", mode ? "collector.test" : NULL, "exporter");
        struct rte_ring *r = fp_export_ring_create("t", 4096);
        struct fp_exporter *ex = mk_exporter(&cfg, &r);
        CU_ASSERT_FATAL(ex != NULL);
        CU_ASSERT_EQUAL(fp_exporter_start(ex), 0);
        push(r, 0, 500);
        fp_exporter_stop(ex);
        struct fp_collector_stats st;
        fp_exporter_get_stats(ex, 0, &st);
        CU_ASSERT_EQUAL(st.records, 500);
        CU_ASSERT_EQUAL(st.records_not_sent, 0);
        CU_ASSERT_EQUAL(st.records_queued, 0);
        fp_exporter_destroy(ex);
        fp_export_ring_free(r);
        sleep_ms(50);
        srv_stop(s);
        CU_ASSERT_EQUAL(s->handshakes_ok, 1);
        CU_ASSERT(check_stream(s->plain, s->plain_len) > 1);
        bool ordered;
        CU_ASSERT_EQUAL(find_ids(s->plain, s->plain_len, 0, 500, &ordered), 500);
        CU_ASSERT(ordered);
        /* encrypted: the wire never carries the plain messages */
        CU_ASSERT_FALSE(has_ipfix_header(s->raw, s->raw_len));
        srv_free(s);
    }
}

/* One refused session: cause in last_error, counter by reason, nothing in clear. */
static void refused(const char *server_cert, const char *exporter, const char *name,
                    enum fp_export_fail reason, const char *text, bool cfg_missing_file)
{
    if (!certs_ready())
        CU_FAIL_FATAL("no test certificates");
    struct srv *s = srv_start(server_cert, 0);
    struct fp_config cfg;
    tls_cfg(&cfg, s->port, "127.0.0.1", name, exporter);
    cfg.drain_timeout_ms = 0;
    if (cfg_missing_file)
        snprintf(cfg.tls_ca, sizeof(cfg.tls_ca), "%s", cert("no-such-ca.pem"));
    struct rte_ring *r = fp_export_ring_create("t", 256);
    struct fp_exporter *ex = mk_exporter(&cfg, &r);
    CU_ASSERT_FATAL(ex != NULL); /* not fatal: retried */
    CU_ASSERT_EQUAL(fp_exporter_start(ex), 0);
    push(r, 0, 20);
    sleep_ms(600); /* a few retries (50, 100, 200 ms) */
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT_NOT_EQUAL(st.state, FP_COLLECTOR_STATE_UP);
    CU_ASSERT(st.failures[reason] >= 2);
    if (st.failures[reason] < 2)
        fprintf(stderr, "\nwanted reason %s, last error: %s\n", fp_export_fail_name(reason),
                st.last_error);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.last_error, text));
    if (strstr(st.last_error, text) == NULL)
        fprintf(stderr, "\nlast_error \"%s\" lacks \"%s\"\n", st.last_error, text);
    CU_ASSERT_EQUAL(st.records, 0);
    CU_ASSERT_EQUAL(st.records_queued, 20); /* queued, not lost */
    fp_exporter_stop(ex);
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT_EQUAL(st.records_not_sent, 20); /* counted at stop */
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);
    srv_stop(s);
    CU_ASSERT_EQUAL(s->handshakes_ok, 0);
    CU_ASSERT_EQUAL(s->plain_len, 0);
    CU_ASSERT_FALSE(has_ipfix_header(s->raw, s->raw_len));
    srv_free(s);
}

static void test_tls_wrong_ca(void)
{
    refused("other-collector", "exporter", NULL, FP_EXPORT_FAIL_UNKNOWN_CA,
            "unable to get local issuer certificate", false);
}

static void test_tls_expired(void)
{
    refused("expired", "exporter", NULL, FP_EXPORT_FAIL_CERT_EXPIRED, "certificate has expired",
            false);
}

static void test_tls_not_yet_valid(void)
{
    refused("notyet", "exporter", NULL, FP_EXPORT_FAIL_CERT_NOT_YET_VALID,
            "certificate is not yet valid", false);
}

static void test_tls_name_mismatch(void)
{
    refused("wrongname", "exporter", NULL, FP_EXPORT_FAIL_NAME_MISMATCH, "IP address mismatch",
            false);
    refused("collector", "exporter", "other.test", FP_EXPORT_FAIL_NAME_MISMATCH,
            "hostname mismatch", false);
}

static void test_tls_wrong_client_cert(void)
{
    /* The collector refuses our certificate: with TLS 1.3 the client learns it from the
     * alert after its side of the handshake; either way no data reaches the server. */
    if (!certs_ready())
        CU_FAIL_FATAL("no test certificates");
    struct srv *s = srv_start("collector", 0);
    struct fp_config cfg;
    tls_cfg(&cfg, s->port, "127.0.0.1", NULL, "other-exporter");
    cfg.drain_timeout_ms = 0;
    struct rte_ring *r = fp_export_ring_create("t", 256);
    struct fp_exporter *ex = mk_exporter(&cfg, &r);
    CU_ASSERT_FATAL(ex != NULL);
    fp_exporter_start(ex);
    push(r, 0, 20);
    sleep_ms(600);
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    uint64_t fails = 0;
    for (unsigned i = 0; i < FP_EXPORT_FAIL_COUNT; i++)
        fails += st.failures[i];
    CU_ASSERT(fails >= 2);
    /* the cause is the collector's alert, unless its reset overtook the alert */
    bool named = strstr(st.last_error, "unknown ca") != NULL ||
                 st.failures[FP_EXPORT_FAIL_PEER_RESET] + st.failures[FP_EXPORT_FAIL_PEER_CLOSED] >=
                     2;
    CU_ASSERT(named);
    if (!named)
        fprintf(stderr, "\nlast_error: %s\n", st.last_error);
    fp_exporter_stop(ex);
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT_EQUAL(st.records_not_sent, 20); /* held records came back, counted at stop */
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);
    srv_stop(s);
    CU_ASSERT_EQUAL(s->handshakes_ok, 0);
    CU_ASSERT(s->handshakes_failed >= 1);
    CU_ASSERT_EQUAL(s->plain_len, 0);
    CU_ASSERT_FALSE(has_ipfix_header(s->raw, s->raw_len));
    srv_free(s);
}

static void test_tls_missing_file(void)
{
    refused("collector", "exporter", NULL, FP_EXPORT_FAIL_TLS_FILES, "no-such-ca.pem", true);
}

/* Server goes away mid-export and comes back: everything arrives (in order per session),
 * records of the outage were queued and replayed after the templates of the new session. */
static void test_tls_reconnect(void)
{
    if (!certs_ready())
        CU_FAIL_FATAL("no test certificates");
    struct srv *s1 = srv_start("collector", 0);
    uint16_t port = s1->port;
    struct fp_config cfg;
    tls_cfg(&cfg, port, "localhost", NULL, "exporter");
    struct rte_ring *r = fp_export_ring_create("t", 4096);
    struct fp_exporter *ex = mk_exporter(&cfg, &r);
    CU_ASSERT_FATAL(ex != NULL);
    fp_exporter_start(ex);
    push(r, 0, 200);
    sleep_ms(300);
    srv_stop(s1); /* collector down */
    wait_state(ex, FP_COLLECTOR_STATE_DOWN, 2000);
    push(r, 200, 300);
    sleep_ms(200);
    struct fp_collector_stats st;
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT(st.records_queued > 0);
    struct srv *s2 = srv_start("collector", port);
    wait_state(ex, FP_COLLECTOR_STATE_UP, 3000);
    push(r, 500, 100);
    fp_exporter_stop(ex);
    fp_exporter_get_stats(ex, 0, &st);
    CU_ASSERT(st.reconnects >= 1);
    CU_ASSERT_EQUAL(st.records_not_sent, 0);
    CU_ASSERT_EQUAL(st.records_queued, 0);
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);
    sleep_ms(50);
    srv_stop(s2);
    bool o1, o2;
    unsigned a = find_ids(s1->plain, s1->plain_len, 0, 200, &o1);
    unsigned b = find_ids(s2->plain, s2->plain_len, 200, 400, &o2);
    CU_ASSERT_EQUAL(a, 200);
    CU_ASSERT_EQUAL(b, 400);
    CU_ASSERT(o1 && o2);
    CU_ASSERT(check_stream(s2->plain, s2->plain_len) > 0); /* new session: seq 0, templates */
    srv_free(s1);
    srv_free(s2);
}

/* ------------------------------------------------------------------ backlog */

static void test_backlog_spool_order(void)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "/tmp/fp_test_spool_%d", (int)getpid());
    struct fp_export_backlog b;
    CU_ASSERT_EQUAL_FATAL(fp_export_backlog_init(&b, 32, dir, "tls://x:1", 16u << 20, false), 0);
    uint64_t dropped[3] = {0, 0, 0}, spooled = 0;
    struct fp_flow_record rec, out;
    /* interleave pushes and pops so memory, spool and segment boundaries all mix */
    unsigned next_in = 0, next_out = 0;
    for (int round = 0; round < 5; round++) {
        for (unsigned i = 0; i < 700; i++) {
            make_rec(&rec, next_in++);
            fp_export_backlog_push(&b, &rec, dropped, &spooled);
        }
        for (unsigned i = 0; i < 400 && fp_export_backlog_pop(&b, &out); i++)
            CU_ASSERT_EQUAL(out.flow_id, FLOW_ID_BASE + next_out++);
    }
    CU_ASSERT(spooled > 0);
    CU_ASSERT_EQUAL(dropped[0], 0);
    /* requeue goes in front of everything */
    struct fp_flow_record front[2];
    make_rec(&front[0], 100000);
    make_rec(&front[1], 100001);
    CU_ASSERT_EQUAL(fp_export_backlog_requeue(&b, front, 2), 0);
    CU_ASSERT(fp_export_backlog_pop(&b, &out) && out.flow_id == FLOW_ID_BASE + 100000);
    CU_ASSERT(fp_export_backlog_pop(&b, &out) && out.flow_id == FLOW_ID_BASE + 100001);
    CU_ASSERT_EQUAL(fp_export_backlog_count(&b), next_in - next_out);
    while (fp_export_backlog_pop(&b, &out))
        CU_ASSERT_EQUAL(out.flow_id, FLOW_ID_BASE + next_out++);
    CU_ASSERT_EQUAL(next_out, next_in);
    fp_export_backlog_fini(&b);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_backlog_caps(void)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "/tmp/fp_test_spoolcap_%d", (int)getpid());
    struct fp_export_backlog b;
    uint64_t dropped[3] = {0, 0, 0}, spooled = 0;
    struct fp_flow_record rec, out;
    /* memory only: the oldest are dropped and counted */
    CU_ASSERT_EQUAL_FATAL(fp_export_backlog_init(&b, 100, NULL, "x", 0, false), 0);
    uint64_t pk = 0, oc = 0;
    for (unsigned i = 0; i < 250; i++) {
        make_rec(&rec, i);
        if (i < 150) {
            pk += rec.dir[0].packets;
            oc += rec.dir[0].bytes;
        }
        fp_export_backlog_push(&b, &rec, dropped, &spooled);
    }
    CU_ASSERT_EQUAL(dropped[0], 150);
    CU_ASSERT_EQUAL(dropped[1], pk);
    CU_ASSERT_EQUAL(dropped[2], oc);
    CU_ASSERT(fp_export_backlog_pop(&b, &out) && out.flow_id == FLOW_ID_BASE + 150);
    fp_export_backlog_fini(&b);

    /* memory + a 1 MiB spool: beyond it whole oldest segments go, the newest stay in order */
    memset(dropped, 0, sizeof(dropped));
    CU_ASSERT_EQUAL_FATAL(fp_export_backlog_init(&b, 64, dir, "y", 1u << 20, true), 0);
    unsigned n = 5000; /* ~3.9 MB of records */
    for (unsigned i = 0; i < n; i++) {
        make_rec(&rec, i);
        fp_export_backlog_push(&b, &rec, dropped, &spooled);
    }
    CU_ASSERT(dropped[0] > 0);
    CU_ASSERT_EQUAL(dropped[0] + fp_export_backlog_count(&b), n); /* biflow: 1 per record */
    unsigned expect = (unsigned)dropped[0], bad = 0;
    while (fp_export_backlog_pop(&b, &out))
        bad += out.flow_id != FLOW_ID_BASE + expect++;
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(expect, n);
    fp_export_backlog_fini(&b);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* ------------------------------------------------------------------ CN allow-list */

/* Export 100 records to a "collector" server (CN collector.test) with the given global and
 * per-collector allow-lists. @return records the server received; *st gets the stats. */
static unsigned cn_run(const char *global, const char *own, struct fp_collector_stats *st,
                       struct srv **out)
{
    struct srv *s = srv_start("collector", 0);
    struct fp_config cfg;
    tls_cfg(&cfg, s->port, "127.0.0.1", NULL, "exporter");
    cfg.drain_timeout_ms = 0;
    snprintf(cfg.tls_peer_cn, sizeof(cfg.tls_peer_cn), "%s", global);
    snprintf(cfg.collectors[0].peer_cn, sizeof(cfg.collectors[0].peer_cn), "%s", own);
    struct rte_ring *r = fp_export_ring_create("t", 256);
    struct fp_exporter *ex = mk_exporter(&cfg, &r);
    CU_ASSERT_FATAL(ex != NULL);
    CU_ASSERT_EQUAL(fp_exporter_start(ex), 0);
    push(r, 0, 100);
    sleep_ms(500);
    fp_exporter_get_stats(ex, 0, st);
    fp_exporter_stop(ex);
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);
    sleep_ms(50);
    srv_stop(s);
    bool ordered;
    *out = s;
    return find_ids(s->plain, s->plain_len, 0, 100, &ordered);
}

static void test_tls_peer_cn(void)
{
    if (!certs_ready())
        CU_FAIL_FATAL("no test certificates");
    struct fp_collector_stats st;
    struct srv *s;
    /* accepted: listed (ASCII case and spaces ignored), globally or per collector */
    static const char *const ok[][2] = {
        {"a.test, Collector.TEST ,b.test", ""},
        {"other.test", "collector.test"},
    };
    for (unsigned i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(cn_run(ok[i][0], ok[i][1], &st, &s), 100);
        CU_ASSERT_EQUAL(st.failures[FP_EXPORT_FAIL_NAME_MISMATCH], 0);
        CU_ASSERT_EQUAL(s->handshakes_ok, 1);
        srv_free(s);
    }
    /* refused: not listed (a prefix, a suffix, or the per-collector list replaces the global
     * one); the chain and the name verified, yet not one byte of IPFIX was written */
    static const char *const bad[][2] = {
        {"collector", ""},
        {"x.collector.test,collector.tes", ""},
        {"collector.test", "other.test"},
    };
    for (unsigned i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(cn_run(bad[i][0], bad[i][1], &st, &s), 0);
        CU_ASSERT(st.failures[FP_EXPORT_FAIL_NAME_MISMATCH] >= 2); /* retried, refused again */
        CU_ASSERT_PTR_NOT_NULL(strstr(st.last_error, "CN \"collector.test\" is not in the "
                                                     "allowed list"));
        if (strstr(st.last_error, "not in the allowed list") == NULL)
            fprintf(stderr, "\nlast_error: %s\n", st.last_error);
        CU_ASSERT_EQUAL(st.records, 0);
        CU_ASSERT_NOT_EQUAL(st.state, FP_COLLECTOR_STATE_UP);
        CU_ASSERT(s->handshakes_ok >= 1); /* the TLS handshake itself succeeded */
        CU_ASSERT_EQUAL(s->plain_len, 0);
        CU_ASSERT_FALSE(has_ipfix_header(s->raw, s->raw_len));
        srv_free(s);
    }
}

/* ------------------------------------------------------------------ spool through the exporter */

static uint64_t dir_bytes(const char *dir, unsigned *files)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "find %s -name 'seg-*.ipfix' -printf '%%s\\n' 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    unsigned long long v, sum = 0;
    *files = 0;
    if (p == NULL)
        return 0;
    while (fscanf(p, "%llu", &v) == 1) {
        sum += v;
        (*files)++;
    }
    pclose(p);
    return sum;
}

/* Collector down: a small memory queue overflows into a 1 MiB spool; beyond the cap the
 * oldest records are dropped and counted not sent (notSentFlowTotalCount); a damaged
 * segment loses only the records after the damage, counted the same way; when the
 * collector returns, exactly the other newest records arrive, in order. */
static void test_tls_spool_cap(void)
{
    if (!certs_ready())
        CU_FAIL_FATAL("no test certificates");
    char dir[128];
    snprintf(dir, sizeof(dir), "/tmp/fp_test_spoolx_%d", (int)getpid());
    struct srv *s0 = srv_start("collector", 0); /* only to get a free port */
    uint16_t port = s0->port;
    srv_stop(s0);
    srv_free(s0);
    struct fp_config cfg;
    tls_cfg(&cfg, port, "localhost", NULL, "exporter");
    cfg.queue_records = 64;
    cfg.spool_max_mb = 1;
    cfg.drain_timeout_ms = 5000;
    snprintf(cfg.spool_dir, sizeof(cfg.spool_dir), "%s", dir);
    struct rte_ring *r = fp_export_ring_create("t", 8192);
    struct fp_exporter *ex = mk_exporter(&cfg, &r);
    CU_ASSERT_FATAL(ex != NULL);
    fp_exporter_start(ex);
    const unsigned n = 5000; /* 3.9 MB of records: well past the cap */
    push(r, 0, n);
    struct fp_collector_stats st;
    for (int i = 0; i < 200; i++) {
        fp_exporter_get_stats(ex, 0, &st);
        if (st.records_queued + st.queue_dropped == n)
            break;
        sleep_ms(10);
    }
    unsigned files;
    uint64_t bytes = dir_bytes(dir, &files);
    CU_ASSERT(files >= 2);
    CU_ASSERT(bytes > 0 && bytes <= (1u << 20)); /* size-capped */
    CU_ASSERT(st.records_spooled > 0);
    CU_ASSERT(st.queue_dropped > 0);
    CU_ASSERT_EQUAL(st.records_queued + st.queue_dropped, n);
    CU_ASSERT_EQUAL(st.records_not_sent, st.queue_dropped); /* one uniflow record each */
    uint64_t dropped = st.queue_dropped;
    /* Damage the oldest segment (closed: it is not the one being written): the records after
     * the cut cannot be read back and must be counted not sent, the rest still replayed. */
    char cmd[400];
    snprintf(cmd, sizeof(cmd),
             "f=$(find %s -name 'seg-*.ipfix' | sort | head -n 1) && [ -n \"$f\" ] && "
             "truncate -s $(( $(stat -c %%s \"$f\") / 2 )) \"$f\"", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    struct srv *s = srv_start("collector", port);
    wait_state(ex, FP_COLLECTOR_STATE_UP, 3000);
    fp_exporter_stop(ex);
    fp_exporter_get_stats(ex, 0, &st);
    uint64_t lost = st.records_not_sent - dropped;
    CU_ASSERT(st.records_not_sent > dropped); /* the cut records, counted */
    CU_ASSERT(lost < 200);                     /* at most one segment (149 records) */
    CU_ASSERT_EQUAL(st.records + st.records_not_sent, n);
    CU_ASSERT_EQUAL(st.queue_dropped, dropped + lost);
    CU_ASSERT_EQUAL(st.records_queued, 0);
    fp_exporter_destroy(ex);
    fp_export_ring_free(r);
    sleep_ms(50);
    srv_stop(s);
    bool ordered, o2;
    CU_ASSERT_EQUAL(find_ids(s->plain, s->plain_len, (unsigned)dropped, n - (unsigned)dropped,
                             &ordered),
                    n - dropped - lost);
    CU_ASSERT(ordered);
    CU_ASSERT_EQUAL(find_ids(s->plain, s->plain_len, 0, (unsigned)dropped, &o2), 0);
    CU_ASSERT_EQUAL(dir_bytes(dir, &files), 0); /* removed at stop */
    srv_free(s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_tls_cleanup(void)
{
    if (certdir[0] != '\0') {
        char cmd[200];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", certdir);
        CU_ASSERT_EQUAL(system(cmd), 0);
    }
}

void fp_test_register_export_tls(void);
void fp_test_register_export_tls(void)
{
    static const CU_TestInfo tests[] = {
        {"backlog spool order", test_backlog_spool_order},
        {"backlog caps", test_backlog_caps},
        {"tls mutual ok", test_tls_mutual_ok},
        {"tls wrong ca", test_tls_wrong_ca},
        {"tls expired", test_tls_expired},
        {"tls not yet valid", test_tls_not_yet_valid},
        {"tls name mismatch", test_tls_name_mismatch},
        {"tls wrong client cert", test_tls_wrong_client_cert},
        {"tls missing file", test_tls_missing_file},
        {"tls reconnect", test_tls_reconnect},
        {"tls peer cn allow-list", test_tls_peer_cn},
        {"tls spool cap", test_tls_spool_cap},
        {"cleanup", test_tls_cleanup},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("export_tls", tests);
}
