/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared helpers for CUnit suites. */
#ifndef FP_TEST_H
#define FP_TEST_H

#include <CUnit/CUnit.h>

/* Add a suite with its tests: FP_TEST_ADD_SUITE("decode", tests) with tests a
 * NULL-terminated CU_TestInfo array. */
#define FP_TEST_ADD_SUITE(name, tests)                                                      \
    do {                                                                                   \
        CU_pSuite s_ = CU_add_suite((name), NULL, NULL);                                   \
        for (const CU_TestInfo *t_ = (tests); s_ && t_->pName; t_++)                      \
            CU_add_test(s_, t_->pName, t_->pTestFunc);                                     \
    } while (0)

#endif
