/* Counters of the tc and XDP programs: what they did with packets (outcomes) in one map, why
 * they dropped packets (drop reasons) in another, so that a reader never adds the two up. */
#ifndef SWITCHYARD_BPF_NODEPORT_METRICS_H
#define SWITCHYARD_BPF_NODEPORT_METRICS_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "../lb_types.h"
#include "counter.h"

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

/* enum nodeport_icmp -> count of ICMP errors translated or sent, per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NP_ICMP_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} np_icmp_v1 SEC(".maps");

static __always_inline void np_count_icmp(__u32 which) { counter_add(&np_icmp_v1, which); }

static __always_inline void np_count(__u32 metric) { counter_add(&np_metrics_v1, metric); }

/* The tc verdict for what the programs' logic returned: a TC_ACT_ value, or a drop reason
 * negated, which is counted and the packet dropped. */
static __always_inline int np_tc_verdict(int ret) {
  if (ret >= 0) return ret;
  counter_add(&np_drops_v1, (__u32)-ret);
  return TC_ACT_SHOT;
}

#endif
