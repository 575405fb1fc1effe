/* XDP mode: nodeport_xdp on an external interface's XDP hook (the tc programs staying on it)
 * DNATs the packets of tracked flows without SNAT before an skb exists. Everything else (a
 * flow's first packet, SNAT, replies, rejects, TCP resets and FINs) passes on to the tc programs. Shares
 * the conntrack and metrics maps with them (the loader hands it their fds). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/conntrack.h"
#include "lib/nat.h"
#include "lib/nodeport_metrics.h"
#include "lib/packet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int np_xdp(struct xdp_md* ctx, __u8 family) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct lb_packet p = {};
  /* tc forgets a reset's flow and closes both entries on a FIN */
  if (!lb_parse(data, data_end, family, &p) || (p.tcp_flags & (LB_TCP_FLAG_RST | LB_TCP_FLAG_FIN))) return XDP_PASS;
  union ct_key key;
  ct_key_of(&key, &p);
  struct ct_value flow;
  union ct_stored* stored = ct_lookup(family, CT_FLOW, &key, &flow);
  if (!stored || flow.via_port) return XDP_PASS;
  ct_touch(stored, family, &p);
  if (nat_xdp_dnat(data, data_end, &p, &flow.to, flow.to_port)) np_count(NP_METRIC_XDP_DNAT);
  return XDP_PASS;
}

SEC("xdp")
int nodeport_xdp(struct xdp_md* ctx) {
  const __u8 family = lb_eth_family((void*)(long)ctx->data, (void*)(long)ctx->data_end);
  if (family == LB_AF_INET) return np_xdp(ctx, LB_AF_INET);
  if (family == LB_AF_INET6) return np_xdp(ctx, LB_AF_INET6);
  return XDP_PASS;
}
