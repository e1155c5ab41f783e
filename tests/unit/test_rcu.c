/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for src/common/fp_rcu: publish by generation, per-reader acknowledgement,
 * objects freed only after every online reader passed, -EBUSY/-ETIMEDOUT with a stuck
 * reader, and a two-reader stress run where no reader ever sees a freed object. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp_rcu.h"
#include "tests/unit/fp_test.h"

#define LIVE 0x11u
#define DEAD 0xDDu
#define POOL 4096

struct obj {
    _Atomic unsigned state; /* LIVE while published or retired, DEAD once freed */
    unsigned id;
    unsigned payload[8];    /* id repeated: a torn or recycled object shows */
};

static struct obj pool[POOL];
static atomic_uint n_freed;

static void obj_free(void *p)
{
    struct obj *o = p;
    atomic_store(&o->state, DEAD);
    atomic_fetch_add(&n_freed, 1);
}

static struct obj *obj_new(unsigned id)
{
    struct obj *o = &pool[id % POOL];
    o->id = id;
    for (unsigned i = 0; i < 8; i++)
        o->payload[i] = id;
    atomic_store(&o->state, LIVE);
    return o;
}

static void test_rcu_ack_then_free(void)
{
    struct fp_rcu r;
    atomic_store(&n_freed, 0);
    struct obj *a = obj_new(1), *b = obj_new(2);
    CU_ASSERT_EQUAL(fp_rcu_init(&r, 2, NULL, obj_free), -EINVAL);
    CU_ASSERT_EQUAL(fp_rcu_init(&r, FP_RCU_MAX_READERS + 1, a, obj_free), -EINVAL);
    CU_ASSERT_EQUAL_FATAL(fp_rcu_init(&r, 2, a, obj_free), 0);
    void *cur[2] = {a, a};
    uint64_t seen[2] = {fp_rcu_generation(&r), fp_rcu_generation(&r)};
    CU_ASSERT_FALSE(fp_rcu_reader_poll(&r, 0, &cur[0], &seen[0])); /* nothing new */

    CU_ASSERT_EQUAL(fp_rcu_publish(&r, b), 0);
    CU_ASSERT_PTR_EQUAL(fp_rcu_current(&r), b);
    CU_ASSERT_EQUAL(atomic_load(&n_freed), 0); /* no reader has switched */
    CU_ASSERT_TRUE(fp_rcu_reader_poll(&r, 0, &cur[0], &seen[0]));
    CU_ASSERT_PTR_EQUAL(cur[0], b);
    CU_ASSERT_EQUAL(fp_rcu_reclaim(&r), 1u); /* reader 1 still on a */
    CU_ASSERT_EQUAL(atomic_load(&a->state), LIVE);
    CU_ASSERT_TRUE(fp_rcu_reader_poll(&r, 1, &cur[1], &seen[1]));
    CU_ASSERT_FALSE(fp_rcu_reader_poll(&r, 1, &cur[1], &seen[1])); /* once per change */
    CU_ASSERT_EQUAL(fp_rcu_reclaim(&r), 0u);
    CU_ASSERT_EQUAL(atomic_load(&a->state), DEAD);
    CU_ASSERT_EQUAL(atomic_load(&n_freed), 1);

    /* An offline reader does not hold anything back. */
    struct obj *c = obj_new(3);
    CU_ASSERT_EQUAL(fp_rcu_publish(&r, c), 0);
    fp_rcu_reader_offline(&r, 1);
    CU_ASSERT_EQUAL(fp_rcu_reclaim(&r), 1u); /* reader 0 still on b */
    CU_ASSERT_EQUAL(atomic_load(&b->state), LIVE);
    CU_ASSERT_TRUE(fp_rcu_reader_poll(&r, 0, &cur[0], &seen[0]));
    CU_ASSERT_EQUAL(fp_rcu_synchronize(&r, 100), 0);
    CU_ASSERT_EQUAL(atomic_load(&b->state), DEAD);
    CU_ASSERT_EQUAL(fp_rcu_publish(&r, NULL), -EINVAL);
    fp_rcu_fini(&r);
    CU_ASSERT_EQUAL(atomic_load(&c->state), DEAD);
    CU_ASSERT_EQUAL(atomic_load(&n_freed), 3);
}

/* A reader that never polls: retired objects pile up to the limit, then publish refuses;
 * synchronize times out; once the reader polls, everything but the current is freed. */
static void test_rcu_stuck_reader(void)
{
    struct fp_rcu r;
    atomic_store(&n_freed, 0);
    struct obj *first = obj_new(100);
    CU_ASSERT_EQUAL_FATAL(fp_rcu_init(&r, 3, first, obj_free), 0);
    void *cur = first;
    uint64_t seen = fp_rcu_generation(&r);
    for (unsigned i = 0; i < FP_RCU_MAX_RETIRED; i++)
        CU_ASSERT_EQUAL(fp_rcu_publish(&r, obj_new(101 + i)), 0);
    struct obj *extra = obj_new(200);
    CU_ASSERT_EQUAL(fp_rcu_publish(&r, extra), -EBUSY);
    CU_ASSERT_PTR_EQUAL(fp_rcu_current(&r), &pool[100 + FP_RCU_MAX_RETIRED]);
    CU_ASSERT_EQUAL(fp_rcu_synchronize(&r, 5), -ETIMEDOUT);
    CU_ASSERT_EQUAL(atomic_load(&n_freed), 0);
    CU_ASSERT_EQUAL(atomic_load(&first->state), LIVE);
    /* Readers 0..2 catch up (reader 1 goes offline instead). */
    CU_ASSERT_TRUE(fp_rcu_reader_poll(&r, 0, &cur, &seen));
    CU_ASSERT_PTR_EQUAL(cur, &pool[100 + FP_RCU_MAX_RETIRED]);
    fp_rcu_reader_offline(&r, 1);
    CU_ASSERT_EQUAL(fp_rcu_reclaim(&r), (unsigned)FP_RCU_MAX_RETIRED);
    uint64_t seen2 = 1;
    void *cur2 = first;
    CU_ASSERT_TRUE(fp_rcu_reader_poll(&r, 2, &cur2, &seen2));
    CU_ASSERT_EQUAL(fp_rcu_publish(&r, extra), 0); /* frees the 8, retires one more */
    CU_ASSERT_EQUAL(atomic_load(&n_freed), FP_RCU_MAX_RETIRED);
    CU_ASSERT_EQUAL(atomic_load(&first->state), DEAD);
    fp_rcu_fini(&r);
    CU_ASSERT_EQUAL(atomic_load(&n_freed), FP_RCU_MAX_RETIRED + 2);
}

struct reader_arg {
    struct fp_rcu *r;
    unsigned id;
    atomic_bool *stop;
    unsigned long switches;
    unsigned long bad;
};

static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    void *cur = fp_rcu_current(a->r);
    uint64_t seen = 1;
    while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
        if (fp_rcu_reader_poll(a->r, a->id, &cur, &seen))
            a->switches++;
        const struct obj *o = cur;
        /* Between two polls the object must stay alive and intact. */
        for (unsigned k = 0; k < 50; k++) {
            if (atomic_load(&o->state) != LIVE || o->payload[k % 8] != o->id)
                a->bad++;
        }
    }
    fp_rcu_reader_offline(a->r, a->id);
    return NULL;
}

static void test_rcu_stress(void)
{
    static struct fp_rcu r;
    atomic_bool stop;
    atomic_init(&stop, false);
    atomic_store(&n_freed, 0);
    CU_ASSERT_EQUAL_FATAL(fp_rcu_init(&r, 2, obj_new(0), obj_free), 0);
    struct reader_arg ra[2] = {{&r, 0, &stop, 0, 0}, {&r, 1, &stop, 0, 0}};
    pthread_t t[2];
    for (unsigned i = 0; i < 2; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, reader_main, &ra[i]), 0);
    unsigned published = 0;
    for (unsigned id = 1; id < POOL - 1; id++) { /* slots never reused */
        int rc = fp_rcu_publish(&r, obj_new(id));
        if (rc == -EBUSY) { /* readers lag 8 reloads behind: wait for them */
            atomic_store(&pool[id % POOL].state, DEAD);
            (void)fp_rcu_synchronize(&r, 1000);
            continue;
        }
        CU_ASSERT_EQUAL(rc, 0);
        published++;
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(ra[0].bad + ra[1].bad, 0);
    CU_ASSERT(ra[0].switches > 0 && ra[1].switches > 0);
    CU_ASSERT_EQUAL(fp_rcu_reclaim(&r), 0u); /* both readers offline */
    CU_ASSERT_EQUAL(atomic_load(&n_freed), published);
    fp_rcu_fini(&r);
    CU_ASSERT_EQUAL(atomic_load(&n_freed), published + 1);
}

void fp_test_register_rcu(void);
void fp_test_register_rcu(void)
{
    static CU_TestInfo tests[] = {
        {"ack_then_free", test_rcu_ack_then_free},
        {"stuck_reader", test_rcu_stuck_reader},
        {"stress_two_readers", test_rcu_stress},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("rcu", tests);
}
