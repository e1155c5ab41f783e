/* SPDX-License-Identifier: BSD-3-Clause */
/* flowpulse-relay: IPFIX over TLS (mutual auth) -> UDP/TCP to a local collector. See README.md. */
#include "relay/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libconfig.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "export/ipfix_stream.h"

#define MOD "relay"
#define SUSPECT_CLEAR_S 3 /* no ECONNREFUSED for this long: the collector is back for sure */

enum sess_state {
    SESS_HANDSHAKE,
    SESS_OPEN,
};

struct session {
    int fd;                     /* exporter's TCP socket */
    SSL *ssl;
    enum sess_state state;
    time_t deadline;            /* handshake deadline (monotonic s) */
    char peer[80];              /* "addr:port" of the exporter */
    char name[256];             /* certificate subject CN */
    int out_fd;                 /* socket to the collector, -1 if down (TCP) */
    time_t next_connect;        /* TCP: earliest reconnect time */
    time_t last_refresh;        /* last template re-send */
    time_t last_refused;        /* last ECONNREFUSED (UDP) */
    bool suspect;               /* UDP: collector may have restarted: templates before data */
    struct fp_ipfix_framer *fr;
    struct fp_ipfix_stream *st;
    struct session *next;
};

static struct fp_relay_conf conf;
static struct fp_relay_stats stats;
static struct session *sessions;
static unsigned nsessions;
static SSL_CTX *ctx;
static struct sockaddr_storage coll_addr;
static socklen_t coll_len;
static bool coll_tcp;
static atomic_bool stop_flag;
static atomic_bool dump_flag;

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        atomic_store(&dump_flag, true);
    else
        atomic_store(&stop_flag, true);
}

/* ---------------------------------------------------------------------------------------- */
/* Counters */

static void add_stream_stats(const struct fp_ipfix_stream *st, struct fp_relay_stats *t)
{
    struct fp_ipfix_stream_stats s;
    fp_ipfix_stream_get_stats(st, &s);
    t->msgs_in += s.msgs_in;
    t->bytes_in += s.bytes_in;
    t->splits += s.splits;
    t->oversize += s.oversize;
    t->template_resends += s.template_resends;
}

static void log_stats(const char *when)
{
    struct fp_relay_stats t = stats;
    for (struct session *s = sessions; s; s = s->next)
        if (s->st)
            add_stream_stats(s->st, &t);
    fp_log(FP_LOG_NOTICE, MOD, "counters (%s): open_sessions=%u", when, nsessions);
#define FP_RELAY_X_LOG(n, desc) fp_log(FP_LOG_NOTICE, MOD, "  %-22s %llu", #n, (unsigned long long)t.n);
    FP_RELAY_COUNTERS(FP_RELAY_X_LOG)
#undef FP_RELAY_X_LOG
}

/* ---------------------------------------------------------------------------------------- */
/* Addresses */

/* Split "host:port", "[v6]:port" or "udp://host:port" into host and port. */
static int parse_hostport(const char *in, char *host, size_t hlen, char *port, size_t plen)
{
    const char *p = strstr(in, "://");
    p = p ? p + 3 : in;
    const char *colon;
    if (*p == '[') {
        const char *e = strchr(p, ']');
        if (!e || e[1] != ':')
            return -EINVAL;
        snprintf(host, hlen, "%.*s", (int)(e - p - 1), p + 1);
        colon = e + 1;
    } else {
        colon = strrchr(p, ':');
        if (!colon)
            return -EINVAL;
        snprintf(host, hlen, "%.*s", (int)(colon - p), p);
    }
    snprintf(port, plen, "%s", colon + 1);
    return *port ? 0 : -EINVAL;
}

static int resolve(const char *spec, int socktype, bool passive, struct sockaddr_storage *ss,
                   socklen_t *len)
{
    char host[256], port[32];
    struct addrinfo hints = {.ai_socktype = socktype, .ai_flags = passive ? AI_PASSIVE : 0};
    struct addrinfo *ai;

    if (parse_hostport(spec, host, sizeof(host), port, sizeof(port)) < 0)
        return -EINVAL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc != 0) {
        fp_log(FP_LOG_ERR, MOD, "cannot resolve '%s': %s", spec, gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void addr_str(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char h[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
        port = ntohs(a->sin_port);
        snprintf(out, len, "%s:%u", h, port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
        port = ntohs(a->sin6_port);
        snprintf(out, len, "[%s]:%u", h, port);
    }
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---------------------------------------------------------------------------------------- */
/* Collector side */

/* Open the session's socket to the collector: UDP (connected, its own source port) or TCP. */
static int collector_open(struct session *s)
{
    int fd = socket(coll_addr.ss_family, (coll_tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (coll_tcp) {
        struct timeval tv = {.tv_sec = 2};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    } else {
        int sz = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    }
    /* TCP: blocking connect to a local collector (loopback: immediate answer). */
    if (connect(fd, (const struct sockaddr *)&coll_addr, coll_len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!coll_tcp)
        set_nonblock(fd);
    s->out_fd = fd;
    return 0;
}

static void collector_down(struct session *s, const char *why, int err)
{
    fp_log(FP_LOG_WARNING, MOD, "session %s: collector %s %s: %s; retry in %u s", s->peer,
           conf.collector, why, strerror(err), conf.reconnect_s);
    close(s->out_fd);
    s->out_fd = -1;
    s->next_connect = now_s() + (time_t)conf.reconnect_s;
}

static void note_refused(struct session *s)
{
    static struct fp_log_ratelimit rl;
    stats.collector_refused++;
    s->last_refused = now_s();
    if (!s->suspect) {
        s->suspect = true;
        stats.collector_restarts++;
        fp_log_ratelimited(&rl, 5, FP_LOG_WARNING, MOD,
                           "session %s: collector %s refused (port closed: restarting?); "
                           "templates go before every message until it answers",
                           s->peer, conf.collector);
    }
}

/* Emit callback of the stream: one IPFIX message to the collector. */
static int send_out(void *arg, const uint8_t *msg, size_t len)
{
    struct session *s = arg;
    static struct fp_log_ratelimit rl;

    if (s->out_fd < 0) {
        stats.collector_drops++;
        return -ENOTCONN;
    }
    if (coll_tcp) {
        size_t off = 0;
        while (off < len) {
            ssize_t n = send(s->out_fd, msg + off, len - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                int e = n < 0 ? errno : EPIPE;
                stats.collector_send_errors++;
                stats.collector_drops++;
                collector_down(s, "send failed", e);
                return -e;
            }
            off += (size_t)n;
        }
    } else {
        /* A pending ICMP error is reported by the next send and that datagram is not sent:
         * note it and send again. */
        for (int attempt = 0; attempt < 2; attempt++) {
            if (send(s->out_fd, msg, len, MSG_DONTWAIT) == (ssize_t)len)
                break;
            int e = errno;
            if (e == ECONNREFUSED) {
                note_refused(s);
                continue;
            }
            stats.collector_send_errors++;
            fp_log_ratelimited(&rl, 5, FP_LOG_WARNING, MOD, "session %s: send to %s: %s",
                               s->peer, conf.collector, strerror(e));
            return -e;
        }
    }
    stats.msgs_out++;
    stats.bytes_out += len;
    return 0;
}

/* Collect a pending asynchronous error on the UDP socket (ICMP port unreachable). */
static void collector_poll_error(struct session *s)
{
    int err = 0;
    socklen_t l = sizeof(err);
    if (getsockopt(s->out_fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err == ECONNREFUSED)
        note_refused(s);
    /* Nothing is expected from the collector; drain whatever arrives. */
    uint8_t junk[64];
    while (recv(s->out_fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
        ;
}

static void resend_templates(struct session *s, time_t now)
{
    fp_ipfix_stream_resend_templates(s->st, (uint32_t)time(NULL));
    s->last_refresh = now;
}

/* ---------------------------------------------------------------------------------------- */
/* Sessions */

static void session_close(struct session *s, const char *why)
{
    if (s->state == SESS_OPEN) {
        struct fp_ipfix_stream_stats st;
        fp_ipfix_stream_get_stats(s->st, &st);
        size_t partial = fp_ipfix_framer_buffered(s->fr);
        fp_log(FP_LOG_INFO, MOD,
               "session %s (%s) closed: %s; messages in %llu out %llu, splits %llu, "
               "template re-sends %llu%s",
               s->peer, s->name, why, (unsigned long long)st.msgs_in,
               (unsigned long long)st.msgs_out, (unsigned long long)st.splits,
               (unsigned long long)st.template_resends,
               partial ? ", an incomplete message at the end was dropped" : "");
        add_stream_stats(s->st, &stats);
        SSL_shutdown(s->ssl);
    }
    for (struct session **pp = &sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    nsessions--;
    fp_ipfix_stream_destroy(s->st);
    free(s->fr);
    SSL_free(s->ssl);
    if (s->out_fd >= 0)
        close(s->out_fd);
    close(s->fd);
    free(s);
}

static bool peer_allowed(X509 *cert)
{
    if (conf.nallow == 0)
        return true;
    char cn[256] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
    for (unsigned i = 0; i < conf.nallow; i++) {
        if (X509_check_host(cert, conf.allow[i], 0, 0, NULL) == 1)
            return true;
        if (cn[0] && strcmp(cn, conf.allow[i]) == 0)
            return true;
    }
    return false;
}

/* Handshake finished: check the name, open the collector side. */
static int session_established(struct session *s)
{
    X509 *cert = SSL_get1_peer_certificate(s->ssl);
    if (!cert) { /* cannot happen with SSL_VERIFY_FAIL_IF_NO_PEER_CERT */
        fp_log(FP_LOG_WARNING, MOD, "session %s refused: no client certificate", s->peer);
        stats.handshake_failures++;
        return -EACCES;
    }
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, s->name,
                              sizeof(s->name));
    bool ok = peer_allowed(cert);
    X509_free(cert);
    if (!ok) {
        fp_log(FP_LOG_WARNING, MOD,
               "session %s refused: client certificate CN=%s matches no allowed name", s->peer,
               s->name);
        stats.peers_refused++;
        return -EACCES;
    }
    struct fp_ipfix_stream_params p = {
        .max_msg = coll_tcp ? 0 : conf.udp_max,
        .strip_withdrawals = !coll_tcp,
        .emit = send_out,
        .emit_ctx = s,
    };
    s->st = fp_ipfix_stream_create(&p);
    s->fr = malloc(sizeof(*s->fr));
    if (!s->st || !s->fr) {
        fp_log(FP_LOG_ERR, MOD, "session %s: out of memory", s->peer);
        return -ENOMEM;
    }
    fp_ipfix_framer_init(s->fr);
    int rc = collector_open(s);
    if (rc < 0) {
        if (!coll_tcp) {
            fp_log(FP_LOG_ERR, MOD, "session %s: cannot open UDP socket to %s: %s", s->peer,
                   conf.collector, strerror(-rc));
            return rc;
        }
        fp_log(FP_LOG_WARNING, MOD, "session %s: collector %s unreachable: %s; retry in %u s",
               s->peer, conf.collector, strerror(-rc), conf.reconnect_s);
        s->next_connect = now_s() + (time_t)conf.reconnect_s;
    }
    char local[80] = "-";
    if (s->out_fd >= 0) {
        struct sockaddr_storage ss;
        socklen_t l = sizeof(ss);
        if (getsockname(s->out_fd, (struct sockaddr *)&ss, &l) == 0)
            addr_str(&ss, local, sizeof(local));
    }
    s->state = SESS_OPEN;
    s->last_refresh = now_s();
    stats.sessions++;
    fp_log(FP_LOG_INFO, MOD, "session %s: CN=%s, %s %s; forwarding to %s from %s", s->peer,
           s->name, SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl), conf.collector, local);
    return 0;
}

static void handshake_failed(struct session *s, int err)
{
    long vr = SSL_get_verify_result(s->ssl);
    unsigned long e = ERR_peek_last_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    stats.handshake_failures++;
    if (vr != X509_V_OK)
        fp_log(FP_LOG_WARNING, MOD, "session %s: TLS handshake failed: client certificate: %s",
               s->peer, X509_verify_cert_error_string(vr));
    else if (e)
        fp_log(FP_LOG_WARNING, MOD, "session %s: TLS handshake failed: %s", s->peer, buf);
    else
        fp_log(FP_LOG_WARNING, MOD, "session %s: TLS handshake failed: %s", s->peer,
               err == SSL_ERROR_SYSCALL ? "connection closed by the peer" : "protocol error");
}

static void session_handshake(struct session *s)
{
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) {
        if (session_established(s) < 0)
            session_close(s, "refused");
        return;
    }
    int err = SSL_get_error(s->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return;
    handshake_failed(s, err);
    session_close(s, "handshake failed");
}

/* Read what the exporter sent, frame it, forward the messages. */
static void session_read(struct session *s)
{
    for (;;) {
        uint8_t *p;
        size_t room = fp_ipfix_framer_space(s->fr, &p);
        size_t n = 0;
        int rc = SSL_read_ex(s->ssl, p, room, &n);
        if (rc <= 0) {
            int err = SSL_get_error(s->ssl, rc);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
                return;
            if (err == SSL_ERROR_ZERO_RETURN) {
                session_close(s, "peer closed the session");
            } else {
                unsigned long e = ERR_peek_last_error();
                char buf[256] = "connection reset or closed";
                if (e)
                    ERR_error_string_n(e, buf, sizeof(buf));
                ERR_clear_error();
                session_close(s, buf);
            }
            return;
        }
        fp_ipfix_framer_commit(s->fr, n);
        const uint8_t *msg;
        size_t len;
        int r;
        while ((r = fp_ipfix_framer_next(s->fr, &msg, &len)) == 1) {
            const char *why = NULL;
            if (fp_ipfix_msg_check(msg, len, &why) < 0) {
                r = -EBADMSG;
                break;
            }
            time_t now = now_s();
            if (s->suspect && now - s->last_refused >= SUSPECT_CLEAR_S)
                s->suspect = false;
            if (s->suspect)
                resend_templates(s, now);
            if (fp_ipfix_stream_process(s->st, msg, len) < 0) {
                why = "a data record does not match its template";
                r = -EBADMSG;
                break;
            }
        }
        if (r < 0) {
            stats.malformed_sessions++;
            fp_log(FP_LOG_WARNING, MOD, "session %s (%s): malformed IPFIX stream: closing",
                   s->peer, s->name);
            session_close(s, "malformed IPFIX");
            return;
        }
    }
}

static void accept_one(int lfd)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    int fd = accept4(lfd, (struct sockaddr *)&ss, &l, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    char peer[80];
    addr_str(&ss, peer, sizeof(peer));
    if (nsessions >= conf.max_sessions) {
        stats.sessions_limit++;
        fp_log(FP_LOG_WARNING, MOD, "connection from %s refused: %u sessions open", peer,
               nsessions);
        close(fd);
        return;
    }
    struct session *s = calloc(1, sizeof(*s));
    SSL *ssl = s ? SSL_new(ctx) : NULL;
    if (!ssl) {
        free(s);
        close(fd);
        fp_log(FP_LOG_ERR, MOD, "connection from %s: out of memory", peer);
        return;
    }
    s->fd = fd;
    s->ssl = ssl;
    s->out_fd = -1;
    s->state = SESS_HANDSHAKE;
    s->deadline = now_s() + (time_t)conf.handshake_s;
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    SSL_set_fd(ssl, fd);
    SSL_set_accept_state(ssl);
    s->next = sessions;
    sessions = s;
    nsessions++;
    session_handshake(s);
}

/* Timers: handshake deadlines, template re-send, TCP reconnect. */
static void session_timers(time_t now)
{
    struct session *next;
    for (struct session *s = sessions; s; s = next) {
        next = s->next;
        if (s->state == SESS_HANDSHAKE) {
            if (now >= s->deadline) {
                stats.handshake_failures++;
                fp_log(FP_LOG_WARNING, MOD, "session %s: TLS handshake timed out after %u s",
                       s->peer, conf.handshake_s);
                session_close(s, "handshake timeout");
            }
            continue;
        }
        if (coll_tcp && s->out_fd < 0 && now >= s->next_connect) {
            if (collector_open(s) == 0) {
                fp_log(FP_LOG_NOTICE, MOD, "session %s: connected to collector %s", s->peer,
                       conf.collector);
                fp_ipfix_stream_restart_output(s->st);
                resend_templates(s, now);
            } else {
                s->next_connect = now + (time_t)conf.reconnect_s;
            }
        }
        if (!coll_tcp) {
            if (s->suspect && now - s->last_refused >= SUSPECT_CLEAR_S) {
                resend_templates(s, now);
                s->suspect = false;
            } else if (now - s->last_refresh >= (time_t)(s->suspect ? 1 : conf.refresh_s)) {
                resend_templates(s, now);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Setup */

/* Text of the last OpenSSL error (static buffer), or a fallback. */
static const char *ssl_err(void)
{
    static char buf[256];
    unsigned long e = ERR_get_error();
    if (!e)
        return "unknown error";
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

static SSL_CTX *tls_setup(void)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (!c)
        return NULL;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(c, conf.cert) != 1) {
        fp_log(FP_LOG_ERR, MOD, "cannot load certificate '%s': %s", conf.cert,
               ssl_err());
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(c, conf.key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c) != 1) {
        fp_log(FP_LOG_ERR, MOD, "cannot load private key '%s' (or it does not match): %s",
               conf.key, ssl_err());
        goto fail;
    }
    if (SSL_CTX_load_verify_locations(c, conf.ca, NULL) != 1) {
        fp_log(FP_LOG_ERR, MOD, "cannot load CA bundle '%s': %s", conf.ca,
               ssl_err());
        goto fail;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(conf.ca);
    if (names)
        SSL_CTX_set_client_CA_list(c, names);
    if (conf.ciphers[0] && SSL_CTX_set_cipher_list(c, conf.ciphers) != 1) {
        fp_log(FP_LOG_ERR, MOD, "bad cipher list '%s'", conf.ciphers);
        goto fail;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c, SSL_MODE_AUTO_RETRY);
    return c;
fail:
    SSL_CTX_free(c);
    return NULL;
}

static int listen_open(void)
{
    struct sockaddr_storage ss;
    socklen_t l;
    if (resolve(conf.listen, SOCK_STREAM, true, &ss, &l) < 0)
        return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, l) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        fp_log(FP_LOG_ERR, MOD, "cannot listen on %s: %s", conf.listen, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

static void set_str(char *dst, size_t len, const char *v)
{
    snprintf(dst, len, "%s", v);
}

/* Read the libconfig file (group "relay"); command-line options override it afterwards. */
static int conf_load(const char *path)
{
    config_t cfg;
    const char *v;
    int iv;
    config_init(&cfg);
    if (config_read_file(&cfg, path) != CONFIG_TRUE) {
        fp_log(FP_LOG_ERR, MOD, "%s:%d: %s", path, config_error_line(&cfg),
               config_error_text(&cfg));
        config_destroy(&cfg);
        return -EINVAL;
    }
    struct {
        const char *key;
        char *dst;
        size_t len;
    } strs[] = {
        {"relay.listen", conf.listen, sizeof(conf.listen)},
        {"relay.collector", conf.collector, sizeof(conf.collector)},
        {"relay.tls.cert", conf.cert, sizeof(conf.cert)},
        {"relay.tls.key", conf.key, sizeof(conf.key)},
        {"relay.tls.ca", conf.ca, sizeof(conf.ca)},
        {"relay.tls.ciphers", conf.ciphers, sizeof(conf.ciphers)},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (config_lookup_string(&cfg, strs[i].key, &v) == CONFIG_TRUE)
            set_str(strs[i].dst, strs[i].len, v);
    struct {
        const char *key;
        unsigned *dst;
        unsigned lo, hi;
    } nums[] = {
        {"relay.udp_max_message", &conf.udp_max, FP_IPFIX_OUT_MIN, FP_IPFIX_MSG_MAX},
        {"relay.template_refresh_s", &conf.refresh_s, 1, 86400},
        {"relay.reconnect_s", &conf.reconnect_s, 1, 3600},
        {"relay.max_sessions", &conf.max_sessions, 1, 10000},
        {"relay.handshake_timeout_s", &conf.handshake_s, 1, 600},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (config_lookup_int(&cfg, nums[i].key, &iv) != CONFIG_TRUE)
            continue;
        if (iv < (int)nums[i].lo || (unsigned)iv > nums[i].hi) {
            fp_log(FP_LOG_ERR, MOD, "%s: %s = %d out of range [%u, %u]", path, nums[i].key, iv,
                   nums[i].lo, nums[i].hi);
            config_destroy(&cfg);
            return -ERANGE;
        }
        *nums[i].dst = (unsigned)iv;
    }
    if (config_lookup_string(&cfg, "relay.log_level", &v) == CONFIG_TRUE &&
        fp_log_level_parse(v, &conf.log_level) < 0) {
        fp_log(FP_LOG_ERR, MOD, "%s: relay.log_level '%s' unknown", path, v);
        config_destroy(&cfg);
        return -EINVAL;
    }
    config_setting_t *al = config_lookup(&cfg, "relay.tls.allow");
    for (int i = 0; al && i < config_setting_length(al); i++) {
        const char *n = config_setting_get_string_elem(al, i);
        if (n && conf.nallow < FP_RELAY_MAX_ALLOW)
            conf.allow[conf.nallow++] = strdup(n);
    }
    config_destroy(&cfg);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: flowpulse-relay [-c FILE] [-l HOST:PORT] -f udp://HOST:PORT|tcp://HOST:PORT\n"
            "         --cert PEM --key PEM --ca PEM [--allow NAME]... [-m OCTETS] [-t SECONDS]\n"
            "         [--reconnect SECONDS] [--max-sessions N] [--ciphers LIST] [-v|-q]\n"
            "  -c FILE      libconfig file (see conf/flowpulse-relay.conf.example)\n"
            "  -l ADDR      TLS listen address (default 127.0.0.1:4740)\n"
            "  -f URL       collector (udp:// default, or tcp://)\n"
            "  -m OCTETS    largest UDP IPFIX message (default 1472)\n"
            "  -t SECONDS   UDP template re-send interval (default 30)\n"
            "  --allow NAME accept only clients whose certificate matches NAME (DNS-ID or CN)\n");
}

static unsigned parse_uint(const char *opt, const char *v, unsigned lo, unsigned hi)
{
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < lo || x > hi) {
        fprintf(stderr, "flowpulse-relay: %s '%s' must be a number in [%u, %u]\n", opt, v, lo,
                hi);
        exit(2);
    }
    return (unsigned)x;
}

static void conf_parse(int argc, char **argv)
{
    static const struct option lo[] = {
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
        {"collector", required_argument, NULL, 'f'}, {"cert", required_argument, NULL, 1},
        {"key", required_argument, NULL, 2},       {"ca", required_argument, NULL, 3},
        {"allow", required_argument, NULL, 4},     {"max-message", required_argument, NULL, 'm'},
        {"refresh", required_argument, NULL, 't'}, {"reconnect", required_argument, NULL, 5},
        {"max-sessions", required_argument, NULL, 6}, {"ciphers", required_argument, NULL, 7},
        {"verbose", no_argument, NULL, 'v'},       {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    set_str(conf.listen, sizeof(conf.listen), "127.0.0.1:4740");
    set_str(conf.collector, sizeof(conf.collector), "udp://127.0.0.1:4739");
    conf.udp_max = 1472;
    conf.refresh_s = 30;
    conf.reconnect_s = 10;
    conf.max_sessions = 64;
    conf.handshake_s = 10;
    conf.log_level = FP_LOG_INFO;
    /* The config file first, so that options override it. */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
            if (conf_load(argv[i + 1]) < 0)
                exit(2);
    int c;
    while ((c = getopt_long(argc, argv, "c:l:f:m:t:vqh", lo, NULL)) != -1) {
        switch (c) {
        case 'c':
            break;
        case 'l':
            set_str(conf.listen, sizeof(conf.listen), optarg);
            break;
        case 'f':
            set_str(conf.collector, sizeof(conf.collector), optarg);
            break;
        case 1:
            set_str(conf.cert, sizeof(conf.cert), optarg);
            break;
        case 2:
            set_str(conf.key, sizeof(conf.key), optarg);
            break;
        case 3:
            set_str(conf.ca, sizeof(conf.ca), optarg);
            break;
        case 4:
            if (conf.nallow < FP_RELAY_MAX_ALLOW)
                conf.allow[conf.nallow++] = strdup(optarg);
            break;
        case 'm':
            conf.udp_max = parse_uint("-m", optarg, FP_IPFIX_OUT_MIN, FP_IPFIX_MSG_MAX);
            break;
        case 't':
            conf.refresh_s = parse_uint("-t", optarg, 1, 86400);
            break;
        case 5:
            conf.reconnect_s = parse_uint("--reconnect", optarg, 1, 3600);
            break;
        case 6:
            conf.max_sessions = parse_uint("--max-sessions", optarg, 1, 10000);
            break;
        case 7:
            set_str(conf.ciphers, sizeof(conf.ciphers), optarg);
            break;
        case 'v':
            conf.log_level = FP_LOG_DEBUG;
            break;
        case 'q':
            conf.log_level = FP_LOG_WARNING;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (!conf.cert[0] || !conf.key[0] || !conf.ca[0]) {
        fprintf(stderr, "flowpulse-relay: --cert, --key and --ca are required (mutual TLS)\n");
        exit(2);
    }
    if (strncmp(conf.collector, "tcp://", 6) == 0)
        coll_tcp = true;
    else if (strstr(conf.collector, "://") && strncmp(conf.collector, "udp://", 6) != 0) {
        fprintf(stderr, "flowpulse-relay: collector '%s': only udp:// and tcp://\n",
                conf.collector);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    conf_parse(argc, argv);
    fp_log_set_level(conf.log_level);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (resolve(conf.collector, coll_tcp ? SOCK_STREAM : SOCK_DGRAM, false, &coll_addr,
                &coll_len) < 0)
        return 2;
    ctx = tls_setup();
    if (!ctx)
        return 2;
    int lfd = listen_open();
    if (lfd < 0) {
        SSL_CTX_free(ctx);
        return 2;
    }
    fp_log(FP_LOG_NOTICE, MOD,
           "listening on %s (TLS >= 1.2, client certificate required%s), forwarding to %s "
           "(%s, max message %u, template refresh %u s)",
           conf.listen, conf.nallow ? ", allow-list" : "", conf.collector,
           coll_tcp ? "TCP" : "UDP", coll_tcp ? FP_IPFIX_MSG_MAX : conf.udp_max,
           conf.refresh_s);

    struct pollfd *pfd = NULL;
    struct session **who = NULL;
    size_t cap = 0;
    while (!atomic_load(&stop_flag)) {
        if (atomic_exchange(&dump_flag, false))
            log_stats("SIGUSR1");
        size_t need = 1 + 2 * (size_t)nsessions;
        if (need > cap) {
            cap = need * 2;
            pfd = realloc(pfd, cap * sizeof(*pfd));
            who = realloc(who, cap * sizeof(*who));
            if (!pfd || !who) {
                fp_log(FP_LOG_ERR, MOD, "out of memory");
                break;
            }
        }
        size_t n = 0;
        pfd[n] = (struct pollfd){.fd = lfd, .events = POLLIN};
        who[n++] = NULL;
        for (struct session *s = sessions; s; s = s->next) {
            short ev = POLLIN;
            if (s->state == SESS_HANDSHAKE && SSL_want_write(s->ssl))
                ev |= POLLOUT;
            pfd[n] = (struct pollfd){.fd = s->fd, .events = ev};
            who[n++] = s;
            if (s->out_fd >= 0 && !coll_tcp) {
                pfd[n] = (struct pollfd){.fd = s->out_fd, .events = POLLIN};
                who[n++] = s;
            }
        }
        int rc = poll(pfd, n, 500);
        if (rc < 0 && errno != EINTR) {
            fp_log(FP_LOG_ERR, MOD, "poll: %s", strerror(errno));
            break;
        }
        if (rc > 0) {
            /* Handle session events; a closed session is skipped via the generation check. */
            for (size_t i = 1; i < n; i++) {
                if (!pfd[i].revents)
                    continue;
                struct session *s = who[i];
                bool alive = false;
                for (struct session *t = sessions; t; t = t->next)
                    alive |= t == s;
                if (!alive)
                    continue;
                if (pfd[i].fd == s->out_fd) {
                    collector_poll_error(s);
                } else if (pfd[i].fd == s->fd) {
                    if (s->state == SESS_HANDSHAKE)
                        session_handshake(s);
                    else
                        session_read(s);
                }
            }
            if (pfd[0].revents & POLLIN)
                accept_one(lfd);
        }
        session_timers(now_s());
    }
    fp_log(FP_LOG_NOTICE, MOD, "stopping");
    while (sessions)
        session_close(sessions, "relay stopping");
    log_stats("exit");
    free(pfd);
    free(who);
    close(lfd);
    SSL_CTX_free(ctx);
    for (unsigned i = 0; i < conf.nallow; i++)
        free(conf.allow[i]);
    return 0;
}
