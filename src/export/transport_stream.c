/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stream transports of the exporter (exporter thread only): TCP, TLS over TCP and DTLS over
 * UDP (RFC 7011 §10.4, §11), with OpenSSL 3 directly (Debian's libfixbuf has no TLS).
 *
 * - Non-blocking sockets throughout: a stalled collector never blocks the exporter thread or
 *   the other collectors. Encoded IPFIX messages go to a per-collector send queue and are
 *   written as the socket allows (TLS: one SSL_write per message, DTLS: one message per
 *   record/datagram).
 * - Delivery window: each flow record encoded in the session is held with the number of the
 *   message that carries it; a message counts as delivered once the collector's TCP
 *   acknowledged all its bytes (socket bytes written minus SIOCOUTQ). On failure the records
 *   of undelivered messages go back to the front of the backlog (transport_queue.c).
 *   DTLS has no acknowledgement: a message counts as delivered once written.
 * - TLS: exporter is the client; TLS 1.2 minimum (configurable 1.3); mutual authentication
 *   (certificate + key, CA bundle, SSL_VERIFY_PEER); the collector's name is checked
 *   (SSL_set1_host for a DNS name, X509_VERIFY_PARAM_set1_ip_asc for an address literal).
 *   Nothing is written to the socket before the handshake verified the collector: the
 *   libfixbuf session is opened only after fp_export_stream_progress() returned 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "export/export_internal.h"

#define CONNECT_TIMEOUT_MS 3000
#define HANDSHAKE_TIMEOUT_MS 10000
#define CLOSE_FLUSH_MS 3000
#define DTLS_OVERHEAD 80 /* DTLS 1.2 record header + AEAD nonce/tag/padding, generous */

static const char *const fail_names[] = {
#define FP_X(id, name) name,
    FP_EXPORT_FAIL_LIST(FP_X)
#undef FP_X
};

const char *fp_export_fail_name(enum fp_export_fail f)
{
    return (unsigned)f < FP_EXPORT_FAIL_COUNT ? fail_names[f] : "?";
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool is_tls(const struct fp_collector *c)
{
    return c->cfg->transport == FP_TRANSPORT_TLS || c->cfg->transport == FP_TRANSPORT_DTLS;
}

static bool is_dtls(const struct fp_collector *c)
{
    return c->cfg->transport == FP_TRANSPORT_DTLS;
}

/* The first queued OpenSSL error as text ("" if none); clears the queue. */
static void ssl_err_text(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    buf[0] = '\0';
    if (e != 0)
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

/* Reason of an OpenSSL library error (alerts from the collector included). */
static enum fp_export_fail ssl_err_reason(unsigned long e)
{
    switch (ERR_GET_REASON(e)) {
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
        return FP_EXPORT_FAIL_CERT_EXPIRED;
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        return FP_EXPORT_FAIL_UNKNOWN_CA;
    default:
        return FP_EXPORT_FAIL_HANDSHAKE;
    }
}

static enum fp_export_fail verify_reason(long v)
{
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return FP_EXPORT_FAIL_CERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return FP_EXPORT_FAIL_CERT_NOT_YET_VALID;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return FP_EXPORT_FAIL_UNKNOWN_CA;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
    case X509_V_ERR_EMAIL_MISMATCH:
        return FP_EXPORT_FAIL_NAME_MISMATCH;
    default:
        return FP_EXPORT_FAIL_CERT_OTHER;
    }
}

static int fail(enum fp_export_fail *reason, enum fp_export_fail r, int rc)
{
    *reason = r;
    return rc;
}

static int check_file(const char *setting, const char *path, enum fp_export_fail *reason,
                      char *why, size_t len)
{
    if (access(path, R_OK) == 0)
        return 0;
    int e = errno;
    snprintf(why, len, "TLS: cannot read %s \"%s\": %s", setting, path, strerror(e));
    return fail(reason, FP_EXPORT_FAIL_TLS_FILES, -e);
}

int fp_export_tls_ctx_load(struct fp_collector *c, enum fp_export_fail *reason, char *why,
                           size_t len)
{
    const struct fp_config *cfg = &c->ex->cfg;
    char err[200];
    int rc;

    if (c->ssl_ctx != NULL)
        return 0;
    if ((rc = check_file("export.tls_cert", cfg->tls_cert, reason, why, len)) < 0 ||
        (rc = check_file("export.tls_key", cfg->tls_key, reason, why, len)) < 0 ||
        (rc = check_file("export.tls_ca", cfg->tls_ca, reason, why, len)) < 0)
        return rc;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(is_dtls(c) ? DTLS_client_method() : TLS_client_method());
    if (ctx == NULL) {
        ssl_err_text(err, sizeof(err));
        snprintf(why, len, "TLS: SSL_CTX_new: %s", err);
        return fail(reason, FP_EXPORT_FAIL_IO, -ENOMEM);
    }
    const char *what = NULL, *file = NULL;
    int minv = is_dtls(c) ? DTLS1_2_VERSION
                          : strcmp(cfg->tls_min_version, "1.3") == 0 ? TLS1_3_VERSION
                                                                     : TLS1_2_VERSION;
    if (!SSL_CTX_set_min_proto_version(ctx, minv))
        what = "minimum protocol version";
    else if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1)
        what = "certificate (export.tls_cert)", file = cfg->tls_cert;
    else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1)
        what = "private key (export.tls_key)", file = cfg->tls_key;
    else if (SSL_CTX_check_private_key(ctx) != 1)
        what = "private key does not match the certificate", file = cfg->tls_key;
    else if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1)
        what = "CA bundle (export.tls_ca)", file = cfg->tls_ca;
    else if (cfg->tls_ciphers[0] && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1)
        what = "cipher list (export.tls_ciphers)";
    else if (cfg->tls_ciphersuites[0] && !is_dtls(c) &&
             SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1)
        what = "TLS 1.3 cipher suites (export.tls_ciphersuites)";
    if (what != NULL) {
        ssl_err_text(err, sizeof(err));
        snprintf(why, len, "TLS: bad %s%s%s%s: %s", what, file ? " \"" : "", file ? file : "",
                 file ? "\"" : "", err[0] ? err : "rejected");
        SSL_CTX_free(ctx);
        return fail(reason, FP_EXPORT_FAIL_TLS_FILES, -EINVAL);
    }
    /* Our own certificate must be valid now, or the collector will refuse it. */
    X509 *own = SSL_CTX_get0_certificate(ctx);
    if (own != NULL) {
        if (X509_cmp_current_time(X509_get0_notAfter(own)) < 0) {
            snprintf(why, len, "TLS: exporter certificate \"%s\" has expired", cfg->tls_cert);
            SSL_CTX_free(ctx);
            return fail(reason, FP_EXPORT_FAIL_CERT_EXPIRED, -EKEYEXPIRED);
        }
        if (X509_cmp_current_time(X509_get0_notBefore(own)) > 0) {
            snprintf(why, len, "TLS: exporter certificate \"%s\" is not yet valid",
                     cfg->tls_cert);
            SSL_CTX_free(ctx);
            return fail(reason, FP_EXPORT_FAIL_CERT_NOT_YET_VALID, -EKEYREJECTED);
        }
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    c->ssl_ctx = ctx;
    return 0;
}

int fp_export_stream_connect(struct fp_collector *c, enum fp_export_fail *reason, char *why,
                             size_t len)
{
    int type = is_dtls(c) ? SOCK_DGRAM : SOCK_STREAM;
    int fd = socket(c->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(why, len, "socket: %s", strerror(e));
        return fail(reason, FP_EXPORT_FAIL_IO, -e);
    }
    if (connect(fd, (const struct sockaddr *)&c->addr, c->addr_len) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        snprintf(why, len, "connect: %s", strerror(e));
        return fail(reason, FP_EXPORT_FAIL_CONNECT, -e);
    }
    c->fd = fd;
    c->handshaking = false;
    c->ssl = NULL;
    return 0;
}

/* Create the SSL object and set the name to verify. */
static int tls13_confirm(struct fp_collector *c, int timeout_ms, enum fp_export_fail *reason,
                         char *why, size_t len);

static int tls_start(struct fp_collector *c, enum fp_export_fail *reason, char *why, size_t len)
{
    char err[200];
    c->tls_confirmed = false;
    c->confirm_start_ms = 0;
    const char *name = c->cfg->server_name[0] ? c->cfg->server_name : c->cfg->host;
    SSL *ssl = SSL_new(c->ssl_ctx);
    if (ssl == NULL) {
        ssl_err_text(err, sizeof(err));
        snprintf(why, len, "TLS: SSL_new: %s", err);
        return fail(reason, FP_EXPORT_FAIL_IO, -ENOMEM);
    }
    if (is_dtls(c)) {
        BIO *bio = BIO_new_dgram(c->fd, BIO_NOCLOSE);
        if (bio == NULL) {
            SSL_free(ssl);
            snprintf(why, len, "DTLS: BIO_new_dgram failed");
            return fail(reason, FP_EXPORT_FAIL_IO, -ENOMEM);
        }
        BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &c->addr);
        SSL_set_bio(ssl, bio, bio);
        SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
        SSL_set_mtu(ssl, (long)(c->cfg->mtu ? c->cfg->mtu : 1400));
    } else {
        SSL_set_fd(ssl, c->fd);
    }
    unsigned char ip[16];
    bool literal = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    int ok;
    if (literal) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
    } else {
        SSL_set_tlsext_host_name(ssl, name);
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set1_host(ssl, name);
    }
    if (ok != 1) {
        SSL_free(ssl);
        snprintf(why, len, "TLS: cannot set the expected collector name \"%s\"", name);
        return fail(reason, FP_EXPORT_FAIL_TLS_FILES, -EINVAL);
    }
    c->ssl = ssl;
    c->handshaking = true;
    return 0;
}

/* Is @p cn (@p n octets) one of the comma-separated names of @p list (spaces around names
 * ignored, ASCII case ignored)? */
static bool cn_listed(const char *list, const char *cn, size_t n)
{
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *e = p;
        while (*e != '\0' && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == n && n > 0 && strncasecmp(p, cn, n) == 0)
            return true;
        p = e;
    }
    return false;
}

/*
 * RFC 7011 §11: explicit allow-list of collector certificates by Common Name (collector
 * peer_cn, else export.tls_peer_cn; "" = no list). Checked after OpenSSL verified the chain
 * and the name, before anything is written. A CN with an embedded NUL never matches.
 */
static int peer_cn_check(struct fp_collector *c, enum fp_export_fail *reason, char *why,
                         size_t len)
{
    const char *list = c->cfg->peer_cn[0] ? c->cfg->peer_cn : c->ex->cfg.tls_peer_cn;
    if (list[0] == '\0')
        return 0;
    X509 *peer = SSL_get0_peer_certificate(c->ssl);
    const X509_NAME *subj = peer ? X509_get_subject_name(peer) : NULL;
    char first[128] = "";
    for (int i = -1; subj != NULL;) {
        i = X509_NAME_get_index_by_NID(subj, NID_commonName, i);
        if (i < 0)
            break;
        const ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
        unsigned char *u = NULL;
        int n = ASN1_STRING_to_UTF8(&u, d);
        if (n < 0)
            continue;
        bool ok = memchr(u, '\0', (size_t)n) == NULL && cn_listed(list, (const char *)u,
                                                                  (size_t)n);
        if (first[0] == '\0')
            snprintf(first, sizeof(first), "%.*s", n, (const char *)u);
        OPENSSL_free(u);
        if (ok)
            return 0;
    }
    snprintf(why, len, "TLS: collector certificate CN \"%s\" is not in the allowed list "
             "(%s \"%s\")", first[0] ? first : "(none)",
             c->cfg->peer_cn[0] ? "collector peer_cn" : "export.tls_peer_cn", list);
    return fail(reason, FP_EXPORT_FAIL_NAME_MISMATCH, -EKEYREJECTED);
}

int fp_export_stream_progress(struct fp_collector *c, int timeout_ms, uint64_t started_ms,
                              enum fp_export_fail *reason, char *why, size_t len)
{
    char err[200];
    int rc;

    if (!c->handshaking && c->ssl == NULL) { /* TCP connect in progress (UDP: immediate) */
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        int n = is_dtls(c) ? 1 : poll(&p, 1, timeout_ms);
        if (n == 0) {
            if (now_ms() - started_ms >= CONNECT_TIMEOUT_MS) {
                snprintf(why, len, "connect: timed out");
                return fail(reason, FP_EXPORT_FAIL_CONNECT, -ETIMEDOUT);
            }
            return 0;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (n < 0 || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            soerr = errno;
        if (soerr != 0) {
            snprintf(why, len, "connect: %s", strerror(soerr));
            return fail(reason, FP_EXPORT_FAIL_CONNECT, -soerr);
        }
        if (!is_tls(c))
            return 1;
        if ((rc = tls_start(c, reason, why, len)) < 0)
            return rc;
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1) {
            c->handshaking = false;
            if ((rc = peer_cn_check(c, reason, why, len)) < 0)
                return rc;
            if ((rc = tls13_confirm(c, timeout_ms, reason, why, len)) <= 0)
                return rc;
            return 1;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (now_ms() - started_ms >= HANDSHAKE_TIMEOUT_MS) {
                snprintf(why, len, "TLS handshake: timed out (collector not answering)");
                return fail(reason, FP_EXPORT_FAIL_HANDSHAKE, -ETIMEDOUT);
            }
            if (timeout_ms <= 0)
                return 0;
            struct pollfd p = {.fd = c->fd,
                               .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
            int wait = timeout_ms;
            struct timeval tv;
            if (is_dtls(c) && DTLSv1_get_timeout(c->ssl, &tv))
                wait = FP_MIN(wait, (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1);
            if (poll(&p, 1, wait) == 0) {
                if (is_dtls(c))
                    DTLSv1_handle_timeout(c->ssl);
                return 0;
            }
            timeout_ms = 0; /* one wait per call */
            continue;
        }
        long v = SSL_get_verify_result(c->ssl);
        if (v != X509_V_OK) {
            const char *name = c->cfg->server_name[0] ? c->cfg->server_name : c->cfg->host;
            snprintf(why, len, "TLS: collector certificate rejected (expected name \"%s\"): %s",
                     name, X509_verify_cert_error_string(v));
            ERR_clear_error();
            return fail(reason, verify_reason(v), -EKEYREJECTED);
        }
        unsigned long le = ERR_peek_error();
        int se = errno;
        ssl_err_text(err, sizeof(err));
        if (le != 0) {
            snprintf(why, len, "TLS handshake failed: %s", err);
            return fail(reason, ssl_err_reason(le), -EPROTO);
        }
        if (e == SSL_ERROR_SYSCALL && se != 0 && se != EAGAIN) {
            snprintf(why, len, "TLS handshake: %s", strerror(se));
            return fail(reason,
                        se == ECONNREFUSED ? FP_EXPORT_FAIL_CONNECT : FP_EXPORT_FAIL_PEER_RESET,
                        -se);
        }
        snprintf(why, len, "TLS handshake: connection closed by the collector");
        return fail(reason, FP_EXPORT_FAIL_HANDSHAKE, -ECONNRESET);
    }
}

/*
 * TLS 1.3 checks the client certificate after the client's Finished: SSL_connect() succeeds
 * before the collector has accepted us, and a refusal arrives later as an alert. Until the
 * collector's verdict is known nothing is sent, so no record is counted as delivered to a
 * collector that drops it: OpenSSL-based servers send a session ticket once they accepted
 * the certificate. No ticket within CONFIRM_MS (a server without tickets): go ahead.
 * @return 1 confirmed, 0 still waiting, < 0 refused (reason and why set)
 */
#define CONFIRM_MS 1000
static int tls13_confirm(struct fp_collector *c, int timeout_ms, enum fp_export_fail *reason,
                         char *why, size_t len)
{
    if (c->tls_confirmed || is_dtls(c) || SSL_version(c->ssl) != TLS1_3_VERSION)
        return 1;
    if (!c->confirm_start_ms)
        c->confirm_start_ms = now_ms();
    for (;;) {
        unsigned char b[1];
        ERR_clear_error();
        int rr = SSL_read(c->ssl, b, sizeof(b));
        SSL_SESSION *sess = SSL_get0_session(c->ssl);
        if (rr > 0 || (sess && SSL_SESSION_has_ticket(sess)) ||
            now_ms() - c->confirm_start_ms >= CONFIRM_MS) {
            c->tls_confirmed = true;
            return 1;
        }
        int e = SSL_get_error(c->ssl, rr);
        if (e != SSL_ERROR_WANT_READ) {
            char err[200];
            ssl_err_text(err, sizeof(err));
            snprintf(why, len, "TLS: the collector refused the session after the handshake "
                     "(our certificate?): %s", err[0] ? err : "connection closed");
            return fail(reason, FP_EXPORT_FAIL_HANDSHAKE, -EKEYREJECTED);
        }
        if (timeout_ms <= 0)
            return 0;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int wait = (int)FP_MIN((uint64_t)timeout_ms,
                               CONFIRM_MS - (now_ms() - c->confirm_start_ms) + 1);
        if (poll(&p, 1, wait) == 0)
            return 0;
        timeout_ms = 0;
    }
}

int fp_export_stream_queue(struct fp_collector *c, const uint8_t *msg, size_t len)
{
    if (c->msgq_n >= FP_EXPORT_MSGQ)
        return -ENOBUFS;
    if (c->sendq_len + len > c->sendq_cap) {
        if (c->sendq_off > 0 && c->sendq_off == c->sendq_len) {
            c->plain_base += c->sendq_len;
            c->sendq_off = c->sendq_len = 0;
        }
        if (c->sendq_len + len > c->sendq_cap) {
            size_t cap = FP_MAX(c->sendq_cap * 2, c->sendq_len + len + 65536);
            uint8_t *q = realloc(c->sendq, cap);
            if (q == NULL)
                return -ENOMEM;
            c->sendq = q; /* SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows this */
            c->sendq_cap = cap;
        }
    }
    memcpy(c->sendq + c->sendq_len, msg, len);
    c->sendq_len += len;
    struct fp_export_msg *m = &c->msgq[(c->msgq_head + c->msgq_n) % FP_EXPORT_MSGQ];
    m->no = ++c->msgs_queued;
    m->plain_end = c->plain_base + c->sendq_len;
    m->raw_end = 0;
    c->msgq_n++;
    return 0;
}

size_t fp_export_stream_pending(const struct fp_collector *c)
{
    return c->sendq_len - c->sendq_off;
}

bool fp_export_stream_accepting(const struct fp_collector *c)
{
    return c->fb != NULL && fp_export_stream_pending(c) < FP_EXPORT_SENDQ_HIWAT &&
           c->msgq_n + 64 < FP_EXPORT_MSGQ && c->held_n + 2 < FP_EXPORT_HELD;
}

void fp_export_stream_hold(struct fp_collector *c, const struct fp_flow_record *r)
{
    if (c->held == NULL)
        return;
    if (c->held_n == FP_EXPORT_HELD) { /* not reached: accepting() keeps room */
        c->held_head = (c->held_head + 1) % FP_EXPORT_HELD;
        c->held_n--;
    }
    struct fp_export_held *h = &c->held[(c->held_head + c->held_n) % FP_EXPORT_HELD];
    h->rec = *r;
    h->msg_no = c->msgs_queued + 1; /* the message being built */
    c->held_n++;
}

/* Mark written messages: those ending at or before plain offset @p upto get raw_end. */
static void mark_written(struct fp_collector *c, uint64_t upto, uint64_t raw)
{
    for (unsigned i = 0; i < c->msgq_n; i++) {
        struct fp_export_msg *m = &c->msgq[(c->msgq_head + i) % FP_EXPORT_MSGQ];
        if (m->raw_end != 0)
            continue;
        if (m->plain_end > upto)
            break;
        m->raw_end = raw ? raw : 1;
    }
}

static uint64_t raw_written(const struct fp_collector *c)
{
    return c->ssl ? (uint64_t)BIO_number_written(SSL_get_wbio(c->ssl)) : c->raw_tcp;
}

/* Forget messages (and their held records) the collector acknowledged. */
static void note_acked(struct fp_collector *c)
{
    uint64_t acked = UINT64_MAX;
    if (!is_dtls(c) && c->fd >= 0) {
        int outq = 0;
        if (ioctl(c->fd, SIOCOUTQ, &outq) < 0)
            return;
        acked = raw_written(c) - (uint64_t)outq;
    }
    uint64_t delivered = 0;
    while (c->msgq_n) {
        struct fp_export_msg *m = &c->msgq[c->msgq_head];
        uint64_t end = is_tls(c) || c->ssl ? m->raw_end : m->plain_end;
        if (m->raw_end == 0 || end > acked)
            break;
        delivered = m->no;
        c->msgq_head = (c->msgq_head + 1) % FP_EXPORT_MSGQ;
        c->msgq_n--;
    }
    if (delivered == 0)
        return;
    while (c->held_n && c->held[c->held_head].msg_no <= delivered) {
        c->held_head = (c->held_head + 1) % FP_EXPORT_HELD;
        c->held_n--;
    }
}

static int io_fail(int e, enum fp_export_fail *reason, char *why, size_t len, const char *op)
{
    snprintf(why, len, "%s: %s", op, strerror(e));
    if (e == ECONNRESET || e == EPIPE)
        return fail(reason, FP_EXPORT_FAIL_PEER_RESET, -e);
    if (e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH)
        return fail(reason, FP_EXPORT_FAIL_CONNECT, -e);
    return fail(reason, FP_EXPORT_FAIL_IO, -e);
}

/* TLS/DTLS error of SSL_write/SSL_read: 0 if it only wants to wait. */
static int ssl_fail(struct fp_collector *c, int r, enum fp_export_fail *reason, char *why,
                    size_t len, const char *op)
{
    char err[200];
    int e = SSL_get_error(c->ssl, r);
    int se = errno;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(why, len, "%s: collector closed the TLS session", op);
        return fail(reason, FP_EXPORT_FAIL_PEER_CLOSED, -ECONNRESET);
    }
    ssl_err_text(err, sizeof(err));
    if (e == SSL_ERROR_SYSCALL && err[0] == '\0') {
        if (se == 0 || se == EAGAIN) {
            snprintf(why, len, "%s: connection closed by the collector", op);
            return fail(reason, FP_EXPORT_FAIL_PEER_CLOSED, -ECONNRESET);
        }
        return io_fail(se, reason, why, len, op);
    }
    snprintf(why, len, "%s: %s", op, err[0] ? err : "TLS error");
    if (strstr(err, "unexpected eof") != NULL)
        return fail(reason, FP_EXPORT_FAIL_PEER_CLOSED, -ECONNRESET);
    if (strstr(err, "alert") != NULL) /* the collector refused the session */
        return fail(reason, strstr(err, "unknown ca") ? FP_EXPORT_FAIL_UNKNOWN_CA
                            : strstr(err, "expired")  ? FP_EXPORT_FAIL_CERT_EXPIRED
                                                      : FP_EXPORT_FAIL_HANDSHAKE,
                    -EPROTO);
    return fail(reason, FP_EXPORT_FAIL_IO, -EPROTO);
}

static int write_some(struct fp_collector *c, enum fp_export_fail *reason, char *why, size_t len)
{
    while (c->sendq_off < c->sendq_len) {
        /* end of the message being written: one message per send()/SSL_write (keeps message
         * boundaries on segment boundaries, which tshark's cflow dissector needs) */
        uint64_t end = c->plain_base + c->sendq_len;
        for (unsigned i = 0; i < c->msgq_n; i++) {
            const struct fp_export_msg *m = &c->msgq[(c->msgq_head + i) % FP_EXPORT_MSGQ];
            if (m->plain_end > c->plain_base + c->sendq_off) {
                end = m->plain_end;
                break;
            }
        }
        if (c->ssl == NULL) {
            ssize_t n = send(c->fd, c->sendq + c->sendq_off,
                             (size_t)(end - c->plain_base) - c->sendq_off,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return 0;
                return io_fail(errno, reason, why, len, "send");
            }
            c->sendq_off += (size_t)n;
            c->raw_tcp += (uint64_t)n;
            mark_written(c, c->plain_base + c->sendq_off, 0);
            continue;
        }
        /* TLS/DTLS: one whole message per SSL_write (DTLS: per record and datagram) */
        size_t n = (size_t)(end - c->plain_base) - c->sendq_off, w = 0;
        ERR_clear_error();
        int r = SSL_write_ex(c->ssl, c->sendq + c->sendq_off, n, &w);
        if (r != 1)
            return ssl_fail(c, r, reason, why, len, is_dtls(c) ? "DTLS send" : "TLS send");
        c->sendq_off += w;
        mark_written(c, c->plain_base + c->sendq_off, raw_written(c));
    }
    c->plain_base += c->sendq_len;
    c->sendq_off = c->sendq_len = 0;
    return 0;
}

/* Read and discard what the collector sends; notice it closing. */
static int read_peer(struct fp_collector *c, enum fp_export_fail *reason, char *why, size_t len)
{
    char sink[512];
    for (int i = 0; i < 64; i++) {
        if (c->ssl == NULL) {
            ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
            if (n > 0)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return 0;
            if (n == 0) {
                snprintf(why, len, "connection closed by collector");
                return fail(reason, FP_EXPORT_FAIL_PEER_CLOSED, -ECONNRESET);
            }
            return io_fail(errno, reason, why, len, "connection lost");
        }
        size_t got = 0;
        ERR_clear_error();
        errno = 0;
        int r = SSL_read_ex(c->ssl, sink, sizeof(sink), &got);
        if (r == 1)
            continue;
        return ssl_fail(c, r, reason, why, len, "connection lost");
    }
    return 0;
}

int fp_export_stream_service(struct fp_collector *c, enum fp_export_fail *reason, char *why,
                             size_t len)
{
    int rc;
    if (c->fd < 0)
        return 0;
    if (is_dtls(c) && c->ssl)
        DTLSv1_handle_timeout(c->ssl);
    if ((rc = write_some(c, reason, why, len)) < 0) {
        /* TLS 1.3: a collector that refused our certificate says so in an alert after our
         * side of the handshake; prefer that cause to the reset that follows, if readable. */
        char why2[FP_EXPORT_ERR_LEN];
        enum fp_export_fail r2;
        if (c->ssl != NULL && read_peer(c, &r2, why2, sizeof(why2)) < 0 &&
            strstr(why2, "alert") != NULL) {
            *reason = r2;
            snprintf(why, len, "%s", why2);
        }
        return rc;
    }
    if ((rc = read_peer(c, reason, why, len)) < 0)
        return rc;
    note_acked(c);
    return 0;
}

/* At a graceful close: write what is queued and wait for the acknowledgements (bounded). */
static void flush_blocking(struct fp_collector *c)
{
    enum fp_export_fail reason;
    char why[FP_EXPORT_ERR_LEN];
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < CLOSE_FLUSH_MS) {
        if (fp_export_stream_service(c, &reason, why, sizeof(why)) < 0)
            return;
        if (c->sendq_off == c->sendq_len && c->msgq_n == 0)
            return;
        struct pollfd p = {.fd = c->fd, .events = c->sendq_off < c->sendq_len ? POLLOUT : 0};
        poll(&p, 1, 5);
    }
}

unsigned fp_export_stream_close(struct fp_collector *c, bool graceful)
{
    unsigned n = 0;
    if (c->fd >= 0) {
        if (graceful && !c->handshaking)
            flush_blocking(c);
        else
            note_acked(c);
        if (c->ssl != NULL && !c->handshaking && graceful) {
            ERR_clear_error();
            SSL_shutdown(c->ssl); /* close_notify; the collector's reply is not awaited */
        }
        if (!is_dtls(c)) {
            char sink[256];
            shutdown(c->fd, SHUT_WR);
            while (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
                ;
        }
    }
    /* Records of undelivered messages go back to the front of the backlog. */
    if (c->held_n && c->lane != NULL) {
        struct fp_flow_record *tmp = malloc((size_t)c->held_n * sizeof(*tmp));
        if (tmp != NULL) {
            for (unsigned i = 0; i < c->held_n; i++)
                tmp[i] = c->held[(c->held_head + i) % FP_EXPORT_HELD].rec;
            if (fp_export_backlog_requeue(&c->lane->bl, tmp, c->held_n) == 0)
                n = c->held_n;
            free(tmp);
        }
    }
    c->held_head = c->held_n = 0;
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    c->ssl = NULL;
    c->handshaking = false;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->sendq_off = c->sendq_len = 0;
    c->plain_base = 0;
    c->raw_tcp = 0;
    c->msgq_head = c->msgq_n = 0;
    c->msgs_queued = 0;
    ERR_clear_error();
    return n;
}

uint16_t fp_export_dtls_msgsize(uint32_t mtu)
{
    return (uint16_t)((mtu ? mtu : 1400) - DTLS_OVERHEAD);
}
