/* SPDX-License-Identifier: BSD-3-Clause */
/* flowpulse-relay: IPFIX over TLS or DTLS (mutual auth) -> UDP/TCP to a local collector.
 * See README.md. */
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

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "export/ipfix_stream.h"

#define MOD "relay"
#define SUSPECT_CLEAR_S 3 /* no ECONNREFUSED for this long: the collector is back for sure */
#define DTLS_MTU 1400      /* largest datagram the relay sends (handshake flights, alerts) */
#define DTLS_BURST 256     /* datagrams read per poll() wake-up before timers run again */
#define DTLS_RCVBUF (16 << 20)
#define PEER_LOG_SLOTS 64  /* peers remembered for "logged once per peer" */
#define PEER_LOG_FORGET_S 3600

enum sess_state {
    SESS_HANDSHAKE,
    SESS_OPEN,
};

/* State of one DTLS datagram BIO (custom BIO method; owned by the BIO, freed with it). All
 * DTLS sessions share the listening UDP socket; datagrams are demultiplexed by source. */
struct dtls_io {
    struct sockaddr_storage peer; /* the exporter's address:port */
    socklen_t peer_len;
};

struct session {
    int fd;                     /* exporter's TCP socket; -1 for DTLS (shared UDP socket) */
    SSL *ssl;
    bool dtls;                  /* DTLS session (else TLS) */
    struct dtls_io *io;         /* DTLS: the BIO's peer state (owned by the SSL's BIO) */
    time_t last_rx;             /* DTLS: last datagram from the peer (monotonic s) */
    bool malformed_logged;      /* DTLS: a dropped record was already logged */
    bool quiet_close;           /* close without close_notify */
    enum sess_state state;
    time_t deadline;            /* handshake deadline (monotonic s) */
    char peer[96];              /* "addr:port" (TLS) or "dtls addr:port" of the exporter */
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
static SSL_CTX *ctx;           /* TLS; NULL when no TLS listener */
static SSL_CTX *dctx;          /* DTLS; NULL when no DTLS listener */
static int dfd = -1;           /* DTLS listening UDP socket (shared by every DTLS session) */
static SSL *dtls_lssl;         /* SSL waiting in DTLSv1_listen() for the next new peer */
static BIO_METHOD *dtls_meth;
static unsigned char cookie_secret[32]; /* HMAC key of the DTLS cookies (random per process) */
/* The datagram being delivered: only the BIO whose state is @to may read it, once. */
static struct {
    const struct dtls_io *to;
    const uint8_t *p;
    size_t n;
} dgram_cur;
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
        size_t partial = s->fr ? fp_ipfix_framer_buffered(s->fr) : 0;
        fp_log(FP_LOG_INFO, MOD,
               "session %s (%s) closed: %s; messages in %llu out %llu, splits %llu, "
               "template re-sends %llu%s",
               s->peer, s->name, why, (unsigned long long)st.msgs_in,
               (unsigned long long)st.msgs_out, (unsigned long long)st.splits,
               (unsigned long long)st.template_resends,
               partial ? ", an incomplete message at the end was dropped" : "");
        add_stream_stats(s->st, &stats);
        ERR_clear_error();
        if (!s->quiet_close)
            SSL_shutdown(s->ssl); /* close_notify (DTLS: one datagram to the peer) */
        ERR_clear_error();
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
    if (s->fd >= 0)
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
    /* TLS is a byte stream to frame; a DTLS record carries whole messages. */
    s->fr = s->dtls ? NULL : malloc(sizeof(*s->fr));
    if (!s->st || (!s->dtls && !s->fr)) {
        fp_log(FP_LOG_ERR, MOD, "session %s: out of memory", s->peer);
        return -ENOMEM;
    }
    if (s->fr)
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
    if (s->dtls)
        stats.dtls_sessions++;
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
    const char *proto = s->dtls ? "DTLS" : "TLS";
    if (vr != X509_V_OK)
        fp_log(FP_LOG_WARNING, MOD, "session %s: %s handshake failed: client certificate: %s",
               s->peer, proto, X509_verify_cert_error_string(vr));
    else if (e)
        fp_log(FP_LOG_WARNING, MOD, "session %s: %s handshake failed: %s", s->peer, proto, buf);
    else
        fp_log(FP_LOG_WARNING, MOD, "session %s: %s handshake failed: %s", s->peer, proto,
               err == SSL_ERROR_SYSCALL ? "connection closed by the peer" : "protocol error");
}

/* Advance the handshake. @return 0, or -1 if the session was closed (and freed). */
static int session_handshake(struct session *s)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) {
        if (session_established(s) < 0) {
            session_close(s, "refused");
            return -1;
        }
        return 0;
    }
    int err = SSL_get_error(s->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    handshake_failed(s, err);
    session_close(s, "handshake failed");
    return -1;
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

/* ---------------------------------------------------------------------------------------- */
/* DTLS: one UDP socket for every exporter; one SSL per exporter address:port, each with a
 * custom datagram BIO that reads the datagram being dispatched and writes with sendto(). */

static bool same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

/* Peers already named in a log line ("logged once per peer"), a small ring. */
static struct {
    struct sockaddr_storage addr;
    time_t when;
    bool used;
} peer_logged[PEER_LOG_SLOTS];
static unsigned peer_logged_next;

/* True the first time @p a is seen here (forgotten after PEER_LOG_FORGET_S): log then. */
static bool peer_log_first(const struct sockaddr_storage *a)
{
    time_t now = now_s();
    for (unsigned i = 0; i < PEER_LOG_SLOTS; i++)
        if (peer_logged[i].used && now - peer_logged[i].when < PEER_LOG_FORGET_S &&
            same_peer(&peer_logged[i].addr, a))
            return false;
    peer_logged[peer_logged_next].addr = *a;
    peer_logged[peer_logged_next].when = now;
    peer_logged[peer_logged_next].used = true;
    peer_logged_next = (peer_logged_next + 1) % PEER_LOG_SLOTS;
    return true;
}

static int dbio_create(BIO *b)
{
    struct dtls_io *io = calloc(1, sizeof(*io));
    if (!io)
        return 0;
    BIO_set_data(b, io);
    BIO_set_init(b, 1);
    return 1;
}

static int dbio_destroy(BIO *b)
{
    if (!b)
        return 0;
    free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

/* Read: the datagram being dispatched, if it is for this BIO, once; else "retry". */
static int dbio_read(BIO *b, char *out, int outl)
{
    const struct dtls_io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (dgram_cur.to != io || !dgram_cur.p || outl <= 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = dgram_cur.n < (size_t)outl ? dgram_cur.n : (size_t)outl;
    memcpy(out, dgram_cur.p, n);
    dgram_cur.p = NULL;
    return (int)n;
}

/* Write: one datagram to the peer. A datagram the socket cannot take now is dropped (DTLS
 * retransmits handshake flights; the relay sends nothing else but alerts), so the poll loop
 * never waits for the exporter. */
static int dbio_write(BIO *b, const char *in, int inl)
{
    static struct fp_log_ratelimit rl;
    const struct dtls_io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (inl <= 0)
        return 0;
    if (sendto(dfd, in, (size_t)inl, MSG_DONTWAIT | MSG_NOSIGNAL,
               (const struct sockaddr *)&io->peer, io->peer_len) < 0)
        fp_log_ratelimited(&rl, 5, FP_LOG_WARNING, MOD, "DTLS send: %s", strerror(errno));
    return inl;
}

static long dbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    const struct dtls_io *io = BIO_get_data(b);
    (void)num;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DGRAM_SET_PEER: /* the peer of a BIO is fixed (DTLSv1_listen sets it back) */
    case BIO_CTRL_DGRAM_SET_CONNECTED:
        return 1;
    case BIO_CTRL_DGRAM_GET_PEER:
        if (!ptr || !io)
            return 0;
        if (io->peer.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&io->peer;
            return BIO_ADDR_rawmake(ptr, AF_INET, &a->sin_addr, sizeof(a->sin_addr),
                                    a->sin_port);
        }
        if (io->peer.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&io->peer;
            return BIO_ADDR_rawmake(ptr, AF_INET6, &a->sin6_addr, sizeof(a->sin6_addr),
                                    a->sin6_port);
        }
        return 0;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: /* IP + UDP headers */
        return io && io->peer.ss_family == AF_INET6 ? 48 : 28;
    case BIO_CTRL_DGRAM_QUERY_MTU:
        return DTLS_MTU;
    default:
        return 0;
    }
}

/* Cookie = HMAC-SHA256(per-process secret, peer address and port) (RFC 6347 §4.2.1): a
 * ClientHello that returns it proves the peer receives at its address, before any state is
 * kept for it. */
static int cookie_compute(SSL *ssl, unsigned char *out, unsigned int *len)
{
    const struct dtls_io *io = BIO_get_data(SSL_get_rbio(ssl));
    unsigned char in[2 + 2 + 16];
    size_t n;
    if (!io)
        return 0;
    in[0] = (unsigned char)(io->peer.ss_family >> 8);
    in[1] = (unsigned char)io->peer.ss_family;
    if (io->peer.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&io->peer;
        memcpy(in + 2, &a->sin_port, 2);
        memcpy(in + 4, &a->sin_addr, 4);
        n = 8;
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&io->peer;
        memcpy(in + 2, &a->sin6_port, 2);
        memcpy(in + 4, &a->sin6_addr, 16);
        n = 20;
    }
    return HMAC(EVP_sha256(), cookie_secret, sizeof(cookie_secret), in, n, out, len) != NULL;
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
    return cookie_compute(ssl, cookie, len);
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
    unsigned char want[EVP_MAX_MD_SIZE];
    unsigned int wl = 0;
    return cookie_compute(ssl, want, &wl) && wl == len && CRYPTO_memcmp(want, cookie, len) == 0;
}

/* A fresh SSL for DTLSv1_listen(), with its own BIO. NULL if out of memory. */
static SSL *dtls_listener_new(void)
{
    SSL *ssl = SSL_new(dctx);
    BIO *b = ssl ? BIO_new(dtls_meth) : NULL;
    if (!b) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_bio(ssl, b, b);
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(ssl, DTLS_MTU);
    SSL_set_accept_state(ssl);
    return ssl;
}

/* Is this datagram a ClientHello of epoch 0? Record header: type 22 (handshake), version,
 * epoch (2), sequence (6), length (2); then handshake type 1. */
static bool is_client_hello(const uint8_t *d, size_t n)
{
    return n > 13 && d[0] == 22 && d[3] == 0 && d[4] == 0 && d[13] == 1;
}

/* Is this ClientHello a late copy of the one that opened @p s (same client random)? The
 * random follows the record header (13), the handshake header (12) and client_version (2). */
static bool is_old_client_hello(const struct session *s, const uint8_t *d, size_t n)
{
    unsigned char r[32];
    return n >= 27 + sizeof(r) && SSL_get_client_random(s->ssl, r, sizeof(r)) == sizeof(r) &&
           memcmp(d + 27, r, sizeof(r)) == 0;
}

/* A record that is not a valid IPFIX message: dropped, counted; logged once per session. */
static void dtls_malformed(struct session *s, const char *why)
{
    stats.malformed_msgs++;
    if (s->malformed_logged)
        return;
    s->malformed_logged = true;
    fp_log(FP_LOG_WARNING, MOD,
           "session %s (%s): DTLS record dropped: not a valid IPFIX message (%s); further "
           "ones are only counted (malformed_msgs)",
           s->peer, s->name, why ? why : "malformed");
}

/* One DTLS record: whole IPFIX messages (flowpulse sends one per record), each checked like
 * the TLS stream. A bad record is dropped and the session goes on: unlike a byte stream, a
 * datagram transport resynchronises at the next record. */
static void dtls_record(struct session *s, const uint8_t *rec, size_t n)
{
    size_t off = 0;
    while (off < n) {
        const char *why = NULL;
        size_t len = 0;
        if (n - off < FP_IPFIX_HDR_LEN) {
            why = "shorter than an IPFIX message header";
        } else {
            len = (size_t)rec[off + 2] << 8 | rec[off + 3];
            if (len < FP_IPFIX_HDR_LEN || len > n - off)
                why = "the IPFIX Length does not match the DTLS record";
        }
        if (!why && fp_ipfix_msg_check(rec + off, len, &why) == 0) {
            time_t now = now_s();
            if (s->suspect && now - s->last_refused >= SUSPECT_CLEAR_S)
                s->suspect = false;
            if (s->suspect)
                resend_templates(s, now);
            if (fp_ipfix_stream_process(s->st, rec + off, len) < 0)
                why = "a data record does not match its template";
        } else if (!why) {
            why = "malformed";
        }
        if (why) {
            dtls_malformed(s, why);
            return;
        }
        off += len;
    }
}

/* Read every record the current datagram holds. @return 0, or -1 if the session was closed. */
static int dtls_read(struct session *s)
{
    static uint8_t rec[FP_IPFIX_MSG_MAX];
    for (;;) {
        size_t n = 0;
        ERR_clear_error();
        int rc = SSL_read_ex(s->ssl, rec, sizeof(rec), &n);
        if (rc <= 0) {
            int err = SSL_get_error(s->ssl, rc);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
                return 0;
            if (err == SSL_ERROR_ZERO_RETURN) {
                session_close(s, "peer closed the session");
            } else {
                unsigned long e = ERR_peek_last_error();
                char buf[256] = "DTLS error";
                if (e)
                    ERR_error_string_n(e, buf, sizeof(buf));
                ERR_clear_error();
                session_close(s, buf);
            }
            return -1;
        }
        dtls_record(s, rec, n);
    }
}

/* A datagram from an address:port without a session, or a new ClientHello from the
 * address:port of session @p old: DTLSv1_listen() answers a ClientHello without a valid cookie
 * with a HelloVerifyRequest (no state kept) and returns 1 for one with a valid cookie, which
 * then becomes a session. RFC 6347 §4.2.8: @p old (the exporter restarted on the same port)
 * ends only then, once the peer proved it receives at its address. */
static void dtls_new_peer(const uint8_t *d, size_t n, const struct sockaddr_storage *from,
                          socklen_t fl, const char *peer, struct session *old)
{
    static struct fp_log_ratelimit rl;
    static BIO_ADDR *client;
    if (!client && !(client = BIO_ADDR_new()))
        return;
    if (!dtls_lssl && !(dtls_lssl = dtls_listener_new())) {
        fp_log_ratelimited(&rl, 5, FP_LOG_ERR, MOD, "DTLS: out of memory");
        return;
    }
    struct dtls_io *io = BIO_get_data(SSL_get_rbio(dtls_lssl));
    memcpy(&io->peer, from, fl);
    io->peer_len = fl;
    dgram_cur.to = io;
    dgram_cur.p = d;
    dgram_cur.n = n;
    ERR_clear_error();
    int rc = DTLSv1_listen(dtls_lssl, client);
    dgram_cur.to = NULL;
    dgram_cur.p = NULL;
    if (rc == 0) {
        unsigned long e = ERR_peek_last_error();
        if (e == 0) {
            stats.dtls_cookies++;
            fp_log(FP_LOG_DEBUG, MOD, "%s: DTLS ClientHello: cookie sent", peer);
        } else {
            char buf[256];
            ERR_error_string_n(e, buf, sizeof(buf));
            stats.dtls_bad_datagrams++;
            if (peer_log_first(from))
                fp_log(FP_LOG_WARNING, MOD,
                       "%s: datagram dropped: no session and not a DTLS ClientHello (%s); "
                       "logged once per peer, counted in dtls_bad_datagrams",
                       peer, buf);
        }
        ERR_clear_error();
        return;
    }
    if (rc < 0) {
        fp_log_ratelimited(&rl, 5, FP_LOG_ERR, MOD, "DTLS listen failed: %s", ssl_err());
        SSL_free(dtls_lssl);
        dtls_lssl = NULL;
        return;
    }
    if (old) {
        fp_log(FP_LOG_NOTICE, MOD, "session %s: a new handshake from the same address and port",
               old->peer);
        old->quiet_close = true; /* its close_notify would only confuse the new handshake */
        session_close(old, "the peer started a new handshake");
    }
    if (nsessions >= conf.max_sessions) {
        stats.sessions_limit++;
        fp_log_ratelimited(&rl, 5, FP_LOG_WARNING, MOD, "DTLS peer %s refused: %u sessions open",
                           peer, nsessions);
        return; /* the next DTLSv1_listen() call clears the SSL */
    }
    struct session *s = calloc(1, sizeof(*s));
    if (!s) {
        fp_log_ratelimited(&rl, 5, FP_LOG_ERR, MOD, "DTLS peer %s: out of memory", peer);
        return;
    }
    s->ssl = dtls_lssl;
    dtls_lssl = NULL; /* the next one is made on demand */
    s->dtls = true;
    s->io = io;
    s->fd = -1;
    s->out_fd = -1;
    s->state = SESS_HANDSHAKE;
    s->last_rx = now_s();
    s->deadline = s->last_rx + (time_t)conf.handshake_s;
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    s->next = sessions;
    sessions = s;
    nsessions++;
    fp_log(FP_LOG_DEBUG, MOD, "session %s: DTLS cookie verified, handshake", peer);
    (void)session_handshake(s); /* processes the ClientHello kept by DTLSv1_listen() */
}

/* Dispatch one datagram of the DTLS socket to its session, or to the listener. */
static void dtls_input(const uint8_t *d, size_t n, const struct sockaddr_storage *from,
                       socklen_t fl)
{
    struct session *s = sessions;
    while (s && !(s->dtls && same_peer(&s->io->peer, from)))
        s = s->next;
    char peer[96], a[80];
    addr_str(from, a, sizeof(a));
    snprintf(peer, sizeof(peer), "dtls %s", a);
    if (s && s->state == SESS_OPEN && is_client_hello(d, n)) {
        if (!is_old_client_hello(s, d, n))
            dtls_new_peer(d, n, from, fl, peer, s);
        return; /* (a late copy of the first ClientHello is ignored) */
    }
    if (!s) {
        dtls_new_peer(d, n, from, fl, peer, NULL);
        return;
    }
    s->last_rx = now_s();
    dgram_cur.to = s->io;
    dgram_cur.p = d;
    dgram_cur.n = n;
    if (s->state == SESS_HANDSHAKE)
        (void)session_handshake(s);
    else
        (void)dtls_read(s);
    dgram_cur.to = NULL;
    dgram_cur.p = NULL;
}

/* Read what the DTLS socket holds (at most DTLS_BURST datagrams, then timers run). */
static void dtls_recv(void)
{
    static uint8_t buf[FP_IPFIX_MSG_MAX + 1];
    for (int i = 0; i < DTLS_BURST; i++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(dfd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return; /* EAGAIN; ICMP errors of earlier sends are of no interest */
        if (from.ss_family != AF_INET && from.ss_family != AF_INET6)
            continue;
        if (n == 0) { /* not DTLS at all (and DTLSv1_listen() would take it for an error) */
            stats.dtls_bad_datagrams++;
            continue;
        }
        dtls_input(buf, (size_t)n, &from, fl);
    }
}

/* Timers: handshake deadlines, DTLS retransmission and idle timeout, template re-send, TCP
 * reconnect. */
static void session_timers(time_t now)
{
    struct session *next;
    for (struct session *s = sessions; s; s = next) {
        next = s->next;
        if (s->dtls && s->state == SESS_HANDSHAKE) {
            ERR_clear_error();
            if (DTLSv1_handle_timeout(s->ssl) < 0) { /* re-sends our last flight if due */
                handshake_failed(s, SSL_ERROR_SSL);
                session_close(s, "handshake failed");
                continue;
            }
        }
        if (s->state == SESS_HANDSHAKE) {
            if (now >= s->deadline) {
                stats.handshake_failures++;
                fp_log(FP_LOG_WARNING, MOD, "session %s: %s handshake timed out after %u s",
                       s->peer, s->dtls ? "DTLS" : "TLS", conf.handshake_s);
                session_close(s, "handshake timeout");
            }
            continue;
        }
        if (s->dtls && now - s->last_rx >= (time_t)conf.dtls_idle_s) {
            stats.dtls_idle_timeouts++;
            fp_log(FP_LOG_NOTICE, MOD, "session %s (%s): no datagram for %u s", s->peer,
                   s->name, conf.dtls_idle_s);
            session_close(s, "idle timeout");
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

/* Server context: TLS, or DTLS (with the cookie callbacks). Same certificate, CA, ciphers. */
static SSL_CTX *tls_setup(bool dtls)
{
    SSL_CTX *c = SSL_CTX_new(dtls ? DTLS_server_method() : TLS_server_method());
    if (!c)
        return NULL;
    SSL_CTX_set_min_proto_version(c, dtls ? DTLS1_2_VERSION : TLS1_2_VERSION);
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
    if (dtls) {
        SSL_CTX_set_cookie_generate_cb(c, cookie_generate);
        SSL_CTX_set_cookie_verify_cb(c, cookie_verify);
    }
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

/* The DTLS socket: UDP, non-blocking, a large receive buffer (exporters send in bursts). */
static int dtls_open(void)
{
    struct sockaddr_storage ss;
    socklen_t l;
    if (resolve(conf.dtls_listen, SOCK_DGRAM, true, &ss, &l) < 0)
        return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int sz = DTLS_RCVBUF, got = 0;
    socklen_t gl = sizeof(got);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got < sz)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)); /* privileged; may fail */
    if (bind(fd, (struct sockaddr *)&ss, l) < 0) {
        int e = errno;
        fp_log(FP_LOG_ERR, MOD, "cannot listen on %s (DTLS): %s", conf.dtls_listen, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

/* Everything DTLS needs: context, cookie secret, BIO method, socket. 0 or -errno. */
static int dtls_setup(void)
{
    if (RAND_bytes(cookie_secret, sizeof(cookie_secret)) != 1) {
        fp_log(FP_LOG_ERR, MOD, "DTLS: no random cookie secret: %s", ssl_err());
        return -EIO;
    }
    dtls_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fp-relay-dtls");
    if (!dtls_meth || !BIO_meth_set_create(dtls_meth, dbio_create) ||
        !BIO_meth_set_destroy(dtls_meth, dbio_destroy) ||
        !BIO_meth_set_read(dtls_meth, dbio_read) || !BIO_meth_set_write(dtls_meth, dbio_write) ||
        !BIO_meth_set_ctrl(dtls_meth, dbio_ctrl)) {
        fp_log(FP_LOG_ERR, MOD, "DTLS: cannot create the BIO method");
        return -ENOMEM;
    }
    dctx = tls_setup(true);
    if (!dctx)
        return -EINVAL;
    dfd = dtls_open();
    return dfd < 0 ? dfd : 0;
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
        {"relay.dtls_listen", conf.dtls_listen, sizeof(conf.dtls_listen)},
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
        {"relay.dtls_idle_timeout_s", &conf.dtls_idle_s, 1, 86400},
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
            "usage: flowpulse-relay [-c FILE] [-l HOST:PORT] [-d HOST:PORT]\n"
            "         -f udp://HOST:PORT|tcp://HOST:PORT --cert PEM --key PEM --ca PEM\n"
            "         [--allow NAME]... [-m OCTETS] [-t SECONDS] [--reconnect SECONDS]\n"
            "         [--max-sessions N] [--ciphers LIST] [--dtls-idle SECONDS] [-v|-q]\n"
            "  -c FILE      libconfig file (see conf/flowpulse-relay.conf.example)\n"
            "  -l ADDR      TLS listen address (default 127.0.0.1:4740; \"\" = none)\n"
            "  -d ADDR      DTLS (UDP) listen address (default none; port 4740 if omitted)\n"
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

/* "none" means no listener; a host without a port gets 4740 (RFC 7011 §10: TLS/DTLS). */
static void default_port(char *addr, size_t len)
{
    if (strcmp(addr, "none") == 0) {
        addr[0] = '\0';
        return;
    }
    if (!addr[0])
        return;
    const char *br = strrchr(addr, ']');
    bool has_port = addr[0] == '[' ? br && br[1] == ':' : strchr(addr, ':') != NULL;
    if (!has_port && strlen(addr) + 6 < len)
        strcat(addr, ":4740");
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
        {"dtls-listen", required_argument, NULL, 'd'}, {"dtls-idle", required_argument, NULL, 8},
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
    conf.dtls_idle_s = 300;
    conf.log_level = FP_LOG_INFO;
    /* The config file first, so that options override it. */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
            if (conf_load(argv[i + 1]) < 0)
                exit(2);
    int c;
    while ((c = getopt_long(argc, argv, "c:l:d:f:m:t:vqh", lo, NULL)) != -1) {
        switch (c) {
        case 'c':
            break;
        case 'l':
            set_str(conf.listen, sizeof(conf.listen), optarg);
            break;
        case 'd':
            set_str(conf.dtls_listen, sizeof(conf.dtls_listen), optarg);
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
        case 8:
            conf.dtls_idle_s = parse_uint("--dtls-idle", optarg, 1, 86400);
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
    default_port(conf.listen, sizeof(conf.listen));
    default_port(conf.dtls_listen, sizeof(conf.dtls_listen));
    if (!conf.listen[0] && !conf.dtls_listen[0]) {
        fprintf(stderr, "flowpulse-relay: no TLS (-l) and no DTLS (-d) listen address\n");
        exit(2);
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
    int lfd = -1;
    if (conf.listen[0]) {
        ctx = tls_setup(false);
        if (!ctx || (lfd = listen_open()) < 0)
            goto fail;
    }
    if (conf.dtls_listen[0] && dtls_setup() < 0)
        goto fail;
    fp_log(FP_LOG_NOTICE, MOD,
           "listening on %s%s%s%s%s (client certificate required%s), forwarding to %s "
           "(%s, max message %u, template refresh %u s)",
           conf.listen[0] ? "TLS " : "", conf.listen, conf.listen[0] && dfd >= 0 ? ", " : "",
           dfd >= 0 ? "DTLS (UDP) " : "", dfd >= 0 ? conf.dtls_listen : "",
           conf.nallow ? ", allow-list" : "", conf.collector, coll_tcp ? "TCP" : "UDP",
           coll_tcp ? FP_IPFIX_MSG_MAX : conf.udp_max, conf.refresh_s);

    struct pollfd *pfd = NULL;
    struct session **who = NULL;
    size_t cap = 0;
    while (!atomic_load(&stop_flag)) {
        if (atomic_exchange(&dump_flag, false))
            log_stats("SIGUSR1");
        size_t need = 2 + 2 * (size_t)nsessions;
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
        pfd[n] = (struct pollfd){.fd = lfd, .events = POLLIN}; /* fd -1: ignored by poll() */
        who[n++] = NULL;
        pfd[n] = (struct pollfd){.fd = dfd, .events = POLLIN};
        who[n++] = NULL;
        for (struct session *s = sessions; s; s = s->next) {
            if (s->fd >= 0) { /* TLS; DTLS sessions share dfd */
                short ev = POLLIN;
                if (s->state == SESS_HANDSHAKE && SSL_want_write(s->ssl))
                    ev |= POLLOUT;
                pfd[n] = (struct pollfd){.fd = s->fd, .events = ev};
                who[n++] = s;
            }
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
            for (size_t i = 2; i < n; i++) {
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
                        (void)session_handshake(s);
                    else
                        session_read(s);
                }
            }
            if (pfd[0].revents & POLLIN)
                accept_one(lfd);
            if (pfd[1].revents & POLLIN)
                dtls_recv();
        }
        session_timers(now_s());
    }
    fp_log(FP_LOG_NOTICE, MOD, "stopping");
    while (sessions)
        session_close(sessions, "relay stopping");
    log_stats("exit");
    free(pfd);
    free(who);
    int status = 0;
    if (0) {
fail:
        status = 2;
    }
    if (lfd >= 0)
        close(lfd);
    if (dfd >= 0)
        close(dfd);
    SSL_free(dtls_lssl);
    SSL_CTX_free(ctx);
    SSL_CTX_free(dctx);
    BIO_meth_free(dtls_meth);
    for (unsigned i = 0; i < conf.nallow; i++)
        free(conf.allow[i]);
    return status;
}
