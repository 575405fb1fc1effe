/* One description of an IPv4 or IPv6 packet for every program that looks at frames (tc, XDP,
 * the bench's parse-only floor), and the one parser that fills it. The programs are written
 * once over both families: the entry program reads the family from the Ethernet header and
 * calls the always-inlined logic with it as a constant, so clang compiles one specialised copy
 * per family and the verifier sees no family branches at run time. That holds while clang can
 * keep a struct lb_packet in registers: copy its fields, never hand their addresses to a helper
 * or choose between pointers into it (`c ? &p->saddr : &x`). Otherwise the family becomes a
 * load, clang merges the two copies' common tails and branches on the family at run time
 * (correct, but a fifth slower per packet: check the object's size and bench/ebpf_packet_bench). */
#ifndef SWITCHYARD_BPF_PACKET_H
#define SWITCHYARD_BPF_PACKET_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <stdbool.h>
#include <stddef.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "addr.h"

#define LB_IP_FRAGMENTED 0x3fff /* more fragments, or a fragment offset */
#define LB_TCP_FLAG_FIN 0x01
#define LB_TCP_FLAG_SYN 0x02
#define LB_TCP_FLAG_RST 0x04

/* The parts of a packet the programs match and rewrite. (saddr, daddr, sport, dport, proto) is
 * the tuple every conntrack map is keyed by, whatever the direction. */
struct lb_packet {
  union lb_addr saddr, daddr;
  __be16 sport, dport;
  __u8 family;    /* LB_AF_INET | LB_AF_INET6 */
  __u8 proto;     /* IPPROTO_TCP | IPPROTO_UDP */
  bool tcp_reset; /* a TCP segment with RST: the flow ends */
  __u8 tcp_flags; /* the TCP header's flags byte (FIN, SYN, RST, ACK...), 0 for UDP */
  __u32 l4_off;   /* from the start of the frame */
};

/* Where the IP header's source (destination) address sits in the frame. */
static __always_inline __u32 lb_addr_off(__u8 family, bool destination) {
  if (family == LB_AF_INET6) return ETH_HLEN + (destination ? offsetof(struct ipv6hdr, daddr) : offsetof(struct ipv6hdr, saddr));
  return ETH_HLEN + (destination ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));
}

static __always_inline __u32 lb_l4_off(__u8 family) {
  return ETH_HLEN + (family == LB_AF_INET6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
}

/* LB_AF_INET or LB_AF_INET6 from the Ethernet header; 0 for anything else. */
static __always_inline __u8 lb_eth_family(void* data, void* data_end) {
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return 0;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) return LB_AF_INET;
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) return LB_AF_INET6;
  return 0;
}

/* Fills `p` from a frame of `family`. False for what the programs leave alone: IPv4 with
 * options or fragmented, IPv6 with extension headers (the next header is not TCP or UDP),
 * neither TCP nor UDP, or too short for the ports. */
static __always_inline bool lb_parse(void* data, void* data_end, __u8 family, struct lb_packet* p) {
  p->family = family;
  p->l4_off = lb_l4_off(family);
  if (family == LB_AF_INET6) {
    struct ipv6hdr* ip = data + ETH_HLEN;
    if ((void*)(ip + 1) > data_end) return false;
    p->proto = ip->nexthdr;
    __builtin_memcpy(p->saddr.bytes, &ip->saddr, 16);
    __builtin_memcpy(p->daddr.bytes, &ip->daddr, 16);
  } else {
    struct iphdr* ip = data + ETH_HLEN;
    if ((void*)(ip + 1) > data_end || ip->ihl != 5) return false; /* options: not ours to translate */
    if (ip->frag_off & bpf_htons(LB_IP_FRAGMENTED)) return false;
    p->proto = ip->protocol;
    p->saddr.v4 = ip->saddr;
    p->daddr.v4 = ip->daddr;
  }
  if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP) return false;
  __be16* ports = data + p->l4_off;
  if ((void*)(ports + 2) > data_end) return false;
  p->sport = ports[0];
  p->dport = ports[1];
  __u8* flags = data + p->l4_off + 13;
  p->tcp_flags = p->proto == IPPROTO_TCP && (void*)(flags + 1) <= data_end ? *flags : 0;
  p->tcp_reset = p->tcp_flags & LB_TCP_FLAG_RST;
  return true;
}

#endif
