/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Privilege drop of the daemon (daemon.user, daemon.group): after the EAL, the ports, the
 * export sockets and files are set up as root, the process switches to an unprivileged
 * user for the rest of its life. Main thread only; glibc applies set*id() to every thread
 * of the process (workers, exporter, SNMP), so the drop may happen after threads started.
 */
#ifndef FP_PRIV_H
#define FP_PRIV_H

#include <stddef.h>
#include <sys/types.h>

/** A resolved user and group. */
struct fp_priv_ids {
    uid_t uid;
    gid_t gid;
    char user[64];  /**< user name (or the number as written when it has no passwd entry) */
    char group[64]; /**< group name (or the number) */
    int has_pw;     /**< 1 when the user has a passwd entry (supplementary groups from it) */
};

/**
 * Look up @p user (name or number) and @p group (name or number; "" = the user's primary
 * group). Main thread (getpwnam/getgrnam).
 * @param err  on failure: "daemon.user: no such user \"x\"" or similar
 * @return 0, -ENOENT (unknown user or group), -EINVAL (empty user, bad number)
 */
int fp_priv_resolve(const char *user, const char *group, struct fp_priv_ids *out, char *err,
                    size_t errlen);

/**
 * Give a directory FlowPulse writes into after the drop (export.spool_dir) and the
 * directories and files directly inside it to @p ids. Refuses shared directories
 * (world-writable or sticky, such as /tmp): they are never chowned.
 * @return 0, -EPERM (shared directory), or -errno of open (-ELOOP for a symlink, -ENOTDIR)
 *         or fchown
 */
int fp_priv_handover(const struct fp_priv_ids *ids, const char *dir, char *err, size_t errlen);

/**
 * Switch to @p ids for good: supplementary groups (the user's, from the group database, or
 * only the group), gid, uid; then verify real, effective and saved ids and that uid 0
 * cannot be regained.
 * @param err  on failure: which step failed and why
 * @return 0, or -errno (-EPERM when not running as root, or a check failed)
 */
int fp_priv_drop(const struct fp_priv_ids *ids, char *err, size_t errlen);

#endif /* FP_PRIV_H */
