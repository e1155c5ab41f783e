/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Classification engine (see classify_engine.h): nDPI glue, the per-worker pool of
 * inspection contexts, our own metadata (SNI, ALPN, Host, DNS), the decision.
 * Worker lcore only, except create/destroy (main thread).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include "classify/classify.h"
#include "classify/classify_engine.h"
#include "common/fp_compiler.h"
#include "common/fp_mem.h"

/** Reassembly buffer per context: TLS ClientHello over TCP, or the QUIC CRYPTO stream. */
#define CTX_BUF 4096
/** DNS answers parsed per message (more are counted by the parser, not stored). */
#define DNS_ANSWERS 16
#define FP_RULE_APP_ID_BASE 0x8000
#define FP_HOST_APP_ID_BASE 0x4000
/** Payload packets after which a named flow that nDPI does not recognise is decided. */
#define NAMED_GIVEUP_PAYLOAD 4

enum { ST_NEW = 0, ST_INSPECTING = 1, ST_DECIDED = 2 };
enum { META_TRY = 0, META_REASM = 1, META_DONE = 2 };

const char *const fp_classify_counter_names[] = {
#define FP_X_NAME(name, desc) #name,
    FP_CLASSIFY_COUNTERS(FP_X_NAME)
#undef FP_X_NAME
};
const unsigned fp_classify_counter_count = FP_ARRAY_SIZE(fp_classify_counter_names);

/** One inspection context (pool entry). */
struct ictx {
    /* Cache line 0: what every inspected packet reads. */
    struct ndpi_flow_struct *nf; /* preallocated, zeroed while free */
    uint32_t next_free;          /* index + 1 of the next free context, 0 = end */
    bool dpi_done;
    uint8_t tls_st;    /* META_*: TLS (TCP) or QUIC (UDP) client hello */
    uint8_t http_st;   /* META_*: HTTP request */
    uint8_t name_kind; /* FP_APP_METHOD_SNI or _HOST when name[] is set */
    uint8_t n_payload; /* packets with payload inspected */
    uint8_t fact_ipv;
    uint8_t fact_proto;
    uint16_t own_proto; /* nDPI id of what our parsers recognised (TLS, QUIC, HTTP), 0 none */
    uint16_t fact_port[2];
    ndpi_protocol proto;
    uint8_t fact_addr[2][16]; /* initiator, responder */
    /* Cold: parsers' state and buffers. */
    struct fp_classify_reasm reasm;
    struct fp_classify_quic_flow quic;
    char name[FP_CLASSIFY_NAME_MAX]; /* SNI or Host, full length */
    uint8_t buf[CTX_BUF];
};

struct fp_classify_engine {
    struct fp_classify_stats st; /* first: written by the worker only */
    struct fp_classify_params p;
    struct ndpi_detection_module_struct *ndpi;
    struct fp_quic_ctx *quic;
    struct fp_classify_dns_cache *dns;
    struct ictx *ctx;
    uint8_t *nf_mem;
    size_t ctx_mapped, nf_mapped;
    uint32_t nf_size;
    uint32_t free_head;               /* index + 1 */
    struct ndpi_flow_struct *scratch; /* for ndpi_guess_undetected_protocol */
    const uint16_t *rule_ids;         /* app id per rule (ids->id) */
    const uint16_t *host_ids;         /* app id per "host:" row of the class table */
    struct fp_classify_app_ids *own_ids; /* the ids of the tables given at create */
    struct fp_classify_tls tls;       /* extractor outputs (scratch) */
    struct fp_classify_http http;
    struct fp_classify_dns dnsmsg;
    struct fp_classify_dns_answer ans[DNS_ANSWERS];
};

/* ---- application ids of a class table and rule set -------------------------------------- */

struct fp_classify_app_ids {
    unsigned n_rules;
    unsigned n_hosts;
    uint16_t id[]; /* rules, then "host:" rows */
};

struct fp_classify_app_ids *fp_classify_app_ids_create(const struct fp_classify_engine *e,
                                                       const struct fp_classify_classes *c,
                                                       const struct fp_classify_rules *r)
{
    unsigned nr = fp_classify_rules_count(r);
    unsigned nh = c ? fp_classify_classes_host_count(c) : 0;
    struct fp_classify_app_ids *ids = calloc(1, sizeof(*ids) + (nr + nh + 1) * sizeof(uint16_t));
    if (!ids) {
        errno = ENOMEM;
        return NULL;
    }
    ids->n_rules = nr;
    ids->n_hosts = nh;
    /* ndpi_get_protocol_id only reads nDPI's protocol table, which is not written after
     * ndpi_finalize_initialization: safe while e's worker runs. */
    for (unsigned i = 0; i < nr; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s", fp_classify_rules_app(r, i));
        int id = ndpi_get_protocol_id(e->ndpi, name);
        ids->id[i] = (uint16_t)(id > 0 ? id : FP_RULE_APP_ID_BASE + (int)i);
    }
    for (unsigned i = 0; i < nh; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s", fp_classify_classes_host_app(c, i));
        int id = ndpi_get_protocol_id(e->ndpi, name);
        ids->id[nr + i] = (uint16_t)(id > 0 ? id : FP_HOST_APP_ID_BASE + (int)i);
    }
    return ids;
}

void fp_classify_app_ids_destroy(struct fp_classify_app_ids *ids)
{
    free(ids);
}

void fp_classify_engine_set_tables(struct fp_classify_engine *e,
                                   const struct fp_classify_classes *c,
                                   const struct fp_classify_rules *r,
                                   const struct fp_classify_app_ids *ids)
{
    e->p.classes = c;
    e->p.rules = r;
    e->rule_ids = ids->id;
    e->host_ids = ids->id + ids->n_rules;
}

/* ---- create / destroy ------------------------------------------------------------------ */

struct fp_classify_engine *fp_classify_engine_create(const struct fp_classify_params *p)
{
    int err = EINVAL;
    struct fp_classify_engine *e = NULL;
    if (!p || !p->classes || p->max_packets < 1 || p->max_packets > 255 || p->contexts < 1 ||
        p->contexts > (1u << 24) || p->dns_cache < 4)
        goto fail;
    err = ENOMEM;
    e = calloc(1, sizeof(*e));
    if (!e)
        goto fail;
    e->p = *p;
    e->nf_size = ndpi_detection_get_sizeof_ndpi_flow_struct();
    e->nf_size = (e->nf_size + 63u) & ~63u;
    /* On huge pages (8192 contexts of nDPI flow state are ~30 MB: 15 faults instead of
     * ~8000), faulted in now for live capture so the packet path never takes a first-touch
     * fault; a capture file only touches the contexts it uses (the pool reuses the most
     * recently released one first). */
    e->ctx = fp_mem_alloc((size_t)p->contexts * sizeof(*e->ctx), p->prefault, &e->ctx_mapped);
    e->nf_mem = fp_mem_alloc((size_t)p->contexts * e->nf_size, p->prefault, &e->nf_mapped);
    e->scratch = calloc(1, e->nf_size);
    if (!e->ctx || !e->nf_mem || !e->scratch)
        goto fail;
    for (uint32_t i = 0; i < p->contexts; i++) {
        e->ctx[i].nf = (struct ndpi_flow_struct *)(void *)(e->nf_mem + (size_t)i * e->nf_size);
        e->ctx[i].next_free = i + 2 <= p->contexts ? i + 2 : 0;
    }
    e->free_head = 1;
    e->dns = fp_classify_dns_cache_create(p->dns_cache, p->prefault);
    if (!e->dns)
        goto fail;
    err = EIO;
    e->quic = fp_classify_quic_ctx_create();
    if (!e->quic)
        goto fail;
    e->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (!e->ndpi)
        goto fail;
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(e->ndpi, &all);
    ndpi_finalize_initialization(e->ndpi);
    err = ENOMEM;
    e->own_ids = fp_classify_app_ids_create(e, p->classes, p->rules);
    if (!e->own_ids)
        goto fail;
    fp_classify_engine_set_tables(e, p->classes, p->rules, e->own_ids);
    return e;

fail:
    fp_classify_engine_destroy(e);
    errno = err;
    return NULL;
}

void fp_classify_engine_destroy(struct fp_classify_engine *e)
{
    if (!e)
        return;
    if (e->ctx && e->nf_mem)
        for (uint32_t i = 0; i < e->p.contexts; i++)
            ndpi_free_flow_data(e->ctx[i].nf);
    if (e->scratch)
        ndpi_free_flow_data(e->scratch);
    if (e->ndpi)
        ndpi_exit_detection_module(e->ndpi);
    fp_classify_quic_ctx_destroy(e->quic);
    fp_classify_dns_cache_destroy(e->dns);
    fp_classify_app_ids_destroy(e->own_ids);
    free(e->scratch);
    fp_mem_free(e->nf_mem, e->nf_mapped);
    fp_mem_free(e->ctx, e->ctx_mapped);
    free(e);
}

const struct fp_classify_stats *fp_classify_engine_stats(const struct fp_classify_engine *e)
{
    return &e->st;
}

void fp_classify_engine_stats_read(const struct fp_classify_engine *e,
                                   struct fp_classify_stats *out)
{
#define FP_X_LOAD(name, desc) out->name = __atomic_load_n(&e->st.name, __ATOMIC_RELAXED);
    FP_CLASSIFY_COUNTERS(FP_X_LOAD)
#undef FP_X_LOAD
    out->ctx_in_use = __atomic_load_n(&e->st.ctx_in_use, __ATOMIC_RELAXED);
    const struct fp_classify_dns_cache_stats *d = fp_classify_dns_cache_stats(e->dns);
    out->dns_cache_inserts = __atomic_load_n(&d->inserts, __ATOMIC_RELAXED);
    out->dns_cache_lookups = __atomic_load_n(&d->lookups, __ATOMIC_RELAXED);
    out->dns_cache_hits = __atomic_load_n(&d->hits, __ATOMIC_RELAXED);
    out->dns_cache_expired = __atomic_load_n(&d->expired, __ATOMIC_RELAXED);
    out->dns_cache_evictions = __atomic_load_n(&d->evictions, __ATOMIC_RELAXED);
    out->dns_cache_too_long = __atomic_load_n(&d->too_long, __ATOMIC_RELAXED);
}

struct fp_classify_dns_cache *fp_classify_engine_dns_cache(struct fp_classify_engine *e)
{
    return e->dns;
}

/* ---- pool ------------------------------------------------------------------------------- */

static struct ictx *ctx_take(struct fp_classify_engine *e, struct fp_classify_flow *f)
{
    uint32_t i = e->free_head;
    if (i == 0)
        return NULL;
    struct ictx *c = &e->ctx[i - 1];
    e->free_head = c->next_free;
    c->next_free = 0;
    c->dpi_done = false;
    memset(&c->proto, 0, sizeof(c->proto));
    c->tls_st = META_TRY;
    c->http_st = META_TRY;
    c->name_kind = 0;
    c->own_proto = 0;
    c->n_payload = 0;
    c->name[0] = '\0';
    f->ctx = i;
    e->st.ctx_in_use++;
    return c;
}

static void ctx_put(struct fp_classify_engine *e, struct fp_classify_flow *f)
{
    uint32_t i = f->ctx;
    if (i == 0)
        return;
    struct ictx *c = &e->ctx[i - 1];
    ndpi_free_flow_data(c->nf); /* what nDPI allocated for this flow (TLS reassembly) */
    memset(c->nf, 0, e->nf_size);
    c->next_free = e->free_head;
    e->free_head = i;
    f->ctx = 0;
    e->st.ctx_in_use--;
    e->st.ctx_released++;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool is_dns_port(uint16_t port)
{
    return port == 53 || port == 5353 || port == 5355;
}

/** Captured bytes from the L3 header on (what nDPI gets). */
static unsigned l3_len(const struct fp_pkt_meta *m, const uint8_t *frame)
{
    unsigned end;
    if (m->payload_off)
        end = (unsigned)m->payload_off + m->payload_len;
    else if (m->l4_off && m->proto == 6)
        end = m->l4_off + ((unsigned)(frame[m->l4_off + 12] >> 4) * 4u);
    else if (m->l4_off && (m->proto == 17 || m->proto == 1 || m->proto == 58))
        end = m->l4_off + 8u;
    else if (m->l4_off)
        end = m->l4_off;
    else
        return 0;
    return end > m->l3_off ? end - m->l3_off : 0;
}

static uint32_t ipv4_host(const uint8_t *a)
{
    return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

/** Fill f->app with an application and its class. */
static void set_app(struct fp_classify_engine *e, struct fp_classify_flow *f, const char *name,
                    uint16_t app_id, int cls_from_rule, ndpi_protocol_category_t cat,
                    enum fp_app_method method)
{
    struct fp_flow_app *a = &f->app;
    copy_str(a->name, sizeof(a->name), name);
    a->app_id = app_id;
    a->method = (uint8_t)method;
    a->confidence = fp_classify_method_confidence(method);
    int cls = cls_from_rule;
    if (cls < 0)
        cls = fp_classify_classes_app(e->p.classes, name);
    if (cls < 0)
        cls = fp_classify_classes_category(e->p.classes, ndpi_category_get_name(e->ndpi, cat));
    a->cls = (uint8_t)(cls < 0 ? FP_APP_CLASS_UNKNOWN : cls);
}

static bool is_container(uint16_t id)
{
    return id == NDPI_PROTOCOL_TLS || id == NDPI_PROTOCOL_QUIC || id == NDPI_PROTOCOL_HTTP ||
           id == NDPI_PROTOCOL_DNS || id == NDPI_PROTOCOL_DTLS;
}

/* nDPI's host list: the application of a name (0 none), and its category. */
static uint16_t ndpi_name_app(struct fp_classify_engine *e, const char *name,
                              ndpi_protocol_category_t *cat)
{
    if (!name || !*name)
        return 0;
    char buf[FP_CLASSIFY_NAME_MAX];
    copy_str(buf, sizeof(buf), name);
    ndpi_protocol_match_result res;
    memset(&res, 0, sizeof(res));
    int id = ndpi_match_string_subprotocol(e->ndpi, buf, (u_int)strlen(buf), &res);
    if (id <= 0 || res.protocol_id == NDPI_PROTOCOL_UNKNOWN)
        return 0;
    if (cat)
        *cat = res.protocol_category;
    return res.protocol_id;
}

/* Our "host:" table, then nDPI's host list; fills the app on a hit. */
static bool table_match(struct fp_classify_engine *e, struct fp_classify_flow *f, const char *name,
                        enum fp_app_method method)
{
    int row = fp_classify_classes_host(e->p.classes, name);
    if (row >= 0) {
        set_app(e, f, fp_classify_classes_host_app(e->p.classes, (unsigned)row), e->host_ids[row],
                -1, NDPI_PROTOCOL_CATEGORY_UNSPECIFIED, method);
        return true;
    }
    return false;
}

static bool ndpi_list_match(struct fp_classify_engine *e, struct fp_classify_flow *f,
                            const char *name, enum fp_app_method method)
{
    ndpi_protocol_category_t cat = NDPI_PROTOCOL_CATEGORY_UNSPECIFIED;
    uint16_t id = ndpi_name_app(e, name, &cat);
    if (!id)
        return false;
    set_app(e, f, ndpi_get_proto_name(e->ndpi, id), id, -1, cat, method);
    return true;
}

static void count_method(struct fp_classify_engine *e, enum fp_app_method m)
{
    switch (m) {
    case FP_APP_METHOD_SNI:
        e->st.by_sni++;
        break;
    case FP_APP_METHOD_HOST:
        e->st.by_host++;
        break;
    case FP_APP_METHOD_DNS:
        e->st.by_dns++;
        break;
    case FP_APP_METHOD_PORT:
        e->st.by_port++;
        break;
    case FP_APP_METHOD_RULE:
        e->st.by_rule++;
        break;
    case FP_APP_METHOD_DPI:
        e->st.by_dpi++;
        break;
    default:
        e->st.unknown++;
        break;
    }
}

/** Per-flow facts gathered on the first packet (kept in the flow's app and these fields). */
struct flow_facts {
    const uint8_t *addr[2];
    uint8_t ip_version;
    uint8_t proto;
    uint16_t port[2]; /* initiator, responder */
};

static void facts_from(const struct fp_pkt_meta *m, unsigned dir, struct flow_facts *ff)
{
    ff->addr[0] = dir ? m->dst : m->src;
    ff->addr[1] = dir ? m->src : m->dst;
    ff->port[0] = dir ? m->dport : m->sport;
    ff->port[1] = dir ? m->sport : m->dport;
    ff->ip_version = m->ip_version;
    ff->proto = m->proto;
}

/**
 * The decision. @p c may be NULL (flow not inspected); @p dpi the nDPI answer (NULL: none),
 * @p guessed set when it is a port/address guess.
 */
static void decide(struct fp_classify_engine *e, struct fp_classify_flow *f, struct ictx *c,
                   const struct flow_facts *ff, const ndpi_protocol *dpi, bool guessed)
{
    const char *sni = c && c->name_kind == FP_APP_METHOD_SNI ? c->name : NULL;
    const char *host = c && c->name_kind == FP_APP_METHOD_HOST ? c->name : NULL;
    if (!c && f->app.server_name[0])
        sni = f->app.server_name;
    const char *dnsn = f->app.dns_name[0] ? f->app.dns_name : NULL;
    f->state = ST_DECIDED;

    /* 1. Operator rules. */
    if (e->p.rules) {
        struct fp_classify_rule_input in = {
            .names = {sni, host, dnsn},
            .addr = {ff->addr[0], ff->addr[1]},
            .ip_version = ff->ip_version,
            .proto = ff->proto,
            .server_port = ff->port[1],
        };
        int r = fp_classify_rules_match(e->p.rules, &in);
        if (r >= 0) {
            set_app(e, f, fp_classify_rules_app(e->p.rules, (unsigned)r), e->rule_ids[r],
                    (int)fp_classify_rules_class(e->p.rules, (unsigned)r),
                    NDPI_PROTOCOL_CATEGORY_UNSPECIFIED, FP_APP_METHOD_RULE);
            e->st.by_rule++;
            return;
        }
    }
    /* 2. nDPI's application found in the payload: not a bare container protocol, not a
     *    guess, and not only the server address being in nDPI's IP lists (an IP match for
     *    a CDN or cloud says little about the flow: it ranks with the port guesses). */
    uint16_t id = 0, master = 0;
    bool ip_only = false;
    if (dpi) {
        master = dpi->master_protocol;
        id = dpi->app_protocol ? dpi->app_protocol : dpi->master_protocol;
        if (c && !guessed && id != NDPI_PROTOCOL_UNKNOWN && !is_container(id) &&
            c->nf->guessed_host_protocol_id == id) {
            const char *n = sni ? sni : host ? host : dnsn;
            ip_only = ndpi_name_app(e, n, NULL) != id;
        }
    }
    if (dpi && !guessed && !ip_only && id != NDPI_PROTOCOL_UNKNOWN && !is_container(id)) {
        enum fp_app_method m = FP_APP_METHOD_DPI;
        if ((master == NDPI_PROTOCOL_TLS || master == NDPI_PROTOCOL_QUIC) && sni)
            m = FP_APP_METHOD_SNI;
        else if (master == NDPI_PROTOCOL_HTTP && host)
            m = FP_APP_METHOD_HOST;
        /* nDPI named it from the server name: our table, more specific, goes first. */
        if (m != FP_APP_METHOD_DPI && table_match(e, f, m == FP_APP_METHOD_SNI ? sni : host, m)) {
            count_method(e, m);
            return;
        }
        set_app(e, f, ndpi_get_proto_name(e->ndpi, id), id, -1, dpi->category, m);
        count_method(e, m);
        return;
    }
    /* 3. Our server-name table, then nDPI's host list, on the SNI, Host or DNS name. */
    static const enum fp_app_method how[3] = {FP_APP_METHOD_SNI, FP_APP_METHOD_HOST,
                                              FP_APP_METHOD_DNS};
    const char *names[3] = {sni, host, dnsn};
    for (unsigned k = 0; k < 3; k++) {
        if (table_match(e, f, names[k], how[k]) || ndpi_list_match(e, f, names[k], how[k])) {
            count_method(e, how[k]);
            return;
        }
    }
    /* 4. The container protocol seen in the payload (nDPI's, else our parsers'). */
    uint16_t cont = 0;
    ndpi_protocol_category_t cat = NDPI_PROTOCOL_CATEGORY_UNSPECIFIED;
    if (dpi && !guessed && id != NDPI_PROTOCOL_UNKNOWN && is_container(id)) {
        cont = id;
        cat = dpi->category;
    } else if (dpi && !guessed && master != NDPI_PROTOCOL_UNKNOWN && is_container(master)) {
        cont = master; /* ip_only application over TLS/HTTP/...: the container is sure */
    } else if (c && c->own_proto) {
        cont = c->own_proto;
    }
    if (cont) {
        if (cat == NDPI_PROTOCOL_CATEGORY_UNSPECIFIED) {
            ndpi_protocol q = {cont, cont, NDPI_PROTOCOL_CATEGORY_UNSPECIFIED};
            cat = ndpi_get_proto_category(e->ndpi, q);
        }
        set_app(e, f, ndpi_get_proto_name(e->ndpi, cont), cont, -1, cat, FP_APP_METHOD_DPI);
        count_method(e, FP_APP_METHOD_DPI);
        return;
    }
    /* 5. Address (nDPI IP lists) or port guess. */
    ndpi_protocol g;
    if (dpi && (guessed || ip_only)) {
        g = *dpi;
    } else {
        memset(e->scratch, 0, e->nf_size);
        bool v4 = ff->ip_version == 4;
        g = ndpi_guess_undetected_protocol(e->ndpi, e->scratch, ff->proto,
                                           v4 ? ipv4_host(ff->addr[0]) : 0, ff->port[0],
                                           v4 ? ipv4_host(ff->addr[1]) : 0, ff->port[1]);
        ndpi_free_flow_data(e->scratch);
    }
    id = g.app_protocol ? g.app_protocol : g.master_protocol;
    if (id != NDPI_PROTOCOL_UNKNOWN) {
        set_app(e, f, ndpi_get_proto_name(e->ndpi, id), id, -1, g.category, FP_APP_METHOD_PORT);
        count_method(e, FP_APP_METHOD_PORT);
        return;
    }
    f->app.cls = FP_APP_CLASS_UNKNOWN;
    f->app.method = FP_APP_METHOD_NONE;
    f->app.confidence = 0;
    e->st.unknown++;
}

/* ---- metadata --------------------------------------------------------------------------- */

static void take_name(struct fp_classify_engine *e, struct fp_classify_flow *f, struct ictx *c,
                      const char *name, uint8_t kind)
{
    if (!name[0])
        return;
    copy_str(c->name, sizeof(c->name), name);
    c->name_kind = kind;
    copy_str(f->app.server_name, sizeof(f->app.server_name), name);
    if (kind == FP_APP_METHOD_SNI)
        e->st.sni_found++;
    else
        e->st.host_found++;
}

/** Parse a DNS message: a query names the flow, a response feeds the cache. */
static bool dns_message(struct fp_classify_engine *e, struct fp_classify_flow *f,
                        const struct fp_pkt_meta *m, const uint8_t *frame, uint64_t ts_ns)
{
    enum fp_classify_result r = fp_classify_dns_parse(
        frame + m->payload_off, m->payload_len, m->proto == 6, &e->dnsmsg, e->ans, DNS_ANSWERS);
    if (r != FP_CLASSIFY_OK && r != FP_CLASSIFY_TRUNCATED) {
        e->st.dns_bad++;
        return false;
    }
    e->st.dns_parsed++;
    const struct fp_classify_dns *d = &e->dnsmsg;
    if (d->has_question && d->qname[0] && !f->app.dns_name[0])
        copy_str(f->app.dns_name, sizeof(f->app.dns_name), d->qname);
    if (!d->qr)
        return true;
    f->dns_pending = 0;
    f->dns_answered = 1;
    if (!d->has_question || !d->qname[0])
        return true;
    for (unsigned i = 0; i < d->n_answers; i++) {
        const struct fp_classify_dns_answer *a = &e->ans[i];
        if (a->type == FP_DNS_TYPE_A)
            fp_classify_dns_cache_insert(e->dns, 4, a->addr, d->qname, a->ttl, ts_ns);
        else if (a->type == FP_DNS_TYPE_AAAA)
            fp_classify_dns_cache_insert(e->dns, 6, a->addr, d->qname, a->ttl, ts_ns);
    }
    return true;
}

static void meta_packet(struct fp_classify_engine *e, struct fp_classify_flow *f, struct ictx *c,
                        unsigned dir, const struct fp_pkt_meta *m, const uint8_t *frame,
                        uint64_t ts_ns)
{
    if (!m->payload_off || m->payload_len == 0)
        return;
    const uint8_t *pl = frame + m->payload_off;
    unsigned len = m->payload_len;
    if (is_dns_port(m->sport) || is_dns_port(m->dport)) {
        if ((m->proto == 17 || m->proto == 6) && dns_message(e, f, m, frame, ts_ns))
            c->own_proto = NDPI_PROTOCOL_DNS;
        return;
    }
    if (dir != 0 || c->name_kind)
        return;
    if (m->proto == 6) {
        if (c->tls_st == META_TRY) {
            enum fp_classify_result r = fp_classify_tls_parse(pl, len, &e->tls);
            if (r == FP_CLASSIFY_OK) {
                c->tls_st = META_DONE;
                c->own_proto = NDPI_PROTOCOL_TLS;
                if (e->tls.hs_type == 1 && e->tls.has_sni)
                    take_name(e, f, c, e->tls.sni, FP_APP_METHOD_SNI);
                return;
            }
            if (r == FP_CLASSIFY_NEED_MORE) {
                fp_classify_reasm_init(&c->reasm, c->buf, sizeof(c->buf));
                (void)fp_classify_reasm_tcp_add(&c->reasm, m->tcp_seq, pl, len);
                c->tls_st = META_REASM;
                return;
            }
            c->tls_st = META_DONE;
        } else if (c->tls_st == META_REASM) {
            (void)fp_classify_reasm_tcp_add(&c->reasm, m->tcp_seq, pl, len);
            enum fp_classify_result r = fp_classify_tls_stream_parse(&c->reasm, &e->tls);
            if (r == FP_CLASSIFY_NEED_MORE)
                return;
            c->tls_st = META_DONE;
            if (r == FP_CLASSIFY_OK)
                c->own_proto = NDPI_PROTOCOL_TLS;
            if (r == FP_CLASSIFY_OK && e->tls.hs_type == 1 && e->tls.has_sni)
                take_name(e, f, c, e->tls.sni, FP_APP_METHOD_SNI);
            return;
        }
        if (c->http_st == META_TRY) {
            c->http_st = META_DONE;
            enum fp_classify_result r = fp_classify_http_parse(pl, len, &e->http);
            if (r == FP_CLASSIFY_OK || r == FP_CLASSIFY_NEED_MORE)
                c->own_proto = NDPI_PROTOCOL_HTTP;
            if (r == FP_CLASSIFY_OK && e->http.has_host)
                take_name(e, f, c, e->http.host, FP_APP_METHOD_HOST);
        }
    } else if (m->proto == 17 && c->tls_st != META_DONE && (pl[0] & 0x80)) {
        if (c->tls_st == META_TRY) {
            fp_classify_quic_flow_init(&c->quic, c->buf, sizeof(c->buf));
            c->tls_st = META_REASM;
        }
        enum fp_classify_result r = fp_classify_quic_parse(e->quic, &c->quic, pl, len, &e->tls);
        if (r == FP_CLASSIFY_NEED_MORE)
            return;
        c->tls_st = META_DONE;
        if (r == FP_CLASSIFY_OK)
            c->own_proto = NDPI_PROTOCOL_QUIC;
        if (r == FP_CLASSIFY_OK && e->tls.has_sni)
            take_name(e, f, c, e->tls.sni, FP_APP_METHOD_SNI);
        else if (r != FP_CLASSIFY_OK)
            e->st.quic_fail++;
    }
}

/* ---- per packet ------------------------------------------------------------------------- */

static struct flow_facts ctx_facts(const struct ictx *c)
{
    struct flow_facts ff = {
        .addr = {c->fact_addr[0], c->fact_addr[1]},
        .ip_version = c->fact_ipv,
        .proto = c->fact_proto,
        .port = {c->fact_port[0], c->fact_port[1]},
    };
    return ff;
}

static bool start(struct fp_classify_engine *e, struct fp_classify_flow *f, unsigned dir,
                  const struct fp_pkt_meta *m, uint64_t ts_ns)
{
    e->st.flows++;
    struct flow_facts ff;
    facts_from(m, dir, &ff);
    bool dns_flow = is_dns_port(ff.port[0]) || is_dns_port(ff.port[1]);
    if (!dns_flow) {
        const char *n = fp_classify_dns_cache_lookup(e->dns, ff.ip_version, ff.addr[1], ts_ns);
        if (n)
            copy_str(f->app.dns_name, sizeof(f->app.dns_name), n);
    }
    if (m->l4_off == 0 && (m->proto == 6 || m->proto == 17)) {
        e->st.not_inspected_no_l4++;
        decide(e, f, NULL, &ff, NULL, false);
        return true;
    }
    struct ictx *c = ctx_take(e, f);
    if (!c) {
        e->st.not_inspected_pool_empty++;
        decide(e, f, NULL, &ff, NULL, false);
        return true;
    }
    memcpy(c->fact_addr[0], ff.addr[0], 16);
    memcpy(c->fact_addr[1], ff.addr[1], 16);
    c->fact_port[0] = ff.port[0];
    c->fact_port[1] = ff.port[1];
    c->fact_ipv = ff.ip_version;
    c->fact_proto = ff.proto;
    e->st.inspected++;
    f->app.inspected = 1;
    f->state = ST_INSPECTING;
    return false;
}

static void finish_decided(struct fp_classify_engine *e, struct fp_classify_flow *f,
                           const struct ictx *c)
{
    /* DNS flows keep parsing (our parser only) until a response fed the cache. */
    if ((is_dns_port(c->fact_port[0]) || is_dns_port(c->fact_port[1])) && !f->dns_answered &&
        f->n_pkts < e->p.max_packets)
        f->dns_pending = 1;
    ctx_put(e, f);
}

bool fp_classify_flow_packet(struct fp_classify_engine *e, struct fp_classify_flow *f, unsigned dir,
                             const struct fp_pkt_meta *m, const uint8_t *frame, uint64_t ts_ns)
{
    if (likely(f->state == ST_DECIDED)) {
        if (unlikely(f->dns_pending)) {
            if (++f->n_pkts >= e->p.max_packets)
                f->dns_pending = 0;
            if (m->payload_off && m->payload_len)
                (void)dns_message(e, f, m, frame, ts_ns);
        }
        return false;
    }
    if (f->state == ST_NEW && start(e, f, dir, m, ts_ns))
        return true;
    struct ictx *c = &e->ctx[f->ctx - 1];
    f->n_pkts++;
    if (m->payload_len)
        c->n_payload++;
    meta_packet(e, f, c, dir, m, frame, ts_ns);
    bool have_name = c->name_kind != 0;
    struct flow_facts ff = ctx_facts(c);
    /* Fast path: a TLS or QUIC ClientHello with a server name, or a DNS message with a
     * question, was decoded by our parsers. nDPI would name such a flow from the same string
     * (its TLS/QUIC/DNS sub-protocols come from the SNI or query name), so decide from the
     * name without running nDPI's dissectors (several µs per call). */
    if ((have_name && c->name_kind == FP_APP_METHOD_SNI) ||
        (c->own_proto == NDPI_PROTOCOL_DNS && f->app.dns_name[0])) {
        e->st.fast_path++;
        decide(e, f, c, &ff, NULL, false);
        finish_decided(e, f, c);
        return true;
    }
    unsigned len = l3_len(m, frame);
    /* nDPI sees the packets that carry payload (its dissectors work on payload; it picks
     * TCP flows up without the handshake): handshake and pure ACKs cost it nothing. */
    if (!c->dpi_done && len && m->payload_len) {
        ndpi_protocol p =
            ndpi_detection_process_packet(e->ndpi, c->nf, frame + m->l3_off,
                                          (unsigned short)FP_MIN(len, 65535u), ts_ns / 1000000u);
        e->st.dpi_packets++;
        if (p.app_protocol != NDPI_PROTOCOL_UNKNOWN || p.master_protocol != NDPI_PROTOCOL_UNKNOWN) {
            c->proto = p;
            c->dpi_done = true;
        }
    }
    if (c->dpi_done) {
        /* A container answer (bare TLS/QUIC) without our name yet: wait for the name while
         * packets remain, since the name decides the application. */
        uint16_t id = c->proto.app_protocol ? c->proto.app_protocol : c->proto.master_protocol;
        bool wait = (id == NDPI_PROTOCOL_TLS || id == NDPI_PROTOCOL_QUIC) && !have_name &&
                    c->tls_st != META_DONE && f->n_pkts < e->p.max_packets;
        if (!wait) {
            decide(e, f, c, &ff, &c->proto, false);
            finish_decided(e, f, c);
            return true;
        }
        return false;
    }
    /* Give up at the cap; sooner when a name is known (SNI, Host, or the DNS cache) and nDPI
     * recognised nothing in the first payload packets: the name decides, and each further
     * nDPI call on an unrecognised flow runs most of its dissectors. */
    bool named = have_name || f->app.dns_name[0];
    if (f->n_pkts >= e->p.max_packets || (named && c->n_payload >= NAMED_GIVEUP_PAYLOAD)) {
        if (f->n_pkts < e->p.max_packets)
            e->st.gave_up_named++;
        uint8_t guessed = 0;
        ndpi_protocol p = ndpi_detection_giveup(e->ndpi, c->nf, 1, &guessed);
        e->st.gave_up++;
        decide(e, f, c, &ff, &p, guessed != 0);
        finish_decided(e, f, c);
        return true;
    }
    return false;
}

bool fp_classify_flow_finish(struct fp_classify_engine *e, struct fp_classify_flow *f)
{
    if (f->state != ST_INSPECTING)
        return false;
    struct ictx *c = &e->ctx[f->ctx - 1];
    uint8_t guessed = 0;
    ndpi_protocol p;
    if (c->dpi_done) {
        p = c->proto;
    } else {
        p = ndpi_detection_giveup(e->ndpi, c->nf, 1, &guessed);
        e->st.gave_up++;
    }
    e->st.ended_inspecting++;
    struct flow_facts ff = ctx_facts(c);
    decide(e, f, c, &ff, &p, guessed != 0);
    ctx_put(e, f);
    return true;
}

void fp_classify_flow_release(struct fp_classify_engine *e, struct fp_classify_flow *f)
{
    ctx_put(e, f);
    f->dns_pending = 0;
}
