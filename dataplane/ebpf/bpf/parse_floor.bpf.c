/* The floor for per-packet cost figures (bench/ebpf_packet_bench): parses Ethernet, IPv4/IPv6
 * and the L4 ports exactly as nodeport.bpf.c does, then lets the packet go. Not loaded by the
 * agent. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

volatile __u32 parsed_ports; /* keeps the parse from being optimised away */

SEC("tc")
int parse_floor(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) return TC_ACT_OK;
  struct iphdr* ip = (void*)(eth + 1);
  if ((void*)(ip + 1) > data_end || ip->ihl != 5) return TC_ACT_OK;
  if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP) return TC_ACT_OK;
  __be16* ports = (void*)(ip + 1);
  if ((void*)(ports + 2) > data_end) return TC_ACT_OK;
  parsed_ports = ports[0] ^ ports[1] ^ ip->daddr;
  return TC_ACT_OK;
}
