/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Control: the JSON writer (escaping, ISO 8601 times), the pretty printer of flowpulsectl
 * and the parser of the final response line. Control thread and flowpulsectl only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/control.h"
#include "control/control_internal.h"

static bool reserve(struct fp_control_json *j, size_t more)
{
    if (j->failed)
        return false;
    if (j->len + more + 1 <= j->cap)
        return true;
    size_t cap = j->cap ? j->cap : 1024;
    while (cap < j->len + more + 1)
        cap *= 2;
    if (cap > FP_CONTROL_JSON_MAX) {
        j->failed = true;
        return false;
    }
    char *b = realloc(j->buf, cap);
    if (!b) {
        j->failed = true;
        return false;
    }
    j->buf = b;
    j->cap = cap;
    return true;
}

static void put(struct fp_control_json *j, const char *s, size_t n)
{
    if (!reserve(j, n))
        return;
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void putc1(struct fp_control_json *j, char ch)
{
    put(j, &ch, 1);
}

void fp_control_json_reset(struct fp_control_json *j)
{
    j->len = 0;
    j->comma = false;
    j->failed = false;
    if (j->buf)
        j->buf[0] = '\0';
}

void fp_control_json_free(struct fp_control_json *j)
{
    free(j->buf);
    j->buf = NULL;
    j->len = j->cap = 0;
    j->comma = false;
    j->failed = false;
}

void fp_control_json_raw(struct fp_control_json *j, const char *text)
{
    put(j, text, strlen(text));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes are not one. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values above U+10FFFF are not UTF-8. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void put_escaped(struct fp_control_json *j, const char *str, size_t max)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strnlen(str, max);
    putc1(j, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(j, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            const char *short_esc = c == '\n'   ? "\\n"
                                    : c == '\r' ? "\\r"
                                    : c == '\t' ? "\\t"
                                    : c == '\b' ? "\\b"
                                    : c == '\f' ? "\\f"
                                                : NULL;
            if (short_esc) {
                put(j, short_esc, 2);
            } else {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                put(j, esc, 6);
            }
            i++;
        } else {
            size_t l = utf8_len(s + i, n - i);
            if (l == 0) {
                put(j, "\\ufffd", 6);
                i++;
            } else {
                put(j, (const char *)s + i, l);
                i += l;
            }
        }
    }
    putc1(j, '"');
}

static void put_key(struct fp_control_json *j, const char *key)
{
    if (j->comma)
        putc1(j, ',');
    j->comma = true;
    if (key) {
        put_escaped(j, key, SIZE_MAX);
        putc1(j, ':');
    }
}

void fp_control_json_obj_begin(struct fp_control_json *j, const char *key)
{
    put_key(j, key);
    putc1(j, '{');
    j->comma = false;
}

void fp_control_json_obj_end(struct fp_control_json *j)
{
    putc1(j, '}');
    j->comma = true;
}

void fp_control_json_arr_begin(struct fp_control_json *j, const char *key)
{
    put_key(j, key);
    putc1(j, '[');
    j->comma = false;
}

void fp_control_json_arr_end(struct fp_control_json *j)
{
    putc1(j, ']');
    j->comma = true;
}

void fp_control_json_u64(struct fp_control_json *j, const char *key, uint64_t v)
{
    char b[24];
    put_key(j, key);
    int n = snprintf(b, sizeof(b), "%" PRIu64, v);
    put(j, b, (size_t)n);
}

void fp_control_json_i64(struct fp_control_json *j, const char *key, int64_t v)
{
    char b[24];
    put_key(j, key);
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    put(j, b, (size_t)n);
}

void fp_control_json_bool(struct fp_control_json *j, const char *key, bool v)
{
    put_key(j, key);
    fp_control_json_raw(j, v ? "true" : "false");
}

void fp_control_json_str(struct fp_control_json *j, const char *key, const char *s)
{
    put_key(j, key);
    put_escaped(j, s ? s : "", SIZE_MAX);
}

void fp_control_json_strn(struct fp_control_json *j, const char *key, const char *s, size_t n)
{
    put_key(j, key);
    put_escaped(j, s ? s : "", s ? n : 0);
}

void fp_control_json_time(struct fp_control_json *j, const char *key, uint64_t ns)
{
    char b[40];
    time_t sec = (time_t)(ns / 1000000000u);
    unsigned ms = (unsigned)(ns / 1000000u % 1000u);
    struct tm tm;
    if (!gmtime_r(&sec, &tm)) {
        fp_control_json_str(j, key, "");
        return;
    }
    size_t n = strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(b + n, sizeof(b) - n, ".%03uZ", ms);
    fp_control_json_str(j, key, b);
}

void fp_control_end_error(struct fp_control_json *j, const char *error, bool usage)
{
    j->comma = false;
    fp_control_json_obj_begin(j, NULL);
    fp_control_json_bool(j, "ok", false);
    fp_control_json_str(j, "error", error);
    if (usage)
        fp_control_json_bool(j, "usage", true);
    fp_control_json_obj_end(j);
    fp_control_json_raw(j, "\n");
    j->comma = false;
}

/* ---- client side ------------------------------------------------------------------------ */

/* Unescape the JSON string starting after the opening quote at *p; stops at the closing
 * quote. Non-ASCII \u escapes become '?'. */
static int read_string(const char **p, char *out, size_t outlen)
{
    const char *s = *p;
    size_t o = 0;
    while (*s && *s != '"') {
        char c = *s++;
        if (c == '\\') {
            char e = *s++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *s++;
                    v <<= 4;
                    if (h >= '0' && h <= '9')
                        v |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f')
                        v |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F')
                        v |= (unsigned)(h - 'A' + 10);
                    else
                        return -EINVAL;
                }
                c = v >= 0x20 && v < 0x7f ? (char)v : '?';
                break;
            }
            case '\0':
                return -EINVAL;
            default:
                c = e;
                break;
            }
        }
        if (outlen && o + 1 < outlen)
            out[o++] = c;
    }
    if (*s != '"')
        return -EINVAL;
    if (outlen)
        out[o] = '\0';
    *p = s + 1;
    return 0;
}

int fp_control_end_parse(const char *line, bool *ok, bool *usage, char *err, size_t errlen)
{
    *ok = false;
    *usage = false;
    if (errlen)
        err[0] = '\0';
    if (strncmp(line, "{\"ok\":true", 10) == 0) {
        *ok = true;
        return 0;
    }
    if (strncmp(line, "{\"ok\":false", 11) != 0)
        return -EINVAL;
    const char *e = strstr(line, "\"error\":\"");
    if (e) {
        e += 9;
        if (read_string(&e, err, errlen) != 0)
            return -EINVAL;
    }
    *usage = strstr(line, "\"usage\":true") != NULL;
    return 0;
}

static void indent(struct fp_control_json *out, int depth)
{
    putc1(out, '\n');
    for (int i = 0; i < depth; i++)
        put(out, "  ", 2);
}

int fp_control_json_pretty(const char *in, struct fp_control_json *out)
{
    int depth = 0;
    for (const char *s = in; *s; s++) {
        char c = *s;
        switch (c) {
        case '"': {
            const char *st = s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1])
                    s++;
                s++;
            }
            if (*s != '"')
                return -EINVAL;
            put(out, st, (size_t)(s - st + 1));
            break;
        }
        case '{':
        case '[':
            putc1(out, c);
            if (s[1] == (c == '{' ? '}' : ']')) {
                putc1(out, *++s);
                break;
            }
            indent(out, ++depth);
            break;
        case '}':
        case ']':
            if (--depth < 0)
                return -EINVAL;
            indent(out, depth);
            putc1(out, c);
            break;
        case ',':
            putc1(out, c);
            indent(out, depth);
            break;
        case ':':
            put(out, ": ", 2);
            break;
        case '\n':
        case '\r':
            break;
        default:
            putc1(out, c);
            break;
        }
    }
    if (depth != 0)
        return -EINVAL;
    putc1(out, '\n');
    return out->failed ? -ENOMEM : 0;
}
