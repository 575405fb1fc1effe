/* The external frontends the tc programs serve (NodePorts, LoadBalancer IPs, externalIPs): the
 * frontend of a new flow, its loadBalancerSourceRanges, and its backend. Same key and value
 * layouts as the socket load balancer's service maps; the backends are that one's (maps.h). */
#ifndef SWITCHYARD_BPF_EXTERNAL_H
#define SWITCHYARD_BPF_EXTERNAL_H

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "maps.h"
#include "packet.h"

/* (frontend address or 0 for a NodePort, port, proto, slot) -> frontend / backend id, IPv4. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct lb4_service_key);
  __type(value, struct lb_service_value);
} lb4_external_v1 SEC(".maps");

/* The same for IPv6 frontends. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct lb6_service_key);
  __type(value, struct lb_service_value);
} lb6_external_v1 SEC(".maps");

/* (service id, source prefix) of frontends with LB_SERVICE_FLAG_SOURCE_RANGES: the sources
 * they admit, IPv4. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 16384);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct lb4_source_range_key);
  __type(value, __u8);
} lb4_source_ranges_v1 SEC(".maps");

/* The same for IPv6 sources. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 16384);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct lb6_source_range_key);
  __type(value, __u8);
} lb6_source_ranges_v1 SEC(".maps");

static __always_inline struct lb_service_value* ext_lookup(__u8 family, const union lb_service_key* k) {
  if (family == LB_AF_INET6) return bpf_map_lookup_elem(&lb6_external_v1, &k->v6);
  return bpf_map_lookup_elem(&lb4_external_v1, &k->v4);
}

/* The frontend (slot 0) a new flow's packet is for: its destination address and port, else a
 * NodePort (address 0: any address of the node); 0 when neither. `k` is left naming it. */
static __always_inline struct lb_service_value* ext_frontend(const struct lb_packet* p, union lb_service_key* k) {
  lb_service_key_init(k, p->family, &p->daddr, p->dport, p->proto);
  struct lb_service_value* svc = ext_lookup(p->family, k);
  if (svc) return svc;
  union lb_addr any;
  __builtin_memset(&any, 0, sizeof any); /* all 16 bytes: `= {}` zeroes a union's first member only */
  lb_service_key_init(k, p->family, &any, p->dport, p->proto);
  return ext_lookup(p->family, k);
}

static __always_inline bool ext_source_allowed(__u8 family, __u32 service_id, const union lb_addr* source) {
  if (family == LB_AF_INET6) {
    struct lb6_source_range_key k = {.prefixlen = 160, .service_id = bpf_htonl(service_id)};
    __builtin_memcpy(k.source, source->bytes, 16);
    return bpf_map_lookup_elem(&lb6_source_ranges_v1, &k) != 0;
  }
  struct lb4_source_range_key k = {.prefixlen = 64, .service_id = bpf_htonl(service_id), .source = source->v4};
  return bpf_map_lookup_elem(&lb4_source_ranges_v1, &k) != 0;
}

/* A backend for a new flow to frontend `k` (`svc`, count > 0): slot 1..count at random, then
 * the backend it names. False when the slot or the backend is missing. */
static __always_inline bool ext_backend(__u8 family, union lb_service_key* k, const struct lb_service_value* svc, union lb_addr* address,
                                        __be16* port) {
  lb_service_key_set_slot(k, family, (__u16)(bpf_get_prandom_u32() % svc->count) + 1);
  const struct lb_service_value* s = ext_lookup(family, k);
  return lb_backend(family, s ? s->backend_id : 0, address, port);
}

#endif
