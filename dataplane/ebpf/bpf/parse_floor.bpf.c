/* The floor for per-packet cost figures (bench/ebpf_packet_bench): parses Ethernet, IPv4/IPv6
 * and the L4 ports with the tc programs' own parser (lib/packet.h), then lets the packet go.
 * Not loaded by the agent. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "lib/packet.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

volatile __u32 parsed_ports; /* keeps the parse from being optimised away */

static __always_inline int floor_parse(struct __sk_buff* skb, __u8 family) {
  struct lb_packet p = {};
  if (!lb_parse((void*)(long)skb->data, (void*)(long)skb->data_end, family, &p)) return TC_ACT_OK;
  parsed_ports = p.sport ^ p.dport ^ p.daddr.words[0];
  return TC_ACT_OK;
}

SEC("tc")
int parse_floor(struct __sk_buff* skb) {
  const __u8 family = lb_eth_family((void*)(long)skb->data, (void*)(long)skb->data_end);
  if (family == LB_AF_INET) return floor_parse(skb, LB_AF_INET);
  if (family == LB_AF_INET6) return floor_parse(skb, LB_AF_INET6);
  return TC_ACT_OK;
}
