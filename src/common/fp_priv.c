/* SPDX-License-Identifier: BSD-3-Clause */
#include "common/fp_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void __attribute__((format(printf, 3, 4))) fmt(char *buf, size_t len, const char *f, ...)
{
    va_list ap;

    if (buf == NULL || len == 0)
        return;
    va_start(ap, f);
    vsnprintf(buf, len, f, ap);
    va_end(ap);
}

/* "123" → 0 and *out; anything else → -EINVAL. */
static int parse_id(const char *s, unsigned long *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end != '\0' || v >= UINT_MAX)
        return -EINVAL;
    *out = v;
    return 0;
}

int fp_priv_resolve(const char *user, const char *group, struct fp_priv_ids *out, char *err,
                    size_t errlen)
{
    unsigned long id;

    memset(out, 0, sizeof(*out));
    if (user == NULL || user[0] == '\0') {
        fmt(err, errlen, "daemon.user: empty");
        return -EINVAL;
    }
    struct passwd *pw = getpwnam(user);
    if (pw == NULL && parse_id(user, &id) == 0)
        pw = getpwuid((uid_t)id);
    if (pw != NULL) {
        out->uid = pw->pw_uid;
        out->gid = pw->pw_gid;
        out->has_pw = 1;
        snprintf(out->user, sizeof(out->user), "%s", pw->pw_name);
    } else if (parse_id(user, &id) == 0) {
        if (group == NULL || group[0] == '\0') {
            fmt(err, errlen, "daemon.user: uid %s has no passwd entry: set daemon.group", user);
            return -ENOENT;
        }
        out->uid = (uid_t)id;
        snprintf(out->user, sizeof(out->user), "%s", user);
    } else {
        fmt(err, errlen, "daemon.user: no such user \"%s\"", user);
        return -ENOENT;
    }
    if (group == NULL || group[0] == '\0') {
        struct group *gr = getgrgid(out->gid);
        if (gr != NULL)
            snprintf(out->group, sizeof(out->group), "%s", gr->gr_name);
        else
            snprintf(out->group, sizeof(out->group), "%u", (unsigned)out->gid);
        return 0;
    }
    struct group *gr = getgrnam(group);
    if (gr == NULL && parse_id(group, &id) == 0)
        gr = getgrgid((gid_t)id);
    if (gr != NULL) {
        out->gid = gr->gr_gid;
        snprintf(out->group, sizeof(out->group), "%s", gr->gr_name);
    } else if (parse_id(group, &id) == 0) {
        out->gid = (gid_t)id;
        snprintf(out->group, sizeof(out->group), "%s", group);
    } else {
        fmt(err, errlen, "daemon.group: no such group \"%s\"", group);
        return -ENOENT;
    }
    return 0;
}

int fp_priv_handover(const struct fp_priv_ids *ids, const char *dir, char *err, size_t errlen)
{
    struct stat st;
    int rc = 0;

    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        fmt(err, errlen, "%s: %s", dir, strerror(errno));
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        fmt(err, errlen, "%s: %s", dir, strerror(errno));
        goto out;
    }
    if (st.st_mode & (S_IWOTH | S_ISVTX)) {
        fmt(err, errlen, "%s is shared (world-writable or sticky): use a directory of its own",
            dir);
        rc = -EPERM;
        goto out;
    }
    if (fchown(fd, ids->uid, ids->gid) != 0) {
        rc = -errno;
        fmt(err, errlen, "chown %s: %s", dir, strerror(errno));
        goto out;
    }
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        rc = -errno;
        if (dfd >= 0)
            close(dfd);
        fmt(err, errlen, "%s: %s", dir, strerror(-rc));
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            continue;
        if (fchownat(fd, e->d_name, ids->uid, ids->gid, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -errno;
            fmt(err, errlen, "chown %s/%s: %s", dir, e->d_name, strerror(errno));
            break;
        }
    }
    closedir(d);
out:
    close(fd);
    return rc;
}

int fp_priv_drop(const struct fp_priv_ids *ids, char *err, size_t errlen)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    int rc;

    if (geteuid() != 0) {
        fmt(err, errlen, "not running as root (euid %u)", (unsigned)geteuid());
        return -EPERM;
    }
    if (ids->has_pw)
        rc = initgroups(ids->user, ids->gid);
    else
        rc = setgroups(1, &ids->gid);
    if (rc != 0) {
        rc = -errno;
        fmt(err, errlen, "setting the supplementary groups of %s: %s", ids->user, strerror(-rc));
        return rc;
    }
    if (setresgid(ids->gid, ids->gid, ids->gid) != 0) {
        rc = -errno;
        fmt(err, errlen, "setgid(%u): %s", (unsigned)ids->gid, strerror(-rc));
        return rc;
    }
    if (setresuid(ids->uid, ids->uid, ids->uid) != 0) {
        rc = -errno;
        fmt(err, errlen, "setuid(%u): %s", (unsigned)ids->uid, strerror(-rc));
        return rc;
    }
    /* Verify: every id changed, and (for a non-root target) root cannot come back. */
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != ids->uid ||
        eu != ids->uid || su != ids->uid || rg != ids->gid || eg != ids->gid || sg != ids->gid) {
        fmt(err, errlen, "ids after the switch are uid %u/%u/%u gid %u/%u/%u, not %u/%u",
            (unsigned)getuid(), (unsigned)geteuid(), (unsigned)su, (unsigned)getgid(),
            (unsigned)getegid(), (unsigned)sg, (unsigned)ids->uid, (unsigned)ids->gid);
        return -EPERM;
    }
    if (ids->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        fmt(err, errlen, "uid 0 could be regained after the switch");
        return -EPERM;
    }
    return 0;
}
