/* Every map of the socket load balancer, one line each on what it holds. Sizes here are
 * defaults: the loader sets max_entries from its options before load. Service and backend maps
 * are preallocated: a sync's updates then take elements from a free list (no allocation and
 * memory-cgroup charge per element), which made programming 10,000 services several times
 * faster. */
#ifndef SWITCHYARD_BPF_MAPS_H
#define SWITCHYARD_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../lb_types.h"
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

/* backend id -> IPv4 endpoint address and port. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct lb4_backend);
} lb4_backends_v1 SEC(".maps");

/* backend id -> IPv6 endpoint address and port. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct lb6_backend);
} lb6_backends_v1 SEC(".maps");

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

#endif
