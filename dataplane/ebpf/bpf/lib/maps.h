/* Every map of the socket load balancer, one line each on what it holds, and their accessors
 * for either family. Sizes here are defaults: the loader sets max_entries from its options
 * before load. Service and backend maps are preallocated: a sync's updates then take elements
 * from a free list (no allocation and memory-cgroup charge per element), which made
 * programming 10,000 services several times faster. */
#ifndef SWITCHYARD_BPF_MAPS_H
#define SWITCHYARD_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include <stdbool.h>

#include "../lb_types.h"
#include "addr.h"
#include "counter.h"

/* (VIP, port, proto, slot) -> frontend (slot 0) or backend id (slots 1..n), IPv4. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct lb4_service_key);
  __type(value, struct lb_service_value);
} lb4_services_v1 SEC(".maps");

/* The same for IPv6 VIPs. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct lb6_service_key);
  __type(value, struct lb_service_value);
} lb6_services_v1 SEC(".maps");

/* backend id -> IPv4 endpoint address and port: an array indexed by the id (the agent keeps ids
 * dense, per family), 8 bytes an entry where a hash took ~90. An entry whose proto is 0 is no
 * backend (lb_backend_present). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct lb4_backend);
} lb4_backends_v2 SEC(".maps");

/* backend id -> IPv6 endpoint address and port (the same, 24 bytes an entry). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct lb6_backend);
} lb6_backends_v2 SEC(".maps");

/* (client netns, service id) -> the backend it last used and when: ClientIP affinity. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct lb_affinity_key);
  __type(value, struct lb_affinity_value);
} lb_affinity_v1 SEC(".maps");

/* service id -> its Maglev lookup table (computed in userspace). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, struct lb_maglev_table);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} lb_maglev_v1 SEC(".maps");

/* (socket, backend) -> the VIP it was connected/sent to: recvmsg and getpeername, IPv4. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct lb4_reverse_key);
  __type(value, struct lb4_reverse_value);
} lb4_reverse_v1 SEC(".maps");

/* The same for IPv6. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct lb6_reverse_key);
  __type(value, struct lb6_reverse_value);
} lb6_reverse_v1 SEC(".maps");

/* Network namespace cookies this agent acts for, when scope_by_netns is set. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, __u8);
} lb_scope_v1 SEC(".maps");

/* enum lb_metric -> count, per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, LB_METRIC_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} lb_metrics_v1 SEC(".maps");

static __always_inline void lb_count(__u32 metric) { counter_add(&lb_metrics_v1, metric); }

/* The node's own addresses -> 1, kept by the agent from rtnetlink: a connect() to one of them on
 * a NodePort is translated like one to a service VIP. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, struct lb_node_addr_key);
  __type(value, __u8);
} lb_node_addrs_v1 SEC(".maps");

static __always_inline bool lb_node_address(__u8 family, const union lb_addr* address) {
  struct lb_node_addr_key k = {.family = family};
  /* IPv4: only the 4 bytes that are its (a union's `= {}` zeroes its first member alone, so
   * clang may leave the rest of an IPv4 lb_addr undefined). */
  if (family == LB_AF_INET6)
    __builtin_memcpy(k.address, address->bytes, 16);
  else
    __builtin_memcpy(k.address, &address->v4, 4);
  return bpf_map_lookup_elem(&lb_node_addrs_v1, &k) != 0;
}

/* A key of either family's service map (and of external.h's frontend maps, same layouts). */
union lb_service_key {
  struct lb4_service_key v4;
  struct lb6_service_key v6;
};

/* The frontend's key (slot 0). */
static __always_inline void lb_service_key_init(union lb_service_key* k, __u8 family, const union lb_addr* address, __be16 port,
                                                __u8 proto) {
  if (family == LB_AF_INET6) {
    k->v6 = (struct lb6_service_key){.port = port, .proto = proto};
    __builtin_memcpy(k->v6.address, address->bytes, 16);
  } else {
    k->v4 = (struct lb4_service_key){.address = address->v4, .port = port, .proto = proto};
  }
}

static __always_inline void lb_service_key_set_slot(union lb_service_key* k, __u8 family, __u16 slot) {
  if (family == LB_AF_INET6)
    k->v6.slot = slot;
  else
    k->v4.slot = slot;
}

static __always_inline struct lb_service_value* lb_service_lookup(__u8 family, const union lb_service_key* k) {
  if (family == LB_AF_INET6) return bpf_map_lookup_elem(&lb6_services_v1, &k->v6);
  return bpf_map_lookup_elem(&lb4_services_v1, &k->v4);
}

/* Backend `id`'s address and port; false when there is no such backend (beyond the array, or an
 * entry the agent cleared: proto 0). */
static __always_inline bool lb_backend(__u8 family, __u32 id, union lb_addr* address, __be16* port) {
  if (family == LB_AF_INET6) {
    const struct lb6_backend* b = bpf_map_lookup_elem(&lb6_backends_v2, &id);
    if (!b || !b->proto) return false;
    __builtin_memcpy(address->bytes, b->address, 16);
    *port = b->port;
    return true;
  }
  const struct lb4_backend* b = bpf_map_lookup_elem(&lb4_backends_v2, &id);
  if (!b || !b->proto) return false;
  address->v4 = b->address;
  *port = b->port;
  return true;
}

static __always_inline bool lb_backend_present(__u8 family, __u32 id) {
  union lb_addr address;
  __be16 port;
  return lb_backend(family, id, &address, &port);
}

/* A key of either family's reverse map: (socket, the backend it is connected or sent to). */
union lb_reverse_key {
  struct lb4_reverse_key v4;
  struct lb6_reverse_key v6;
};

static __always_inline void* lb_reverse_key_init(union lb_reverse_key* k, __u8 family, __u64 socket_cookie, const union lb_addr* backend,
                                                 __be16 backend_port) {
  if (family == LB_AF_INET6) {
    k->v6 = (struct lb6_reverse_key){.socket_cookie = socket_cookie, .port = backend_port};
    __builtin_memcpy(k->v6.address, backend->bytes, 16);
    return &lb6_reverse_v1;
  }
  k->v4 = (struct lb4_reverse_key){.socket_cookie = socket_cookie, .address = backend->v4, .port = backend_port};
  return &lb4_reverse_v1;
}

/* Remembers that the socket asked for vip:vip_port and was given backend:backend_port. */
static __always_inline void lb_reverse_remember(__u8 family, __u64 socket_cookie, const union lb_addr* backend, __be16 backend_port,
                                                const union lb_addr* vip, __be16 vip_port) {
  union lb_reverse_key k;
  void* map = lb_reverse_key_init(&k, family, socket_cookie, backend, backend_port);
  if (family == LB_AF_INET6) {
    struct lb6_reverse_value v = {.port = vip_port};
    __builtin_memcpy(v.address, vip->bytes, 16);
    bpf_map_update_elem(map, &k, &v, BPF_ANY);
  } else {
    struct lb4_reverse_value v = {.address = vip->v4, .port = vip_port};
    bpf_map_update_elem(map, &k, &v, BPF_ANY);
  }
}

/* The VIP a socket translated to backend:backend_port asked for; false when it was not ours. */
static __always_inline bool lb_reverse_lookup(__u8 family, __u64 socket_cookie, const union lb_addr* backend, __be16 backend_port,
                                              union lb_addr* vip, __be16* vip_port) {
  union lb_reverse_key k;
  void* map = lb_reverse_key_init(&k, family, socket_cookie, backend, backend_port);
  if (family == LB_AF_INET6) {
    const struct lb6_reverse_value* v = bpf_map_lookup_elem(map, &k);
    if (!v) return false;
    __builtin_memcpy(vip->bytes, v->address, 16);
    *vip_port = v->port;
    return true;
  }
  const struct lb4_reverse_value* v = bpf_map_lookup_elem(map, &k);
  if (!v) return false;
  vip->v4 = v->address;
  *vip_port = v->port;
  return true;
}

#endif
