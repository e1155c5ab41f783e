/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Config internals: the settings table that drives defaults, parsing, -o overrides,
 * validation and --dump-config. Included only by src/config/config.c and
 * tests/unit/test_config.c (which checks the table against flowpulse.conf.example).
 * Everything here is constant data or main-thread code.
 */
#ifndef FP_CONFIG_INTERNAL_H
#define FP_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/** Value type of a setting, as written in the file. */
enum fp_config_type {
    FP_CONFIG_BOOL,     /**< true/false; stored in a bool */
    FP_CONFIG_INT,      /**< integer; stored in a 1/2/4/8-byte field, signed iff min < 0 */
    FP_CONFIG_STRING,   /**< string; stored NUL-terminated and zero-padded in a char array */
    FP_CONFIG_ENUM,     /**< one of a list of names; stored as its value, or as the name
                         *   when FP_CONFIG_F_ENUM_NAME is set */
    FP_CONFIG_DURATION, /**< seconds in the file (fractional allowed); stored as an integer
                         *   number of 1/scale seconds */
    FP_CONFIG_URL,      /**< collector URL; only in the collector element table */
    FP_CONFIG_DECIMAL,  /**< number (integer or fractional) in the file, no unit; stored as an
                         *   integer number of 1/scale (scale a power of ten up to 10^6) */
};

#define FP_CONFIG_F_POW2 0x1u      /**< INT: value must be a power of two */
#define FP_CONFIG_F_REQUIRED 0x2u  /**< element tables: member must be present */
#define FP_CONFIG_F_ENUM_NAME 0x4u /**< ENUM: store the name (char array), not the value */

/** One name of an enum setting; the list ends with name == NULL. */
struct fp_config_enum {
    const char *name;
    long long value;
};

/** One setting: the single source of its name, type, range, default and place. */
struct fp_config_setting {
    const char *path;       /**< "flow.idle_timeout"; element tables: member name */
    enum fp_config_type type;
    unsigned flags;         /**< FP_CONFIG_F_* */
    long long min, max;     /**< INT: bounds; DURATION: bounds in stored units */
    long long def;          /**< BOOL/INT default; DURATION default in stored units */
    const char *def_str;    /**< STRING/ENUM default (the enum name) */
    const struct fp_config_enum *enums; /**< ENUM names */
    unsigned scale;         /**< DURATION: stored units per second (1 or 1000) */
    size_t offset;          /**< into struct fp_config, or into the element struct */
    size_t size;            /**< of the field */
    const char *help;       /**< one line: meaning and unit */
};

/** A list setting of groups (capture.ports, export.collectors). */
struct fp_config_list {
    const char *path;                      /**< "export.collectors" */
    const struct fp_config_setting *elem;  /**< member table of one element */
    size_t n_elem;
    size_t elem_size;                      /**< sizeof the element struct */
    size_t array_offset;                   /**< of the element array in struct fp_config */
    size_t count_offset;                   /**< of the unsigned element count */
    unsigned max;                          /**< capacity of the array */
    const char *help;
    /**
     * NULL, or a check of element @p i once it is loaded (elements 0..i-1 are loaded too):
     * @return NULL when valid, else the member to blame ("" = the element) with @p problem
     * (PROBLEM_LEN bytes) filled. Used by the file loader (file:line) and by validation.
     */
    const char *(*check)(const void *elems, unsigned i, char *problem, size_t len);
};

/** Scalar settings, grouped by section (each section contiguous). */
extern const struct fp_config_setting fp_config_settings[];
extern const size_t fp_config_n_settings;

/** List settings. */
extern const struct fp_config_list fp_config_lists[];
extern const size_t fp_config_n_lists;

/**
 * fp_config_load_file() that also reports which scalar settings the file set.
 * @param seen  NULL, or an array of fp_config_n_settings flags set true for each
 *              fp_config_settings[] entry present in the file (only on success)
 * @return as fp_config_load_file()
 */
int fp_config_load_file_seen(struct fp_config *c, const char *path, bool *seen, char *err,
                             size_t errlen);

#endif /* FP_CONFIG_INTERNAL_H */
