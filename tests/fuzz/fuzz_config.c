/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the configuration loader (src/config/config.c): the input is a
 * configuration file (through a memfd, no disk I/O). It must load or fail with an error
 * message; a loaded configuration must validate or fail cleanly, and dump.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fp_fuzz_config", 0);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    static struct fp_config c;
    char err[512];
    fp_config_defaults(&c);
    if (fp_config_load_file(&c, path, err, sizeof(err)) != 0) {
        if (err[0] == '\0')
            __builtin_trap(); /* every failure must say what is wrong */
        return 0;
    }
    (void)fp_config_validate(&c, err, sizeof(err));
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        fp_config_dump(&c, null);
        fclose(null);
    }
    return 0;
}
