/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Classification engine: names the application of each flow and maps it to a FlowPulse
 * class (enum fp_app_class), from operator rules, nDPI 4.2, our own metadata (TLS/QUIC SNI,
 * HTTP Host, DNS names) and a per-worker DNS answer cache.
 *
 * Pipeline place: decode → flow → **classify** (worker lcores), called from the flow
 * cache's per-flow extension hooks. One struct fp_classify_engine per worker, used only by
 * that worker (no locks). Everything is allocated by fp_classify_engine_create(): the nDPI
 * detection module, a bounded pool of per-flow inspection contexts (nDPI flow state plus a
 * reassembly buffer), the DNS answer cache. A flow takes a context on its first packet and
 * gives it back as soon as it is decided (or at the packet cap, or when it ends); after the
 * decision the per-packet cost is one flag test. Exception: nDPI 4.2 itself allocates
 * inside ndpi_detection_process_packet for a few dissectors (TLS record reassembly); that
 * memory is freed when the context is released.
 *
 * The class table (struct fp_classify_classes) and the rules (struct fp_classify_rules) are
 * immutable once built (main thread) and shared read-only by every worker; a reload builds
 * new ones and each worker switches with fp_classify_engine_set_tables() at a quiescent point.
 *
 * Decision order (src/classify/README.md has the details): operator rule > nDPI application
 * found in the payload > our "host:" table, then nDPI's host list, on SNI / Host / DNS name >
 * container protocol (TLS, QUIC, HTTP, DNS) > nDPI address or port guess > unknown.
 * Confidence per method: RULE 100, DPI 90, SNI 85, HOST 80, DNS 70, PORT 30, NONE 0.
 * App id: nDPI 4.2 protocol id of the application (app part, else master); a "host:" table
 * application nDPI does not know gets 0x4000 + row, a rule's 0x8000 + rule index; 0 = unknown.
 */
#ifndef FP_CLASSIFY_ENGINE_H
#define FP_CLASSIFY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/decode.h"
#include "flow/flow.h"

/* ------------------------------------------------------------------------------------ */
/* Classes and the application → class table                                            */
/* ------------------------------------------------------------------------------------ */

/** Names of enum fp_app_class ("unknown", "video", ...), as in the taxonomy. */
extern const char *const fp_app_class_names[FP_APP_CLASS_MAX];

/** Names of enum fp_app_method ("none", "dpi", "sni", "dns", "rule", "port", "host"). */
extern const char *const fp_app_method_names[FP_APP_METHOD_HOST + 1];

/** Confidence (0..100) given to a decision of each method. */
uint8_t fp_classify_method_confidence(enum fp_app_method m);

/**
 * Class of a class name.
 * @return the enum fp_app_class value, or -EINVAL for an unknown name
 */
int fp_app_class_from_name(const char *name);

/** Application → class table (immutable once built; shared by workers). */
struct fp_classify_classes;

/**
 * Build a table from text: one row per line, "NAME<whitespace>CLASS"; NAME is an nDPI
 * protocol name (exact case) or "category:" + an nDPI category name; or
 * "host:SUFFIX<whitespace>APP" (server names ending in SUFFIX are application APP, whose
 * class comes from its own row); '#' starts a comment.
 * A name listed twice keeps its first class (later rows are counted as duplicates).
 * @param text  the table
 * @param err   on failure: "line N: problem"
 * @return the table, or NULL with errno = EINVAL (bad row) or ENOMEM
 */
struct fp_classify_classes *fp_classify_classes_parse(const char *text, char *err, size_t errlen);

/**
 * Load the table from a file, or the built-in copy of conf/app-classes.conf compiled into
 * the binary when @p path is NULL or "".
 * @return the table, or NULL with errno = ENOENT (unreadable), EINVAL, ENOMEM
 */
struct fp_classify_classes *fp_classify_classes_load(const char *path, char *err, size_t errlen);

/** The built-in table's text (conf/app-classes.conf at build time). */
extern const char fp_classify_builtin_classes[];

/** Free a table (NULL accepted). */
void fp_classify_classes_destroy(struct fp_classify_classes *c);

/** Rows in the table (applications + categories). */
unsigned fp_classify_classes_count(const struct fp_classify_classes *c);

/**
 * Class of an application name (exact match).
 * @return enum fp_app_class, or -ENOENT when the application is not listed
 */
int fp_classify_classes_app(const struct fp_classify_classes *c, const char *app);

/**
 * Our server-name table ("host:SUFFIX APP" rows): the row whose suffix is the longest one
 * equal to @p name or ending it after a dot (ASCII case ignored).
 * @return the row index (see fp_classify_classes_host_app()), or -ENOENT
 */
int fp_classify_classes_host(const struct fp_classify_classes *c, const char *name);

/** Number of "host:" rows; application of row @p i (valid index). */
unsigned fp_classify_classes_host_count(const struct fp_classify_classes *c);
const char *fp_classify_classes_host_app(const struct fp_classify_classes *c, unsigned i);

/**
 * Class of an nDPI category name ("Media", "Web", ...).
 * @return enum fp_app_class, or -ENOENT when the category is not listed
 */
int fp_classify_classes_category(const struct fp_classify_classes *c, const char *category);

/* ------------------------------------------------------------------------------------ */
/* Operator rules                                                                        */
/* ------------------------------------------------------------------------------------ */

/** One operator rule as configured (classify.rules element). Empty criteria match all. */
struct fp_classify_rule_spec {
    const char *name_suffix; /**< "example.com", ".example.com" or "*.example.com": matches
                                  the SNI, Host or DNS name equal to it or ending in ".it" */
    const char *prefix;      /**< "10.0.0.0/8", "2001:db8::/32" or an address: either end */
    unsigned port;           /**< responder (server) port, 0 = any */
    unsigned proto;          /**< IP protocol number, 0 = any */
    const char *app;         /**< application name to report (required) */
    const char *cls;         /**< class name (required) */
};

/** Compiled rules (immutable; shared by workers). */
struct fp_classify_rules;

/**
 * Compile rules; a rule needs at least one criterion.
 * @param n   number of specs (0 gives an empty rule set)
 * @param err on failure: "rules[I]: problem"
 * @return the rules, or NULL with errno = EINVAL or ENOMEM
 */
struct fp_classify_rules *fp_classify_rules_create(const struct fp_classify_rule_spec *specs,
                                                   unsigned n, char *err, size_t errlen);

/** Free rules (NULL accepted). */
void fp_classify_rules_destroy(struct fp_classify_rules *r);

/** What a rule is matched against. Names may be NULL or "". */
struct fp_classify_rule_input {
    const char *names[3];   /**< SNI, HTTP Host, DNS name */
    const uint8_t *addr[2]; /**< initiator, responder address (bytes 0..3 for IPv4) */
    uint8_t ip_version;
    uint8_t proto;
    uint16_t server_port; /**< responder port */
};

/**
 * First rule (in configuration order) whose every criterion matches.
 * @return the rule index, or -ENOENT
 */
int fp_classify_rules_match(const struct fp_classify_rules *r,
                            const struct fp_classify_rule_input *in);

/** Application name, class of rule @p i (valid index). */
const char *fp_classify_rules_app(const struct fp_classify_rules *r, unsigned i);
enum fp_app_class fp_classify_rules_class(const struct fp_classify_rules *r, unsigned i);
unsigned fp_classify_rules_count(const struct fp_classify_rules *r);

/** True when suffix matches name: equal, or name ends with "." + suffix (ASCII, no case). */
bool fp_classify_name_suffix_match(const char *name, const char *suffix);

/* ------------------------------------------------------------------------------------ */
/* DNS answer cache                                                                      */
/* ------------------------------------------------------------------------------------ */

/** Bytes of a cached name, NUL included (names that do not fit are not cached). */
#define FP_CLASSIFY_DNS_NAME 64

/** Per-worker DNS answer cache: server address → the name a client asked for. */
struct fp_classify_dns_cache;

/** Counters of a DNS cache. */
struct fp_classify_dns_cache_stats {
    uint64_t inserts; /**< answers stored (new entries or refreshed ones) */
    uint64_t lookups;
    uint64_t hits;
    uint64_t expired;   /**< lookups that found the address with its TTL passed */
    uint64_t evictions; /**< live entries replaced because their set was full (LRU) */
    uint64_t too_long;  /**< names longer than FP_CLASSIFY_DNS_NAME - 1, not stored */
};

/**
 * Create a cache (4-way set associative, LRU within a set, TTL honoured).
 * @param entries capacity, rounded up to a power of two, >= 4
 * @return the cache, or NULL with errno = EINVAL or ENOMEM
 */
struct fp_classify_dns_cache *fp_classify_dns_cache_create(unsigned entries, bool prefault);

/** Free a cache (NULL accepted). */
void fp_classify_dns_cache_destroy(struct fp_classify_dns_cache *c);

/**
 * Remember that @p addr answers for @p name until now + ttl (ttl clamped to 30 s..1 day).
 * @param ip_version 4 (addr bytes 0..3) or 6
 */
void fp_classify_dns_cache_insert(struct fp_classify_dns_cache *c, uint8_t ip_version,
                                  const uint8_t *addr, const char *name, uint32_t ttl_s,
                                  uint64_t now_ns);

/**
 * Name cached for an address.
 * @return the name (valid until the next insert), or NULL (absent or expired)
 */
const char *fp_classify_dns_cache_lookup(struct fp_classify_dns_cache *c, uint8_t ip_version,
                                         const uint8_t *addr, uint64_t now_ns);

/** The cache's counters. */
const struct fp_classify_dns_cache_stats *
fp_classify_dns_cache_stats(const struct fp_classify_dns_cache *c);

/* ------------------------------------------------------------------------------------ */
/* Engine (one per worker)                                                               */
/* ------------------------------------------------------------------------------------ */

/** Engine counters: name, description. One block per worker, single writer. */
#define FP_CLASSIFY_COUNTERS(X)                                                                    \
    X(flows, "flows seen by the engine")                                                           \
    X(inspected, "flows that got an inspection context")                                           \
    X(not_inspected_pool_empty, "flows not inspected: every context was in use")                   \
    X(not_inspected_no_l4, "flows not inspected: first packet without L4 (fragment)")              \
    X(by_rule, "flows decided by an operator rule")                                                \
    X(by_dpi, "flows decided by nDPI")                                                             \
    X(by_sni, "flows decided by TLS/QUIC server name")                                             \
    X(by_host, "flows decided by HTTP Host")                                                       \
    X(by_dns, "flows decided by a DNS name (cache or query)")                                      \
    X(by_port, "flows decided by a port/address guess")                                            \
    X(unknown, "flows left unknown")                                                               \
    X(gave_up, "inspections ended at the packet cap (ndpi_detection_giveup)")                      \
    X(gave_up_named, "of which before the cap: named flow, nothing recognised in 4 payloads")      \
    X(ended_inspecting, "flows that ended while still being inspected")                            \
    X(ctx_released, "contexts given back to the pool")                                             \
    X(fast_path, "flows decided from our SNI/DNS parse without nDPI")                              \
    X(dpi_packets, "packets given to nDPI")                                                        \
    X(sni_found, "TLS/QUIC server names extracted")                                                \
    X(host_found, "HTTP Host names extracted")                                                     \
    X(dns_parsed, "DNS messages parsed")                                                           \
    X(dns_bad, "DNS messages rejected by the parser")                                              \
    X(quic_fail, "QUIC Initials that could not be decrypted or parsed")                     \
    X(dns_cache_inserts, "DNS answers stored in the DNS cache (new or refreshed)")           \
    X(dns_cache_lookups, "DNS cache lookups (server address to name)")                       \
    X(dns_cache_hits, "DNS cache lookups that found a live name")                            \
    X(dns_cache_expired, "DNS cache lookups that found the name's TTL passed")               \
    X(dns_cache_evictions, "DNS cache entries replaced because their set was full")          \
    X(dns_cache_too_long, "DNS names too long for the cache, not stored")

/** Counter block of one engine. */
struct fp_classify_stats {
#define FP_X_FIELD(name, desc) uint64_t name;
    FP_CLASSIFY_COUNTERS(FP_X_FIELD)
#undef FP_X_FIELD
    uint64_t ctx_in_use; /**< gauge: contexts taken */
};

extern const char *const fp_classify_counter_names[];
extern const unsigned fp_classify_counter_count;

/** Engine parameters (classify.* settings). */
struct fp_classify_params {
    unsigned max_packets; /**< packets inspected per flow before giving up (1..255) */
    unsigned contexts;    /**< inspection contexts in the pool (>= 1) */
    unsigned dns_cache;   /**< DNS cache entries (>= 4) */
    const struct fp_classify_classes *classes; /**< required; must outlive the engine */
    const struct fp_classify_rules *rules;     /**< NULL = none; must outlive the engine */
    bool prefault; /**< fault the context pool and DNS cache in at create (live capture: the
                        packet path then never stalls on a first touch); false: on first use
                        (a capture file only pays for what it uses) */
};

/** Per-flow state, zeroed by the flow cache when the flow starts. */
struct fp_classify_flow {
    struct fp_flow_app app; /**< result (filled when decided) */
    uint32_t ctx;           /**< inspection context index + 1, 0 = none */
    uint8_t state;          /**< 0 new, 1 inspecting, 2 decided */
    uint8_t n_pkts;         /**< packets inspected */
    uint8_t dns_pending;    /**< DNS flow decided, still parsing responses for the cache */
    uint8_t dns_answered;   /**< a DNS response of this flow was parsed */
};

/** Opaque per-worker engine. */
struct fp_classify_engine;

/**
 * Create a worker's engine (init time: allocates everything it will ever use).
 * @return the engine, or NULL with errno = EINVAL, ENOMEM or EIO (nDPI/OpenSSL failure)
 */
struct fp_classify_engine *fp_classify_engine_create(const struct fp_classify_params *p);

/** Destroy an engine (NULL accepted). Flows still holding contexts must not be used. */
void fp_classify_engine_destroy(struct fp_classify_engine *e);

/**
 * Feed one metered packet of a flow. Decided flows return at once.
 * @param dir   0 initiator → responder, 1 back
 * @param frame the frame @p m describes (m->l3_off etc. index it)
 * @return true when the flow was decided by this packet (f->app is final)
 */
bool fp_classify_flow_packet(struct fp_classify_engine *e, struct fp_classify_flow *f, unsigned dir,
                             const struct fp_pkt_meta *m, const uint8_t *frame, uint64_t ts_ns);

/**
 * Decide a flow now if it is still being inspected (flow end, or a record must be exported)
 * and release its context. No effect on decided flows.
 * @return true when this call decided the flow
 */
bool fp_classify_flow_finish(struct fp_classify_engine *e, struct fp_classify_flow *f);

/** The flow leaves the cache: give its context back (if any). */
void fp_classify_flow_release(struct fp_classify_engine *e, struct fp_classify_flow *f);

/** Application ids of a class table's "host:" rows and of a rule set (immutable). */
struct fp_classify_app_ids;

/**
 * Resolve the application ids of @p c's "host:" rows and of @p r's rules against the nDPI
 * protocol names of engine @p e (any thread: nDPI's protocol table is only read, and is not
 * written after the engine's creation, so e's worker may run meanwhile). Every engine of a
 * process gives the same ids, so one object serves all workers.
 * @param r  NULL = no rules
 * @return the ids, or NULL with errno = ENOMEM
 */
struct fp_classify_app_ids *fp_classify_app_ids_create(const struct fp_classify_engine *e,
                                                       const struct fp_classify_classes *c,
                                                       const struct fp_classify_rules *r);

/** Free ids (NULL accepted). */
void fp_classify_app_ids_destroy(struct fp_classify_app_ids *ids);

/**
 * Switch the engine to another class table and rule set (live reload). Call on the engine's
 * worker, between packets; it does not allocate. Flows already decided keep their decision
 * (struct fp_flow_app holds copies); flows still being inspected are decided with the new
 * tables. @p c, @p r and @p ids (from fp_classify_app_ids_create() with the same c and r)
 * must stay valid until the next switch or the engine's destruction.
 * @param r  NULL = no rules
 */
void fp_classify_engine_set_tables(struct fp_classify_engine *e,
                                   const struct fp_classify_classes *c,
                                   const struct fp_classify_rules *r,
                                   const struct fp_classify_app_ids *ids);

/** Live counters (readers on other threads use relaxed loads). The dns_cache_* members stay
 * 0 here: the DNS cache keeps them; fp_classify_engine_stats_read() merges both. */
const struct fp_classify_stats *fp_classify_engine_stats(const struct fp_classify_engine *e);

/**
 * @brief Snapshot of every counter of an engine, DNS cache included, from any thread
 *        (relaxed loads of what the owning worker writes).
 */
void fp_classify_engine_stats_read(const struct fp_classify_engine *e,
                                   struct fp_classify_stats *out);

/** The engine's DNS cache (for counters and tests). */
struct fp_classify_dns_cache *fp_classify_engine_dns_cache(struct fp_classify_engine *e);

#endif /* FP_CLASSIFY_ENGINE_H */
