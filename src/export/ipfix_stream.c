/* SPDX-License-Identifier: BSD-3-Clause */
/* IPFIX message-stream framing, template cache and UDP re-packing (see ipfix_stream.h). */
#include "export/ipfix_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SET_TEMPLATE 2
#define SET_OPTIONS 3
#define SET_DATA_MIN 256
#define VARLEN 65535

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------------------------------- */
/* Framer */

void fp_ipfix_framer_init(struct fp_ipfix_framer *f)
{
    f->off = 0;
    f->len = 0;
    f->pending = 0;
}

static void framer_compact(struct fp_ipfix_framer *f)
{
    f->off += f->pending;
    f->pending = 0;
    if (f->off == 0)
        return;
    memmove(f->buf, f->buf + f->off, f->len - f->off);
    f->len -= f->off;
    f->off = 0;
}

size_t fp_ipfix_framer_space(struct fp_ipfix_framer *f, uint8_t **ptr)
{
    framer_compact(f);
    *ptr = f->buf + f->len;
    return sizeof(f->buf) - f->len;
}

void fp_ipfix_framer_commit(struct fp_ipfix_framer *f, size_t n)
{
    f->len += n;
}

size_t fp_ipfix_framer_push(struct fp_ipfix_framer *f, const void *data, size_t len)
{
    uint8_t *p;
    size_t room = fp_ipfix_framer_space(f, &p);
    size_t n = len < room ? len : room;

    memcpy(p, data, n);
    f->len += n;
    return n;
}

int fp_ipfix_framer_next(struct fp_ipfix_framer *f, const uint8_t **msg, size_t *len)
{
    f->off += f->pending;
    f->pending = 0;
    size_t avail = f->len - f->off;
    const uint8_t *p = f->buf + f->off;

    if (avail >= 2 && get16(p) != 10)
        return -EBADMSG;
    if (avail < 4)
        return 0;
    size_t mlen = get16(p + 2);
    if (mlen < FP_IPFIX_HDR_LEN)
        return -EBADMSG;
    if (avail < mlen)
        return 0;
    f->pending = mlen;
    *msg = p;
    *len = mlen;
    return 1;
}

size_t fp_ipfix_framer_buffered(const struct fp_ipfix_framer *f)
{
    return f->len - f->off - f->pending;
}

/* ---------------------------------------------------------------------------------------- */
/* Template records */

/* One template record parsed from a Template (2) or Options Template (3) Set. */
struct tmpl_rec {
    uint16_t tid;
    uint16_t nfields;   /* 0 = withdrawal */
    size_t len;         /* octets of the record */
    const uint8_t *specs; /* first field specifier */
    size_t hdr_len;     /* 4 (template, withdrawal) or 6 (options template) */
};

/*
 * Parse the record at p (avail octets left in the Set).
 * Returns 1 with *r filled, 0 if the rest is padding, -EBADMSG if malformed.
 */
static int tmpl_rec_parse(unsigned set_id, const uint8_t *p, size_t avail, struct tmpl_rec *r,
                          const char **why)
{
    if (avail < 4)
        return 0; /* padding: shorter than any record */
    r->tid = get16(p);
    r->nfields = get16(p + 2);
    if (r->tid == 0 && r->nfields == 0) {
        for (size_t i = 0; i < avail; i++) {
            if (p[i] != 0) {
                *why = "template ID 0";
                return -EBADMSG;
            }
        }
        return 0; /* zero padding */
    }
    if (r->nfields == 0) {
        if (r->tid < SET_DATA_MIN && r->tid != set_id) {
            *why = "withdrawal of a reserved template ID";
            return -EBADMSG;
        }
        r->len = 4;
        r->hdr_len = 4;
        r->specs = p + 4;
        return 1;
    }
    if (r->tid < SET_DATA_MIN) {
        *why = "template ID below 256";
        return -EBADMSG;
    }
    size_t off = 4;
    if (set_id == SET_OPTIONS) {
        if (avail < 6) {
            *why = "options template record truncated";
            return -EBADMSG;
        }
        uint16_t scope = get16(p + 4);
        if (scope == 0 || scope > r->nfields) {
            *why = "options template scope field count 0 or above field count";
            return -EBADMSG;
        }
        off = 6;
    }
    r->hdr_len = off;
    r->specs = p + off;
    for (unsigned i = 0; i < r->nfields; i++) {
        if (off + 4 > avail) {
            *why = "field specifier beyond the Set";
            return -EBADMSG;
        }
        bool ent = (p[off] & 0x80) != 0;
        off += ent ? 8 : 4;
        if (off > avail) {
            *why = "enterprise number beyond the Set";
            return -EBADMSG;
        }
    }
    r->len = off;
    return 1;
}

int fp_ipfix_msg_check(const uint8_t *msg, size_t len, const char **why)
{
    const char *dummy;

    if (!why)
        why = &dummy;
    *why = NULL;
    if (len < FP_IPFIX_HDR_LEN || len > FP_IPFIX_MSG_MAX) {
        *why = "message shorter than 16 octets or longer than 65535";
        return -EBADMSG;
    }
    if (get16(msg) != 10) {
        *why = "version is not 10";
        return -EBADMSG;
    }
    if (get16(msg + 2) != len) {
        *why = "length field differs from the message length";
        return -EBADMSG;
    }
    size_t off = FP_IPFIX_HDR_LEN;
    while (off < len) {
        if (len - off < 4) {
            *why = "truncated Set header";
            return -EBADMSG;
        }
        unsigned sid = get16(msg + off);
        size_t slen = get16(msg + off + 2);
        if (slen < 4 || slen > len - off) {
            *why = "Set length below 4 or beyond the message";
            return -EBADMSG;
        }
        if (sid != SET_TEMPLATE && sid != SET_OPTIONS && sid < SET_DATA_MIN) {
            *why = "reserved Set ID (0, 1 or 4-255)";
            return -EBADMSG;
        }
        if (sid == SET_TEMPLATE || sid == SET_OPTIONS) {
            size_t p = off + 4;
            struct tmpl_rec r;
            int rc;
            while ((rc = tmpl_rec_parse(sid, msg + p, off + slen - p, &r, why)) == 1)
                p += r.len;
            if (rc < 0)
                return rc;
        }
        off += slen;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Template cache */

struct tmpl {
    uint16_t tid;
    uint16_t set_id;     /* SET_TEMPLATE or SET_OPTIONS */
    uint16_t nfields;
    size_t rec_len;
    uint8_t *rec;        /* raw record, as received */
    uint16_t *flen;      /* field lengths in order (VARLEN = variable) */
    size_t min_len;      /* smallest data record: fixed fields + 1 per variable field */
};

struct domain {
    uint32_t id;
    uint32_t next_in_seq; /* exporter's sequence after its last message (+ its data records) */
    uint32_t out_offset;  /* added (mod 2^32) to the exporter's sequence numbers on output */
    struct tmpl *t;
    size_t n, cap;
};

/* Output message under construction. */
struct out_msg {
    size_t len;          /* octets used, header included */
    size_t set_off;      /* offset of the open Set's header, 0 = none */
    uint16_t set_id;     /* its Set ID */
    uint32_t nrec;       /* data records in this message */
    unsigned nsets;      /* complete or open Sets */
    uint16_t tids[64];   /* templates present in this message (for copies before data) */
    unsigned ntids;
    uint8_t buf[FP_IPFIX_MSG_MAX];
};

struct fp_ipfix_stream {
    struct fp_ipfix_stream_params p;
    size_t max;
    struct domain *d;
    size_t nd, capd;
    struct fp_ipfix_stream_stats st;
    struct out_msg out;
};

static void tmpl_free(struct tmpl *t)
{
    free(t->rec);
    free(t->flen);
    t->rec = NULL;
    t->flen = NULL;
}

static struct domain *domain_find(const struct fp_ipfix_stream *s, uint32_t id)
{
    for (size_t i = 0; i < s->nd; i++)
        if (s->d[i].id == id)
            return &s->d[i];
    return NULL;
}

static struct domain *domain_get(struct fp_ipfix_stream *s, uint32_t id)
{
    struct domain *d = domain_find(s, id);

    if (d)
        return d;
    if (s->nd == s->capd) {
        size_t cap = s->capd ? s->capd * 2 : 4;
        struct domain *nd = realloc(s->d, cap * sizeof(*nd));
        if (!nd)
            return NULL;
        s->d = nd;
        s->capd = cap;
    }
    d = &s->d[s->nd++];
    memset(d, 0, sizeof(*d));
    d->id = id;
    return d;
}

static struct tmpl *tmpl_find(const struct domain *d, uint16_t tid)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->t[i].tid == tid)
            return &d->t[i];
    return NULL;
}

static void tmpl_remove(struct domain *d, struct tmpl *t)
{
    tmpl_free(t);
    size_t i = (size_t)(t - d->t);
    memmove(&d->t[i], &d->t[i + 1], (d->n - i - 1) * sizeof(*t));
    d->n--;
}

/* Apply one parsed (options) template record. */
static int tmpl_apply(struct fp_ipfix_stream *s, struct domain *d, unsigned set_id,
                      const uint8_t *rec, const struct tmpl_rec *r)
{
    if (r->nfields == 0) {
        s->st.templates_withdrawn++;
        if (r->tid == set_id) { /* withdraw all of this kind */
            for (size_t i = d->n; i-- > 0;)
                if (d->t[i].set_id == set_id)
                    tmpl_remove(d, &d->t[i]);
        } else {
            struct tmpl *t = tmpl_find(d, r->tid);
            if (t)
                tmpl_remove(d, t);
        }
        return 0;
    }
    struct tmpl nt = {
        .tid = r->tid,
        .set_id = (uint16_t)set_id,
        .nfields = r->nfields,
        .rec_len = r->len,
    };
    nt.rec = malloc(r->len);
    nt.flen = malloc(r->nfields * sizeof(*nt.flen));
    if (!nt.rec || !nt.flen) {
        tmpl_free(&nt);
        return -ENOMEM;
    }
    memcpy(nt.rec, rec, r->len);
    const uint8_t *sp = r->specs;
    for (unsigned i = 0; i < r->nfields; i++) {
        uint16_t fl = get16(sp + 2);
        nt.flen[i] = fl;
        nt.min_len += fl == VARLEN ? 1 : fl;
        sp += (sp[0] & 0x80) ? 8 : 4;
    }
    struct tmpl *t = tmpl_find(d, r->tid);
    if (!t) {
        if (d->n == d->cap) {
            size_t cap = d->cap ? d->cap * 2 : 8;
            struct tmpl *na = realloc(d->t, cap * sizeof(*na));
            if (!na) {
                tmpl_free(&nt);
                return -ENOMEM;
            }
            d->t = na;
            d->cap = cap;
        }
        t = &d->t[d->n++];
    } else {
        tmpl_free(t);
    }
    *t = nt;
    s->st.templates_added++;
    return 0;
}

/*
 * Length of the data record at p (avail octets left in the Set) for template t.
 * Returns the length, 0 if the rest is padding, -EBADMSG if the record overruns the Set.
 */
static long data_rec_len(const struct tmpl *t, const uint8_t *p, size_t avail)
{
    if (avail < t->min_len || t->min_len == 0)
        return 0;
    size_t off = 0;
    for (unsigned i = 0; i < t->nfields; i++) {
        size_t fl = t->flen[i];
        if (fl == VARLEN) {
            if (off + 1 > avail)
                return -EBADMSG;
            fl = p[off++];
            if (fl == 255) {
                if (off + 2 > avail)
                    return -EBADMSG;
                fl = get16(p + off);
                off += 2;
            }
        }
        off += fl;
        if (off > avail)
            return -EBADMSG;
    }
    return (long)off;
}

/* ---------------------------------------------------------------------------------------- */
/* Stream */

struct fp_ipfix_stream *fp_ipfix_stream_create(const struct fp_ipfix_stream_params *p)
{
    if (!p || !p->emit || (p->max_msg && p->max_msg < FP_IPFIX_OUT_MIN)) {
        errno = EINVAL;
        return NULL;
    }
    struct fp_ipfix_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->p = *p;
    s->max = p->max_msg ? p->max_msg : FP_IPFIX_MSG_MAX;
    if (s->max > FP_IPFIX_MSG_MAX)
        s->max = FP_IPFIX_MSG_MAX;
    return s;
}

void fp_ipfix_stream_destroy(struct fp_ipfix_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nd; i++) {
        for (size_t j = 0; j < s->d[i].n; j++)
            tmpl_free(&s->d[i].t[j]);
        free(s->d[i].t);
    }
    free(s->d);
    free(s);
}

/* Context of the message being re-packed. */
struct pack {
    struct domain *d;
    uint32_t export_time;
    uint32_t seq;        /* sequence number of the next output message */
    unsigned parts;      /* output messages emitted for this input message */
};

static void out_reset(struct out_msg *o)
{
    o->len = FP_IPFIX_HDR_LEN;
    o->set_off = 0;
    o->nrec = 0;
    o->nsets = 0;
    o->ntids = 0;
}

static void out_close_set(struct out_msg *o)
{
    if (o->set_off) {
        put16(o->buf + o->set_off + 2, (uint16_t)(o->len - o->set_off));
        o->set_off = 0;
    }
}

static void out_flush(struct fp_ipfix_stream *s, struct pack *k)
{
    struct out_msg *o = &s->out;

    out_close_set(o);
    if (o->nsets == 0) {
        out_reset(o);
        return;
    }
    put16(o->buf, 10);
    put16(o->buf + 2, (uint16_t)o->len);
    put32(o->buf + 4, k->export_time);
    put32(o->buf + 8, k->seq);
    put32(o->buf + 12, k->d->id);
    if (o->len > s->max)
        s->st.oversize++;
    s->st.msgs_out++;
    s->st.bytes_out += o->len;
    s->p.emit(s->p.emit_ctx, o->buf, o->len);
    k->seq += o->nrec;
    k->parts++;
    out_reset(o);
}

static size_t out_room(const struct fp_ipfix_stream *s)
{
    return s->out.len < s->max ? s->max - s->out.len : 0;
}

/* Append a whole Set (header included) as it is. */
static void out_put_set(struct fp_ipfix_stream *s, const uint8_t *set, size_t len)
{
    struct out_msg *o = &s->out;

    out_close_set(o);
    memcpy(o->buf + o->len, set, len);
    o->len += len;
    o->nsets++;
}

static bool out_has_tid(const struct out_msg *o, uint16_t tid)
{
    for (unsigned i = 0; i < o->ntids; i++)
        if (o->tids[i] == tid)
            return true;
    return false;
}

static void out_note_tid(struct out_msg *o, uint16_t tid)
{
    if (o->ntids < sizeof(o->tids) / sizeof(o->tids[0]) && !out_has_tid(o, tid))
        o->tids[o->ntids++] = tid;
}

static bool out_set_open(const struct out_msg *o, uint16_t set_id)
{
    return o->set_off && o->set_id == set_id;
}

/* Append one record to an open Set of @p set_id (opened here if needed). No size check. */
static void out_append_rec(struct out_msg *o, uint16_t set_id, const uint8_t *rec, size_t len)
{
    if (!out_set_open(o, set_id)) {
        out_close_set(o);
        o->set_off = o->len;
        o->set_id = set_id;
        put16(o->buf + o->len, set_id);
        o->len += 4;
        o->nsets++;
    }
    memcpy(o->buf + o->len, rec, len);
    o->len += len;
}

/* Flush a non-empty message when @p need more octets do not fit. */
static void out_make_room(struct fp_ipfix_stream *s, struct pack *k, size_t need)
{
    if (need > out_room(s) && s->out.nsets > 0)
        out_flush(s, k);
}

/*
 * Append one record of Set @p set_id, flushing first when it does not fit. A record too large
 * for an empty message goes alone (counted as oversize at flush).
 */
static void out_put_rec(struct fp_ipfix_stream *s, struct pack *k, uint16_t set_id,
                        const uint8_t *rec, size_t len)
{
    out_make_room(s, k, len + (out_set_open(&s->out, set_id) ? 0 : 4));
    out_append_rec(&s->out, set_id, rec, len);
}

/* Put a copy of template t in front of data in a message that follows a split. */
static void out_copy_template(struct fp_ipfix_stream *s, struct pack *k, const struct tmpl *t)
{
    out_put_rec(s, k, t->set_id, t->rec, t->rec_len);
    out_close_set(&s->out);
    out_note_tid(&s->out, t->tid);
    s->st.template_copies++;
}

static int pack_template_set(struct fp_ipfix_stream *s, struct pack *k, const uint8_t *set,
                             size_t slen)
{
    uint16_t sid = get16(set);
    bool has_withdrawal = false;
    const char *why;
    struct tmpl_rec r;
    size_t p = 4;
    int rc;

    /* Apply in order (the message was validated: parsing cannot fail here). */
    while ((rc = tmpl_rec_parse(sid, set + p, slen - p, &r, &why)) == 1) {
        if (r.nfields == 0)
            has_withdrawal = true;
        rc = tmpl_apply(s, k->d, sid, set + p, &r);
        if (rc < 0)
            return rc;
        p += r.len;
    }
    bool strip = has_withdrawal && s->p.strip_withdrawals;
    if (!strip && slen <= s->max - FP_IPFIX_HDR_LEN) {
        out_make_room(s, k, slen);
        out_put_set(s, set, slen);
        for (p = 4; tmpl_rec_parse(sid, set + p, slen - p, &r, &why) == 1; p += r.len)
            out_note_tid(&s->out, r.tid);
        return 0;
    }
    for (p = 4; tmpl_rec_parse(sid, set + p, slen - p, &r, &why) == 1; p += r.len) {
        if (r.nfields == 0 && s->p.strip_withdrawals) {
            s->st.withdrawals_stripped++;
            continue;
        }
        out_put_rec(s, k, sid, set + p, r.len);
        if (r.nfields)
            out_note_tid(&s->out, r.tid);
    }
    out_close_set(&s->out);
    return 0;
}

static int pack_data_set(struct fp_ipfix_stream *s, struct pack *k, const uint8_t *set,
                         size_t slen)
{
    uint16_t sid = get16(set);
    const struct tmpl *t = tmpl_find(k->d, sid);
    struct out_msg *o = &s->out;

    if (!t) {
        /* Unknown template: records cannot be counted or cut; forward the Set whole. */
        s->st.unknown_sets++;
        out_make_room(s, k, slen);
        out_put_set(s, set, slen);
        return 0;
    }
    /* Count the records, checking them against the template. */
    uint32_t n = 0;
    size_t p = 4;
    long rl;
    while ((rl = data_rec_len(t, set + p, slen - p)) > 0) {
        p += (size_t)rl;
        n++;
    }
    if (rl < 0)
        return -EBADMSG;
    s->st.data_records += n;

    /* After a split, data goes with a copy of its template in the same message. */
    size_t tcopy = t->rec_len + 4;
    size_t copy = (k->parts > 0 && !out_has_tid(o, sid)) ? tcopy : 0;
    bool whole = slen + copy <= out_room(s);
    if (!whole && o->nsets > 0 && slen + tcopy <= s->max - FP_IPFIX_HDR_LEN) {
        out_flush(s, k);
        copy = tcopy;
        whole = true;
    }
    if (whole) {
        if (copy)
            out_copy_template(s, k, t);
        out_put_set(s, set, slen);
        o->nrec += n;
        return 0;
    }
    /* Split at record boundaries (Set padding is dropped). */
    for (p = 4; (rl = data_rec_len(t, set + p, slen - p)) > 0; p += (size_t)rl) {
        bool need_copy = k->parts > 0 && !out_has_tid(o, sid);
        size_t need = (size_t)rl + (out_set_open(o, sid) ? 0 : 4) + (need_copy ? tcopy : 0);
        if (need > out_room(s) && o->nsets > 0) {
            out_flush(s, k);
            need_copy = true;
        }
        if (need_copy && !out_has_tid(o, sid)) {
            out_copy_template(s, k, t);
            if (o->len + (size_t)rl + 4 > FP_IPFIX_MSG_MAX)
                out_flush(s, k); /* huge record: template and record in separate messages */
        }
        out_append_rec(o, sid, set + p, (size_t)rl);
        o->nrec++;
    }
    out_close_set(o);
    return 0;
}

int fp_ipfix_stream_process(struct fp_ipfix_stream *s, const uint8_t *msg, size_t len)
{
    if (fp_ipfix_msg_check(msg, len, NULL) < 0) {
        s->st.malformed++;
        return -EBADMSG;
    }
    s->st.msgs_in++;
    s->st.bytes_in += len;
    uint32_t domain = get32(msg + 12);
    struct domain *d = domain_get(s, domain);
    if (!d)
        return -ENOMEM;
    uint32_t in_seq = get32(msg + 8);
    struct pack k = {
        .d = d,
        .export_time = get32(msg + 4),
        .seq = in_seq + d->out_offset,
    };
    uint64_t before = s->st.data_records;
    int rc = 0;

    out_reset(&s->out);
    size_t off = FP_IPFIX_HDR_LEN;
    while (off < len) {
        size_t slen = get16(msg + off + 2);
        unsigned sid = get16(msg + off);
        if (sid == SET_TEMPLATE || sid == SET_OPTIONS)
            rc = pack_template_set(s, &k, msg + off, slen);
        else
            rc = pack_data_set(s, &k, msg + off, slen);
        if (rc < 0)
            break;
        off += slen;
    }
    if (rc == -EBADMSG) {
        s->st.malformed++;
        out_reset(&s->out);
        return rc;
    }
    out_flush(s, &k);
    if (k.parts > 1)
        s->st.splits++;
    d->next_in_seq = in_seq + (uint32_t)(s->st.data_records - before);
    return rc;
}

unsigned fp_ipfix_stream_resend_templates(struct fp_ipfix_stream *s, uint32_t export_time)
{
    unsigned sent = 0;

    for (size_t i = 0; i < s->nd; i++) {
        struct domain *d = &s->d[i];
        if (d->n == 0)
            continue;
        struct pack k = {
            .d = d,
            .export_time = export_time,
            .seq = d->next_in_seq + d->out_offset,
        };
        out_reset(&s->out);
        for (uint16_t kind = SET_TEMPLATE; kind <= SET_OPTIONS; kind++)
            for (size_t j = 0; j < d->n; j++)
                if (d->t[j].set_id == kind)
                    out_put_rec(s, &k, kind, d->t[j].rec, d->t[j].rec_len);
        out_flush(s, &k);
        sent += k.parts;
    }
    s->st.template_resends += sent;
    return sent;
}

void fp_ipfix_stream_restart_output(struct fp_ipfix_stream *s)
{
    for (size_t i = 0; i < s->nd; i++)
        s->d[i].out_offset = (uint32_t)0 - s->d[i].next_in_seq;
}

unsigned fp_ipfix_stream_template_count(const struct fp_ipfix_stream *s, uint32_t domain)
{
    const struct domain *d = domain_find(s, domain);

    return d ? (unsigned)d->n : 0;
}

const uint8_t *fp_ipfix_stream_template_find(const struct fp_ipfix_stream *s, uint32_t domain,
                                             uint16_t tid, uint16_t *set_id, size_t *rec_len)
{
    const struct domain *d = domain_find(s, domain);
    const struct tmpl *t = d ? tmpl_find(d, tid) : NULL;

    if (!t)
        return NULL;
    if (set_id)
        *set_id = t->set_id;
    if (rec_len)
        *rec_len = t->rec_len;
    return t->rec;
}

void fp_ipfix_stream_get_stats(const struct fp_ipfix_stream *s, struct fp_ipfix_stream_stats *out)
{
    *out = s->st;
}
