/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Control: the flows query (parser, matcher, sort), the flow JSON line and the request
 * dispatcher. The parser and dispatcher run on the control thread; the matcher runs on the
 * workers (pure: no allocation, lock, syscall or locale).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"
#include "control/control_internal.h"

FP_STATIC_ASSERT(FP_CONTROL_APP_NAME == sizeof(((struct fp_flow_app *)0)->name),
                 "app filter name fits the record's app name");

static const char *const class_names[] = {
#define FP_X_NAME(name, text) text,
    FP_APP_CLASSES(FP_X_NAME)
#undef FP_X_NAME
};

static const char *const method_names[] = {"none", "dpi", "sni", "dns", "rule", "port", "host"};

/* ---- parsing ---------------------------------------------------------------------------- */

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Unsigned decimal (no sign, no blanks) within 0..max. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)
            return -ERANGE;
    }
    *out = v;
    return 0;
}

/* Seconds with up to 9 decimals ("30", "1.5") → ns; at most 10 years. */
static int parse_seconds(const char *s, uint64_t *ns)
{
    uint64_t whole = 0, frac = 0, scale = 1000000000u;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > 315360000u)
            return -ERANGE;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (scale == 1)
                return -EINVAL;
            scale /= 10;
            frac += (uint64_t)(*p - '0') * scale;
        }
    }
    if (*p)
        return -EINVAL;
    *ns = whole * 1000000000u + frac;
    return 0;
}

static int parse_addr(struct fp_control_filter *f, const char *v, const char *tok, char *err,
                      size_t errlen)
{
    char a[64];
    const char *slash = strchr(v, '/');
    size_t alen = slash ? (size_t)(slash - v) : strlen(v);
    uint8_t bytes[16] = {0};
    unsigned maxlen;

    if (alen == 0 || alen >= sizeof(a)) {
        snprintf(err, errlen, "\"%s\": missing or bad address (expected ADDR[/PREFIX])", tok);
        return -EINVAL;
    }
    memcpy(a, v, alen);
    a[alen] = '\0';
    if (inet_pton(AF_INET, a, bytes) == 1) {
        f->ip_version = 4;
        maxlen = 32;
    } else if (inet_pton(AF_INET6, a, bytes) == 1) {
        f->ip_version = 6;
        maxlen = 128;
    } else {
        snprintf(err, errlen, "\"%s\": bad address \"%s\" (expected IPv4 or IPv6)", tok, a);
        return -EINVAL;
    }
    unsigned long plen = maxlen;
    if (slash && parse_uint(slash + 1, maxlen, &plen) != 0) {
        snprintf(err, errlen, "\"%s\": bad prefix length \"%s\" (expected 0..%u)", tok, slash + 1,
                 maxlen);
        return -EINVAL;
    }
    uint8_t mask[16] = {0};
    for (unsigned i = 0; i < plen; i++)
        mask[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    for (unsigned i = 0; i < 16; i++)
        bytes[i] &= mask[i];
    memcpy(f->addr, bytes, 16);
    memcpy(f->mask, mask, 16);
    return 0;
}

static int parse_filter(struct fp_control_filter *f, const char *tok, char *err, size_t errlen)
{
    static const struct {
        const char *key;
        char op;
        uint8_t kind;
    } keys[] = {
        {"src", '=', FP_CONTROL_F_SRC},     {"dst", '=', FP_CONTROL_F_DST},
        {"host", '=', FP_CONTROL_F_HOST},   {"port", '=', FP_CONTROL_F_PORT},
        {"sport", '=', FP_CONTROL_F_SPORT}, {"dport", '=', FP_CONTROL_F_DPORT},
        {"proto", '=', FP_CONTROL_F_PROTO}, {"app", '=', FP_CONTROL_F_APP},
        {"class", '=', FP_CONTROL_F_CLASS}, {"age", '>', FP_CONTROL_F_AGE},
        {"idle", '<', FP_CONTROL_F_IDLE},   {"qoe", '<', FP_CONTROL_F_QOE},
    };
    size_t klen = strcspn(tok, "=<>");
    unsigned i;

    memset(f, 0, sizeof(*f));
    for (i = 0; i < FP_ARRAY_SIZE(keys); i++)
        if (strlen(keys[i].key) == klen && strncmp(keys[i].key, tok, klen) == 0)
            break;
    if (i == FP_ARRAY_SIZE(keys)) {
        snprintf(err, errlen,
                 "\"%s\": unknown filter (expected src=, dst=, host=, port=, sport=, dport=, "
                 "proto=, app=, class=, age>, idle< or qoe<)",
                 tok);
        return -EINVAL;
    }
    if (tok[klen] != keys[i].op) {
        snprintf(err, errlen, "\"%s\": expected %s%cVALUE", tok, keys[i].key, keys[i].op);
        return -EINVAL;
    }
    const char *v = tok + klen + 1;
    unsigned long n;
    f->kind = keys[i].kind;
    switch (f->kind) {
    case FP_CONTROL_F_SRC:
    case FP_CONTROL_F_DST:
    case FP_CONTROL_F_HOST:
        return parse_addr(f, v, tok, err, errlen);
    case FP_CONTROL_F_PORT:
    case FP_CONTROL_F_SPORT:
    case FP_CONTROL_F_DPORT:
        if (parse_uint(v, 65535, &n) != 0) {
            snprintf(err, errlen, "\"%s\": bad port \"%s\" (expected 0..65535)", tok, v);
            return -EINVAL;
        }
        f->port = (uint16_t)n;
        return 0;
    case FP_CONTROL_F_PROTO:
        if (strcmp(v, "tcp") == 0) {
            f->proto[0] = f->proto[1] = 6;
        } else if (strcmp(v, "udp") == 0) {
            f->proto[0] = f->proto[1] = 17;
        } else if (strcmp(v, "icmp") == 0) {
            f->proto[0] = 1;
            f->proto[1] = 58;
        } else if (parse_uint(v, 255, &n) == 0) {
            f->proto[0] = f->proto[1] = (uint8_t)n;
        } else {
            snprintf(err, errlen, "\"%s\": bad protocol \"%s\" (expected tcp, udp, icmp or 0..255)",
                     tok, v);
            return -EINVAL;
        }
        return 0;
    case FP_CONTROL_F_APP: {
        size_t l = strlen(v);
        if (l == 0 || l >= sizeof(f->name)) {
            snprintf(err, errlen, "\"%s\": application name must have 1..%zu characters", tok,
                     sizeof(f->name) - 1);
            return -EINVAL;
        }
        for (size_t k = 0; k < l; k++)
            f->name[k] = ascii_lower(v[k]);
        if (strcmp(f->name, "unknown") == 0)
            memset(f->name, 0, sizeof(f->name));
        return 0;
    }
    case FP_CONTROL_F_CLASS:
        for (unsigned c = 0; c < FP_APP_CLASS_MAX; c++) {
            if (strcmp(v, class_names[c]) == 0) {
                f->value = c;
                return 0;
            }
        }
        snprintf(err, errlen,
                 "\"%s\": unknown class \"%s\" (expected one of: unknown, video, "
                 "conferencing, gaming, software-update, social-media, file-storage, messaging, "
                 "music, web, email, vpn, remote-access, infrastructure)",
                 tok, v);
        return -EINVAL;
    case FP_CONTROL_F_AGE:
    case FP_CONTROL_F_IDLE:
        if (parse_seconds(v, &f->ns) != 0) {
            snprintf(err, errlen, "\"%s\": bad duration \"%s\" (expected seconds, e.g. 30 or 1.5)",
                     tok, v);
            return -EINVAL;
        }
        return 0;
    case FP_CONTROL_F_QOE:
        if (parse_uint(v, 101, &n) != 0) {
            snprintf(err, errlen, "\"%s\": bad score \"%s\" (expected 0..101)", tok, v);
            return -EINVAL;
        }
        f->value = (uint32_t)n;
        return 0;
    default:
        return -EINVAL;
    }
}

int fp_control_query_parse(struct fp_control_query *q, const char *args, char *err, size_t errlen)
{
    char tok[256];
    bool want_limit = false, want_sort = false;

    memset(q, 0, sizeof(*q));
    q->limit = FP_CONTROL_DEFAULT_LIMIT;
    for (const char *p = args ? args : "";;) {
        p += strspn(p, " \t");
        if (!*p)
            break;
        size_t l = strcspn(p, " \t");
        if (l >= sizeof(tok)) {
            snprintf(err, errlen, "\"%.40s...\": argument too long", p);
            return -EINVAL;
        }
        memcpy(tok, p, l);
        tok[l] = '\0';
        p += l;

        const char *val = NULL;
        if (want_limit || want_sort) {
            val = tok;
        } else if (strcmp(tok, "--limit") == 0 || strcmp(tok, "-n") == 0) {
            want_limit = true;
            continue;
        } else if (strcmp(tok, "--sort") == 0) {
            want_sort = true;
            continue;
        } else if (strncmp(tok, "--limit=", 8) == 0) {
            want_limit = true;
            val = tok + 8;
        } else if (strncmp(tok, "--sort=", 7) == 0) {
            want_sort = true;
            val = tok + 7;
        }
        if (want_limit) {
            unsigned long n;
            want_limit = false;
            if (parse_uint(val, FP_CONTROL_MAX_LIMIT, &n) != 0 || n == 0) {
                snprintf(err, errlen, "--limit \"%s\": expected 1..%u", val, FP_CONTROL_MAX_LIMIT);
                return -EINVAL;
            }
            q->limit = (unsigned)n;
            continue;
        }
        if (want_sort) {
            want_sort = false;
            if (strcmp(val, "bytes") == 0)
                q->sort = FP_CONTROL_SORT_BYTES;
            else if (strcmp(val, "packets") == 0)
                q->sort = FP_CONTROL_SORT_PACKETS;
            else if (strcmp(val, "last") == 0)
                q->sort = FP_CONTROL_SORT_LAST;
            else {
                snprintf(err, errlen, "--sort \"%s\": expected bytes, packets or last", val);
                return -EINVAL;
            }
            continue;
        }
        if (tok[0] == '-') {
            snprintf(err, errlen,
                     "\"%s\": unknown option (expected --limit N or --sort "
                     "bytes|packets|last)",
                     tok);
            return -EINVAL;
        }
        if (q->n == FP_CONTROL_MAX_FILTERS) {
            snprintf(err, errlen, "\"%s\": too many filters (at most %d, combined with AND)", tok,
                     FP_CONTROL_MAX_FILTERS);
            return -EINVAL;
        }
        if (parse_filter(&q->f[q->n], tok, err, errlen) != 0)
            return -EINVAL;
        q->n++;
    }
    if (want_limit || want_sort) {
        snprintf(err, errlen, "%s: missing value", want_limit ? "--limit" : "--sort");
        return -EINVAL;
    }
    return 0;
}

/* ---- matching (workers) ------------------------------------------------------------------ */

static inline bool addr_match(const struct fp_control_filter *f, const uint8_t *a, uint8_t ver)
{
    uint64_t x[2];
    memcpy(x, a, sizeof(x));
    return ((x[0] & f->mask[0]) == f->addr[0]) & ((x[1] & f->mask[1]) == f->addr[1]) &
           (ver == f->ip_version);
}

static inline uint64_t rec_first_ns(const struct fp_flow_record *r)
{
    uint64_t a = r->dir[0].first_ns, b = r->dir[1].first_ns;
    if (!a)
        return b;
    return b && b < a ? b : a;
}

static inline uint64_t rec_last_ns(const struct fp_flow_record *r)
{
    return FP_MAX(r->dir[0].last_ns, r->dir[1].last_ns);
}

/* ASCII case-insensitive equality of two NUL-padded names (the filter is lower case). */
static inline bool name_eq(const char *lower, const char *name)
{
    for (unsigned i = 0; i < FP_CONTROL_APP_NAME; i++) {
        if (lower[i] != ascii_lower(name[i]))
            return false;
        if (!lower[i])
            return true;
    }
    return true;
}

bool fp_control_query_match(void *arg, const struct fp_flow_record *r)
{
    const struct fp_control_query *q = arg;
    for (unsigned i = 0; i < q->n; i++) {
        const struct fp_control_filter *f = &q->f[i];
        bool ok;
        switch (f->kind) {
        case FP_CONTROL_F_SRC:
            ok = addr_match(f, r->src, r->ip_version);
            break;
        case FP_CONTROL_F_DST:
            ok = addr_match(f, r->dst, r->ip_version);
            break;
        case FP_CONTROL_F_HOST:
            ok = addr_match(f, r->src, r->ip_version) | addr_match(f, r->dst, r->ip_version);
            break;
        case FP_CONTROL_F_PORT:
            ok = (r->sport == f->port) | (r->dport == f->port);
            break;
        case FP_CONTROL_F_SPORT:
            ok = r->sport == f->port;
            break;
        case FP_CONTROL_F_DPORT:
            ok = r->dport == f->port;
            break;
        case FP_CONTROL_F_PROTO:
            ok = (r->proto == f->proto[0]) | (r->proto == f->proto[1]);
            break;
        case FP_CONTROL_F_APP:
            ok = name_eq(f->name, r->app.name);
            break;
        case FP_CONTROL_F_CLASS:
            ok = r->app.cls == f->value;
            break;
        case FP_CONTROL_F_AGE: {
            uint64_t first = rec_first_ns(r);
            ok = first < q->now_ns && q->now_ns - first > f->ns;
            break;
        }
        case FP_CONTROL_F_IDLE: {
            uint64_t last = rec_last_ns(r);
            ok = last >= q->now_ns || q->now_ns - last < f->ns;
            break;
        }
        case FP_CONTROL_F_QOE:
            ok = (r->qoe.have & FP_QOE_HAVE_SCORE) && r->qoe.score < f->value;
            break;
        default:
            ok = false;
            break;
        }
        if (!ok)
            return false;
    }
    return true;
}

/* ---- output ------------------------------------------------------------------------------ */

static const char *proto_name(uint8_t p)
{
    switch (p) {
    case 1:
        return "icmp";
    case 2:
        return "igmp";
    case 6:
        return "tcp";
    case 17:
        return "udp";
    case 47:
        return "gre";
    case 50:
        return "esp";
    case 58:
        return "ipv6-icmp";
    case 132:
        return "sctp";
    default:
        return NULL;
    }
}

static void put_addr(struct fp_control_json *j, const char *key, const uint8_t *a, uint8_t ver)
{
    char s[INET6_ADDRSTRLEN];
    if (!inet_ntop(ver == 6 ? AF_INET6 : AF_INET, a, s, sizeof(s)))
        s[0] = '\0';
    fp_control_json_str(j, key, s);
}

/* TCP flags as letters in the usual order (CWR ECE URG ACK PSH RST SYN FIN), '.' if unset. */
static void put_flags(struct fp_control_json *j, uint16_t fl)
{
    static const char letters[] = "CEUAPRSF";
    char s[9];
    for (unsigned i = 0; i < 8; i++)
        s[i] = (fl >> (7 - i)) & 1 ? letters[i] : '.';
    s[8] = '\0';
    fp_control_json_str(j, NULL, s);
}

void fp_control_flow_json(struct fp_control_json *j, const struct fp_flow_record *r)
{
    const char *pn = proto_name(r->proto);
    uint64_t first = rec_first_ns(r), last = rec_last_ns(r);

    j->comma = false;
    fp_control_json_obj_begin(j, NULL);
    put_addr(j, "src", r->src, r->ip_version);
    put_addr(j, "dst", r->dst, r->ip_version);
    fp_control_json_u64(j, "sport", r->sport);
    fp_control_json_u64(j, "dport", r->dport);
    fp_control_json_u64(j, "proto", r->proto);
    if (pn)
        fp_control_json_str(j, "proto_name", pn);
    fp_control_json_u64(j, "ip_version", r->ip_version);
    fp_control_json_arr_begin(j, "packets");
    fp_control_json_u64(j, NULL, r->dir[0].packets);
    fp_control_json_u64(j, NULL, r->dir[1].packets);
    fp_control_json_arr_end(j);
    fp_control_json_arr_begin(j, "bytes");
    fp_control_json_u64(j, NULL, r->dir[0].bytes);
    fp_control_json_u64(j, NULL, r->dir[1].bytes);
    fp_control_json_arr_end(j);
    fp_control_json_time(j, "first", first);
    fp_control_json_u64(j, "first_ms", first / 1000000u);
    fp_control_json_time(j, "last", last);
    fp_control_json_u64(j, "last_ms", last / 1000000u);
    if (r->proto == 6) {
        fp_control_json_arr_begin(j, "tcp_flags");
        put_flags(j, r->dir[0].tcp_flags);
        put_flags(j, r->dir[1].tcp_flags);
        fp_control_json_arr_end(j);
    }
    if (r->n_vlan) {
        fp_control_json_arr_begin(j, "vlan");
        for (unsigned i = 0; i < r->n_vlan && i < 2; i++)
            fp_control_json_u64(j, NULL, r->vlan[i]);
        fp_control_json_arr_end(j);
    }
    if (r->tunnel) {
        fp_control_json_u64(j, "tunnel", r->tunnel);
        fp_control_json_u64(j, "vni", r->vni);
    }
    fp_control_json_u64(j, "worker", r->worker);
    fp_control_json_u64(j, "port_id", r->port_id);
    fp_control_json_u64(j, "flow_id", r->flow_id);
    fp_control_json_obj_begin(j, "app");
    fp_control_json_strn(j, "name", r->app.name[0] ? r->app.name : "unknown", sizeof(r->app.name));
    fp_control_json_str(j, "class",
                        r->app.cls < FP_APP_CLASS_MAX ? class_names[r->app.cls] : "unknown");
    fp_control_json_str(j, "method",
                        r->app.method < FP_ARRAY_SIZE(method_names) ? method_names[r->app.method]
                                                                    : "none");
    fp_control_json_obj_end(j);
    if (r->app.server_name[0])
        fp_control_json_strn(j, "server_name", r->app.server_name, sizeof(r->app.server_name));
    if (r->app.dns_name[0])
        fp_control_json_strn(j, "dns_name", r->app.dns_name, sizeof(r->app.dns_name));
    const struct fp_qoe_result *qr = &r->qoe;
    if (qr->have & (FP_QOE_HAVE_SCORE | FP_QOE_HAVE_RTT0 | FP_QOE_HAVE_RTT1 | FP_QOE_HAVE_TCP)) {
        fp_control_json_obj_begin(j, "qoe");
        if (qr->have & FP_QOE_HAVE_SCORE)
            fp_control_json_u64(j, "score", qr->score);
        if (qr->have & (FP_QOE_HAVE_RTT0 | FP_QOE_HAVE_RTT1)) {
            fp_control_json_arr_begin(j, "rtt_mean_us");
            fp_control_json_u64(j, NULL, qr->have & FP_QOE_HAVE_RTT0 ? qr->rtt_mean_us[0] : 0);
            fp_control_json_u64(j, NULL, qr->have & FP_QOE_HAVE_RTT1 ? qr->rtt_mean_us[1] : 0);
            fp_control_json_arr_end(j);
        }
        if (qr->have & FP_QOE_HAVE_SND)
            fp_control_json_u64(j, "snd_us", qr->snd_us);
        if (qr->have & FP_QOE_HAVE_CND)
            fp_control_json_u64(j, "cnd_us", qr->cnd_us);
        if (qr->have & FP_QOE_HAVE_TCP) {
            fp_control_json_arr_begin(j, "retx_pkts");
            fp_control_json_u64(j, NULL, qr->retx_pkts[0]);
            fp_control_json_u64(j, NULL, qr->retx_pkts[1]);
            fp_control_json_arr_end(j);
        }
        fp_control_json_obj_end(j);
    }
    fp_control_json_obj_end(j);
}

static int cmp_rec(const void *a, const void *b, void *arg)
{
    enum fp_control_sort sort = *(const enum fp_control_sort *)arg;
    const struct fp_flow_record *x = *(const struct fp_flow_record *const *)a;
    const struct fp_flow_record *y = *(const struct fp_flow_record *const *)b;
    uint64_t kx, ky;
    switch (sort) {
    case FP_CONTROL_SORT_BYTES:
        kx = x->dir[0].bytes + x->dir[1].bytes;
        ky = y->dir[0].bytes + y->dir[1].bytes;
        break;
    case FP_CONTROL_SORT_PACKETS:
        kx = x->dir[0].packets + x->dir[1].packets;
        ky = y->dir[0].packets + y->dir[1].packets;
        break;
    default:
        kx = rec_last_ns(x);
        ky = rec_last_ns(y);
        break;
    }
    if (kx != ky)
        return kx > ky ? -1 : 1;
    return x->flow_id < y->flow_id ? -1 : x->flow_id > y->flow_id;
}

void fp_control_flows_sort(struct fp_flow_record *r, unsigned n, enum fp_control_sort sort)
{
    if (sort == FP_CONTROL_SORT_NONE || n < 2)
        return;
    const struct fp_flow_record **idx = malloc(n * sizeof(*idx));
    struct fp_flow_record *tmp = malloc((size_t)n * sizeof(*tmp));
    if (!idx || !tmp) {
        free(idx);
        free(tmp);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        idx[i] = &r[i];
    qsort_r(idx, n, sizeof(*idx), cmp_rec, &sort);
    for (unsigned i = 0; i < n; i++)
        tmp[i] = *idx[i];
    memcpy(r, tmp, (size_t)n * sizeof(*tmp));
    free(idx);
    free(tmp);
}
