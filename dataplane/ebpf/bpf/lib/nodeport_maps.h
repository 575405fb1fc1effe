/* Maps of the tc programs for traffic from outside the node (NodePort, LoadBalancer IPs,
 * externalIPs). Backends are shared with the socket load balancer (lb4/lb6_backends_v1). */
#ifndef SWITCHYARD_BPF_NODEPORT_MAPS_H
#define SWITCHYARD_BPF_NODEPORT_MAPS_H

#include "maps.h"

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

/* Client tuple -> chosen backend: every packet of a flow goes to the same backend. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, struct ct4_key);
  __type(value, struct ct4_entry);
} ct4_v1 SEC(".maps");

/* (backend, client) tuple -> frontend, for the replies. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, struct ct4_reverse_key);
  __type(value, struct ct4_reverse_entry);
} ct4_reverse_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, struct ct6_key);
  __type(value, struct ct6_entry);
} ct6_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, struct ct6_reverse_key);
  __type(value, struct ct6_reverse_entry);
} ct6_reverse_v1 SEC(".maps");

/* (service id, source prefix) of frontends with LB_SERVICE_FLAG_SOURCE_RANGES: the sources
 * they admit. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 16384);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct lb4_source_range_key);
  __type(value, __u8);
} lb4_source_ranges_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 16384);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct lb6_source_range_key);
  __type(value, __u8);
} lb6_source_ranges_v1 SEC(".maps");

/* ifindex -> 1 for the external interfaces the programs are attached to: a backend whose route
 * leaves through one of them is on another node, and its flow is SNATed so that the replies
 * come back here (Cluster policy). Filled by the agent at attach time. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} np_interfaces_v1 SEC(".maps");

/* enum nodeport_metric -> count, per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NP_METRIC_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} np_metrics_v1 SEC(".maps");

static __always_inline void np_count(__u32 metric) {
  __u64* v = bpf_map_lookup_elem(&np_metrics_v1, &metric);
  if (v) *v += 1;
}

#endif
