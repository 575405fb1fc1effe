/* ICMP errors about translated flows (as Cilium's bpf/lib/nat.h and icmp6.h): an error quotes
 * the header of the packet it is about, as that packet was when the error was raised. The quoted
 * tuple, reversed, is a conntrack key of the flow; the error's own header and the quoted one are
 * both translated (checksums fixed), so that the sender of the quoted packet finds its socket,
 * path-MTU discovery (fragmentation needed, ICMPv6 packet too big) works through a NodePort, and
 * unreachables reach the application. Three cases:
 *
 * - ingress, about a reply this node sent the client (a router between the client and the node):
 *   quoted (frontend -> client) is the flow's client tuple reversed. To the backend: outer
 *   destination and quoted source become the backend; for a SNATed flow the outer source and the
 *   quoted destination become the node's address and port, and the error is redirected towards
 *   the backend's node.
 * - ingress, about a packet this node SNATed towards a remote backend (a router on that path, or
 *   the backend): quoted (node:port -> backend) reversed is the reply entry's key. To the client,
 *   from the frontend: quoted (client -> frontend), redirected out of the client's interface.
 * - egress, about a DNATed packet to a backend on this node (the backend, or this node's
 *   forwarding): quoted (client -> backend) reversed is the reply entry's key. The quoted
 *   destination becomes the frontend, and the outer source too when it is the backend.
 *
 * The quoted L4 checksum is left alone (it sits beyond the 8 quoted bytes for TCP, and no stack
 * checks a quoted one). Counted in np_icmp_v1. */
#ifndef SWITCHYARD_BPF_ICMP_ERROR_H
#define SWITCHYARD_BPF_ICMP_ERROR_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "conntrack.h"
#include "nat.h"
#include "nodeport_metrics.h"
#include "packet.h"

#define ICMP4_PROTO 1
#define ICMP6_PROTO 58

/* An ICMP error and the packet it quotes. */
struct icmp_error {
  union lb_addr saddr, daddr;       /* the error's own addresses */
  union lb_addr in_saddr, in_daddr; /* the quoted packet's */
  __be16 in_sport, in_dport;
  __u8 proto;       /* the quoted packet's: TCP or UDP */
  bool frag_needed; /* fragmentation needed (IPv4) or packet too big (IPv6) */
};

/* Offsets in the frame: the ICMP checksum, the quoted IP header. */
static __always_inline __u32 icmp_csum_off(__u8 family) { return lb_l4_off(family) + 2; }
static __always_inline __u32 icmp_inner_off(__u8 family) { return lb_l4_off(family) + 8; }
static __always_inline __u32 icmp_inner_ports_off(__u8 family) {
  return icmp_inner_off(family) + (family == LB_AF_INET6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
}

/* Fills `e` from an ICMP (ICMPv6) error of `family` quoting a TCP or UDP packet (IPv4 without
 * options, IPv6 without extension headers); false for anything else. */
static __always_inline bool icmp_error_parse(struct __sk_buff* skb, __u8 family, struct icmp_error* e) {
  __u8 type_code[2];
  if (family == LB_AF_INET6) {
    struct ipv6hdr outer, inner;
    if (bpf_skb_load_bytes(skb, ETH_HLEN, &outer, sizeof outer) || outer.nexthdr != ICMP6_PROTO) return false;
    if (bpf_skb_load_bytes(skb, lb_l4_off(family), type_code, 2)) return false;
    /* Destination unreachable, packet too big, time exceeded, parameter problem. */
    if (type_code[0] < 1 || type_code[0] > 4) return false;
    if (bpf_skb_load_bytes(skb, icmp_inner_off(family), &inner, sizeof inner)) return false;
    if (inner.nexthdr != IPPROTO_TCP && inner.nexthdr != IPPROTO_UDP) return false;
    e->proto = inner.nexthdr;
    e->frag_needed = type_code[0] == 2;
    __builtin_memcpy(e->saddr.bytes, &outer.saddr, 16);
    __builtin_memcpy(e->daddr.bytes, &outer.daddr, 16);
    __builtin_memcpy(e->in_saddr.bytes, &inner.saddr, 16);
    __builtin_memcpy(e->in_daddr.bytes, &inner.daddr, 16);
  } else {
    struct iphdr outer, inner;
    if (bpf_skb_load_bytes(skb, ETH_HLEN, &outer, sizeof outer) || outer.ihl != 5 || outer.protocol != ICMP4_PROTO) return false;
    if (outer.frag_off & bpf_htons(LB_IP_FRAGMENTED)) return false;
    if (bpf_skb_load_bytes(skb, lb_l4_off(family), type_code, 2)) return false;
    /* Destination unreachable, time exceeded, parameter problem. */
    if (type_code[0] != 3 && type_code[0] != 11 && type_code[0] != 12) return false;
    if (bpf_skb_load_bytes(skb, icmp_inner_off(family), &inner, sizeof inner) || inner.ihl != 5) return false;
    if (inner.protocol != IPPROTO_TCP && inner.protocol != IPPROTO_UDP) return false;
    e->proto = inner.protocol;
    e->frag_needed = type_code[0] == 3 && type_code[1] == 4;
    e->saddr = (union lb_addr){.v4 = outer.saddr};
    e->daddr = (union lb_addr){.v4 = outer.daddr};
    e->in_saddr = (union lb_addr){.v4 = inner.saddr};
    e->in_daddr = (union lb_addr){.v4 = inner.daddr};
  }
  __be16 ports[2];
  if (bpf_skb_load_bytes(skb, icmp_inner_ports_off(family), ports, sizeof ports)) return false;
  e->in_sport = ports[0];
  e->in_dport = ports[1];
  return true;
}

static __always_inline bool icmp_addr_equal(__u8 family, const union lb_addr* a, const union lb_addr* b) {
  if (family == LB_AF_INET6)
    return a->words[0] == b->words[0] && a->words[1] == b->words[1] && a->words[2] == b->words[2] && a->words[3] == b->words[3];
  return a->v4 == b->v4;
}

/* An address change as a checksum difference (IPv6: 16 bytes). */
static __always_inline __s64 icmp_addr_diff(const union lb_addr* from, const union lb_addr* to) {
  __be32 a[4], b[4];
  __builtin_memcpy(a, from->words, 16);
  __builtin_memcpy(b, to->words, 16);
  return bpf_csum_diff(a, 16, b, 16, 0);
}

/* The error's own source (destination) address, old to new: IPv4's header checksum, or ICMPv6's
 * through its pseudo-header. 0, or -1 when a helper failed. */
static __always_inline int icmp_rewrite_outer(struct __sk_buff* skb, __u8 family, bool destination, const union lb_addr* old_addr,
                                              const union lb_addr* new_addr) {
  if (family == LB_AF_INET6) {
    if (bpf_l4_csum_replace(skb, icmp_csum_off(family), 0, icmp_addr_diff(old_addr, new_addr), BPF_F_PSEUDO_HDR)) return -1;
  } else if (bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old_addr->v4, new_addr->v4, sizeof(__be32))) {
    return -1;
  }
  return bpf_skb_store_bytes(skb, lb_addr_off(family, destination), new_addr, lb_addr_len(family), 0) ? -1 : 0;
}

/* The quoted packet's source (destination) address and port, old to new. The ICMP checksum
 * covers them (and, for IPv4, the quoted header's checksum, fixed first). */
static __always_inline int icmp_rewrite_inner(struct __sk_buff* skb, __u8 family, bool destination, const union lb_addr* old_addr,
                                              const union lb_addr* new_addr, __be16 old_port, __be16 new_port) {
  const __u32 csum = icmp_csum_off(family);
  const __u32 inner = icmp_inner_off(family);
  __u32 addr_off;
  if (family == LB_AF_INET6) {
    addr_off = inner + (destination ? offsetof(struct ipv6hdr, daddr) : offsetof(struct ipv6hdr, saddr));
    if (bpf_l4_csum_replace(skb, csum, 0, icmp_addr_diff(old_addr, new_addr), 0)) return -1;
  } else {
    addr_off = inner + (destination ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));
    const __u32 check_off = inner + offsetof(struct iphdr, check);
    __be16 old_check, new_check;
    if (bpf_skb_load_bytes(skb, check_off, &old_check, 2)) return -1;
    if (bpf_l3_csum_replace(skb, check_off, old_addr->v4, new_addr->v4, sizeof(__be32))) return -1;
    if (bpf_skb_load_bytes(skb, check_off, &new_check, 2)) return -1;
    if (bpf_l4_csum_replace(skb, csum, old_addr->v4, new_addr->v4, sizeof(__be32))) return -1;
    if (bpf_l4_csum_replace(skb, csum, old_check, new_check, sizeof(__be16))) return -1;
  }
  if (bpf_l4_csum_replace(skb, csum, old_port, new_port, sizeof(__be16))) return -1;
  if (bpf_skb_store_bytes(skb, addr_off, new_addr, lb_addr_len(family), 0)) return -1;
  return bpf_skb_store_bytes(skb, icmp_inner_ports_off(family) + (destination ? 2 : 0), &new_port, sizeof new_port, 0) ? -1 : 0;
}

static __always_inline void icmp_count_translated(const struct icmp_error* e) {
  np_count_icmp(e->frag_needed ? NP_ICMP_FRAG_NEEDED : NP_ICMP_OTHER_ERROR);
}

/* An ICMP error arriving on an external interface (the two ingress cases above): the tc verdict
 * or a drop reason; TC_ACT_OK untouched when it is about no translated flow. */
static __always_inline int icmp_error_ingress(struct __sk_buff* skb, __u8 family) {
  struct icmp_error e = {};
  if (!icmp_error_parse(skb, family, &e)) return TC_ACT_OK;
  union ct_key key;
  struct ct_value v;
  ct_key(&key, family, &e.in_daddr, &e.in_saddr, e.in_dport, e.in_sport, e.proto);
  if (ct_lookup(family, CT_FLOW, &key, &v)) {
    /* About a reply we sent the client: back to the backend, about the reply it sent. */
    if (icmp_rewrite_outer(skb, family, true, &e.daddr, &v.to)) return -NP_DROP_REWRITE;
    if (icmp_rewrite_inner(skb, family, false, &e.in_saddr, &v.to, e.in_sport, v.to_port)) return -NP_DROP_REWRITE;
    icmp_count_translated(&e);
    if (!v.via_port) return TC_ACT_OK; /* a pod of this node: the kernel forwards it */
    if (icmp_rewrite_outer(skb, family, false, &e.saddr, &v.via)) return -NP_DROP_REWRITE;
    if (icmp_rewrite_inner(skb, family, true, &e.in_daddr, &v.via, e.in_dport, v.via_port)) return -NP_DROP_REWRITE;
    return nat_redirect(skb, family, v.ifindex);
  }
  if (!ct_lookup(family, CT_REPLY, &key, &v) || !v.via_port) return TC_ACT_OK;
  /* About a packet we SNATed towards a remote backend: to the client, from the frontend, about
   * the packet the client sent. */
  if (icmp_rewrite_outer(skb, family, true, &e.daddr, &v.via)) return -NP_DROP_REWRITE;
  if (icmp_rewrite_outer(skb, family, false, &e.saddr, &v.to)) return -NP_DROP_REWRITE;
  if (icmp_rewrite_inner(skb, family, false, &e.in_saddr, &v.via, e.in_sport, v.via_port)) return -NP_DROP_REWRITE;
  if (icmp_rewrite_inner(skb, family, true, &e.in_daddr, &v.to, e.in_dport, v.to_port)) return -NP_DROP_REWRITE;
  icmp_count_translated(&e);
  return nat_redirect(skb, family, v.ifindex);
}

/* An ICMP error leaving through an external interface towards a client (the egress case). */
static __always_inline int icmp_error_egress(struct __sk_buff* skb, __u8 family) {
  struct icmp_error e = {};
  if (!icmp_error_parse(skb, family, &e)) return TC_ACT_OK;
  union ct_key key;
  struct ct_value v;
  ct_key(&key, family, &e.in_daddr, &e.in_saddr, e.in_dport, e.in_sport, e.proto);
  if (!ct_lookup(family, CT_REPLY, &key, &v) || v.via_port) return TC_ACT_OK;
  if (icmp_addr_equal(family, &e.saddr, &e.in_daddr) && icmp_rewrite_outer(skb, family, false, &e.saddr, &v.to)) return -NP_DROP_REWRITE;
  if (icmp_rewrite_inner(skb, family, true, &e.in_daddr, &v.to, e.in_dport, v.to_port)) return -NP_DROP_REWRITE;
  icmp_count_translated(&e);
  return TC_ACT_OK;
}

#endif
