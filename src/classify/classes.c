/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Application → class table (conf/app-classes.conf), class and method names, rules.
 * Built on the main thread; read-only afterwards (workers look up once per flow).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "classify/classify.h"
#include "classify/classify_engine.h"
#include "common/fp_compiler.h"

const char fp_classify_builtin_classes[] =
#include "fp_app_classes_gen.h"
    "";

const char *const fp_app_class_names[FP_APP_CLASS_MAX] = {
#define FP_X_NAME(name, text) text,
    FP_APP_CLASSES(FP_X_NAME)
#undef FP_X_NAME
};

const char *const fp_app_method_names[FP_APP_METHOD_HOST + 1] = {
    [FP_APP_METHOD_NONE] = "none", [FP_APP_METHOD_DPI] = "dpi",   [FP_APP_METHOD_SNI] = "sni",
    [FP_APP_METHOD_DNS] = "dns",   [FP_APP_METHOD_RULE] = "rule", [FP_APP_METHOD_PORT] = "port",
    [FP_APP_METHOD_HOST] = "host",
};

uint8_t fp_classify_method_confidence(enum fp_app_method m)
{
    switch (m) {
    case FP_APP_METHOD_RULE:
        return 100;
    case FP_APP_METHOD_DPI:
        return 90;
    case FP_APP_METHOD_SNI:
        return 85;
    case FP_APP_METHOD_HOST:
        return 80;
    case FP_APP_METHOD_DNS:
        return 70;
    case FP_APP_METHOD_PORT:
        return 30;
    case FP_APP_METHOD_NONE:
    default:
        return 0;
    }
}

int fp_app_class_from_name(const char *name)
{
    for (unsigned i = 0; i < FP_APP_CLASS_MAX; i++)
        if (name && strcmp(name, fp_app_class_names[i]) == 0)
            return (int)i;
    return -EINVAL;
}

/* ---- class table ----------------------------------------------------------------------- */

#define CLASS_NAME_MAX 64

struct class_row {
    char name[CLASS_NAME_MAX]; /* "YouTube" or "category:Media" */
    uint8_t cls;
};

/* "host:SUFFIX APP": a server name equal to SUFFIX or ending in ".SUFFIX" is APP. */
struct host_row {
    char suffix[FP_CLASSIFY_NAME_MAX]; /* lower case */
    char app[CLASS_NAME_MAX];
};

struct fp_classify_classes {
    unsigned n;
    struct class_row *rows; /* sorted by name */
    unsigned n_hosts;
    struct host_row *hosts; /* sorted by suffix */
};

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct class_row *)a)->name, ((const struct class_row *)b)->name);
}

static int host_cmp(const void *a, const void *b)
{
    return strcmp(((const struct host_row *)a)->suffix, ((const struct host_row *)b)->suffix);
}

/* Add a "host:SUFFIX APP" row; @return NULL or the problem. */
static const char *add_host(struct fp_classify_classes *c, const char *suffix, const char *app)
{
    if (!*suffix)
        return "empty host suffix";
    if (strlen(suffix) >= FP_CLASSIFY_NAME_MAX)
        return "host suffix too long";
    if (strlen(app) >= CLASS_NAME_MAX)
        return "application name too long";
    for (unsigned i = 0; i < c->n_hosts; i++)
        if (strcasecmp(c->hosts[i].suffix, suffix) == 0)
            return NULL; /* first row wins */
    struct host_row *h = &c->hosts[c->n_hosts++];
    for (size_t i = 0; suffix[i]; i++)
        h->suffix[i] = (char)tolower((unsigned char)suffix[i]);
    h->suffix[strlen(suffix)] = '\0';
    snprintf(h->app, sizeof(h->app), "%s", app);
    return NULL;
}

struct fp_classify_classes *fp_classify_classes_parse(const char *text, char *err, size_t errlen)
{
    struct fp_classify_classes *c = calloc(1, sizeof(*c));
    unsigned cap = 0;
    int e = ENOMEM;
    if (!c)
        goto fail;
    for (const char *p = text; *p; p++)
        cap += *p == '\n';
    c->rows = calloc(cap + 1, sizeof(*c->rows));
    c->hosts = calloc(cap + 1, sizeof(*c->hosts));
    if (!c->rows || !c->hosts)
        goto fail;
    unsigned line = 0;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char buf[256];
        line++;
        if (len >= sizeof(buf)) {
            snprintf(err, errlen, "line %u: too long", line);
            e = EINVAL;
            goto fail;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        p += len + (eol ? 1 : 0);
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL;
        char *name = strtok_r(buf, " \t\r", &save);
        if (!name)
            continue;
        char *cls = strtok_r(NULL, " \t\r", &save);
        char *more = cls ? strtok_r(NULL, " \t\r", &save) : NULL;
        if (!cls || more) {
            snprintf(err, errlen, "line %u: expected NAME CLASS", line);
            e = EINVAL;
            goto fail;
        }
        if (strncmp(name, "host:", 5) == 0) {
            const char *why = add_host(c, name + 5, cls);
            if (why) {
                snprintf(err, errlen, "line %u: %s", line, why);
                e = EINVAL;
                goto fail;
            }
            continue;
        }
        int k = fp_app_class_from_name(cls);
        if (k < 0) {
            snprintf(err, errlen, "line %u: unknown class \"%s\"", line, cls);
            e = EINVAL;
            goto fail;
        }
        if (strlen(name) >= CLASS_NAME_MAX) {
            snprintf(err, errlen, "line %u: name longer than %d bytes", line, CLASS_NAME_MAX - 1);
            e = EINVAL;
            goto fail;
        }
        bool dup = false;
        for (unsigned i = 0; i < c->n && !dup; i++)
            dup = strcmp(c->rows[i].name, name) == 0;
        if (dup)
            continue; /* first row wins */
        snprintf(c->rows[c->n].name, CLASS_NAME_MAX, "%s", name);
        c->rows[c->n].cls = (uint8_t)k;
        c->n++;
    }
    qsort(c->rows, c->n, sizeof(*c->rows), row_cmp);
    qsort(c->hosts, c->n_hosts, sizeof(*c->hosts), host_cmp);
    return c;

fail:
    fp_classify_classes_destroy(c);
    errno = e;
    return NULL;
}

struct fp_classify_classes *fp_classify_classes_load(const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return fp_classify_classes_parse(fp_classify_builtin_classes, err, errlen);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        errno = ENOENT;
        return NULL;
    }
    char *text = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 16384;
            char *t = realloc(text, ncap);
            if (!t) {
                free(text);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            text = t;
            cap = ncap;
        }
        size_t r = fread(text + len, 1, 4096, f);
        len += r;
        if (r < 4096)
            break;
    }
    fclose(f);
    text[len] = '\0';
    char e2[200] = "";
    struct fp_classify_classes *c = fp_classify_classes_parse(text, e2, sizeof(e2));
    int saved = errno;
    if (!c)
        snprintf(err, errlen, "%s: %s", path, e2);
    free(text);
    errno = saved;
    return c;
}

void fp_classify_classes_destroy(struct fp_classify_classes *c)
{
    if (!c)
        return;
    free(c->rows);
    free(c->hosts);
    free(c);
}

unsigned fp_classify_classes_count(const struct fp_classify_classes *c)
{
    return c->n;
}

unsigned fp_classify_classes_host_count(const struct fp_classify_classes *c)
{
    return c->n_hosts;
}

const char *fp_classify_classes_host_app(const struct fp_classify_classes *c, unsigned i)
{
    return c->hosts[i].app;
}

int fp_classify_classes_host(const struct fp_classify_classes *c, const char *name)
{
    if (!name || !*name || c->n_hosts == 0)
        return -ENOENT;
    struct host_row k;
    size_t len = strlen(name);
    if (len >= sizeof(k.suffix))
        return -ENOENT;
    for (size_t i = 0; i <= len; i++)
        k.suffix[i] = (char)tolower((unsigned char)name[i]);
    /* The longest suffix wins: try the whole name, then after each dot. */
    for (const char *p = k.suffix; p && *p;) {
        struct host_row q;
        memcpy(q.suffix, p, strlen(p) + 1);
        const struct host_row *r = bsearch(&q, c->hosts, c->n_hosts, sizeof(q), host_cmp);
        if (r)
            return (int)(r - c->hosts);
        p = strchr(p, '.');
        if (p)
            p++;
    }
    return -ENOENT;
}

static int lookup(const struct fp_classify_classes *c, const char *key)
{
    struct class_row k;
    if (!key || strlen(key) >= CLASS_NAME_MAX)
        return -ENOENT;
    snprintf(k.name, sizeof(k.name), "%s", key);
    const struct class_row *r = bsearch(&k, c->rows, c->n, sizeof(k), row_cmp);
    return r ? r->cls : -ENOENT;
}

int fp_classify_classes_app(const struct fp_classify_classes *c, const char *app)
{
    if (!app || !*app || strncmp(app, "category:", 9) == 0)
        return -ENOENT;
    return lookup(c, app);
}

int fp_classify_classes_category(const struct fp_classify_classes *c, const char *category)
{
    char key[CLASS_NAME_MAX];
    if (!category || !*category)
        return -ENOENT;
    int n = snprintf(key, sizeof(key), "category:%s", category);
    if (n < 0 || (size_t)n >= sizeof(key))
        return -ENOENT;
    return lookup(c, key);
}

/* ---- rules ------------------------------------------------------------------------------ */

struct rule {
    char suffix[256];
    uint8_t addr[16];
    uint8_t plen;
    uint8_t ip_version; /* 0: no prefix criterion */
    uint16_t port;
    uint8_t proto;
    uint8_t cls;
    char app[32];
};

struct fp_classify_rules {
    unsigned n;
    struct rule r[];
};

bool fp_classify_name_suffix_match(const char *name, const char *suffix)
{
    if (!name || !suffix || !*suffix)
        return false;
    size_t ln = strlen(name), ls = strlen(suffix);
    if (ln < ls)
        return false;
    if (strcasecmp(name + ln - ls, suffix) != 0)
        return false;
    return ln == ls || name[ln - ls - 1] == '.';
}

static int parse_prefix(const char *s, struct rule *r)
{
    char buf[64];
    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    snprintf(buf, sizeof(buf), "%s", s);
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        plen = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || plen < 0)
            return -EINVAL;
    }
    memset(r->addr, 0, sizeof(r->addr));
    if (inet_pton(AF_INET, buf, r->addr) == 1) {
        r->ip_version = 4;
        if (plen > 32)
            return -EINVAL;
        r->plen = (uint8_t)(plen < 0 ? 32 : plen);
    } else if (inet_pton(AF_INET6, buf, r->addr) == 1) {
        r->ip_version = 6;
        if (plen > 128)
            return -EINVAL;
        r->plen = (uint8_t)(plen < 0 ? 128 : plen);
    } else {
        return -EINVAL;
    }
    /* Host bits must be zero, so a typo such as 10.1.2.3/8 is caught. */
    for (unsigned b = r->plen; b < (r->ip_version == 4 ? 32u : 128u); b++)
        if (r->addr[b / 8] & (0x80 >> (b % 8)))
            return -EINVAL;
    return 0;
}

struct fp_classify_rules *fp_classify_rules_create(const struct fp_classify_rule_spec *specs,
                                                   unsigned n, char *err, size_t errlen)
{
    struct fp_classify_rules *rs = calloc(1, sizeof(*rs) + (size_t)n * sizeof(struct rule));
    if (!rs) {
        errno = ENOMEM;
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        const struct fp_classify_rule_spec *s = &specs[i];
        struct rule *r = &rs->r[i];
        const char *why = NULL;
        const char *suf = s->name_suffix ? s->name_suffix : "";
        if (strncmp(suf, "*.", 2) == 0)
            suf += 2;
        else if (*suf == '.')
            suf += 1;
        int k = fp_app_class_from_name(s->cls);
        if (!s->app || !*s->app)
            why = "app is required";
        else if (strlen(s->app) >= sizeof(r->app))
            why = "app longer than 31 bytes";
        else if (k < 0)
            why = "class is not a FlowPulse class";
        else if (strlen(suf) >= sizeof(r->suffix))
            why = "name_suffix too long";
        else if (s->prefix && *s->prefix && parse_prefix(s->prefix, r) != 0)
            why = "prefix is not ADDRESS[/LEN] with zero host bits";
        else if (s->port > 65535)
            why = "port out of range 0..65535";
        else if (s->proto > 255)
            why = "proto out of range 0..255";
        else if (!*suf && r->ip_version == 0 && s->port == 0 && s->proto == 0)
            why = "needs a criterion (name_suffix, prefix, port or proto)";
        if (why) {
            snprintf(err, errlen, "rules[%u]: %s", i, why);
            free(rs);
            errno = EINVAL;
            return NULL;
        }
        snprintf(r->suffix, sizeof(r->suffix), "%s", suf);
        snprintf(r->app, sizeof(r->app), "%s", s->app);
        r->cls = (uint8_t)k;
        r->port = (uint16_t)s->port;
        r->proto = (uint8_t)s->proto;
    }
    rs->n = n;
    return rs;
}

void fp_classify_rules_destroy(struct fp_classify_rules *r)
{
    free(r);
}

static bool prefix_match(const struct rule *r, const uint8_t *a)
{
    unsigned full = r->plen / 8, rem = r->plen % 8;
    if (memcmp(r->addr, a, full) != 0)
        return false;
    if (rem == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rem));
    return (r->addr[full] & mask) == (a[full] & mask);
}

int fp_classify_rules_match(const struct fp_classify_rules *rs,
                            const struct fp_classify_rule_input *in)
{
    if (!rs)
        return -ENOENT;
    for (unsigned i = 0; i < rs->n; i++) {
        const struct rule *r = &rs->r[i];
        if (r->proto && r->proto != in->proto)
            continue;
        if (r->port && r->port != in->server_port)
            continue;
        if (r->ip_version) {
            if (r->ip_version != in->ip_version)
                continue;
            if (!(in->addr[0] && prefix_match(r, in->addr[0])) &&
                !(in->addr[1] && prefix_match(r, in->addr[1])))
                continue;
        }
        if (r->suffix[0]) {
            bool any = false;
            for (unsigned k = 0; k < 3 && !any; k++)
                any = in->names[k] && fp_classify_name_suffix_match(in->names[k], r->suffix);
            if (!any)
                continue;
        }
        return (int)i;
    }
    return -ENOENT;
}

const char *fp_classify_rules_app(const struct fp_classify_rules *r, unsigned i)
{
    return r->r[i].app;
}

enum fp_app_class fp_classify_rules_class(const struct fp_classify_rules *r, unsigned i)
{
    return (enum fp_app_class)r->r[i].cls;
}

unsigned fp_classify_rules_count(const struct fp_classify_rules *r)
{
    return r ? r->n : 0;
}
