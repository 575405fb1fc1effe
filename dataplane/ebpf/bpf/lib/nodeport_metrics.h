/* Counters of the tc and XDP programs: what they did with packets (outcomes) in one map, why
 * they dropped packets (drop reasons) in another, so that a reader never adds the two up. */
#ifndef SWITCHYARD_BPF_NODEPORT_METRICS_H
#define SWITCHYARD_BPF_NODEPORT_METRICS_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "../lb_types.h"

/* enum nodeport_metric -> count of packets with that outcome, per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NP_METRIC_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} np_metrics_v1 SEC(".maps");

/* enum nodeport_drop -> count of packets dropped for that reason, per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NP_DROP_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} np_drops_v1 SEC(".maps");

static __always_inline void np_count(__u32 metric) {
  __u64* v = bpf_map_lookup_elem(&np_metrics_v1, &metric);
  if (v) *v += 1;
}

/* The tc verdict for what the programs' logic returned: a TC_ACT_ value, or a drop reason
 * negated, which is counted and the packet dropped. */
static __always_inline int np_tc_verdict(int ret) {
  if (ret >= 0) return ret;
  __u32 reason = (__u32)-ret;
  __u64* v = bpf_map_lookup_elem(&np_drops_v1, &reason);
  if (v) *v += 1;
  return TC_ACT_SHOT;
}

#endif
