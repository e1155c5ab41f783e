/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Publish an immutable object to reader threads and free the one it replaces once every
 * reader has passed a quiescent point (QSBR, as DPDK lib/rcu/rte_rcu_qsbr.h; here with one
 * generation counter per published object so the reader side is two loads and a store).
 *
 * Used for what a reload changes under running workers (QoE parameters, classification
 * tables). Threads: one writer at a time (the caller serialises fp_rcu_publish,
 * fp_rcu_reclaim and fp_rcu_fini); each reader slot belongs to one thread (a worker).
 *
 * Protocol: the writer stores the new pointer, then increments the generation (release).
 * A reader, at a point where it holds no reference into the object (between bursts),
 * calls fp_rcu_reader_poll(): when the generation moved it loads the pointer and stores
 * the generation it saw into its slot (release). An object replaced at generation g can be
 * freed once every online reader's slot is >= g: such a reader loaded the pointer after
 * the new one was stored, so it cannot hold the old one. A reader that goes offline
 * (exits) stores UINT64_MAX. Objects whose readers have not all passed stay on a short
 * retired list, freed by a later publish, fp_rcu_reclaim() or fp_rcu_fini().
 */
#ifndef FP_RCU_H
#define FP_RCU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/fp_compiler.h"

#define FP_RCU_MAX_READERS 64
#define FP_RCU_MAX_RETIRED 8

/** One reader's acknowledgement: the last generation it switched to. Padded to a cache line
 * (not aligned: the structure may live in malloc'd memory). */
struct fp_rcu_slot {
    _Atomic uint64_t seen; /**< written by the reader only; UINT64_MAX = offline */
    uint8_t pad[56];
};

/** A published object, its generation, and the readers' acknowledgements. */
struct fp_rcu {
    void *_Atomic obj;          /**< current object (never NULL after init) */
    _Atomic uint64_t gen;       /**< generation of obj, 1 for the initial object */
    void (*free_fn)(void *obj); /**< frees a replaced object */
    unsigned n_readers;
    unsigned n_retired; /**< writer only */
    struct {
        void *obj;
        uint64_t gen;              /**< generation that replaced it */
    } retired[FP_RCU_MAX_RETIRED]; /**< writer only */
    struct fp_rcu_slot slot[FP_RCU_MAX_READERS];
};

/**
 * Initialise with the first object (generation 1; every reader starts on it).
 * @param free_fn  called on replaced objects and, by fp_rcu_fini, on the current one
 * @return 0, or -EINVAL (NULL object or function, more than FP_RCU_MAX_READERS readers)
 */
int fp_rcu_init(struct fp_rcu *r, unsigned n_readers, void *initial, void (*free_fn)(void *obj));

/**
 * Reader: at a quiescent point, switch to the newest object if it changed.
 * @param cur   the reader's current object (updated)
 * @param seen  the reader's last generation (updated); start it at fp_rcu_generation()
 * @return true when *cur changed
 */
static inline bool fp_rcu_reader_poll(struct fp_rcu *r, unsigned reader, void **cur, uint64_t *seen)
{
    uint64_t g = atomic_load_explicit(&r->gen, memory_order_acquire);
    if (likely(g == *seen))
        return false;
    *cur = atomic_load_explicit(&r->obj, memory_order_acquire);
    *seen = g;
    atomic_store_explicit(&r->slot[reader].seen, g, memory_order_release);
    return true;
}

/** Reader: this thread will not read any object again (it exits). */
void fp_rcu_reader_offline(struct fp_rcu *r, unsigned reader);

/** Current generation (any thread). */
uint64_t fp_rcu_generation(struct fp_rcu *r);

/** Current object (writer, or a reader at its start). */
void *fp_rcu_current(struct fp_rcu *r);

/**
 * Writer: publish @p obj; the object it replaces is freed once every reader passed.
 * Objects already safe are freed now (fp_rcu_reclaim()).
 * @return 0, -EINVAL (NULL), or -EBUSY when FP_RCU_MAX_RETIRED replaced objects still wait
 *         for a reader that does not advance (nothing is published then)
 */
int fp_rcu_publish(struct fp_rcu *r, void *obj);

/**
 * Writer: free the replaced objects every online reader has passed.
 * @return the number still waiting
 */
unsigned fp_rcu_reclaim(struct fp_rcu *r);

/**
 * Writer: wait until every online reader acknowledged the current generation (or
 * @p timeout_ms passed), then reclaim.
 * @return 0, or -ETIMEDOUT (what is not safe stays retired)
 */
int fp_rcu_synchronize(struct fp_rcu *r, unsigned timeout_ms);

/** Free every object, current included. Readers must be gone. NULL accepted. */
void fp_rcu_fini(struct fp_rcu *r);

#endif /* FP_RCU_H */
