/* Map key and value layouts of the eBPF dataplane: the one definition that the BPF programs
 * (C, clang -target bpf) and the C++ loader both include. The static asserts keep the layouts
 * identical on both sides; addresses and ports are in network byte order, as the kernel hands
 * them to the programs. */
#ifndef SWITCHYARD_LB_TYPES_H
#define SWITCHYARD_LB_TYPES_H

#include <linux/types.h>

#ifdef __cplusplus
#define LB_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define LB_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Versioned map names (lb4_services_v1 ...): an upgrade that changes a layout gets new maps
 * and can migrate from the old pins. */
#define LB_MAP_VERSION "v1"

/* Size of every service's Maglev lookup table: a prime, so that each backend's permutation
 * visits every slot. */
#define LB_MAGLEV_TABLE_SIZE 1021
/* Backends one service can have (slots 1..n). */
#define LB_MAX_BACKENDS_PER_SERVICE 1024

/* Frontend flags (slot 0). */
#define LB_SERVICE_FLAG_MAGLEV 0x1   /* choose through the service's Maglev table */
#define LB_SERVICE_FLAG_AFFINITY 0x2 /* sessionAffinity ClientIP, timeout in affinity_timeout_s */

/* Service map key: slot 0 is the frontend, slots 1..n its backends. */
struct lb4_service_key {
  __be32 address;
  __be16 port;
  __u16 slot;
  __u8 proto; /* IPPROTO_TCP | IPPROTO_UDP */
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct lb4_service_key) == 12, "lb4_service_key layout");

struct lb6_service_key {
  __u8 address[16];
  __be16 port;
  __u16 slot;
  __u8 proto;
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct lb6_service_key) == 24, "lb6_service_key layout");

/* Slot 0: count, flags, affinity timeout and the service id (affinity and Maglev key).
 * Slots 1..n: backend_id only. */
struct lb_service_value {
  __u32 backend_id;
  __u16 count;
  __u16 flags;
  __u32 affinity_timeout_s;
  __u32 service_id;
};
LB_STATIC_ASSERT(sizeof(struct lb_service_value) == 16, "lb_service_value layout");

struct lb4_backend {
  __be32 address;
  __be16 port;
  __u8 proto;
  __u8 flags;
};
LB_STATIC_ASSERT(sizeof(struct lb4_backend) == 8, "lb4_backend layout");

struct lb6_backend {
  __u8 address[16];
  __be16 port;
  __u8 proto;
  __u8 flags;
};
LB_STATIC_ASSERT(sizeof(struct lb6_backend) == 20, "lb6_backend layout");

/* ClientIP affinity for socket load balancing: the client is its network namespace (a pod),
 * known at connect() time, unlike the source address. */
struct lb_affinity_key {
  __u64 netns_cookie;
  __u32 service_id;
  __u32 pad;
};
LB_STATIC_ASSERT(sizeof(struct lb_affinity_key) == 16, "lb_affinity_key layout");

struct lb_affinity_value {
  __u64 last_used_ns; /* bpf_ktime_get_ns() */
  __u32 backend_id;
  __u32 pad;
};
LB_STATIC_ASSERT(sizeof(struct lb_affinity_value) == 16, "lb_affinity_value layout");

struct lb_maglev_table {
  __u32 backend_ids[LB_MAGLEV_TABLE_SIZE];
};
LB_STATIC_ASSERT(sizeof(struct lb_maglev_table) == 4 * LB_MAGLEV_TABLE_SIZE, "lb_maglev_table layout");

/* What a translated socket's peer really is, so recvmsg and getpeername can show the VIP. */
struct lb4_reverse_key {
  __u64 socket_cookie;
  __be32 address;
  __be16 port;
  __u16 pad;
};
LB_STATIC_ASSERT(sizeof(struct lb4_reverse_key) == 16, "lb4_reverse_key layout");

struct lb4_reverse_value {
  __be32 address;
  __be16 port;
  __u16 pad;
};
LB_STATIC_ASSERT(sizeof(struct lb4_reverse_value) == 8, "lb4_reverse_value layout");

struct lb6_reverse_key {
  __u64 socket_cookie;
  __u8 address[16];
  __be16 port;
  __u16 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct lb6_reverse_key) == 32, "lb6_reverse_key layout");

struct lb6_reverse_value {
  __u8 address[16];
  __be16 port;
  __u16 pad;
};
LB_STATIC_ASSERT(sizeof(struct lb6_reverse_value) == 20, "lb6_reverse_value layout");

/* Connected UDP sockets to destroy (their backend left the service they were translated for):
 * (backend the socket is connected to, the VIP it asked for). Filled by the agent just before it
 * runs the socket iterator, emptied after. */
struct lb4_destroy_key {
  __be32 backend;
  __be32 vip;
  __be16 backend_port;
  __be16 vip_port;
};
LB_STATIC_ASSERT(sizeof(struct lb4_destroy_key) == 12, "lb4_destroy_key layout");

struct lb6_destroy_key {
  __u8 backend[16];
  __u8 vip[16];
  __be16 backend_port;
  __be16 vip_port;
};
LB_STATIC_ASSERT(sizeof(struct lb6_destroy_key) == 36, "lb6_destroy_key layout");

/* Counters in the per-CPU metrics array, indexed by these. */
enum lb_metric {
  LB_METRIC_TRANSLATED = 0,           /* connect/sendmsg rewritten to a backend */
  LB_METRIC_REVERSED = 1,             /* recvmsg/getpeername shown the VIP */
  LB_METRIC_REJECT_NO_BACKEND = 2,    /* a service without endpoints: connect refused */
  LB_METRIC_DROP_BACKEND_MISSING = 3, /* a slot named a backend the backend map lacks */
  LB_METRIC_AFFINITY_HIT = 4,
  LB_METRIC_OUT_OF_SCOPE = 5, /* another agent's network namespace: left alone */
  LB_METRIC_COUNT = 8,
};

/* External frontends (tc on the node's external interface): NodePort (address 0: any address
 * of the node), LoadBalancer IPs and externalIPs, with the endpoints of the external traffic
 * policy. Same key and value layouts as the socket frontends. */
#define LB_SERVICE_FLAG_LOCAL 0x4 /* externalTrafficPolicy Local: the client's source is kept */

/* The frontend admits only the sources in lb4/lb6_source_ranges_v1 (loadBalancerSourceRanges
 * on a load-balancer IP); others are dropped. */
#define LB_SERVICE_FLAG_SOURCE_RANGES 0x8
/* No endpoint for this frontend (count 0) but the service has some elsewhere (Local policy on a
 * node without local endpoints): drop, as kube-proxy does, instead of rejecting. */
#define LB_SERVICE_FLAG_DROP_EMPTY 0x10

/* Source ports the tc programs allocate when they SNAT a flow to the node's address (Cluster
 * policy, backend reached through an external interface): above the default local port range
 * (32768-60999) and the NodePort range, so they never meet the node's own sockets. */
#define LB_SNAT_PORT_MIN 61000
#define LB_SNAT_PORT_MAX 65535
#define LB_SNAT_TRIES 32 /* random probes for a free port before the flow is dropped */

/* Connection tracking of tc-translated flows, by the client's tuple as it arrived. */
struct ct4_key {
  __be32 client;
  __be32 frontend;
  __be16 client_port;
  __be16 frontend_port;
  __u8 proto;
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct ct4_key) == 16, "ct4_key layout");

/* Every conntrack entry ends with its lifetime: the CLOCK_MONOTONIC second (bpf_ktime_get_ns)
 * after which the agent's garbage collector may delete it, pushed forward by each packet of its
 * direction; and its flags. The collector deletes a flow's two entries once both have expired. */
#define CT_FLAG_CLOSING 0x01 /* a FIN was seen in either direction: the close lifetime applies */

/* Lifetimes in seconds, as Cilium's defaults (bpf/lib/conntrack.h): the load-time defaults of the
 * programs' ct_lifetime_* knobs. */
#define CT_LIFETIME_TCP 21600 /* an established TCP flow (6 h) */
#define CT_LIFETIME_SYN 60    /* a TCP flow until its handshake is done */
#define CT_LIFETIME_CLOSE 10  /* a TCP flow after a FIN (RST deletes it at once) */
#define CT_LIFETIME_UDP 60    /* UDP (Cilium's non-TCP lifetime) */
#define CT_LIFETIME_ICMP 60   /* ICMP (the same) */

/* snat_port 0: the client's source is kept. Else the flow leaves with snat_addr:snat_port as its
 * source, redirected to snat_ifindex (the interface the route to the backend uses). */
struct ct4_entry {
  __be32 backend;
  __be16 backend_port;
  __be16 snat_port;
  __be32 snat_addr;
  __u32 snat_ifindex;
  __u32 lifetime;
  __u8 flags; /* CT_FLAG_ */
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct ct4_entry) == 24, "ct4_entry layout");

/* Replies: (backend, client) tuple -> the frontend the client talked to. For a SNATed flow the
 * "client" of the key is the node's address and allocated port, and the entry names the real
 * client (client_port != 0) and the interface it came in on. */
struct ct4_reverse_key {
  __be32 backend;
  __be32 client;
  __be16 backend_port;
  __be16 client_port;
  __u8 proto;
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct ct4_reverse_key) == 16, "ct4_reverse_key layout");

struct ct4_reverse_entry {
  __be32 frontend;
  __be16 frontend_port;
  __be16 client_port; /* 0: not SNATed, the reply is reverse-NATed on egress */
  __be32 client;
  __u32 client_ifindex;
  __u32 lifetime;
  __u8 flags;
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct ct4_reverse_entry) == 24, "ct4_reverse_entry layout");

struct ct6_key {
  __u8 client[16];
  __u8 frontend[16];
  __be16 client_port;
  __be16 frontend_port;
  __u8 proto;
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct ct6_key) == 40, "ct6_key layout");

struct ct6_entry {
  __u8 backend[16];
  __be16 backend_port;
  __be16 snat_port;
  __u8 snat_addr[16];
  __u32 snat_ifindex;
  __u32 lifetime;
  __u8 flags;
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct ct6_entry) == 48, "ct6_entry layout");

struct ct6_reverse_key {
  __u8 backend[16];
  __u8 client[16];
  __be16 backend_port;
  __be16 client_port;
  __u8 proto;
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct ct6_reverse_key) == 40, "ct6_reverse_key layout");

struct ct6_reverse_entry {
  __u8 frontend[16];
  __be16 frontend_port;
  __be16 client_port;
  __u8 client[16];
  __u32 client_ifindex;
  __u32 lifetime;
  __u8 flags;
  __u8 pad[3];
};
LB_STATIC_ASSERT(sizeof(struct ct6_reverse_entry) == 48, "ct6_reverse_entry layout");

/* loadBalancerSourceRanges: LPM keys (prefix length counts the 32 bits of service_id too). */
struct lb4_source_range_key {
  __u32 prefixlen;
  __be32 service_id; /* big-endian, so that the trie matches it bit by bit first */
  __be32 source;
};
LB_STATIC_ASSERT(sizeof(struct lb4_source_range_key) == 12, "lb4_source_range_key layout");

struct lb6_source_range_key {
  __u32 prefixlen;
  __be32 service_id;
  __u8 source[16];
};
LB_STATIC_ASSERT(sizeof(struct lb6_source_range_key) == 24, "lb6_source_range_key layout");

/* An address of the node (lb_node_addrs_v1): connect() to it on a NodePort is translated by the
 * socket hooks. IPv4 in the first 4 bytes of address, the rest zero. */
struct lb_node_addr_key {
  __u8 family; /* LB_AF_INET | LB_AF_INET6 */
  __u8 pad[3];
  __u8 address[16];
};
LB_STATIC_ASSERT(sizeof(struct lb_node_addr_key) == 20, "lb_node_addr_key layout");

/* Outcomes of the tc and XDP programs, counted in np_metrics_v1. Drops are counted apart, by
 * reason (enum nodeport_drop). Indices 6, 7, 8 and 10 counted drops before they moved to
 * np_drops_v1: they stay unused, so that counters pinned by an earlier version keep their
 * meaning and the map its size. */
enum nodeport_metric {
  NP_METRIC_DNAT_NEW = 0,          /* a new flow to an external frontend, DNATed */
  NP_METRIC_DNAT_TRACKED = 1,      /* a packet of a tracked flow, DNATed */
  NP_METRIC_REVERSE_NAT = 2,       /* a reply rewritten back to the frontend */
  NP_METRIC_REJECT_NO_BACKEND = 3, /* a frontend without endpoints: ICMP port unreachable sent back */
  NP_METRIC_SNAT_NEW = 4,          /* a new flow SNATed to the node's address */
  NP_METRIC_REVERSE_SNAT = 5,      /* a reply to a SNATed flow sent back to its client */
  NP_METRIC_XDP_DNAT = 9,          /* a tracked flow's packet DNATed by the XDP program */
  NP_METRIC_CT_RESET = 11,         /* a flow ended by a TCP reset: both its entries deleted */
  NP_METRIC_COUNT = 12,
};

/* Why the tc programs dropped a packet, counted in np_drops_v1. Their logic returns these
 * negated (as Cilium's DROP_ codes), and the entry program counts the reason and drops. */
enum nodeport_drop {
  NP_DROP_SOURCE_RANGE = 1, /* a source outside loadBalancerSourceRanges */
  NP_DROP_SNAT_PORTS = 2,   /* no free SNAT port found */
  NP_DROP_NO_LOCAL = 3,     /* Local policy, no endpoint on this node */
  NP_DROP_TTL = 4,          /* a redirected packet whose TTL (hop limit) ran out */
  NP_DROP_REWRITE = 5,      /* a checksum or store helper failed while translating */
  NP_DROP_REJECT = 6,       /* the ICMP error for a frontend without endpoints could not be built */
  NP_DROP_ICMP_RATE = 7,    /* a packet that should have been answered by an ICMP error over the rate limit */
  NP_DROP_COUNT = 16,
};

/* ICMP errors the tc programs translated or sent, counted in np_icmp_v1 (a map of its own, so that
 * np_metrics_v1 keeps its size for maps pinned by an earlier version). */
enum nodeport_icmp {
  NP_ICMP_FRAG_NEEDED = 0,   /* a fragmentation needed / packet too big about a translated flow, translated */
  NP_ICMP_OTHER_ERROR = 1,   /* another ICMP error (unreachable, time exceeded, parameter problem) translated */
  NP_ICMP_TIME_EXCEEDED = 2, /* a time exceeded sent for a redirected packet whose TTL (hop limit) ran out */
  NP_ICMP_COUNT = 8,
};

#endif
