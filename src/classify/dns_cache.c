/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Per-worker DNS answer cache: server address → the question name a client asked for.
 * Fixed size, 4-way set associative; a set replaces an expired entry first, else its least
 * recently used one. Owning worker only; no allocation after create.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_engine.h"
#include "common/fp_compiler.h"
#include "common/fp_mem.h"

#define WAYS 4
#define TTL_MIN_S 30
#define TTL_MAX_S 86400

struct dns_entry {
    uint8_t addr[16];
    uint8_t ip_version; /* 0: empty */
    uint8_t pad[3];
    uint32_t used; /* LRU stamp */
    uint64_t expire_ns;
    char name[FP_CLASSIFY_DNS_NAME];
};

struct fp_classify_dns_cache {
    uint32_t set_mask;
    uint32_t clock;
    struct fp_classify_dns_cache_stats st;
    struct dns_entry *e; /* (set_mask + 1) * WAYS */
    size_t e_mapped;
};

struct fp_classify_dns_cache *fp_classify_dns_cache_create(unsigned entries, bool prefault)
{
    if (entries < WAYS || entries > (1u << 28)) {
        errno = EINVAL;
        return NULL;
    }
    unsigned sets = 1;
    while (sets * WAYS < entries)
        sets <<= 1;
    struct fp_classify_dns_cache *c = calloc(1, sizeof(*c));
    /* Huge pages; faulted in now when asked (live capture: a lookup lands on any set, and
     * the packet path must not take first-touch page faults). */
    if (!c ||
        !(c->e = fp_mem_alloc((size_t)sets * WAYS * sizeof(*c->e), prefault, &c->e_mapped))) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->set_mask = sets - 1;
    return c;
}

void fp_classify_dns_cache_destroy(struct fp_classify_dns_cache *c)
{
    if (!c)
        return;
    fp_mem_free(c->e, c->e_mapped);
    free(c);
}

static inline uint32_t addr_hash(uint8_t ipv, const uint8_t *a)
{
    /* FNV-1a over the address bytes. */
    uint32_t h = 2166136261u ^ ipv;
    unsigned n = ipv == 4 ? 4 : 16;
    for (unsigned i = 0; i < n; i++)
        h = (h ^ a[i]) * 16777619u;
    return h ^ (h >> 15);
}

static inline bool same(const struct dns_entry *e, uint8_t ipv, const uint8_t *a)
{
    return e->ip_version == ipv && memcmp(e->addr, a, ipv == 4 ? 4 : 16) == 0;
}

void fp_classify_dns_cache_insert(struct fp_classify_dns_cache *c, uint8_t ip_version,
                                  const uint8_t *addr, const char *name, uint32_t ttl_s,
                                  uint64_t now_ns)
{
    if ((ip_version != 4 && ip_version != 6) || !name || !*name)
        return;
    size_t len = strlen(name);
    if (len >= FP_CLASSIFY_DNS_NAME) {
        c->st.too_long++;
        return;
    }
    ttl_s = FP_MAX(ttl_s, (uint32_t)TTL_MIN_S);
    ttl_s = FP_MIN(ttl_s, (uint32_t)TTL_MAX_S);
    struct dns_entry *set = &c->e[(addr_hash(ip_version, addr) & c->set_mask) * WAYS];
    struct dns_entry *slot = NULL;
    for (unsigned i = 0; i < WAYS && !slot; i++)
        if (same(&set[i], ip_version, addr))
            slot = &set[i];
    for (unsigned i = 0; i < WAYS && !slot; i++)
        if (set[i].ip_version == 0 || set[i].expire_ns <= now_ns)
            slot = &set[i];
    if (!slot) {
        slot = &set[0];
        for (unsigned i = 1; i < WAYS; i++)
            if ((int32_t)(set[i].used - slot->used) < 0)
                slot = &set[i];
        c->st.evictions++;
    }
    memset(slot->addr, 0, sizeof(slot->addr));
    memcpy(slot->addr, addr, ip_version == 4 ? 4 : 16);
    slot->ip_version = ip_version;
    slot->used = ++c->clock;
    slot->expire_ns = now_ns + (uint64_t)ttl_s * 1000000000ull;
    memcpy(slot->name, name, len + 1);
    c->st.inserts++;
}

const char *fp_classify_dns_cache_lookup(struct fp_classify_dns_cache *c, uint8_t ip_version,
                                         const uint8_t *addr, uint64_t now_ns)
{
    if (ip_version != 4 && ip_version != 6)
        return NULL;
    c->st.lookups++;
    struct dns_entry *set = &c->e[(addr_hash(ip_version, addr) & c->set_mask) * WAYS];
    for (unsigned i = 0; i < WAYS; i++) {
        if (!same(&set[i], ip_version, addr))
            continue;
        if (set[i].expire_ns <= now_ns) {
            c->st.expired++;
            return NULL;
        }
        set[i].used = ++c->clock;
        c->st.hits++;
        return set[i].name;
    }
    return NULL;
}

const struct fp_classify_dns_cache_stats *
fp_classify_dns_cache_stats(const struct fp_classify_dns_cache *c)
{
    return &c->st;
}
