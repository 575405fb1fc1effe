/* Per-CPU counter arrays (metrics maps): one add, no atomics, summed over CPUs by the reader. */
#ifndef SWITCHYARD_BPF_COUNTER_H
#define SWITCHYARD_BPF_COUNTER_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __always_inline void counter_add(void* percpu_array, __u32 index) {
  __u64* v = bpf_map_lookup_elem(percpu_array, &index);
  if (v) *v += 1;
}

#endif
