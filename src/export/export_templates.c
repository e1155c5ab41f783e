/* SPDX-License-Identifier: BSD-3-Clause */
/* Templates in use per collector, read back from the shipped IPFIX messages (see
 * export_templates.h). */
#include "export/export_templates.h"

#include <sched.h>
#include <string.h>

#include "export/export_internal.h"

#define SET_TEMPLATE 2
#define SET_OPTIONS 3
#define SET_DATA_MIN 256
#define VARLEN 65535
#define MSG_HDR 16

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Short critical sections on both sides; a zeroed flag is unlocked. */
static void tab_lock(struct fp_export_tmpl_table *t)
{
    while (atomic_exchange_explicit(&t->lock, true, memory_order_acquire))
        sched_yield();
}

static void tab_unlock(struct fp_export_tmpl_table *t)
{
    atomic_store_explicit(&t->lock, false, memory_order_release);
}

/* IANA elements of FlowPulse's flow key (struct fp_flow_key: addresses, ports, protocol,
 * VLAN): protocolIdentifier, source/destinationTransportPort, source/destinationIPv4Address,
 * source/destinationIPv6Address, vlanId. */
static bool is_flow_key(uint32_t pen, uint16_t id)
{
    static const uint16_t key[] = {4, 7, 8, 11, 12, 27, 28, 58};
    if (pen != 0)
        return false;
    for (unsigned i = 0; i < FP_ARRAY_SIZE(key); i++)
        if (key[i] == id)
            return true;
    return false;
}

static int slot_find(const struct fp_export_tmpl_table *t, uint32_t odid, uint16_t tid)
{
    for (int i = 0; i < FP_EXPORT_TMPL_SLOTS; i++)
        if (t->slot[i].used && t->slot[i].info.odid == odid && t->slot[i].info.template_id == tid)
            return i;
    return -1;
}

/* A free slot, else one not sent in this session; -1 when every slot is in use. */
static int slot_alloc(struct fp_export_tmpl_table *t)
{
    for (int i = 0; i < FP_EXPORT_TMPL_SLOTS; i++)
        if (!t->slot[i].used)
            return i;
    for (int i = 0; i < FP_EXPORT_TMPL_SLOTS; i++)
        if (!t->slot[i].current) {
            memset(&t->slot[i], 0, sizeof(t->slot[i]));
            return i;
        }
    return -1;
}

/*
 * Length of one (options) template record at p (avail octets left in the Set): 0 when the
 * rest is padding or malformed (the Set is then left), else the record length.
 */
static size_t tmpl_rec_len(unsigned set_id, const uint8_t *p, size_t avail)
{
    if (avail < 4)
        return 0;
    uint16_t tid = get16(p), n = get16(p + 2);
    if (tid < SET_DATA_MIN)
        return tid == set_id && n == 0 ? 4 : 0; /* "withdraw all", or padding */
    if (n == 0)
        return 4;
    size_t off = set_id == SET_OPTIONS ? 6 : 4;
    if (off > avail)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        if (off + 4 > avail)
            return 0;
        off += (p[off] & 0x80) ? 8 : 4;
        if (off > avail)
            return 0;
    }
    return off;
}

static void withdraw(struct fp_export_tmpl_table *t, unsigned set_id, uint32_t odid, uint16_t tid)
{
    t->tot.withdrawals++;
    for (int i = 0; i < FP_EXPORT_TMPL_SLOTS; i++) {
        struct fp_export_template_info *in = &t->slot[i].info;
        if (!t->slot[i].used || in->odid != odid)
            continue;
        if (tid == set_id ? in->set_id == set_id : in->template_id == tid)
            t->slot[i].used = t->slot[i].current = false;
    }
}

/* Apply one well-formed template record of @p len octets. */
static void tmpl_apply(struct fp_export_tmpl_table *t, unsigned set_id, uint32_t odid,
                       const uint8_t *p, size_t len, uint64_t now_ms)
{
    uint16_t tid = get16(p), n = get16(p + 2);
    if (n == 0) {
        withdraw(t, set_id, odid, tid);
        return;
    }
    if (set_id == SET_OPTIONS)
        t->tot.options_templates++;
    else
        t->tot.templates++;
    int s = slot_find(t, odid, tid);
    if (s < 0 && (s = slot_alloc(t)) < 0) {
        t->tot.no_room++;
        return;
    }
    struct fp_export_template_info *in = &t->slot[s].info;
    uint16_t scope = set_id == SET_OPTIONS ? get16(p + 4) : 0;
    size_t off = set_id == SET_OPTIONS ? 6 : 4;
    uint32_t min_len = 0;
    bool fixed = true;
    in->template_id = tid;
    in->set_id = (uint16_t)set_id;
    in->odid = odid;
    in->scope_count = scope;
    in->n_fields_wire = n;
    in->n_fields = 0;
    for (unsigned i = 0; i < n && off + 4 <= len; i++) {
        bool ent = (p[off] & 0x80) != 0;
        uint16_t id = get16(p + off) & 0x7fff;
        uint16_t flen = get16(p + off + 2);
        uint32_t pen = ent && off + 8 <= len ? get32(p + off + 4) : 0;
        off += ent ? 8 : 4;
        min_len += flen == VARLEN ? 1 : flen;
        fixed = fixed && flen != VARLEN;
        if (i >= FP_EXPORT_TMPL_FIELDS)
            continue;
        struct fp_export_template_field *f = &in->fields[in->n_fields++];
        f->ie_id = id;
        f->length = flen;
        f->pen = pen;
        f->flags = (uint8_t)((i < scope ? FP_EXPORT_FIELD_SCOPE : 0) |
                             (set_id == SET_TEMPLATE && is_flow_key(pen, id)
                                  ? FP_EXPORT_FIELD_FLOW_KEY
                                  : 0));
    }
    t->slot[s].min_len = min_len;
    t->slot[s].parsable = in->n_fields == in->n_fields_wire && min_len > 0;
    t->slot[s].fixed = fixed;
    t->slot[s].used = t->slot[s].current = true;
    in->sends++;
    in->last_sent_ms = now_ms;
}

/* Number of data records in a Data Set body of @p len octets (padding at the end ignored). */
static uint64_t count_records(const struct fp_export_template_info *in, uint32_t min_len,
                              bool parsable, bool fixed, const uint8_t *p, size_t len)
{
    uint64_t n = 0;
    size_t off = 0;
    if (min_len == 0)
        return 0;
    if (fixed) /* fixed-length records: no need to walk them (or to know every field) */
        return len / min_len;
    if (!parsable)
        return 0; /* variable-length fields beyond the described ones: cannot be walked */
    while (len - off >= min_len) {
        size_t r = 0;
        for (uint32_t i = 0; i < in->n_fields; i++) {
            uint16_t fl = in->fields[i].length;
            if (fl != VARLEN) {
                r += fl;
                continue;
            }
            if (off + r + 1 > len)
                return n;
            size_t vl = p[off + r];
            r += 1;
            if (vl == 255) {
                if (off + r + 2 > len)
                    return n;
                vl = get16(p + off + r);
                r += 2;
            }
            r += vl;
        }
        if (off + r > len)
            return n;
        off += r;
        n++;
    }
    return n;
}

void fp_export_tmpl_session_start(struct fp_export_tmpl_table *t)
{
    tab_lock(t);
    for (int i = 0; i < FP_EXPORT_TMPL_SLOTS; i++)
        t->slot[i].current = false;
    tab_unlock(t);
}

void fp_export_tmpl_note_msg(struct fp_export_tmpl_table *t, const uint8_t *msg, size_t len,
                             uint64_t now_ms)
{
    if (len < MSG_HDR || get16(msg) != 10 || get16(msg + 2) != len)
        return;
    uint32_t odid = get32(msg + 12);
    tab_lock(t);
    size_t off = MSG_HDR;
    while (len - off >= 4) {
        unsigned sid = get16(msg + off);
        size_t slen = get16(msg + off + 2);
        if (slen < 4 || slen > len - off)
            break;
        const uint8_t *body = msg + off + 4;
        size_t blen = slen - 4;
        if (sid == SET_TEMPLATE || sid == SET_OPTIONS) {
            size_t p = 0, r;
            while ((r = tmpl_rec_len(sid, body + p, blen - p)) > 0) {
                tmpl_apply(t, sid, odid, body + p, r, now_ms);
                p += r;
            }
        } else if (sid >= SET_DATA_MIN) {
            int s = slot_find(t, odid, (uint16_t)sid);
            if (s < 0)
                t->tot.unknown_sets++;
            else
                t->slot[s].info.data_records +=
                    count_records(&t->slot[s].info, t->slot[s].min_len, t->slot[s].parsable,
                                  t->slot[s].fixed, body, blen);
        }
        off += slen;
    }
    tab_unlock(t);
}

unsigned fp_export_tmpl_read(struct fp_export_tmpl_table *t, struct fp_export_template_info *out,
                             unsigned max, struct fp_export_template_totals *totals)
{
    unsigned n = 0;
    tab_lock(t);
    for (int i = 0; i < FP_EXPORT_TMPL_SLOTS && n < max; i++)
        if (t->slot[i].used && t->slot[i].current)
            out[n++] = t->slot[i].info;
    if (totals)
        *totals = t->tot;
    tab_unlock(t);
    return n;
}

unsigned fp_exporter_get_templates(const struct fp_exporter *ex, unsigned collector,
                                   struct fp_export_template_info *out, unsigned max,
                                   struct fp_export_template_totals *totals)
{
    if (totals)
        memset(totals, 0, sizeof(*totals));
    if (ex == NULL || collector >= atomic_load_explicit(&ex->n_pub, memory_order_acquire))
        return 0;
    struct fp_collector *c = atomic_load_explicit(&ex->pub[collector], memory_order_acquire);
    if (c == NULL)
        return 0;
    return fp_export_tmpl_read(&c->tmpl, out, max, totals);
}
