/* The reject of a frontend without endpoints: the packet becomes an ICMP (ICMPv6) port
 * unreachable back to the client, quoting the original IP header and 8 bytes of L4 (RFC 792 /
 * RFC 4443), out of the interface it came in on. TCP clients fail at once with ECONNREFUSED,
 * as with kube-proxy's reject. No maps but the outcome counter. */
#ifndef SWITCHYARD_BPF_REJECT_H
#define SWITCHYARD_BPF_REJECT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "csum.h"
#include "nodeport_metrics.h"
#include "packet.h"

struct icmp4_body {
  __u8 type, code;
  __u16 checksum;
  __u32 unused;
  __u8 original[28];
};

struct icmp6_body {
  __u8 type, code;
  __u16 checksum;
  __u32 unused;
  __u8 original[48];
};

struct icmp6_pseudo {
  __u8 saddr[16], daddr[16];
  __be32 length;
  __u8 zero[3], next_header;
};

/* The answer behind its Ethernet header: IP header, then the ICMP message. Both parts are
 * multiples of 4 bytes, as bpf_csum_diff wants them. */
struct reject4_message {
  struct iphdr ip;
  struct icmp4_body icmp;
};
_Static_assert(sizeof(struct reject4_message) == sizeof(struct iphdr) + sizeof(struct icmp4_body), "no padding");

struct reject6_message {
  struct ipv6hdr ip;
  struct icmp6_body icmp;
};
_Static_assert(sizeof(struct reject6_message) == sizeof(struct ipv6hdr) + sizeof(struct icmp6_body), "no padding");

/* The headers around a quoted original (m->icmp.original, loaded): from the original's
 * destination back to its source, checksums computed. */
static __always_inline void reject_build4(struct reject4_message* m) {
  const struct iphdr* orig = (const struct iphdr*)m->icmp.original;
  m->ip.version = 4;
  m->ip.ihl = 5;
  m->ip.tot_len = bpf_htons(sizeof *m);
  m->ip.ttl = 64;
  m->ip.protocol = IPPROTO_ICMP;
  m->ip.saddr = orig->daddr;
  m->ip.daddr = orig->saddr;
  m->ip.check = csum_fold(bpf_csum_diff(0, 0, (__be32*)&m->ip, sizeof m->ip, 0));
  m->icmp.checksum = csum_fold(bpf_csum_diff(0, 0, (__be32*)&m->icmp, sizeof m->icmp, 0));
}

static __always_inline void reject_build6(struct reject6_message* m) {
  const struct ipv6hdr* orig = (const struct ipv6hdr*)m->icmp.original;
  m->ip.version = 6;
  m->ip.payload_len = bpf_htons(sizeof m->icmp);
  m->ip.nexthdr = 58; /* ICMPv6 */
  m->ip.hop_limit = 64;
  __builtin_memcpy(&m->ip.saddr, &orig->daddr, 16);
  __builtin_memcpy(&m->ip.daddr, &orig->saddr, 16);
  struct icmp6_pseudo ph = {.length = bpf_htonl(sizeof m->icmp), .next_header = 58};
  __builtin_memcpy(ph.saddr, &orig->daddr, 16);
  __builtin_memcpy(ph.daddr, &orig->saddr, 16);
  __s64 sum = bpf_csum_diff(0, 0, (__be32*)&ph, sizeof ph, 0);
  m->icmp.checksum = csum_fold(bpf_csum_diff(0, 0, (__be32*)&m->icmp, sizeof m->icmp, (__u32)sum));
}

/* The frame becomes `eth` + `message` and goes back out of the interface it came in on. */
static __always_inline int reject_send(struct __sk_buff* skb, const struct ethhdr* eth, const void* message, __u32 len) {
  if (bpf_skb_change_tail(skb, ETH_HLEN + len, 0)) return -NP_DROP_REJECT;
  if (bpf_skb_store_bytes(skb, 0, eth, ETH_HLEN, 0) || bpf_skb_store_bytes(skb, ETH_HLEN, message, len, 0))
    return -NP_DROP_REJECT;
  np_count(NP_METRIC_REJECT_NO_BACKEND);
  return bpf_redirect(skb->ifindex, 0);
}

/* Answers the packet (of `family`) with a port unreachable: the tc verdict, or a drop reason
 * when the answer could not be built. */
static __always_inline int reject(struct __sk_buff* skb, __u8 family) {
  struct ethhdr in, eth;
  if (bpf_skb_load_bytes(skb, 0, &in, sizeof in)) return -NP_DROP_REJECT;
  __builtin_memcpy(eth.h_dest, in.h_source, 6); /* back where it came from */
  __builtin_memcpy(eth.h_source, in.h_dest, 6);
  eth.h_proto = in.h_proto;
  /* Destination unreachable, port unreachable. */
  if (family == LB_AF_INET6) {
    struct reject6_message m = {.icmp = {.type = 1, .code = 4}};
    if (bpf_skb_load_bytes(skb, ETH_HLEN, m.icmp.original, sizeof m.icmp.original)) return -NP_DROP_REJECT;
    reject_build6(&m);
    return reject_send(skb, &eth, &m, sizeof m);
  }
  struct reject4_message m = {.icmp = {.type = 3, .code = 3}};
  if (bpf_skb_load_bytes(skb, ETH_HLEN, m.icmp.original, sizeof m.icmp.original)) return -NP_DROP_REJECT;
  reject_build4(&m);
  return reject_send(skb, &eth, &m, sizeof m);
}

#endif
