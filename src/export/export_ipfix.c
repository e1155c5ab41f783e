/* SPDX-License-Identifier: BSD-3-Clause */
/* IPFIX templates (IE specs ↔ internal record structs) and message post-processing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "export/export_internal.h"

#define PAD(n) {"paddingOctets", (n), 1}

/* Field order = struct member order. Length 0 = the IE's full size: never reduced-size
 * encoding (libfixbuf 2.4.1 truncates values that do not fit). */
#define FIELDS_HEAD                                                                        \
    {"flowStartMilliseconds", 0, 0}, {"flowEndMilliseconds", 0, 0},                        \
        {"octetDeltaCount", 0, 0}, {"packetDeltaCount", 0, 0}, {"flowId", 0, 0}
#define FIELDS_REV_COUNTERS                                                                \
    {"reverseFlowStartMilliseconds", 0, 0}, {"reverseFlowEndMilliseconds", 0, 0},          \
        {"reverseOctetDeltaCount", 0, 0}, {"reversePacketDeltaCount", 0, 0}
#define FIELDS_ADDR4 {"sourceIPv4Address", 0, 0}, {"destinationIPv4Address", 0, 0}
#define FIELDS_ADDR6 {"sourceIPv6Address", 0, 0}, {"destinationIPv6Address", 0, 0}
#define FIELDS_MID(icmp)                                                                   \
    {"ingressInterface", 0, 0}, {"sourceTransportPort", 0, 0},                             \
        {"destinationTransportPort", 0, 0}, {"tcpControlBits", 0, 0}, {icmp, 0, 0},        \
        {"vlanId", 0, 0}
#define FIELDS_TAIL                                                                        \
    {"protocolIdentifier", 0, 0}, {"ipClassOfService", 0, 0}, {"minimumTTL", 0, 0},        \
        {"maximumTTL", 0, 0}, {"flowEndReason", 0, 0}

static const struct fp_ipfix_field f_uni4[] = {
    FIELDS_HEAD, FIELDS_ADDR4, FIELDS_MID("icmpTypeCodeIPv4"), FIELDS_TAIL, PAD(5),
};
static const struct fp_ipfix_field f_uni6[] = {
    FIELDS_HEAD, FIELDS_ADDR6, FIELDS_MID("icmpTypeCodeIPv6"), FIELDS_TAIL, PAD(5),
};
static const struct fp_ipfix_field f_bi4[] = {
    FIELDS_HEAD, FIELDS_REV_COUNTERS, FIELDS_ADDR4, FIELDS_MID("icmpTypeCodeIPv4"),
    {"reverseTcpControlBits", 0, 0}, {"reverseIcmpTypeCodeIPv4", 0, 0}, FIELDS_TAIL,
    {"reverseIpClassOfService", 0, 0}, {"reverseMinimumTTL", 0, 0},
    {"reverseMaximumTTL", 0, 0}, {"biflowDirection", 0, 0}, PAD(5),
};
static const struct fp_ipfix_field f_bi6[] = {
    FIELDS_HEAD, FIELDS_REV_COUNTERS, FIELDS_ADDR6, FIELDS_MID("icmpTypeCodeIPv6"),
    {"reverseTcpControlBits", 0, 0}, {"reverseIcmpTypeCodeIPv6", 0, 0}, FIELDS_TAIL,
    {"reverseIpClassOfService", 0, 0}, {"reverseMinimumTTL", 0, 0},
    {"reverseMaximumTTL", 0, 0}, {"biflowDirection", 0, 0}, PAD(5),
};
static const struct fp_ipfix_field f_mp[] = {
    {"observationDomainId", 0, 0}, PAD(4),
    {"exportedMessageTotalCount", 0, 0}, {"exportedFlowRecordTotalCount", 0, 0},
    {"exportedOctetTotalCount", 0, 0}, {"ignoredPacketTotalCount", 0, 0},
    {"ignoredOctetTotalCount", 0, 0}, {"observationTimeMilliseconds", 0, 0},
    {"observationTimeMilliseconds", 0, 0},
};
static const struct fp_ipfix_field f_ep[] = {
    {"exportingProcessId", 0, 0}, PAD(4),
    {"notSentFlowTotalCount", 0, 0}, {"notSentPacketTotalCount", 0, 0},
    {"notSentOctetTotalCount", 0, 0}, {"observationTimeMilliseconds", 0, 0},
    {"observationTimeMilliseconds", 0, 0},
};

#define TMPL(id, sc, f, rec, lbl) \
    {(id), (sc), (f), FP_ARRAY_SIZE(f), sizeof(struct rec), (lbl)}
static const struct fp_ipfix_template templates[] = {
    TMPL(FP_TID_UNI4, 0, f_uni4, fp_ipfix_uni4, "uniflow-ipv4"),
    TMPL(FP_TID_UNI6, 0, f_uni6, fp_ipfix_uni6, "uniflow-ipv6"),
    TMPL(FP_TID_BI4, 0, f_bi4, fp_ipfix_bi4, "biflow-ipv4"),
    TMPL(FP_TID_BI6, 0, f_bi6, fp_ipfix_bi6, "biflow-ipv6"),
    TMPL(FP_TID_MP_STATS, 1, f_mp, fp_ipfix_mp_stats, "metering-process-stats"),
    TMPL(FP_TID_EP_STATS, 1, f_ep, fp_ipfix_ep_stats, "exporting-process-reliability"),
};

const struct fp_ipfix_template *fp_export_template_get(uint16_t tid)
{
    for (unsigned i = 0; i < FP_ARRAY_SIZE(templates); i++)
        if (templates[i].tid == tid)
            return &templates[i];
    return NULL;
}

fbTemplate_t *fp_export_template_build(fbInfoModel_t *model, const struct fp_ipfix_template *t,
                                       bool internal, int *err_out)
{
    GError *err = NULL;
    fbTemplate_t *tmpl = fbTemplateAlloc(model);
    if (tmpl == NULL) {
        *err_out = -ENOMEM;
        return NULL;
    }
    for (unsigned i = 0; i < t->n_fields; i++) {
        if (t->fields[i].internal_only && !internal)
            continue;
        /* libfixbuf's spec takes a non-const name it never writes. */
        union {
            const char *c;
            char *m;
        } name = {.c = t->fields[i].name};
        /* Explicit full lengths: libfixbuf aborts (g_error) on an internal template with
         * defaulted lengths, and a shorter length would be reduced-size encoding. */
        uint16_t len = t->fields[i].len;
        if (len == 0) {
            const fbInfoElement_t *ie = fbInfoModelGetElementByName(model, t->fields[i].name);
            len = ie ? ie->len : 0;
        }
        fbInfoElementSpec_t spec = {name.m, len, 0};
        if (!fbTemplateAppendSpec(tmpl, &spec, 0, &err)) {
            fprintf(stderr, "flowpulse: export: template %s: %s: %s\n", t->label,
                    t->fields[i].name, err ? err->message : "?");
            g_clear_error(&err);
            fbTemplateFreeUnused(tmpl);
            *err_out = -EINVAL;
            return NULL;
        }
    }
    if (t->scope)
        fbTemplateSetOptionsScope(tmpl, t->scope);
    if (internal && fbTemplateGetIELenOfMemBuffer(tmpl) != t->rec_size) {
        fprintf(stderr, "flowpulse: export: template %s: record is %zu bytes, template %u\n",
                t->label, t->rec_size, (unsigned)fbTemplateGetIELenOfMemBuffer(tmpl));
        fbTemplateFreeUnused(tmpl);
        *err_out = -EPROTO;
        return NULL;
    }
    *err_out = 0;
    return tmpl;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

size_t fp_export_strip_empty_sets(uint8_t *msg, size_t len, unsigned *removed)
{
    if (len < 16 || rd16(msg) != 10 || rd16(msg + 2) != len)
        return 0;
    size_t in = 16, out = 16;
    while (in < len) {
        if (len - in < 4)
            return 0;
        size_t slen = rd16(msg + in + 2);
        if (slen < 4 || slen > len - in)
            return 0;
        if (slen == 4) {
            (*removed)++;
        } else {
            if (out != in)
                memmove(msg + out, msg + in, slen);
            out += slen;
        }
        in += slen;
    }
    msg[2] = (uint8_t)(out >> 8);
    msg[3] = (uint8_t)out;
    return out;
}
