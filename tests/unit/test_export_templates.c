/* SPDX-License-Identifier: BSD-3-Clause */
/* Templates in use per collector, read back from hand-built IPFIX messages
 * (src/export/export_templates.c). */
#include <stdlib.h>
#include <string.h>

#include "export/export_templates.h"
#include "fp_test.h"

/* A message under construction: header, then Sets appended by the helpers. */
struct msg {
    uint8_t b[2048];
    size_t len;
    size_t set; /* offset of the open Set header */
};

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

static void m_init(struct msg *m, uint32_t odid)
{
    memset(m, 0, sizeof(*m));
    put16(m->b, 10);
    put32(m->b + 12, odid);
    m->len = 16;
}

static void m_u8(struct msg *m, unsigned v)
{
    m->b[m->len++] = (uint8_t)v;
}

static void m_u16(struct msg *m, unsigned v)
{
    put16(m->b + m->len, v);
    m->len += 2;
}

static void m_u32(struct msg *m, uint32_t v)
{
    put32(m->b + m->len, v);
    m->len += 4;
}

static void m_set(struct msg *m, unsigned id)
{
    m->set = m->len;
    m_u16(m, id);
    m_u16(m, 0);
}

static void m_set_end(struct msg *m)
{
    put16(m->b + m->set + 2, (unsigned)(m->len - m->set));
}

static const uint8_t *m_done(struct msg *m)
{
    put16(m->b + 2, (unsigned)m->len);
    return m->b;
}

static struct fp_export_tmpl_table *table_new(void)
{
    struct fp_export_tmpl_table *t = calloc(1, sizeof(*t));
    CU_ASSERT_FATAL(t != NULL);
    return t;
}

/* Template 300: sourceIPv4Address(8) 4, protocolIdentifier(4) 1, octetDeltaCount(1) 8,
 * enterprise element 7 of PEN 32473 length 2 → 15-octet records. */
static void add_fixed_template(struct msg *m)
{
    m_set(m, 2);
    m_u16(m, 300);
    m_u16(m, 4);
    m_u16(m, 8), m_u16(m, 4);
    m_u16(m, 4), m_u16(m, 1);
    m_u16(m, 1), m_u16(m, 8);
    m_u16(m, 0x8000 | 7), m_u16(m, 2), m_u32(m, 32473);
    m_set_end(m);
}

static void test_fixed_template_and_records(void)
{
    struct fp_export_tmpl_table *t = table_new();
    struct fp_export_template_info out[4];
    struct fp_export_template_totals tot;
    struct msg m;

    m_init(&m, 7);
    add_fixed_template(&m);
    m_set(&m, 300);
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 15; i++)
            m_u8(&m, (unsigned)(r + i));
    m_u8(&m, 0), m_u8(&m, 0), m_u8(&m, 0); /* padding shorter than a record */
    m_set_end(&m);
    fp_export_tmpl_note_msg(t, m_done(&m), m.len, 1234);

    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, 4, &tot), 1);
    CU_ASSERT_EQUAL(out[0].template_id, 300);
    CU_ASSERT_EQUAL(out[0].set_id, 2);
    CU_ASSERT_EQUAL(out[0].odid, 7);
    CU_ASSERT_EQUAL(out[0].last_sent_ms, 1234);
    CU_ASSERT_EQUAL(out[0].sends, 1);
    CU_ASSERT_EQUAL(out[0].data_records, 3);
    CU_ASSERT_EQUAL(out[0].n_fields, 4);
    CU_ASSERT_EQUAL(out[0].fields[0].ie_id, 8);
    CU_ASSERT_EQUAL(out[0].fields[0].flags, FP_EXPORT_FIELD_FLOW_KEY);
    CU_ASSERT_EQUAL(out[0].fields[1].flags, FP_EXPORT_FIELD_FLOW_KEY);
    CU_ASSERT_EQUAL(out[0].fields[2].flags, 0);
    CU_ASSERT_EQUAL(out[0].fields[3].ie_id, 7);
    CU_ASSERT_EQUAL(out[0].fields[3].pen, 32473);
    CU_ASSERT_EQUAL(out[0].fields[3].length, 2);
    CU_ASSERT_EQUAL(out[0].fields[3].flags, 0); /* enterprise element 7 is no IANA port */
    CU_ASSERT_EQUAL(tot.templates, 1);
    CU_ASSERT_EQUAL(tot.options_templates, 0);
    CU_ASSERT_EQUAL(tot.unknown_sets, 0);

    /* Same template ID in another domain is another template; data of an unknown one is
     * counted as such. */
    m_init(&m, 8);
    m_set(&m, 300);
    for (int i = 0; i < 15; i++)
        m_u8(&m, 1);
    m_set_end(&m);
    fp_export_tmpl_note_msg(t, m_done(&m), m.len, 2000);
    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, 4, &tot), 1);
    CU_ASSERT_EQUAL(out[0].data_records, 3);
    CU_ASSERT_EQUAL(tot.unknown_sets, 1);

    /* A malformed message (length field wrong) changes nothing. */
    m_init(&m, 7);
    m_set(&m, 300);
    for (int i = 0; i < 15; i++)
        m_u8(&m, 1);
    m_set_end(&m);
    m_done(&m);
    fp_export_tmpl_note_msg(t, m.b, m.len - 1, 3000);
    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, 4, NULL), 1);
    CU_ASSERT_EQUAL(out[0].data_records, 3);
    free(t);
}

static void test_options_varlen_and_refresh(void)
{
    struct fp_export_tmpl_table *t = table_new();
    struct fp_export_template_info out[4];
    struct fp_export_template_totals tot;
    struct msg m;

    /* Options template 400, scope 2: PEN(346) 4, IE id(303) 2, name(341) varlen. */
    m_init(&m, 1);
    m_set(&m, 3);
    m_u16(&m, 400), m_u16(&m, 3), m_u16(&m, 2);
    m_u16(&m, 346), m_u16(&m, 4);
    m_u16(&m, 303), m_u16(&m, 2);
    m_u16(&m, 341), m_u16(&m, 65535);
    m_set_end(&m);
    m_set(&m, 400);
    /* record 1: short varlen "ab"; record 2: long form (255, 0x0003) "xyz"; record 3: empty */
    m_u32(&m, 32473), m_u16(&m, 1), m_u8(&m, 2), m_u8(&m, 'a'), m_u8(&m, 'b');
    m_u32(&m, 32473), m_u16(&m, 2), m_u8(&m, 255), m_u16(&m, 3);
    m_u8(&m, 'x'), m_u8(&m, 'y'), m_u8(&m, 'z');
    m_u32(&m, 32473), m_u16(&m, 3), m_u8(&m, 0);
    m_set_end(&m);
    fp_export_tmpl_note_msg(t, m_done(&m), m.len, 10);

    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, 4, &tot), 1);
    CU_ASSERT_EQUAL(out[0].set_id, 3);
    CU_ASSERT_EQUAL(out[0].scope_count, 2);
    CU_ASSERT_EQUAL(out[0].data_records, 3);
    CU_ASSERT_EQUAL(out[0].fields[0].flags, FP_EXPORT_FIELD_SCOPE);
    CU_ASSERT_EQUAL(out[0].fields[1].flags, FP_EXPORT_FIELD_SCOPE);
    CU_ASSERT_EQUAL(out[0].fields[2].flags, 0);
    CU_ASSERT_EQUAL(out[0].fields[2].length, 65535);
    CU_ASSERT_EQUAL(tot.options_templates, 1);

    /* Refresh in a later message, with a fixed template beside it: counts go on. */
    m_init(&m, 1);
    m_set(&m, 3);
    m_u16(&m, 400), m_u16(&m, 3), m_u16(&m, 2);
    m_u16(&m, 346), m_u16(&m, 4);
    m_u16(&m, 303), m_u16(&m, 2);
    m_u16(&m, 341), m_u16(&m, 65535);
    m_set_end(&m);
    add_fixed_template(&m);
    fp_export_tmpl_note_msg(t, m_done(&m), m.len, 20);
    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, 4, &tot), 2);
    CU_ASSERT_EQUAL(out[0].sends, 2);
    CU_ASSERT_EQUAL(out[0].last_sent_ms, 20);
    CU_ASSERT_EQUAL(out[0].data_records, 3);
    CU_ASSERT_EQUAL(tot.options_templates, 2);
    CU_ASSERT_EQUAL(tot.templates, 1);

    /* New transport session: nothing in use until sent again; counters kept. */
    fp_export_tmpl_session_start(t);
    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, 4, NULL), 0);
    m_init(&m, 1);
    add_fixed_template(&m);
    fp_export_tmpl_note_msg(t, m_done(&m), m.len, 30);
    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, 4, NULL), 1);
    CU_ASSERT_EQUAL(out[0].template_id, 300);
    CU_ASSERT_EQUAL(out[0].sends, 2);

    /* Withdrawal of 300 (template set, field count 0). */
    m_init(&m, 1);
    m_set(&m, 2);
    m_u16(&m, 300), m_u16(&m, 0);
    m_set_end(&m);
    fp_export_tmpl_note_msg(t, m_done(&m), m.len, 40);
    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, 4, &tot), 0);
    CU_ASSERT_EQUAL(tot.withdrawals, 1);
    free(t);
}

static void test_many_templates(void)
{
    struct fp_export_tmpl_table *t = table_new();
    struct fp_export_template_info *out = calloc(FP_EXPORT_TMPL_SLOTS + 4, sizeof(*out));
    struct fp_export_template_totals tot;
    struct msg m;

    CU_ASSERT_FATAL(out != NULL);
    for (unsigned i = 0; i < FP_EXPORT_TMPL_SLOTS + 2; i++) {
        m_init(&m, 1);
        m_set(&m, 2);
        m_u16(&m, 256 + i), m_u16(&m, 1), m_u16(&m, 1), m_u16(&m, 8);
        m_set_end(&m);
        fp_export_tmpl_note_msg(t, m_done(&m), m.len, i);
    }
    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, FP_EXPORT_TMPL_SLOTS + 4, &tot),
                    FP_EXPORT_TMPL_SLOTS);
    CU_ASSERT_EQUAL(tot.no_room, 2);
    CU_ASSERT_EQUAL(fp_export_tmpl_read(t, out, 3, NULL), 3); /* max is honoured */
    free(out);
    free(t);
}

void fp_test_register_export_templates(void);
void fp_test_register_export_templates(void)
{
    static const CU_TestInfo tests[] = {
        {"fixed template, records, domains", test_fixed_template_and_records},
        {"options template, varlen, refresh, session, withdrawal",
         test_options_varlen_and_refresh},
        {"table full", test_many_templates},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("export_templates", tests);
}
