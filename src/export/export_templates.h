/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Templates in use per collector, for the management plane (IPFIX-MIB template tables).
 * Pipeline place: export (read side for snmp/control through main.c).
 *
 * The exporter thread owns libfixbuf; this module never calls it. Instead it reads every
 * IPFIX message the exporter ships (one call in coll_emit after a successful send): the
 * (options) template records it carries become template descriptions, the data records of
 * each Data Set are counted against their template. The table is copied out under a short
 * lock by any other thread (fp_exporter_get_templates), so what a reader sees is what the
 * collector was sent, byte for byte.
 *
 * Threads: fp_export_tmpl_session_start / fp_export_tmpl_note_msg on the exporter thread (or
 * on the main thread before it starts); fp_export_tmpl_read / fp_exporter_get_templates on
 * any thread. A zeroed table (calloc) is ready to use; it needs no destroy.
 */
#ifndef FP_EXPORT_TEMPLATES_H
#define FP_EXPORT_TEMPLATES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_EXPORT_TMPL_SLOTS 16   /**< templates remembered per collector */
#define FP_EXPORT_TMPL_FIELDS 128 /**< fields described per template */

/** Field flags (IPFIX-MIB ipfixTemplateDefinitionFlags, as bits of our own). */
#define FP_EXPORT_FIELD_SCOPE 0x1u    /**< scope field of an options template */
#define FP_EXPORT_FIELD_FLOW_KEY 0x2u /**< part of FlowPulse's flow key (src/flow/flow.h) */

/** One field specifier of a template, as sent. */
struct fp_export_template_field {
    uint16_t ie_id;  /**< without the enterprise bit */
    uint16_t length; /**< 65535 = variable length */
    uint32_t pen;    /**< 0 = IANA */
    uint8_t flags;   /**< FP_EXPORT_FIELD_* */
};

/** One template in use on a collector's transport session. */
struct fp_export_template_info {
    uint16_t template_id;   /**< 256..65535 */
    uint16_t set_id;        /**< 2 template, 3 options template */
    uint32_t odid;          /**< observation domain of the messages that carried it */
    uint16_t scope_count;   /**< options templates: scope fields; 0 otherwise */
    uint64_t last_sent_ms;  /**< Unix ms of the last (re)send */
    uint64_t sends;         /**< times the template record was sent (since start) */
    uint64_t data_records;  /**< data records sent with it (since start) */
    uint32_t n_fields_wire; /**< fields in the template */
    uint32_t n_fields;      /**< fields described below (min(n_fields_wire, FIELDS)) */
    struct fp_export_template_field fields[FP_EXPORT_TMPL_FIELDS];
};

/** Totals of one collector since start (all templates, including ones no longer in use). */
struct fp_export_template_totals {
    uint64_t templates;         /**< template records sent (Set ID 2) */
    uint64_t options_templates; /**< options template records sent (Set ID 3) */
    uint64_t withdrawals;       /**< template withdrawal records sent */
    uint64_t unknown_sets;      /**< Data Sets whose template was not seen (should stay 0) */
    uint64_t no_room;           /**< templates not remembered: table full (should stay 0) */
};

/** Per-collector table (embedded in struct fp_collector). Fields are private. */
struct fp_export_tmpl_table {
    atomic_bool lock;
    struct fp_export_template_totals tot;
    struct {
        struct fp_export_template_info info;
        uint32_t min_len; /**< shortest data record (variable-length fields count 1) */
        bool parsable;    /**< every field described: data records can be walked */
        bool fixed;       /**< no variable-length field: records are min_len long */
        bool used;
        bool current;     /**< sent in the current transport session */
    } slot[FP_EXPORT_TMPL_SLOTS];
};

/**
 * A new transport session starts: templates of the previous one stop being "in use" until
 * sent again (their counters are kept if they are). Exporter thread.
 */
void fp_export_tmpl_session_start(struct fp_export_tmpl_table *t);

/**
 * Account one IPFIX message that was just shipped (templates, withdrawals, data records).
 * Malformed messages are ignored (the exporter's own checks come first). Exporter thread.
 * @param now_ms  wall clock, Unix ms (the templates' last-sent time)
 */
void fp_export_tmpl_note_msg(struct fp_export_tmpl_table *t, const uint8_t *msg, size_t len,
                             uint64_t now_ms);

/**
 * Copy the templates in use, in the order they were first sent. Any thread.
 * @param out     up to @p max entries
 * @param totals  filled when not NULL
 * @return the number of entries written
 */
unsigned fp_export_tmpl_read(struct fp_export_tmpl_table *t, struct fp_export_template_info *out,
                             unsigned max, struct fp_export_template_totals *totals);

struct fp_exporter;

/**
 * Templates in use on collector @p collector (index as for fp_exporter_get_stats), with
 * their field definitions, data records sent and last-sent time. NetFlow collectors and
 * collectors without a session yet have none. Any thread; never touches libfixbuf.
 * @param totals  filled when not NULL (zeroed for an unknown collector)
 * @return the number of entries written to @p out (0..max)
 */
unsigned fp_exporter_get_templates(const struct fp_exporter *ex, unsigned collector,
                                   struct fp_export_template_info *out, unsigned max,
                                   struct fp_export_template_totals *totals);

#endif /* FP_EXPORT_TEMPLATES_H */
