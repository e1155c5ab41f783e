/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * SNMP: a net-snmp AgentX subagent on its own thread that serves FLOWPULSE-MIB
 * (conf/FLOWPULSE-MIB.txt, enterprises.<pen>.1) and a subset of IPFIX-MIB (RFC 6615,
 * mib-2.193) from a struct fp_snapshot.
 *
 * Threads: fp_snmp_start()/fp_snmp_stop() are called by the main thread. Every net-snmp call
 * happens on the SNMP thread, which also calls params->fill (at most every refresh_ms) to
 * refresh the snapshot it answers from. The subagent never reads worker memory. When the
 * master agent is absent or restarts, the thread reconnects quietly every ping_interval_s;
 * the rest of the daemon is not affected. Only one instance per process (net-snmp keeps
 * global state).
 */
#ifndef FP_SNMP_H
#define FP_SNMP_H

#include <stdint.h>

#include "common/fp_snapshot.h"

/** Default enterprise number: 32473, "Example Enterprise Number for Documentation Use". */
#define FP_SNMP_DEFAULT_PEN 32473u
#define FP_SNMP_DEFAULT_REFRESH_MS 1000u
#define FP_SNMP_DEFAULT_PING_S 5u

struct fp_snmp_params {
    const char *agentx_socket; /**< "/path/sock", "unix:/path", "tcp:127.0.0.1:705"; NULL = net-snmp default */
    unsigned refresh_ms;       /**< minimum time between two fill calls (0 = 1000) */
    uint32_t pen;              /**< enterprise number to register under (0 = 32473) */
    /** Fill @p out (zeroed before the call). Called on the SNMP thread only. */
    void (*fill)(void *arg, struct fp_snapshot *out);
    void *arg;
    unsigned ping_interval_s;  /**< AgentX ping / reconnect period (0 = 5 s) */
    const char *persistent_dir; /**< writable dir for net-snmp state (NULL = a private /tmp dir) */
    uint64_t drop_threshold_pps; /**< send fpDropsAboveThreshold above this drop rate (0 = off) */
};

struct fp_snmp;

/**
 * Start the subagent thread. Returns once the thread runs; connecting to the master happens
 * in the background (and again after every loss).
 * @return the handle, or NULL with errno: EINVAL (no fill callback), EALREADY (one is
 *         running), ENOMEM, or the pthread_create error
 */
struct fp_snmp *fp_snmp_start(const struct fp_snmp_params *p);

/** Stop the thread, unregister, free. NULL is allowed. Called from the thread that started it. */
void fp_snmp_stop(struct fp_snmp *s);

/** Whether the subagent is currently registered with the master agent (any thread). */
int fp_snmp_connected(const struct fp_snmp *s);

#endif /* FP_SNMP_H */
