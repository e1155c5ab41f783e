/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * HTTP/1.x request head metadata (RFC 9112 §3, RFC 9110 §7.2 Host): method, Host,
 * User-Agent. Worker context; no allocation; reads only inside the payload.
 */
#include <string.h>

#include "classify/classify.h"
#include "classify/classify_internal.h"

#define HTTP_MAX_HEADERS 128

static bool name_is(const uint8_t *n, size_t len, const char *want)
{
    size_t wl = strlen(want);

    if (len != wl)
        return false;
    for (size_t i = 0; i < len; i++)
        if (ascii_lower(n[i]) != (uint8_t)want[i])
            return false;
    return true;
}

static bool is_ows(uint8_t ch)
{
    return ch == ' ' || ch == '\t';
}

/* Store "host[:port]" or "[v6]:port" into out. */
static enum fp_classify_result set_host(struct fp_classify_http *out, const uint8_t *v,
                                        size_t vlen)
{
    const uint8_t *h = v, *port = NULL;
    size_t hlen = vlen, plen = 0;

    if (vlen == 0)
        return FP_CLASSIFY_OK;
    if (v[0] == '[') {
        const uint8_t *close = memchr(v, ']', vlen);
        if (close == NULL)
            return FP_CLASSIFY_MALFORMED;
        h = v + 1;
        hlen = (size_t)(close - h);
        size_t rest = vlen - (size_t)(close + 1 - v);
        if (rest > 0) {
            if (close[1] != ':')
                return FP_CLASSIFY_MALFORMED;
            port = close + 2;
            plen = rest - 1;
        }
    } else {
        const uint8_t *colon = memchr(v, ':', vlen);
        if (colon != NULL) {
            hlen = (size_t)(colon - v);
            port = colon + 1;
            plen = vlen - hlen - 1;
        }
    }
    if (port != NULL) {
        uint32_t pv = 0;
        if (plen > 5)
            return FP_CLASSIFY_MALFORMED;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                return FP_CLASSIFY_MALFORMED;
            pv = pv * 10 + (uint32_t)(port[i] - '0');
        }
        if (pv > 65535)
            return FP_CLASSIFY_MALFORMED;
        out->port = (uint16_t)pv;
    }
    if (hlen == 0)
        return FP_CLASSIFY_OK;
    if (hlen >= sizeof(out->host)) {
        out->host_too_long = true;
        return FP_CLASSIFY_OK;
    }
    str_store(out->host, sizeof(out->host), h, hlen, true, &out->n_replaced);
    out->has_host = true;
    return FP_CLASSIFY_OK;
}

/* Absolute-form target "http://[userinfo@]authority/...": authority as Host. */
static enum fp_classify_result host_from_target(struct fp_classify_http *out, const uint8_t *t,
                                                size_t tlen)
{
    size_t skip;

    if (tlen >= 7 && name_is(t, 7, "http://"))
        skip = 7;
    else if (tlen >= 8 && name_is(t, 8, "https://"))
        skip = 8;
    else
        return FP_CLASSIFY_OK;
    const uint8_t *a = t + skip;
    size_t alen = 0;
    while (skip + alen < tlen && a[alen] != '/' && a[alen] != '?' && a[alen] != '#')
        alen++;
    for (size_t i = alen; i > 0; i--) {
        if (a[i - 1] == '@') {
            a += i;
            alen -= i;
            break;
        }
    }
    return set_host(out, a, alen);
}

enum fp_classify_result fp_classify_http_parse(const uint8_t *p, size_t len,
                                               struct fp_classify_http *out)
{
    static const char ver[] = "HTTP/1.";
    size_t i = 0;
    enum fp_classify_result r;

    memset(out, 0, sizeof(*out));

    /* Request line: method SP request-target SP HTTP/1.x CRLF */
    while (i < len && p[i] >= 'A' && p[i] <= 'Z' && i < FP_CLASSIFY_METHOD_MAX)
        i++;
    if (i == len && i < FP_CLASSIFY_METHOD_MAX)
        return FP_CLASSIFY_NEED_MORE;
    if (i == 0 || i >= FP_CLASSIFY_METHOD_MAX || p[i] != ' ')
        return FP_CLASSIFY_NOT_PROTO;
    memcpy(out->method, p, i);
    out->method[i] = '\0';
    i++;
    size_t t0 = i;
    while (i < len && p[i] > ' ' && p[i] != 0x7f)
        i++;
    if (i == len)
        return FP_CLASSIFY_NEED_MORE;
    if (i == t0 || p[i] != ' ')
        return FP_CLASSIFY_NOT_PROTO;
    size_t t_end = i++;
    for (size_t k = 0; k < sizeof(ver) - 1; k++, i++) {
        if (i == len)
            return FP_CLASSIFY_NEED_MORE;
        if (p[i] != (uint8_t)ver[k])
            return FP_CLASSIFY_NOT_PROTO;
    }
    if (i == len)
        return FP_CLASSIFY_NEED_MORE;
    if (p[i] != '0' && p[i] != '1')
        return FP_CLASSIFY_NOT_PROTO;
    out->version_minor = (uint8_t)(p[i++] - '0');
    if (i < len && p[i] == '\r')
        i++;
    if (i == len)
        return FP_CLASSIFY_NEED_MORE;
    if (p[i++] != '\n')
        return FP_CLASSIFY_NOT_PROTO;

    /* Header fields until the empty line or the end of the data. */
    for (unsigned n_hdr = 0; i < len; n_hdr++) {
        const uint8_t *nl = memchr(p + i, '\n', len - i);
        if (nl == NULL)
            break; /* partial line: ignored */
        const uint8_t *line = p + i;
        size_t ll = (size_t)(nl - line);
        i += ll + 1;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (ll == 0) {
            out->headers_complete = true;
            break;
        }
        if (n_hdr >= HTTP_MAX_HEADERS)
            break;
        if (is_ows(line[0]))
            continue; /* obsolete line folding: continuation of the previous field */
        const uint8_t *colon = memchr(line, ':', ll);
        if (colon == NULL || colon == line)
            return FP_CLASSIFY_MALFORMED;
        size_t nlen = (size_t)(colon - line);
        for (size_t k = 0; k < nlen; k++)
            if (line[k] <= ' ' || line[k] == 0x7f)
                return FP_CLASSIFY_MALFORMED; /* RFC 9112 §5.1: no space before colon */
        const uint8_t *v = colon + 1;
        size_t vlen = ll - nlen - 1;
        while (vlen > 0 && is_ows(v[0])) {
            v++;
            vlen--;
        }
        while (vlen > 0 && is_ows(v[vlen - 1]))
            vlen--;
        if (name_is(line, nlen, "host")) {
            if (out->has_host || out->host_too_long) {
                out->host_dup = true;
                continue;
            }
            r = set_host(out, v, vlen);
            if (r != FP_CLASSIFY_OK)
                return r;
        } else if (name_is(line, nlen, "user-agent") && !out->has_user_agent) {
            out->ua_truncated = vlen >= sizeof(out->user_agent);
            str_store(out->user_agent, sizeof(out->user_agent), v, vlen, false,
                      &out->n_replaced);
            out->has_user_agent = true;
        }
    }
    if (!out->has_host && !out->host_too_long) {
        r = host_from_target(out, p + t0, t_end - t0);
        if (r != FP_CLASSIFY_OK)
            return r;
    }
    if (out->headers_complete || out->has_host)
        return FP_CLASSIFY_OK;
    return FP_CLASSIFY_NEED_MORE;
}
