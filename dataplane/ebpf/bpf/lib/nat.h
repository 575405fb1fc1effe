/* Address and port translation: rewrites with the checksums fixed incrementally (tc helpers, or
 * by hand in XDP), SNAT to the node's address with a port claimed per flow, and the redirect of
 * translated packets that skip the kernel's forwarding. */
#ifndef SWITCHYARD_BPF_NAT_H
#define SWITCHYARD_BPF_NAT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "conntrack.h"
#include "csum.h"
#include "packet.h"

/* ifindex -> 1 for the external interfaces the programs are attached to: a backend whose route
 * leaves through one of them is on another node, and its flow is SNATed so that the replies
 * come back here (Cluster policy). Filled by the agent at attach time. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} np_interfaces_v1 SEC(".maps");

/* Rewrites the packet's destination (or source) address and port, from old to new, and fixes
 * the L4 checksum (and IPv4's header checksum; IPv6 has none, its L4 checksum covers the
 * addresses through the pseudo-header). 0, or -1 when a helper failed. */
static __always_inline int nat_rewrite(struct __sk_buff* skb, const struct lb_packet* p, bool destination, const union lb_addr* old_addr,
                                       const union lb_addr* new_addr, __be16 old_port, __be16 new_port) {
  const __u32 csum_off = p->l4_off + csum_l4_field(p->proto);
  const __u64 flags = csum_l4_flags(p->proto);
  if (p->family == LB_AF_INET6) {
    /* Copies: a packet description whose address a helper saw could no longer have its family
     * folded into a constant by clang. */
    __be32 from[4], to[4];
    __builtin_memcpy(from, old_addr->words, 16);
    __builtin_memcpy(to, new_addr->words, 16);
    __s64 diff = bpf_csum_diff(from, 16, to, 16, 0);
    if (bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR | flags)) return -1;
  } else if (bpf_l4_csum_replace(skb, csum_off, old_addr->v4, new_addr->v4, BPF_F_PSEUDO_HDR | flags | sizeof(__be32))) {
    return -1;
  }
  if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, flags | sizeof(new_port))) return -1;
  if (p->family == LB_AF_INET &&
      bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old_addr->v4, new_addr->v4, sizeof(__be32)))
    return -1;
  if (bpf_skb_store_bytes(skb, lb_addr_off(p->family, destination), new_addr, lb_addr_len(p->family), 0)) return -1;
  if (bpf_skb_store_bytes(skb, p->l4_off + (destination ? 2 : 0), &new_port, sizeof(new_port), 0)) return -1;
  return 0;
}

/* The DNAT of a tracked flow's packet in XDP, where there are no skb helpers: the checksums
 * are fixed by hand (RFC 1624). False when the packet is too short (then left as it was). */
static __always_inline bool nat_xdp_dnat(void* data, void* data_end, const struct lb_packet* p, const union lb_addr* to, __be16 to_port) {
  __be16* ports = data + lb_l4_off(p->family);
  __u16* l4_csum = (void*)ports + csum_l4_field(p->proto);
  /* The IP header ends where the ports begin: bounding the ports bounds it too. */
  if ((void*)(ports + 2) > data_end || (void*)(l4_csum + 1) > data_end) return false;
  __u16 c = *l4_csum;
  /* UDP over IPv4 may carry no checksum (0): it stays 0. */
  if (p->family == LB_AF_INET6 || p->proto == IPPROTO_TCP || c) {
    const __u32 words = lb_addr_len(p->family) / 4;
#pragma unroll
    for (__u32 i = 0; i < 4; i++)
      if (i < words) c = csum_replace4(c, p->daddr.words[i], to->words[i]);
    c = csum_replace2(c, p->dport, to_port);
    if (p->proto == IPPROTO_UDP && c == 0) c = 0xffff;
    *l4_csum = c;
  }
  if (p->family == LB_AF_INET6) {
    struct ipv6hdr* ip = data + ETH_HLEN;
    __builtin_memcpy(&ip->daddr, to->bytes, 16);
  } else {
    struct iphdr* ip = data + ETH_HLEN;
    ip->check = csum_replace4(ip->check, p->daddr.v4, to->v4);
    ip->daddr = to->v4;
  }
  ports[1] = to_port;
  return true;
}

/* The route to a backend: when it leaves through an external interface (another node), the
 * address the node would use on it (`source`) and the interface; else 0 (a local pod: no SNAT). */
static __always_inline __u32 nat_remote_route(struct __sk_buff* skb, __u8 family, const union lb_addr* backend, union lb_addr* source) {
  struct bpf_fib_lookup fib = {.family = family, .ifindex = skb->ifindex};
  if (family == LB_AF_INET6)
    __builtin_memcpy(fib.ipv6_dst, backend->bytes, 16);
  else
    fib.ipv4_dst = backend->v4;
  if (bpf_fib_lookup(skb, &fib, sizeof fib, BPF_FIB_LOOKUP_SKIP_NEIGH | BPF_FIB_LOOKUP_SRC) != BPF_FIB_LKUP_RET_SUCCESS) return 0;
  __u32 oif = fib.ifindex;
  if (!bpf_map_lookup_elem(&np_interfaces_v1, &oif)) return 0;
  if (family == LB_AF_INET6) {
    __builtin_memcpy(source->bytes, fib.ipv6_src, 16);
  } else {
    if (fib.ipv4_src == 0) return 0;
    source->v4 = fib.ipv4_src;
  }
  return oif;
}

static __always_inline __u16 nat_snat_port_candidate(__u32 start, __u32 attempt) {
  return (__u16)(LB_SNAT_PORT_MIN + (start + attempt) % (LB_SNAT_PORT_MAX - LB_SNAT_PORT_MIN + 1));
}

/* Claims the port a SNATed flow leaves with: random candidates in LB_SNAT_PORT_MIN..MAX, each
 * tried as the port of the reply entry's key (`reply_key`: backend, node address) with
 * BPF_NOEXIST, so that no two flows share a reply tuple. Inserts `reply` under it; the port, or
 * 0 when LB_SNAT_TRIES candidates were all taken. */
static __always_inline __be16 nat_snat_claim(__u8 family, union ct_key* reply_key, const struct ct_value* reply) {
  union ct_stored stored;
  ct_value_store(&stored, reply, family);
  const __u32 start = bpf_get_prandom_u32();
  for (__u32 i = 0; i < LB_SNAT_TRIES; i++) {
    const __be16 port = bpf_htons(nat_snat_port_candidate(start, i));
    ct_key_set_b_port(reply_key, family, port);
    if (bpf_map_update_elem(ct_map(family, CT_REPLY), reply_key, &stored, BPF_NOEXIST) == 0) return port;
  }
  return 0;
}

/* A redirected packet skips the kernel's forwarding path, which would decrement its TTL (hop
 * limit): done here, with the IPv4 header checksum fixed. -1 when it runs out or the header is
 * not there (the tc program answered time exceeded before translating, lib/reject.h; an ICMP
 * error is only dropped). */
static __always_inline int nat_forward_ttl(struct __sk_buff* skb, __u8 family) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  if (family == LB_AF_INET6) {
    struct ipv6hdr* ip = data + ETH_HLEN;
    if ((void*)(ip + 1) > data_end || ip->hop_limit <= 1) return -1;
    ip->hop_limit -= 1;
    return 0;
  }
  struct iphdr* ip = data + ETH_HLEN;
  if ((void*)(ip + 1) > data_end || ip->ttl <= 1) return -1;
  __be16* ttl_proto = (__be16*)&ip->ttl; /* TTL and protocol: one 16-bit word of the checksum */
  __be16 old = *ttl_proto;
  ip->ttl -= 1;
  return bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old, *ttl_proto, sizeof(old)) ? -1 : 0;
}

/* Sends a translated packet out of `ifindex` through the neighbour table: its addresses are
 * ours now (a SNATed flow's source is a local address, which the input route would refuse). */
static __always_inline int nat_redirect(struct __sk_buff* skb, __u8 family, __u32 ifindex) {
  if (nat_forward_ttl(skb, family)) return -NP_DROP_TTL;
  return bpf_redirect_neigh(ifindex, 0, 0, 0);
}

#endif
