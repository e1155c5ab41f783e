/* SPDX-License-Identifier: BSD-3-Clause */
/* CUnit runner: registers every tests/unit/test_<mod>.c suite and exits non-zero on failure. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/fp_test.h"

#define FP_TEST_SUITE(mod) void fp_test_register_##mod(void);
#include "test_registry.h"
#undef FP_TEST_SUITE

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
#define FP_TEST_SUITE(mod) fp_test_register_##mod();
#include "test_registry.h"
#undef FP_TEST_SUITE
    CU_basic_set_mode(argc > 1 && strcmp(argv[1], "-v") == 0 ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned run = CU_get_number_of_tests_run();
    unsigned failed = CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    printf("unit: %u passed, %u failed\n", run - failed, failed);
    return failed ? 1 : 0;
}
