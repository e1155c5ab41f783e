/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Per-worker flow cache: a preallocated entry pool, a bucketised two-choice hash table
 * (16 ways per 64-byte bucket, 32-bit slots = signature | entry reference), a lazy timer
 * wheel with sentinel-headed
 * circular lists (O(1) unlink, O(expired + rescheduled) per advance) and a small
 * set-associative fragment table. Owned by one worker lcore; no locks, no allocation
 * after fp_flow_table_create().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <emmintrin.h>

#include "common/fp_compiler.h"
#include "common/fp_mem.h"
#include "common/fp_time.h"
#include "flow/flow.h"

#define WAYS 16
#define EMPTY UINT32_MAX
#define TICK_SHIFT 17 /* wheel tick = 2^17 us = 131 ms */
#define FRAG_WAYS 4

enum {
    F_FIN0 = 1u << 0,
    F_FIN1 = 1u << 1,
    F_RST = 1u << 2,
    F_ENDING = 1u << 3,
    F_INUSE = 1u << 7,
};

/*
 * One slot = (signature << ref_bits) | ref, ref = entry index + 1 in the low ref_bits bits
 * (as many as the capacity needs), the signature (low hash bits) above it. ref 0 = empty way,
 * so zeroed (lazily mapped) memory is an empty table. 4 bytes per slot keep the bucket array
 * small (1M flows: 5 MB), so more of it stays in cache and in the TLB.
 */
struct bucket {
    uint32_t slot[WAYS];
} FP_CACHE_ALIGNED;
FP_STATIC_ASSERT(sizeof(struct bucket) == 64, "bucket is one cache line");

/** Per-direction hot counters (32 bytes). Offsets are microseconds from entry.start_us. */
struct hdir {
    uint64_t bytes;
    uint32_t packets;
    uint32_t first_off_us;
    uint32_t last_off_us;
    uint16_t tcp_flags;
    uint16_t icmp_type_code;
    uint8_t ttl_min;
    uint8_t ttl_max;
    uint8_t tos;
    uint8_t seen;
};
FP_STATIC_ASSERT(sizeof(struct hdir) == 32, "hdir layout");

/** One flow: line 0 = key and identity, line 1 = both directions' counters. */
struct entry {
    struct fp_flow_key key;
    uint32_t hash;
    uint8_t flags;
    uint8_t init_ep; /**< key endpoint (0/1) that initiated the flow */
    uint16_t port_id;
    uint64_t start_us; /**< start of the current reporting interval, us since epoch */
    struct hdir dir[2];
} FP_CACHE_ALIGNED;
FP_STATIC_ASSERT(sizeof(struct entry) == 128, "flow entry is two cache lines");

/** Wheel links; indices >= capacity are slot sentinels. */
struct wlink {
    uint32_t next;
    uint32_t prev;
};

struct frag_entry {
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t id;
    uint32_t stamp;
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t ip_version;
    uint8_t valid;
    uint8_t pad;
};

struct fp_flow_table {
    struct fp_flow_stats stats FP_CACHE_ALIGNED;

    struct bucket *buckets;
    uint16_t *overflow; /* per bucket: entries whose primary is here but live in their alt */
    uint32_t n_buckets;
    uint32_t ref_bits;  /* low slot bits holding entry index + 1 */
    uint32_t ref_mask;
    struct entry *entries;
    uint32_t capacity;
    struct wlink *links; /* capacity + nslots */
    uint32_t nslots;
    uint32_t free_head;   /* recycled entries */
    uint32_t next_unused; /* entries never used yet: [next_unused, capacity) */
    uint64_t cur_tick; /* last tick processed */
    int wheel_started;
    uint64_t now_us;

    uint64_t idle_us;
    uint64_t active_us;
    uint64_t end_us;

    size_t sz_buckets, sz_overflow, sz_entries, sz_links, sz_frags;
    struct frag_entry *frags;
    uint32_t frag_set_mask;
    uint32_t frag_clock;

    uint8_t worker_id;
    uint64_t flow_seq;
    struct fp_flow_sink sink;
    struct fp_flow_ext ext;
    uint8_t *ext_base; /* capacity * ext.size, lazily mapped */
    size_t sz_ext;
};

const char *const fp_flow_counter_names[] = {
#define FP_X_NAME(name, desc) #name,
    FP_FLOW_COUNTERS(FP_X_NAME)
#undef FP_X_NAME
};
const unsigned fp_flow_counter_count = FP_ARRAY_SIZE(fp_flow_counter_names);

static uint32_t next_pow2(uint32_t v)
{
    uint32_t p = 1;
    while (p < v && p < (1u << 31))
        p <<= 1;
    return p;
}

/* Zero pages appear on first touch (a table of millions of flows costs only what is used),
 * 2 MB-aligned on transparent huge pages: one fault per 2 MB, fewer TLB misses. */
static void *big_alloc(size_t size, size_t *mapped)
{
    return fp_mem_alloc(size, false, mapped);
}

static void big_free(void *p, size_t size)
{
    fp_mem_free(p, size);
}

/* ---- hashing and keys ---------------------------------------------------------------- */

/*
 * The key as six 64-bit words (little-endian layout of struct fp_flow_key): hashed with two
 * independent CRC32-C chains of three steps joined by a fourth, so the latency is four CRCs
 * instead of six. The batch path builds the words in registers, stores them once and hashes
 * the registers: no narrow stores followed by wide loads (store-forwarding stalls).
 */
static inline uint32_t key_words_hash(const uint64_t w[6])
{
    uint64_t a = __builtin_ia32_crc32di(0x9747b28cu, w[0]);
    uint64_t b = __builtin_ia32_crc32di(0x5bd1e995u, w[3]);
    a = __builtin_ia32_crc32di(a, w[1]);
    b = __builtin_ia32_crc32di(b, w[4]);
    a = __builtin_ia32_crc32di(a, w[2]);
    b = __builtin_ia32_crc32di(b, w[5]);
    return (uint32_t)__builtin_ia32_crc32di(a, b);
}

uint32_t fp_flow_key_hash(const struct fp_flow_key *key)
{
    uint64_t w[6];
    memcpy(w, key, sizeof(w));
    return key_words_hash(w);
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/*
 * Canonical key with explicit ports (later fragments get theirs from the fragment table):
 * endpoint 0 is the lower (address, port) pair, addresses compared as big-endian numbers.
 * Writes the key and its hash; returns 1 when the packet's source is endpoint 1.
 */
static inline int key_build(const struct fp_pkt_meta *m, uint16_t sport, uint16_t dport,
                            struct fp_flow_key *k, uint32_t *hash)
{
    uint64_t w[6];
    int swap;
    if (m->ip_version == 4) {
        uint32_t x, y;
        memcpy(&x, m->src, 4);
        memcpy(&y, m->dst, 4);
        uint32_t xb = __builtin_bswap32(x), yb = __builtin_bswap32(y);
        swap = !(xb < yb || (xb == yb && sport < dport));
        w[0] = swap ? y : x;
        w[2] = swap ? x : y;
        w[1] = w[3] = 0;
    } else {
        uint64_t s0 = load64(m->src), s1 = load64(m->src + 8);
        uint64_t d0 = load64(m->dst), d1 = load64(m->dst + 8);
        uint64_t s0b = __builtin_bswap64(s0), d0b = __builtin_bswap64(d0);
        uint64_t s1b = __builtin_bswap64(s1), d1b = __builtin_bswap64(d1);
        int less = s0b < d0b || (s0b == d0b && (s1b < d1b || (s1b == d1b && sport < dport)));
        swap = !less;
        w[0] = swap ? d0 : s0;
        w[1] = swap ? d1 : s1;
        w[2] = swap ? s0 : d0;
        w[3] = swap ? s1 : d1;
    }
    uint64_t p0 = swap ? dport : sport, p1 = swap ? sport : dport;
    uint64_t v0 = m->n_vlan > 0 ? m->vlan[0] : 0, v1 = m->n_vlan > 1 ? m->vlan[1] : 0;
    w[4] = p0 | p1 << 16 | (uint64_t)m->proto << 32 | (uint64_t)m->ip_version << 40 |
           (uint64_t)m->tunnel << 48 | (uint64_t)m->n_vlan << 56;
    w[5] = v0 | v1 << 16 | (uint64_t)m->vni << 32;
    memcpy(k, w, sizeof(w));
    *hash = key_words_hash(w);
    return swap;
}
FP_STATIC_ASSERT(offsetof(struct fp_flow_key, port) == 32 &&
                     offsetof(struct fp_flow_key, proto) == 36 &&
                     offsetof(struct fp_flow_key, ip_version) == 37 &&
                     offsetof(struct fp_flow_key, tunnel) == 38 &&
                     offsetof(struct fp_flow_key, n_vlan) == 39 &&
                     offsetof(struct fp_flow_key, vlan) == 40 &&
                     offsetof(struct fp_flow_key, vni) == 44,
                 "key_build writes the key as six little-endian words");

int fp_flow_key_from_meta(const struct fp_pkt_meta *m, struct fp_flow_key *key)
{
    uint32_t h;
    return key_build(m, m->sport, m->dport, key, &h);
}

static inline int key_eq(const struct fp_flow_key *a, const struct fp_flow_key *b)
{
    uint64_t x[6], y[6];
    memcpy(x, a, sizeof(x));
    memcpy(y, b, sizeof(y));
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) |
            (x[5] ^ y[5])) == 0;
}

/* Primary bucket: the hash scaled to [0, n_buckets) (high bits; the signature uses the low). */
static inline uint32_t bucket1(const struct fp_flow_table *t, uint32_t hash)
{
    return (uint32_t)(((uint64_t)hash * t->n_buckets) >> 32);
}

/* Alternate bucket: a remix of the hash, never the primary. */
static inline uint32_t bucket2(const struct fp_flow_table *t, uint32_t hash, uint32_t b1)
{
    uint32_t x = (hash ^ (hash >> 15)) * 0x2c1b3c6du;
    x ^= x >> 12;
    uint32_t b2 = (uint32_t)(((uint64_t)x * t->n_buckets) >> 32);
    return b2 != b1 ? b2 : (b1 + 1 == t->n_buckets ? 0 : b1 + 1);
}

/* The signature part of a slot for this hash (low hash bits above the reference bits). */
static inline uint32_t slot_tag(const struct fp_flow_table *t, uint32_t hash)
{
    return t->ref_bits >= 32 ? 0 : hash << t->ref_bits;
}

/* Ways whose signature matches (bit w set); empty ways may match too: check the ref. */
static inline uint32_t bucket_match(const struct fp_flow_table *t, const struct bucket *b,
                                    uint32_t tag)
{
    const __m128i hi = _mm_set1_epi32((int)~t->ref_mask), tg = _mm_set1_epi32((int)tag);
    const __m128i *v = (const __m128i *)b->slot;
    __m128i e0 = _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 0), hi), tg);
    __m128i e1 = _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 1), hi), tg);
    __m128i e2 = _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 2), hi), tg);
    __m128i e3 = _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 3), hi), tg);
    __m128i p = _mm_packs_epi16(_mm_packs_epi32(e0, e1), _mm_packs_epi32(e2, e3));
    return (uint32_t)_mm_movemask_epi8(p);
}

/* ---- timer wheel ----------------------------------------------------------------------- */

static inline uint32_t sentinel(const struct fp_flow_table *t, uint32_t slot)
{
    return t->capacity + slot;
}

static inline void wheel_unlink(struct fp_flow_table *t, uint32_t i)
{
    struct wlink *l = &t->links[i];
    t->links[l->prev].next = l->next;
    t->links[l->next].prev = l->prev;
    l->next = l->prev = i;
}

static inline void wheel_link_tail(struct fp_flow_table *t, uint32_t s, uint32_t i)
{
    uint32_t tail = t->links[s].prev;
    t->links[i].prev = tail;
    t->links[i].next = s;
    t->links[tail].next = i;
    t->links[s].prev = i;
}

/* Schedule entry i for deadline (us). Due or past deadlines go to the next tick. */
static inline void wheel_schedule(struct fp_flow_table *t, uint32_t i, uint64_t deadline_us)
{
    uint64_t tick = deadline_us >> TICK_SHIFT;
    if (tick <= t->cur_tick)
        tick = t->cur_tick + 1;
    else if (tick - t->cur_tick >= t->nslots)
        tick = t->cur_tick + t->nslots - 1;
    wheel_link_tail(t, sentinel(t, (uint32_t)(tick & (t->nslots - 1))), i);
}

/* ---- records ---------------------------------------------------------------------------- */

static inline uint64_t entry_last_us(const struct entry *e)
{
    uint32_t l = 0;
    if (e->dir[0].seen)
        l = e->dir[0].last_off_us;
    if (e->dir[1].seen && e->dir[1].last_off_us > l)
        l = e->dir[1].last_off_us;
    return e->start_us + l;
}

static inline void *ext_state(const struct fp_flow_table *t, uint32_t i)
{
    return t->ext_base ? t->ext_base + (size_t)i * t->ext.size : NULL;
}

/* Fill a record from an entry (counters of the current interval). */
static void build_record(const struct fp_flow_table *t, const struct entry *e,
                         enum fp_end_reason reason, struct fp_flow_record *r)
{
    /* The flow part only: the extension part (app, qoe, splt) belongs to the sink, which
     * fills it when classification or QoE runs and never reads it otherwise. */
    memset(r, 0, offsetof(struct fp_flow_record, app));
    int i = e->init_ep, o = !e->init_ep;
    memcpy(r->src, e->key.addr[i], 16);
    memcpy(r->dst, e->key.addr[o], 16);
    r->sport = e->key.port[i];
    r->dport = e->key.port[o];
    r->proto = e->key.proto;
    r->ip_version = e->key.ip_version;
    r->end_reason = (uint8_t)reason;
    r->tunnel = e->key.tunnel;
    r->vlan[0] = e->key.vlan[0];
    r->vlan[1] = e->key.vlan[1];
    r->n_vlan = e->key.n_vlan;
    r->worker = t->worker_id;
    r->port_id = e->port_id;
    r->vni = e->key.vni;
    for (int d = 0; d < 2; d++) {
        const struct hdir *h = &e->dir[d];
        struct fp_flow_dir *o2 = &r->dir[d];
        if (!h->seen)
            continue;
        o2->packets = h->packets;
        o2->bytes = h->bytes;
        o2->first_ns = (e->start_us + h->first_off_us) * 1000;
        o2->last_ns = (e->start_us + h->last_off_us) * 1000;
        o2->tcp_flags = h->tcp_flags;
        o2->icmp_type_code = h->icmp_type_code;
        o2->ttl_min = h->ttl_min;
        o2->ttl_max = h->ttl_max;
        o2->tos = h->tos;
    }
}

static void emit(struct fp_flow_table *t, const struct entry *e, enum fp_end_reason reason)
{
    if (!e->dir[0].seen && !e->dir[1].seen)
        return; /* nothing since the last active-timeout record */
    struct fp_flow_record r;
    build_record(t, e, reason, &r);
    r.flow_id = ((uint64_t)t->worker_id << 56) | (t->flow_seq++ & ((1ull << 56) - 1));
    t->sink.emit(t->sink.arg, &r, ext_state(t, (uint32_t)(e - t->entries)),
                 reason != FP_END_ACTIVE);
}

/* Remove entry i from the hash table (its wheel link is handled by the caller). */
static void table_remove(struct fp_flow_table *t, uint32_t i)
{
    struct entry *e = &t->entries[i];
    uint32_t b1 = bucket1(t, e->hash);
    struct bucket *bk = &t->buckets[b1];
    for (int w = 0; w < WAYS; w++) {
        if ((bk->slot[w] & t->ref_mask) == i + 1) {
            bk->slot[w] = 0;
            return;
        }
    }
    bk = &t->buckets[bucket2(t, e->hash, b1)];
    for (int w = 0; w < WAYS; w++) {
        if ((bk->slot[w] & t->ref_mask) == i + 1) {
            bk->slot[w] = 0;
            t->overflow[b1]--;
            return;
        }
    }
}

static void entry_free(struct fp_flow_table *t, uint32_t i)
{
    t->entries[i].flags = 0;
    if (t->ext.release)
        t->ext.release(t->ext.arg, ext_state(t, i));
    table_remove(t, i);
    wheel_unlink(t, i);
    t->links[i].next = t->free_head;
    t->free_head = i;
    t->stats.active--;
}

static void entry_reset_interval(struct entry *e, uint64_t start_us)
{
    memset(e->dir, 0, sizeof(e->dir));
    e->start_us = start_us;
}

/* ---- create / destroy ----------------------------------------------------------------- */

struct fp_flow_table *fp_flow_table_create(const struct fp_flow_table_params *p)
{
    if (!p || p->capacity < 16 || p->capacity > (1u << 30) || !p->sink.emit ||
        p->idle_timeout_ms == 0 || p->active_timeout_ms == 0) {
        errno = EINVAL;
        return NULL;
    }
    struct fp_flow_table *t = aligned_alloc(FP_CACHE_LINE, sizeof(*t));
    if (!t)
        goto fail_nomem;
    memset(t, 0, sizeof(*t));
    t->capacity = p->capacity;
    t->idle_us = (uint64_t)p->idle_timeout_ms * 1000;
    t->active_us = (uint64_t)p->active_timeout_ms * 1000;
    t->end_us = (uint64_t)p->tcp_end_ms * 1000;
    t->worker_id = p->worker_id;
    t->sink = p->sink;
    t->ext = p->ext;
    if (t->ext.size)
        t->ext.size = (t->ext.size + 63) & ~63u;

    /* <= 80% load at full capacity; any bucket count (multiply-shift, not a mask). */
    uint32_t nb = (uint32_t)(((uint64_t)p->capacity * 5 / 4 + WAYS - 1) / WAYS);
    if (nb < 2)
        nb = 2;
    t->n_buckets = nb;
    t->ref_bits = 32 - (uint32_t)__builtin_clz(p->capacity); /* holds capacity (= last ref) */
    t->ref_mask = t->ref_bits >= 32 ? UINT32_MAX : (1u << t->ref_bits) - 1;
    uint64_t span = FP_MAX(FP_MAX(t->idle_us, t->active_us), t->end_us);
    t->nslots = next_pow2((uint32_t)FP_MIN((span >> TICK_SHIFT) + 4, 1u << 16));
    if (t->nslots < 64)
        t->nslots = 64;

    t->buckets = big_alloc((size_t)nb * sizeof(struct bucket), &t->sz_buckets);
    t->overflow = big_alloc((size_t)nb * sizeof(uint16_t), &t->sz_overflow);
    t->entries = big_alloc((size_t)p->capacity * sizeof(struct entry), &t->sz_entries);
    t->links = big_alloc(((size_t)p->capacity + t->nslots) * sizeof(struct wlink), &t->sz_links);
    uint32_t fe = next_pow2(p->frag_entries ? p->frag_entries : 4096);
    if (fe < FRAG_WAYS)
        fe = FRAG_WAYS;
    t->frag_set_mask = fe / FRAG_WAYS - 1;
    t->frags = big_alloc((size_t)fe * sizeof(struct frag_entry), &t->sz_frags);
    if (t->ext.size) {
        t->ext_base = big_alloc((size_t)p->capacity * t->ext.size, &t->sz_ext);
        if (!t->ext_base)
            goto fail;
    }
    if (!t->buckets || !t->overflow || !t->entries || !t->links || !t->frags)
        goto fail;

    for (uint32_t s = 0; s < t->nslots; s++) {
        uint32_t i = sentinel(t, s);
        t->links[i].next = t->links[i].prev = i;
    }
    t->free_head = EMPTY;
    t->next_unused = 0;
    return t;

fail:
    fp_flow_table_destroy(t);
fail_nomem:
    errno = ENOMEM;
    return NULL;
}

void fp_flow_table_destroy(struct fp_flow_table *t)
{
    if (!t)
        return;
    big_free(t->buckets, t->sz_buckets);
    big_free(t->overflow, t->sz_overflow);
    big_free(t->entries, t->sz_entries);
    big_free(t->links, t->sz_links);
    big_free(t->frags, t->sz_frags);
    big_free(t->ext_base, t->sz_ext);
    free(t);
}

/* ---- fragments ----------------------------------------------------------------------- */

static inline uint32_t frag_hash(const struct fp_pkt_meta *m)
{
    uint64_t w[4];
    memcpy(w, m->src, 16);
    memcpy(w + 2, m->dst, 16);
    uint32_t h = (uint32_t)__builtin_ia32_crc32si(0x1234567u, m->frag_id ^ ((uint32_t)m->proto << 24));
    for (int i = 0; i < 4; i++)
        h = (uint32_t)__builtin_ia32_crc32di(h, w[i]);
    return h;
}

static inline int frag_match(const struct frag_entry *f, const struct fp_pkt_meta *m)
{
    return f->valid && f->id == m->frag_id && f->proto == m->proto &&
           f->ip_version == m->ip_version && memcmp(f->src, m->src, 16) == 0 &&
           memcmp(f->dst, m->dst, 16) == 0;
}

static void frag_remember(struct fp_flow_table *t, const struct fp_pkt_meta *m)
{
    struct frag_entry *set = &t->frags[(frag_hash(m) & t->frag_set_mask) * FRAG_WAYS];
    struct frag_entry *victim = &set[0];
    for (int w = 0; w < FRAG_WAYS; w++) {
        if (frag_match(&set[w], m)) {
            victim = &set[w];
            break;
        }
        if (!set[w].valid) {
            victim = &set[w];
            break;
        }
        if (set[w].stamp < victim->stamp)
            victim = &set[w];
    }
    memcpy(victim->src, m->src, 16);
    memcpy(victim->dst, m->dst, 16);
    victim->id = m->frag_id;
    victim->proto = m->proto;
    victim->ip_version = m->ip_version;
    victim->sport = m->sport;
    victim->dport = m->dport;
    victim->valid = 1;
    victim->stamp = ++t->frag_clock;
}

static int frag_lookup(struct fp_flow_table *t, const struct fp_pkt_meta *m, uint16_t *sport,
                       uint16_t *dport)
{
    struct frag_entry *set = &t->frags[(frag_hash(m) & t->frag_set_mask) * FRAG_WAYS];
    for (int w = 0; w < FRAG_WAYS; w++) {
        if (frag_match(&set[w], m)) {
            *sport = set[w].sport;
            *dport = set[w].dport;
            set[w].stamp = ++t->frag_clock;
            return 1;
        }
    }
    return 0;
}

/* ---- lookup / insert ----------------------------------------------------------------- */

static inline uint32_t lookup(const struct fp_flow_table *t, const struct fp_flow_key *k,
                              uint32_t hash)
{
    uint32_t b1i = bucket1(t, hash), tag = slot_tag(t, hash);
    const struct bucket *b = &t->buckets[b1i];
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t m = bucket_match(t, b, tag); m; m &= m - 1) {
            uint32_t ref = b->slot[__builtin_ctz(m)] & t->ref_mask;
            if (ref && key_eq(&t->entries[ref - 1].key, k))
                return ref - 1;
        }
        /* The alternate bucket only matters when this bucket ever overflowed into it. */
        if (likely(pass == 1 || t->overflow[b1i] == 0))
            break;
        b = &t->buckets[bucket2(t, hash, b1i)];
    }
    return EMPTY;
}

/* Evict the flow that is due soonest (head of the nearest non-empty wheel slot). */
static void evict_soonest(struct fp_flow_table *t)
{
    for (uint32_t d = 1; d <= t->nslots; d++) {
        uint32_t s = sentinel(t, (uint32_t)((t->cur_tick + d) & (t->nslots - 1)));
        uint32_t i = t->links[s].next;
        if (i != s) {
            emit(t, &t->entries[i], FP_END_RESOURCE);
            entry_free(t, i);
            t->stats.evicted_resource++;
            return;
        }
    }
}

static uint32_t insert(struct fp_flow_table *t, const struct fp_flow_key *k, uint32_t hash)
{
    if (unlikely(t->free_head == EMPTY && t->next_unused == t->capacity))
        evict_soonest(t);
    uint32_t b1i = bucket1(t, hash);
    struct bucket *cand[2] = {&t->buckets[b1i], &t->buckets[bucket2(t, hash, b1i)]};
    struct bucket *bk = NULL;
    int way = -1;
    for (int c = 0; c < 2 && way < 0; c++) {
        for (int w = 0; w < WAYS; w++) {
            if ((cand[c]->slot[w] & t->ref_mask) == 0) {
                bk = cand[c];
                way = w;
                break;
            }
        }
    }
    if (unlikely(way < 0)) {
        /* Both buckets full: evict the least recently active of the 16 candidates. */
        uint64_t oldest = UINT64_MAX;
        for (int c = 0; c < 2; c++) {
            for (int w = 0; w < WAYS; w++) {
                uint64_t l = entry_last_us(&t->entries[(cand[c]->slot[w] & t->ref_mask) - 1]);
                if (l < oldest) {
                    oldest = l;
                    bk = cand[c];
                    way = w;
                }
            }
        }
        uint32_t v = (bk->slot[way] & t->ref_mask) - 1;
        emit(t, &t->entries[v], FP_END_RESOURCE);
        entry_free(t, v);
        t->stats.evicted_bucket++;
    }
    uint32_t i;
    if (t->free_head != EMPTY) {
        i = t->free_head;
        t->free_head = t->links[i].next;
    } else {
        i = t->next_unused++;
    }
    t->links[i].next = t->links[i].prev = i;
    bk->slot[way] = slot_tag(t, hash) | (i + 1);
    if (bk != cand[0])
        t->overflow[b1i]++;
    struct entry *e = &t->entries[i];
    e->key = *k;
    e->hash = hash;
    e->flags = F_INUSE;
    if (t->ext_base)
        memset(ext_state(t, i), 0, t->ext.size);
    t->stats.created++;
    t->stats.active++;
    return i;
}

/* ---- per-packet update ------------------------------------------------------------------ */

static inline void update_entry(struct fp_flow_table *t, uint32_t i, int created, int src_ep,
                                const struct fp_pkt_meta *m, const uint8_t *frame,
                                uint64_t ts_ns, uint16_t port_id)
{
    uint64_t ts_us = ts_ns / 1000;
    struct entry *e = &t->entries[i];
    if (created) {
        e->port_id = port_id;
        e->start_us = ts_us;
        memset(e->dir, 0, sizeof(e->dir));
        /* Initiator: the first packet's source, except a TCP SYN/ACK seen first. */
        int synack = m->proto == 6 && (m->tcp_flags & 0x12) == 0x12;
        e->init_ep = (uint8_t)(synack ? !src_ep : src_ep);
        wheel_schedule(t, i, ts_us + FP_MIN(t->idle_us, t->active_us));
    }
    if (unlikely(ts_us < e->start_us))
        ts_us = e->start_us; /* out-of-order timestamps never go before the interval */
    int d = src_ep != e->init_ep;
    struct hdir *h = &e->dir[d];
    uint32_t off = (uint32_t)FP_MIN(ts_us - e->start_us, (uint64_t)UINT32_MAX);
    if (unlikely(h->packets == UINT32_MAX)) {
        /* 32-bit packet counter full: report now and start a new interval. */
        emit(t, e, FP_END_ACTIVE);
        entry_reset_interval(e, ts_us);
        t->stats.split_overflow++;
        off = 0;
    }
    if (!h->seen) {
        h->seen = 1;
        h->first_off_us = off;
        h->ttl_min = h->ttl_max = m->ttl;
        h->tos = m->tos;
        h->icmp_type_code = m->icmp_type_code;
    }
    h->packets++;
    h->bytes += m->ip_bytes;
    if (off > h->last_off_us)
        h->last_off_us = off;
    h->tcp_flags |= m->tcp_flags;
    if (m->ttl < h->ttl_min)
        h->ttl_min = m->ttl;
    if (m->ttl > h->ttl_max)
        h->ttl_max = m->ttl;
    if (t->ext.packet)
        t->ext.packet(t->ext.arg, ext_state(t, i), (unsigned)d, created, m, frame, ts_ns);
    if (m->proto == 6 && unlikely(m->tcp_flags & 0x05)) {
        /* FIN (0x01) or RST (0x04): the connection ends after a short linger. */
        e->flags |= (m->tcp_flags & 0x04) ? F_RST : (d ? F_FIN1 : F_FIN0);
        if ((e->flags & F_RST) || (e->flags & (F_FIN0 | F_FIN1)) == (F_FIN0 | F_FIN1)) {
            if (!(e->flags & F_ENDING)) {
                e->flags |= F_ENDING;
                wheel_unlink(t, i);
                wheel_schedule(t, i, ts_us + t->end_us);
            }
        }
    }
}

void fp_flow_batch_prepare(struct fp_flow_table *t, struct fp_flow_batch *b)
{
    for (unsigned k = 0; k < b->n; k++) {
        const struct fp_pkt_meta *p = b->m[k];
        uint16_t sp = p->sport, dp = p->dport;
        if (unlikely(p->frag != FP_FRAG_NONE)) {
            if (p->frag == FP_FRAG_FIRST) {
                frag_remember(t, p);
            } else if (frag_lookup(t, p, &sp, &dp)) {
                t->stats.frag_matched++;
            } else {
                t->stats.frag_unmatched++;
            }
        }
        b->src_ep[k] = (int8_t)key_build(p, sp, dp, &b->keys[k], &b->hashes[k]);
        FP_PREFETCH(&t->buckets[bucket1(t, b->hashes[k])]);
    }
}

void fp_flow_batch_prefetch(const struct fp_flow_table *t, const struct fp_flow_batch *b)
{
    for (unsigned k = 0; k < b->n; k++) {
        const struct bucket *b1 = &t->buckets[bucket1(t, b->hashes[k])];
        for (uint32_t m = bucket_match(t, b1, slot_tag(t, b->hashes[k])); m; m &= m - 1) {
            uint32_t ref = b1->slot[__builtin_ctz(m)] & t->ref_mask;
            if (ref) {
                uint32_t i = ref - 1;
                const struct entry *e = &t->entries[i];
                FP_PREFETCH(e);
                FP_PREFETCH((const char *)e + 64);
                if (t->ext_base) {
                    /* The extension's hot fields spread over its lines: fetch them all. */
                    const char *x = ext_state(t, i);
                    for (uint32_t off = 0; off < t->ext.size; off += 64)
                        FP_PREFETCH(x + off);
                }
                break;
            }
        }
    }
}

void fp_flow_batch_commit(struct fp_flow_table *t, const struct fp_flow_batch *b)
{
    /* Sequential: a flow created earlier in the batch is found by later packets. */
    for (unsigned k = 0; k < b->n; k++) {
        uint64_t ts_us = b->ts_ns[k] / 1000;
        if (ts_us > t->now_us)
            t->now_us = ts_us;
        uint32_t i = lookup(t, &b->keys[k], b->hashes[k]);
        int created = 0;
        if (i == EMPTY) {
            if (unlikely(!t->wheel_started)) {
                t->cur_tick = ts_us >> TICK_SHIFT;
                t->wheel_started = 1;
            }
            i = insert(t, &b->keys[k], b->hashes[k]);
            created = 1;
        }
        update_entry(t, i, created, b->src_ep[k], b->m[k], b->frames[k], b->ts_ns[k], b->port_id);
    }
    t->stats.packets += b->n;
}

void fp_flow_table_update_burst(struct fp_flow_table *t, const struct fp_pkt_meta *const *m,
                                const uint8_t *const *frames, const uint64_t *ts_ns,
                                uint16_t port_id, unsigned n)
{
    static __thread struct fp_flow_batch b;
    while (n > 0) {
        unsigned c = FP_MIN(n, 64u);
        b.n = c;
        b.port_id = port_id;
        for (unsigned k = 0; k < c; k++) {
            b.m[k] = m[k];
            b.frames[k] = frames ? frames[k] : NULL;
            b.ts_ns[k] = ts_ns[k];
        }
        fp_flow_batch_prepare(t, &b);
        fp_flow_batch_prefetch(t, &b);
        fp_flow_batch_commit(t, &b);
        m += c;
        if (frames)
            frames += c;
        ts_ns += c;
        n -= c;
    }
}

/* ---- expiry ----------------------------------------------------------------------------- */

static void expire_one(struct fp_flow_table *t, uint32_t i, uint64_t now_us)
{
    struct entry *e = &t->entries[i];
    uint64_t last = entry_last_us(e);
    if (e->flags & F_ENDING) {
        uint64_t due = last + t->end_us;
        if (now_us >= due) {
            emit(t, e, FP_END_END);
            entry_free(t, i);
            t->stats.expired_end++;
            return;
        }
        wheel_schedule(t, i, due);
        t->stats.rescheduled++;
        return;
    }
    uint64_t idle_due = last + t->idle_us;
    uint64_t active_due = e->start_us + t->active_us;
    if (now_us >= idle_due) {
        emit(t, e, FP_END_IDLE);
        entry_free(t, i);
        t->stats.expired_idle++;
        return;
    }
    if (now_us >= active_due) {
        emit(t, e, FP_END_ACTIVE);
        entry_reset_interval(e, now_us);
        t->stats.expired_active++;
        /* Idle is now measured from the interval start until a packet arrives. */
        wheel_schedule(t, i, now_us + FP_MIN(t->idle_us, t->active_us));
        return;
    }
    wheel_schedule(t, i, FP_MIN(idle_due, active_due));
    t->stats.rescheduled++;
}

void fp_flow_table_advance(struct fp_flow_table *t, uint64_t now_ns)
{
    uint64_t now_us = now_ns / 1000;
    if (now_us > t->now_us)
        t->now_us = now_us;
    now_us = t->now_us;
    uint64_t tick = now_us >> TICK_SHIFT;
    if (!t->wheel_started) {
        t->cur_tick = tick;
        t->wheel_started = 1;
        return;
    }
    if (tick <= t->cur_tick)
        return;
    uint64_t from = t->cur_tick + 1;
    if (tick - t->cur_tick > t->nslots)
        from = tick - t->nslots + 1; /* a long gap: every slot once */
    for (uint64_t k = from; k <= tick; k++) {
        t->cur_tick = k;
        uint32_t s = sentinel(t, (uint32_t)(k & (t->nslots - 1)));
        /* Detach the slot first: entries may be rescheduled into it again. */
        uint32_t head = t->links[s].next;
        if (head == s)
            continue;
        uint32_t tail = t->links[s].prev;
        t->links[s].next = t->links[s].prev = s;
        t->links[tail].next = EMPTY;
        for (uint32_t i = head; i != EMPTY;) {
            uint32_t nx = t->links[i].next;
            t->links[i].next = t->links[i].prev = i;
            expire_one(t, i, now_us);
            i = nx;
        }
    }
    t->cur_tick = tick;
}

void fp_flow_table_flush(struct fp_flow_table *t, enum fp_end_reason reason)
{
    /* Every flow goes: export them in wheel order, then clear the hash table wholesale
     * instead of unlinking entry by entry (one cache miss per flow saved). */
    uint64_t n = 0;
    for (uint32_t s = 0; s < t->nslots; s++) {
        uint32_t st = sentinel(t, s);
        for (uint32_t i = t->links[st].next; i != st; i = t->links[i].next) {
            emit(t, &t->entries[i], reason);
            if (t->ext.release)
                t->ext.release(t->ext.arg, ext_state(t, i));
            n++;
        }
        t->links[st].next = t->links[st].prev = st;
    }
    if (reason == FP_END_FORCED)
        t->stats.expired_forced += n;
    t->stats.active = 0;
    /* Dropping the pages gives zero pages back: an empty table, no entry in use. */
    (void)madvise(t->buckets, t->sz_buckets, MADV_DONTNEED);
    (void)madvise(t->overflow, t->sz_overflow, MADV_DONTNEED);
    t->free_head = EMPTY;
    t->next_unused = 0;
}

void fp_flow_table_set_timeouts(struct fp_flow_table *t, uint32_t idle_ms, uint32_t active_ms,
                                uint32_t tcp_end_ms)
{
    if (idle_ms == 0 || active_ms == 0)
        return;
    t->idle_us = (uint64_t)idle_ms * 1000;
    t->active_us = (uint64_t)active_ms * 1000;
    t->end_us = (uint64_t)tcp_end_ms * 1000;
    if (!t->wheel_started)
        return;
    /* Re-arm: splice every slot onto the next tick's slot, so each flow's deadline is
     * recomputed with the new timeouts at the next advance (O(slots) now, O(flows) then). */
    uint32_t dst = sentinel(t, (uint32_t)((t->cur_tick + 1) & (t->nslots - 1)));
    for (uint32_t s = 0; s < t->nslots; s++) {
        uint32_t src = sentinel(t, s);
        if (src == dst || t->links[src].next == src)
            continue;
        uint32_t head = t->links[src].next, tail = t->links[src].prev;
        uint32_t dtail = t->links[dst].prev;
        t->links[dtail].next = head;
        t->links[head].prev = dtail;
        t->links[tail].next = dst;
        t->links[dst].prev = tail;
        t->links[src].next = t->links[src].prev = src;
    }
}

int fp_flow_table_scan(struct fp_flow_table *t, uint32_t *cursor, unsigned budget,
                       bool (*visit)(void *arg, struct fp_flow_record *rec, void *ext), void *arg)
{
    uint32_t i = *cursor;
    uint32_t end = t->next_unused;
    struct fp_flow_record r;
    for (; i < end && budget > 0; i++, budget--) {
        const struct entry *e = &t->entries[i];
        if (!(e->flags & F_INUSE) || (!e->dir[0].seen && !e->dir[1].seen))
            continue;
        build_record(t, e, (enum fp_end_reason)0, &r);
        if (!visit(arg, &r, ext_state(t, i))) {
            *cursor = i + 1;
            return 1;
        }
    }
    *cursor = i;
    return i >= end;
}

void fp_flow_table_get_stats(const struct fp_flow_table *t, struct fp_flow_stats *out)
{
    *out = t->stats;
}

const struct fp_flow_stats *fp_flow_table_stats(const struct fp_flow_table *t)
{
    return &t->stats;
}
