/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Publish/acknowledge of immutable objects (see fp_rcu.h). Writer side: main or control
 * thread; readers only use the inline fp_rcu_reader_poll() and fp_rcu_reader_offline().
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/fp_rcu.h"

int fp_rcu_init(struct fp_rcu *r, unsigned n_readers, void *initial, void (*free_fn)(void *obj))
{
    if (!r || !initial || !free_fn || n_readers > FP_RCU_MAX_READERS)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    r->free_fn = free_fn;
    r->n_readers = n_readers;
    atomic_init(&r->obj, initial);
    atomic_init(&r->gen, 1);
    for (unsigned i = 0; i < FP_RCU_MAX_READERS; i++)
        atomic_init(&r->slot[i].seen, i < n_readers ? 1 : UINT64_MAX);
    return 0;
}

void fp_rcu_reader_offline(struct fp_rcu *r, unsigned reader)
{
    atomic_store_explicit(&r->slot[reader].seen, UINT64_MAX, memory_order_release);
}

uint64_t fp_rcu_generation(struct fp_rcu *r)
{
    return atomic_load_explicit(&r->gen, memory_order_acquire);
}

void *fp_rcu_current(struct fp_rcu *r)
{
    return atomic_load_explicit(&r->obj, memory_order_acquire);
}

/* Oldest generation some online reader may still be on. */
static uint64_t min_seen(struct fp_rcu *r)
{
    uint64_t m = UINT64_MAX;
    for (unsigned i = 0; i < r->n_readers; i++) {
        uint64_t s = atomic_load_explicit(&r->slot[i].seen, memory_order_acquire);
        if (s < m)
            m = s;
    }
    return m;
}

unsigned fp_rcu_reclaim(struct fp_rcu *r)
{
    uint64_t m = min_seen(r);
    unsigned k = 0;
    for (unsigned i = 0; i < r->n_retired; i++) {
        if (r->retired[i].gen <= m)
            r->free_fn(r->retired[i].obj);
        else
            r->retired[k++] = r->retired[i];
    }
    r->n_retired = k;
    return k;
}

int fp_rcu_publish(struct fp_rcu *r, void *obj)
{
    if (!obj)
        return -EINVAL;
    if (fp_rcu_reclaim(r) >= FP_RCU_MAX_RETIRED)
        return -EBUSY;
    void *old = atomic_load_explicit(&r->obj, memory_order_relaxed);
    uint64_t g = atomic_load_explicit(&r->gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&r->obj, obj, memory_order_release);
    atomic_store_explicit(&r->gen, g, memory_order_release);
    r->retired[r->n_retired].obj = old;
    r->retired[r->n_retired].gen = g;
    r->n_retired++;
    fp_rcu_reclaim(r);
    return 0;
}

int fp_rcu_synchronize(struct fp_rcu *r, unsigned timeout_ms)
{
    uint64_t g = fp_rcu_generation(r);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
    for (unsigned waited = 0; min_seen(r) < g; waited++) {
        if (waited >= timeout_ms) {
            fp_rcu_reclaim(r);
            return -ETIMEDOUT;
        }
        nanosleep(&pause, NULL);
    }
    fp_rcu_reclaim(r);
    return 0;
}

void fp_rcu_fini(struct fp_rcu *r)
{
    if (!r || !r->free_fn)
        return;
    for (unsigned i = 0; i < r->n_retired; i++)
        r->free_fn(r->retired[i].obj);
    r->n_retired = 0;
    void *cur = atomic_load_explicit(&r->obj, memory_order_relaxed);
    if (cur)
        r->free_fn(cur);
    atomic_store_explicit(&r->obj, NULL, memory_order_relaxed);
}
