/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * @brief flowpulse-relay: TLS/DTLS-terminating IPFIX relay for the collector's host.
 *
 * Accepts IPFIX-over-TLS and IPFIX-over-DTLS sessions from FlowPulse exporters (mutual
 * authentication) and
 * forwards every IPFIX message over UDP (split to the UDP maximum, templates re-sent) or TCP
 * to a local, unmodified collector (nfcapd, nfacctd, ...). One thread, poll(), non-blocking
 * sockets. The stream logic (framing, template cache, splitting) is in
 * src/export/ipfix_stream.h so that it is unit-tested without sockets.
 * Not part of libflowpulse.a: the Makefile builds build/flowpulse-relay from the .c files of src/relay/.
 */
#ifndef FP_RELAY_H
#define FP_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/fp_log.h"

/** Relay-wide counters (X-macro: name, description), logged at exit and on SIGUSR1. */
#define FP_RELAY_COUNTERS(X)                                                                 \
    X(sessions, "TLS and DTLS sessions established")                                         \
    X(dtls_sessions, "DTLS sessions established (included in sessions)")                     \
    X(handshake_failures, "TLS handshakes that failed (bad/missing certificate, protocol)")  \
    X(peers_refused, "sessions refused by the peer-name allow-list")                         \
    X(sessions_limit, "connections refused because max_sessions were open")                  \
    X(malformed_sessions, "sessions closed because their stream was not valid IPFIX")        \
    X(malformed_msgs, "DTLS records dropped: not one valid IPFIX message")                   \
    X(dtls_cookies, "DTLS HelloVerifyRequests sent (cookie exchange)")                       \
    X(dtls_bad_datagrams, "datagrams from unknown peers dropped: no valid ClientHello")      \
    X(dtls_idle_timeouts, "DTLS sessions closed after dtls_idle_timeout_s without data")     \
    X(msgs_in, "IPFIX messages received")                                                    \
    X(bytes_in, "octets of IPFIX received")                                                  \
    X(msgs_out, "IPFIX messages sent to the collector")                                      \
    X(bytes_out, "octets sent to the collector")                                             \
    X(splits, "messages split for the UDP maximum")                                          \
    X(oversize, "messages sent above the UDP maximum (a record too large)")                  \
    X(template_resends, "template re-send messages")                                         \
    X(collector_refused, "sends answered by ECONNREFUSED (collector port closed)")           \
    X(collector_send_errors, "other send errors towards the collector")                      \
    X(collector_drops, "messages dropped because the collector (TCP) was down")              \
    X(collector_restarts, "collector restarts suspected (UDP: refused, then templates)")

/** Relay counters. */
struct fp_relay_stats {
#define FP_RELAY_X_FIELD(name, desc) uint64_t name;
    FP_RELAY_COUNTERS(FP_RELAY_X_FIELD)
#undef FP_RELAY_X_FIELD
};

#define FP_RELAY_MAX_ALLOW 32

/** Configuration (config file, then command-line options). */
struct fp_relay_conf {
    char listen[256];          /**< TLS "host:port" or "[v6]:port"; default 127.0.0.1:4740;
                                    "" = no TLS listener */
    char dtls_listen[256];     /**< DTLS (UDP) address, same syntax; "" = no DTLS listener */
    char collector[256];       /**< "udp://host:port" or "tcp://host:port" */
    char cert[512];            /**< server certificate chain (PEM) */
    char key[512];             /**< server private key (PEM) */
    char ca[512];              /**< CA bundle verifying client certificates (PEM) */
    char ciphers[512];         /**< TLS 1.2 cipher list ("" = OpenSSL default) */
    char *allow[FP_RELAY_MAX_ALLOW]; /**< accepted client DNS-IDs / CNs; none = any verified */
    unsigned nallow;
    uint32_t udp_max;          /**< largest UDP IPFIX message, octets; default 1472 */
    unsigned refresh_s;        /**< UDP template re-send interval, s; default 30 */
    unsigned reconnect_s;      /**< TCP collector reconnect interval, s; default 10 */
    unsigned max_sessions;     /**< concurrent exporter sessions; default 64 */
    unsigned handshake_s;      /**< TLS/DTLS handshake timeout, s; default 10 */
    unsigned dtls_idle_s;      /**< DTLS session idle timeout, s; default 300 */
    enum fp_log_level log_level;
};

#endif /* FP_RELAY_H */
