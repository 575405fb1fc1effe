/* tc programs for the node's external interfaces: packets from outside to a NodePort, a
 * LoadBalancer IP or an externalIP are DNATed to a backend on ingress (the flow remembered in a
 * conntrack map so every packet follows the first), and the backend's replies get the frontend
 * back as their source on egress. Checksums are fixed incrementally.
 *
 * Under externalTrafficPolicy Cluster, a flow to a backend whose route leaves through one of the
 * external interfaces (a pod on another node) is also SNATed to the node's address on that route
 * with a port allocated per flow, and redirected there: the replies come back to this node, where
 * ingress finds the flow by the reply tuple and sends them back to the client. Local backends
 * keep the client's address (their replies pass through this node anyway), as Cilium does; under
 * Local policy the client's address is always kept.
 *
 * XDP mode (nodeport_xdp on the external interface's XDP hook, the tc programs staying on it):
 * packets of tracked flows without SNAT are DNATed in XDP, before an skb exists; everything else
 * (a flow's first packet, SNAT, replies, rejects) passes on to the tc programs.
 *
 * Frontends without endpoints answer ICMP port unreachable (TCP connect() fails at once with
 * ECONNREFUSED, as with kube-proxy's reject); loadBalancerSourceRanges drop other sources. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <stddef.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/nodeport_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_HLEN_ 14
#define IP_FRAGMENTED 0x3fff
#define AF_INET_ 2
#define AF_INET6_ 10

/* Where the L4 checksum sits. */
static __always_inline __u32 l4_csum_offset(__u32 l4_off, __u8 proto) {
  return l4_off + (proto == IPPROTO_TCP ? 16 : 6);
}

/* UDP checksum 0 means "none": leave it (BPF_F_MARK_MANGLED_0). */
static __always_inline __u64 l4_flags(__u8 proto) { return proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0; }

/* A TCP reset ends the flow: its conntrack entries go at once instead of waiting for the LRU
 * (for a SNATed flow that frees its port). Read before any rewrite moves the packet's data. */
#define TCP_FLAG_RST 0x04
static __always_inline bool tcp_reset(void* data, void* data_end, __u32 l4_off, __u8 proto) {
  __u8* flags = data + l4_off + 13;
  return proto == IPPROTO_TCP && (void*)(flags + 1) <= data_end && (*flags & TCP_FLAG_RST);
}

/* Forgets a flow: its entry by the client's tuple and its reply entry. */
static __always_inline void forget4(const struct ct4_key* ct, const struct ct4_entry* entry) {
  struct ct4_reverse_key rk = {.backend = entry->backend, .client = entry->snat_port ? entry->snat_addr : ct->client,
                               .backend_port = entry->backend_port,
                               .client_port = entry->snat_port ? entry->snat_port : ct->client_port, .proto = ct->proto};
  bpf_map_delete_elem(&ct4_reverse_v1, &rk);
  bpf_map_delete_elem(&ct4_v1, ct);
}

static __always_inline void forget6(const struct ct6_key* ct, const struct ct6_entry* entry) {
  struct ct6_reverse_key rk = {.backend_port = entry->backend_port,
                               .client_port = entry->snat_port ? entry->snat_port : ct->client_port, .proto = ct->proto};
  __builtin_memcpy(rk.backend, entry->backend, 16);
  __builtin_memcpy(rk.client, entry->snat_port ? entry->snat_addr : ct->client, 16);
  bpf_map_delete_elem(&ct6_reverse_v1, &rk);
  bpf_map_delete_elem(&ct6_v1, ct);
}

/* The same from a reply's side: its reply entry and the client's entry it names. */
static __always_inline void forget_reply4(const struct ct4_reverse_key* rk, const struct ct4_reverse_entry* re) {
  struct ct4_key ct = {.client = re->client_port ? re->client : rk->client, .frontend = re->frontend,
                       .client_port = re->client_port ? re->client_port : rk->client_port,
                       .frontend_port = re->frontend_port, .proto = rk->proto};
  bpf_map_delete_elem(&ct4_v1, &ct);
  bpf_map_delete_elem(&ct4_reverse_v1, rk);
}

static __always_inline void forget_reply6(const struct ct6_reverse_key* rk, const struct ct6_reverse_entry* re) {
  struct ct6_key ct = {.client_port = re->client_port ? re->client_port : rk->client_port,
                       .frontend_port = re->frontend_port, .proto = rk->proto};
  __builtin_memcpy(ct.client, re->client_port ? re->client : rk->client, 16);
  __builtin_memcpy(ct.frontend, re->frontend, 16);
  bpf_map_delete_elem(&ct6_v1, &ct);
  bpf_map_delete_elem(&ct6_reverse_v1, rk);
}

/* A redirected packet skips the kernel's forwarding path, which would decrement its TTL (hop
 * limit): done here, with the IPv4 header checksum fixed; one that runs out is dropped (no ICMP
 * time exceeded is sent). 0: go on. */
static __always_inline int forward_ttl4(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct iphdr* ip = data + ETH_HLEN_;
  if ((void*)(ip + 1) > data_end || ip->ttl <= 1) return -1;
  __be16* ttl_proto = (__be16*)&ip->ttl;  /* TTL and protocol: one 16-bit word of the checksum */
  __be16 old = *ttl_proto;
  ip->ttl -= 1;
  return bpf_l3_csum_replace(skb, ETH_HLEN_ + offsetof(struct iphdr, check), old, *ttl_proto, sizeof(old)) ? -1 : 0;
}

static __always_inline int forward_hop_limit6(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ipv6hdr* ip = data + ETH_HLEN_;
  if ((void*)(ip + 1) > data_end || ip->hop_limit <= 1) return -1;
  ip->hop_limit -= 1;
  return 0;
}

static __always_inline int redirect4(struct __sk_buff* skb, __u32 ifindex) {
  if (forward_ttl4(skb)) {
    np_count(NP_METRIC_DROP_TTL);
    return TC_ACT_SHOT;
  }
  return bpf_redirect_neigh(ifindex, 0, 0, 0);
}

static __always_inline int redirect6(struct __sk_buff* skb, __u32 ifindex) {
  if (forward_hop_limit6(skb)) {
    np_count(NP_METRIC_DROP_TTL);
    return TC_ACT_SHOT;
  }
  return bpf_redirect_neigh(ifindex, 0, 0, 0);
}

/* Rewrites an IPv4 address and port (destination or source) and both checksums. */
static __always_inline int nat4(struct __sk_buff* skb, __u32 l4_off, __u8 proto, bool destination, __be32 old_addr,
                                __be32 new_addr, __be16 old_port, __be16 new_port) {
  __u32 addr_off = ETH_HLEN_ + (destination ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));
  __u32 port_off = l4_off + (destination ? 2 : 0);
  __u32 csum_off = l4_csum_offset(l4_off, proto);
  if (bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr, BPF_F_PSEUDO_HDR | l4_flags(proto) | sizeof(new_addr)))
    return -1;
  if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, l4_flags(proto) | sizeof(new_port))) return -1;
  if (bpf_l3_csum_replace(skb, ETH_HLEN_ + offsetof(struct iphdr, check), old_addr, new_addr, sizeof(new_addr)))
    return -1;
  if (bpf_skb_store_bytes(skb, addr_off, &new_addr, sizeof(new_addr), 0)) return -1;
  if (bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0)) return -1;
  return 0;
}

/* The same for IPv6: no L3 checksum, the L4 one covers the addresses through the pseudo-header. */
static __always_inline int nat6(struct __sk_buff* skb, __u32 l4_off, __u8 proto, bool destination,
                                const __u8 old_addr[16], const __u8 new_addr[16], __be16 old_port, __be16 new_port) {
  __u32 addr_off = ETH_HLEN_ + (destination ? offsetof(struct ipv6hdr, daddr) : offsetof(struct ipv6hdr, saddr));
  __u32 port_off = l4_off + (destination ? 2 : 0);
  __u32 csum_off = l4_csum_offset(l4_off, proto);
  __be32 from[4], to[4];
  __builtin_memcpy(from, old_addr, 16);
  __builtin_memcpy(to, new_addr, 16);
  __s64 diff = bpf_csum_diff(from, 16, to, 16, 0);
  if (bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR | l4_flags(proto))) return -1;
  if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, l4_flags(proto) | sizeof(new_port))) return -1;
  if (bpf_skb_store_bytes(skb, addr_off, to, 16, 0)) return -1;
  if (bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0)) return -1;
  return 0;
}

/* Slot 1..count at random, then the backend id it names. */
#define NP_CHOOSE(services_map, key, svc)                                                  \
  ({                                                                                     \
    (key)->slot = (__u16)(bpf_get_prandom_u32() % (svc)->count) + 1;                      \
    struct lb_service_value* s_ = bpf_map_lookup_elem(&services_map, key);                \
    s_ ? s_->backend_id : 0;                                                             \
  })

static __always_inline __u16 csum_fold(__s64 sum) {
  __u32 s = (__u32)sum;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (__u16)~s;
}

static __always_inline __u16 snat_port_candidate(__u32 start, __u32 attempt) {
  return (__u16)(LB_SNAT_PORT_MIN + (start + attempt) % (LB_SNAT_PORT_MAX - LB_SNAT_PORT_MIN + 1));
}

/* A frontend without endpoints: the packet becomes an ICMP port unreachable back to the client
 * (the original IP header and 8 bytes of L4, RFC 792 / RFC 4443), out of the interface it came in
 * on. Built in three aligned pieces (Ethernet, IP, ICMP) so that bpf_csum_diff can sum them. */
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

/* The Ethernet header of the answer: the addresses swapped. */
static __always_inline int reply_eth(struct __sk_buff* skb, __be16 proto, struct ethhdr* eth) {
  struct ethhdr in;
  if (bpf_skb_load_bytes(skb, 0, &in, sizeof in)) return -1;
  __builtin_memcpy(eth->h_dest, in.h_source, 6);
  __builtin_memcpy(eth->h_source, in.h_dest, 6);
  eth->h_proto = proto;
  return 0;
}

static __always_inline int reject4(struct __sk_buff* skb) {
  struct ethhdr eth;
  struct iphdr ip = {};
  struct icmp4_body icmp = {.type = 3, .code = 3};  /* destination unreachable, port unreachable */
  if (reply_eth(skb, bpf_htons(ETH_P_IP), &eth)) return TC_ACT_SHOT;
  if (bpf_skb_load_bytes(skb, ETH_HLEN_, icmp.original, sizeof icmp.original)) return TC_ACT_SHOT;
  struct iphdr* orig = (struct iphdr*)icmp.original;
  ip.version = 4;
  ip.ihl = 5;
  ip.tot_len = bpf_htons(sizeof ip + sizeof icmp);
  ip.ttl = 64;
  ip.protocol = IPPROTO_ICMP;
  ip.saddr = orig->daddr;
  ip.daddr = orig->saddr;
  ip.check = csum_fold(bpf_csum_diff(0, 0, (__be32*)&ip, sizeof ip, 0));
  icmp.checksum = csum_fold(bpf_csum_diff(0, 0, (__be32*)&icmp, sizeof icmp, 0));
  if (bpf_skb_change_tail(skb, ETH_HLEN_ + sizeof ip + sizeof icmp, 0)) return TC_ACT_SHOT;
  if (bpf_skb_store_bytes(skb, 0, &eth, ETH_HLEN_, 0) || bpf_skb_store_bytes(skb, ETH_HLEN_, &ip, sizeof ip, 0) ||
      bpf_skb_store_bytes(skb, ETH_HLEN_ + sizeof ip, &icmp, sizeof icmp, 0))
    return TC_ACT_SHOT;
  np_count(NP_METRIC_REJECT_NO_BACKEND);
  return bpf_redirect(skb->ifindex, 0);
}

static __always_inline int reject6(struct __sk_buff* skb) {
  struct ethhdr eth;
  struct ipv6hdr ip = {};
  struct icmp6_body icmp = {.type = 1, .code = 4};  /* destination unreachable, port unreachable */
  if (reply_eth(skb, bpf_htons(ETH_P_IPV6), &eth)) return TC_ACT_SHOT;
  if (bpf_skb_load_bytes(skb, ETH_HLEN_, icmp.original, sizeof icmp.original)) return TC_ACT_SHOT;
  struct ipv6hdr* orig = (struct ipv6hdr*)icmp.original;
  ip.version = 6;
  ip.payload_len = bpf_htons(sizeof icmp);
  ip.nexthdr = 58;  /* ICMPv6 */
  ip.hop_limit = 64;
  __builtin_memcpy(&ip.saddr, &orig->daddr, 16);
  __builtin_memcpy(&ip.daddr, &orig->saddr, 16);
  struct icmp6_pseudo ph = {.length = bpf_htonl(sizeof icmp), .next_header = 58};
  __builtin_memcpy(ph.saddr, &orig->daddr, 16);
  __builtin_memcpy(ph.daddr, &orig->saddr, 16);
  __s64 sum = bpf_csum_diff(0, 0, (__be32*)&ph, sizeof ph, 0);
  icmp.checksum = csum_fold(bpf_csum_diff(0, 0, (__be32*)&icmp, sizeof icmp, (__u32)sum));
  if (bpf_skb_change_tail(skb, ETH_HLEN_ + sizeof ip + sizeof icmp, 0)) return TC_ACT_SHOT;
  if (bpf_skb_store_bytes(skb, 0, &eth, ETH_HLEN_, 0) || bpf_skb_store_bytes(skb, ETH_HLEN_, &ip, sizeof ip, 0) ||
      bpf_skb_store_bytes(skb, ETH_HLEN_ + sizeof ip, &icmp, sizeof icmp, 0))
    return TC_ACT_SHOT;
  np_count(NP_METRIC_REJECT_NO_BACKEND);
  return bpf_redirect(skb->ifindex, 0);
}

/* A frontend without an endpoint for this traffic: reject, or drop when the service has endpoints
 * on other nodes (Local policy). */
static __always_inline int no_endpoint(struct __sk_buff* skb, __u16 flags, bool v6) {
  if (flags & LB_SERVICE_FLAG_DROP_EMPTY) {
    np_count(NP_METRIC_DROP_NO_LOCAL);
    return TC_ACT_SHOT;
  }
  return v6 ? reject6(skb) : reject4(skb);
}

/* The route to a backend: when it leaves through an external interface (another node), the
 * address the node would use on it and the interface; else 0 (a local pod: no SNAT needed). */
static __always_inline __u32 remote_route4(struct __sk_buff* skb, __be32 backend, __be32* source) {
  struct bpf_fib_lookup fib = {.family = AF_INET_, .ipv4_dst = backend, .ifindex = skb->ifindex};
  if (bpf_fib_lookup(skb, &fib, sizeof fib, BPF_FIB_LOOKUP_SKIP_NEIGH | BPF_FIB_LOOKUP_SRC) != BPF_FIB_LKUP_RET_SUCCESS)
    return 0;
  __u32 oif = fib.ifindex;
  if (!bpf_map_lookup_elem(&np_interfaces_v1, &oif) || fib.ipv4_src == 0) return 0;
  *source = fib.ipv4_src;
  return oif;
}

static __always_inline __u32 remote_route6(struct __sk_buff* skb, const __u8 backend[16], __u8 source[16]) {
  struct bpf_fib_lookup fib = {.family = AF_INET6_, .ifindex = skb->ifindex};
  __builtin_memcpy(fib.ipv6_dst, backend, 16);
  if (bpf_fib_lookup(skb, &fib, sizeof fib, BPF_FIB_LOOKUP_SKIP_NEIGH | BPF_FIB_LOOKUP_SRC) != BPF_FIB_LKUP_RET_SUCCESS)
    return 0;
  __u32 oif = fib.ifindex;
  if (!bpf_map_lookup_elem(&np_interfaces_v1, &oif)) return 0;
  __builtin_memcpy(source, fib.ipv6_src, 16);
  return oif;
}

static __always_inline bool source_allowed4(__u32 service_id, __be32 source) {
  struct lb4_source_range_key k = {.prefixlen = 64, .service_id = bpf_htonl(service_id), .source = source};
  return bpf_map_lookup_elem(&lb4_source_ranges_v1, &k) != 0;
}

static __always_inline bool source_allowed6(__u32 service_id, const __u8 source[16]) {
  struct lb6_source_range_key k = {.prefixlen = 160, .service_id = bpf_htonl(service_id)};
  __builtin_memcpy(k.source, source, 16);
  return bpf_map_lookup_elem(&lb6_source_ranges_v1, &k) != 0;
}

/* A reply to a SNATed flow (to the node's address and allocated port): back to the client, from
 * the frontend, out of the interface the client came in on. */
static __always_inline int reverse_snat4(struct __sk_buff* skb, __u32 l4_off, __u8 proto, const struct ct4_reverse_key* rk,
                                         const struct ct4_reverse_entry* re, bool reset) {
  if (reset) forget_reply4(rk, re);
  if (nat4(skb, l4_off, proto, true, rk->client, re->client, rk->client_port, re->client_port)) return TC_ACT_SHOT;
  if (nat4(skb, l4_off, proto, false, rk->backend, re->frontend, rk->backend_port, re->frontend_port)) return TC_ACT_SHOT;
  np_count(NP_METRIC_REVERSE_SNAT);
  return redirect4(skb, re->client_ifindex);
}

static __always_inline int reverse_snat6(struct __sk_buff* skb, __u32 l4_off, __u8 proto, const struct ct6_reverse_key* rk,
                                         const struct ct6_reverse_entry* re, bool reset) {
  if (reset) forget_reply6(rk, re);
  if (nat6(skb, l4_off, proto, true, rk->client, re->client, rk->client_port, re->client_port)) return TC_ACT_SHOT;
  if (nat6(skb, l4_off, proto, false, rk->backend, re->frontend, rk->backend_port, re->frontend_port)) return TC_ACT_SHOT;
  np_count(NP_METRIC_REVERSE_SNAT);
  return redirect6(skb, re->client_ifindex);
}

static __always_inline int np4_ingress(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct iphdr* ip = data + ETH_HLEN_;
  if ((void*)(ip + 1) > data_end || ip->ihl != 5) return TC_ACT_OK;  /* options: not ours to translate */
  if (ip->frag_off & bpf_htons(IP_FRAGMENTED)) return TC_ACT_OK;
  __u8 proto = ip->protocol;
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return TC_ACT_OK;
  __u32 l4_off = ETH_HLEN_ + sizeof(struct iphdr);
  __be16* ports = data + l4_off;
  if ((void*)(ports + 2) > data_end) return TC_ACT_OK;
  const bool reset = tcp_reset(data, data_end, l4_off, proto);
  struct ct4_key ct = {.client = ip->saddr, .frontend = ip->daddr, .client_port = ports[0], .frontend_port = ports[1], .proto = proto};
  struct ct4_entry entry = {};
  struct ct4_entry* tracked = bpf_map_lookup_elem(&ct4_v1, &ct);
  if (tracked) {
    entry = *tracked;
    np_count(NP_METRIC_DNAT_TRACKED);
  } else {
    /* A reply to a flow this node SNATed? */
    struct ct4_reverse_key reply = {.backend = ct.client, .client = ct.frontend, .backend_port = ct.client_port,
                                    .client_port = ct.frontend_port, .proto = proto};
    struct ct4_reverse_entry* snated = bpf_map_lookup_elem(&ct4_reverse_v1, &reply);
    if (snated && snated->client_port) {
      struct ct4_reverse_entry re = *snated;
      return reverse_snat4(skb, l4_off, proto, &reply, &re, reset);
    }
    struct lb4_service_key key = {.address = ct.frontend, .port = ct.frontend_port, .proto = proto};
    struct lb_service_value* svc = bpf_map_lookup_elem(&lb4_external_v1, &key);
    if (!svc) {
      key.address = 0;  /* a NodePort: any address of the node */
      svc = bpf_map_lookup_elem(&lb4_external_v1, &key);
    }
    if (!svc) return TC_ACT_OK;
    if ((svc->flags & LB_SERVICE_FLAG_SOURCE_RANGES) && !source_allowed4(svc->service_id, ct.client)) {
      np_count(NP_METRIC_DROP_SOURCE_RANGE);
      return TC_ACT_SHOT;
    }
    if (svc->count == 0) return no_endpoint(skb, svc->flags, false);
    const bool local_policy = svc->flags & LB_SERVICE_FLAG_LOCAL;
    __u32 id = NP_CHOOSE(lb4_external_v1, &key, svc);
    struct lb4_backend* b = bpf_map_lookup_elem(&lb4_backends_v1, &id);
    if (!b) return no_endpoint(skb, 0, false);
    entry.backend = b->address;
    entry.backend_port = b->port;
    struct ct4_reverse_key rk = {.backend = entry.backend, .client = ct.client, .backend_port = entry.backend_port,
                                 .client_port = ct.client_port, .proto = proto};
    struct ct4_reverse_entry re = {.frontend = ct.frontend, .frontend_port = ct.frontend_port};
    if (!local_policy) entry.snat_ifindex = remote_route4(skb, entry.backend, &entry.snat_addr);
    if (entry.snat_ifindex) {
      /* The reply tuple must be unique: probe random ports until one is free. */
      rk.client = entry.snat_addr;
      re.client = ct.client;
      re.client_port = ct.client_port;
      re.client_ifindex = skb->ifindex;
      __u32 start = bpf_get_prandom_u32();
      for (__u32 i = 0; i < LB_SNAT_TRIES && !entry.snat_port; i++) {
        rk.client_port = bpf_htons(snat_port_candidate(start, i));
        if (bpf_map_update_elem(&ct4_reverse_v1, &rk, &re, BPF_NOEXIST) == 0) entry.snat_port = rk.client_port;
      }
      if (!entry.snat_port) {
        np_count(NP_METRIC_DROP_SNAT_PORTS);
        return TC_ACT_SHOT;
      }
      np_count(NP_METRIC_SNAT_NEW);
    } else {
      bpf_map_update_elem(&ct4_reverse_v1, &rk, &re, BPF_ANY);
    }
    bpf_map_update_elem(&ct4_v1, &ct, &entry, BPF_ANY);
    np_count(NP_METRIC_DNAT_NEW);
  }
  if (reset) forget4(&ct, &entry);
  if (nat4(skb, l4_off, proto, true, ct.frontend, entry.backend, ct.frontend_port, entry.backend_port)) return TC_ACT_SHOT;
  if (!entry.snat_port) return TC_ACT_OK;
  if (nat4(skb, l4_off, proto, false, ct.client, entry.snat_addr, ct.client_port, entry.snat_port)) return TC_ACT_SHOT;
  /* Redirected: its source is now a local address, which the input route would refuse. */
  return redirect4(skb, entry.snat_ifindex);
}

static __always_inline int np4_egress(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct iphdr* ip = data + ETH_HLEN_;
  if ((void*)(ip + 1) > data_end || ip->ihl != 5) return TC_ACT_OK;
  if (ip->frag_off & bpf_htons(IP_FRAGMENTED)) return TC_ACT_OK;
  __u8 proto = ip->protocol;
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return TC_ACT_OK;
  __u32 l4_off = ETH_HLEN_ + sizeof(struct iphdr);
  __be16* ports = data + l4_off;
  if ((void*)(ports + 2) > data_end) return TC_ACT_OK;
  const bool reset = tcp_reset(data, data_end, l4_off, proto);
  struct ct4_reverse_key rk = {.backend = ip->saddr, .client = ip->daddr, .backend_port = ports[0], .client_port = ports[1], .proto = proto};
  struct ct4_reverse_entry* found = bpf_map_lookup_elem(&ct4_reverse_v1, &rk);
  if (!found || found->client_port) return TC_ACT_OK;  /* SNATed flows' replies are handled on ingress */
  struct ct4_reverse_entry re = *found;
  if (reset) forget_reply4(&rk, &re);
  if (nat4(skb, l4_off, proto, false, rk.backend, re.frontend, rk.backend_port, re.frontend_port)) return TC_ACT_SHOT;
  np_count(NP_METRIC_REVERSE_NAT);
  return TC_ACT_OK;
}

/* IPv6 without extension headers (the next header is TCP or UDP). */
static __always_inline int np6_ingress(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ipv6hdr* ip = data + ETH_HLEN_;
  if ((void*)(ip + 1) > data_end) return TC_ACT_OK;
  __u8 proto = ip->nexthdr;
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return TC_ACT_OK;
  __u32 l4_off = ETH_HLEN_ + sizeof(struct ipv6hdr);
  __be16* ports = data + l4_off;
  if ((void*)(ports + 2) > data_end) return TC_ACT_OK;
  const bool reset = tcp_reset(data, data_end, l4_off, proto);
  struct ct6_key ct = {.client_port = ports[0], .frontend_port = ports[1], .proto = proto};
  __builtin_memcpy(ct.client, &ip->saddr, 16);
  __builtin_memcpy(ct.frontend, &ip->daddr, 16);
  struct ct6_entry entry = {};
  struct ct6_entry* tracked = bpf_map_lookup_elem(&ct6_v1, &ct);
  if (tracked) {
    entry = *tracked;
    np_count(NP_METRIC_DNAT_TRACKED);
  } else {
    struct ct6_reverse_key reply = {.backend_port = ct.client_port, .client_port = ct.frontend_port, .proto = proto};
    __builtin_memcpy(reply.backend, ct.client, 16);
    __builtin_memcpy(reply.client, ct.frontend, 16);
    struct ct6_reverse_entry* snated = bpf_map_lookup_elem(&ct6_reverse_v1, &reply);
    if (snated && snated->client_port) {
      struct ct6_reverse_entry re = *snated;
      return reverse_snat6(skb, l4_off, proto, &reply, &re, reset);
    }
    struct lb6_service_key key = {.port = ct.frontend_port, .proto = proto};
    __builtin_memcpy(key.address, ct.frontend, 16);
    struct lb_service_value* svc = bpf_map_lookup_elem(&lb6_external_v1, &key);
    if (!svc) {
      __builtin_memset(key.address, 0, 16);
      svc = bpf_map_lookup_elem(&lb6_external_v1, &key);
    }
    if (!svc) return TC_ACT_OK;
    if ((svc->flags & LB_SERVICE_FLAG_SOURCE_RANGES) && !source_allowed6(svc->service_id, ct.client)) {
      np_count(NP_METRIC_DROP_SOURCE_RANGE);
      return TC_ACT_SHOT;
    }
    if (svc->count == 0) return no_endpoint(skb, svc->flags, true);
    const bool local_policy = svc->flags & LB_SERVICE_FLAG_LOCAL;
    __u32 id = NP_CHOOSE(lb6_external_v1, &key, svc);
    struct lb6_backend* b = bpf_map_lookup_elem(&lb6_backends_v1, &id);
    if (!b) return no_endpoint(skb, 0, true);
    __builtin_memcpy(entry.backend, b->address, 16);
    entry.backend_port = b->port;
    struct ct6_reverse_key rk = {.backend_port = entry.backend_port, .client_port = ct.client_port, .proto = proto};
    __builtin_memcpy(rk.backend, entry.backend, 16);
    __builtin_memcpy(rk.client, ct.client, 16);
    struct ct6_reverse_entry re = {.frontend_port = ct.frontend_port};
    __builtin_memcpy(re.frontend, ct.frontend, 16);
    if (!local_policy) entry.snat_ifindex = remote_route6(skb, entry.backend, entry.snat_addr);
    if (entry.snat_ifindex) {
      __builtin_memcpy(rk.client, entry.snat_addr, 16);
      __builtin_memcpy(re.client, ct.client, 16);
      re.client_port = ct.client_port;
      re.client_ifindex = skb->ifindex;
      __u32 start = bpf_get_prandom_u32();
      for (__u32 i = 0; i < LB_SNAT_TRIES && !entry.snat_port; i++) {
        rk.client_port = bpf_htons(snat_port_candidate(start, i));
        if (bpf_map_update_elem(&ct6_reverse_v1, &rk, &re, BPF_NOEXIST) == 0) entry.snat_port = rk.client_port;
      }
      if (!entry.snat_port) {
        np_count(NP_METRIC_DROP_SNAT_PORTS);
        return TC_ACT_SHOT;
      }
      np_count(NP_METRIC_SNAT_NEW);
    } else {
      bpf_map_update_elem(&ct6_reverse_v1, &rk, &re, BPF_ANY);
    }
    bpf_map_update_elem(&ct6_v1, &ct, &entry, BPF_ANY);
    np_count(NP_METRIC_DNAT_NEW);
  }
  if (reset) forget6(&ct, &entry);
  if (nat6(skb, l4_off, proto, true, ct.frontend, entry.backend, ct.frontend_port, entry.backend_port)) return TC_ACT_SHOT;
  if (!entry.snat_port) return TC_ACT_OK;
  if (nat6(skb, l4_off, proto, false, ct.client, entry.snat_addr, ct.client_port, entry.snat_port)) return TC_ACT_SHOT;
  return redirect6(skb, entry.snat_ifindex);
}

static __always_inline int np6_egress(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ipv6hdr* ip = data + ETH_HLEN_;
  if ((void*)(ip + 1) > data_end) return TC_ACT_OK;
  __u8 proto = ip->nexthdr;
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return TC_ACT_OK;
  __u32 l4_off = ETH_HLEN_ + sizeof(struct ipv6hdr);
  __be16* ports = data + l4_off;
  if ((void*)(ports + 2) > data_end) return TC_ACT_OK;
  const bool reset = tcp_reset(data, data_end, l4_off, proto);
  struct ct6_reverse_key rk = {.backend_port = ports[0], .client_port = ports[1], .proto = proto};
  __builtin_memcpy(rk.backend, &ip->saddr, 16);
  __builtin_memcpy(rk.client, &ip->daddr, 16);
  struct ct6_reverse_entry* found = bpf_map_lookup_elem(&ct6_reverse_v1, &rk);
  if (!found || found->client_port) return TC_ACT_OK;
  struct ct6_reverse_entry re = *found;
  if (reset) forget_reply6(&rk, &re);
  if (nat6(skb, l4_off, proto, false, rk.backend, re.frontend, rk.backend_port, re.frontend_port)) return TC_ACT_SHOT;
  np_count(NP_METRIC_REVERSE_NAT);
  return TC_ACT_OK;
}

static __always_inline __be16 eth_protocol(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return 0;
  return eth->h_proto;
}

SEC("tc")
int nodeport_ingress(struct __sk_buff* skb) {
  __be16 p = eth_protocol(skb);
  if (p == bpf_htons(ETH_P_IP)) return np4_ingress(skb);
  if (p == bpf_htons(ETH_P_IPV6)) return np6_ingress(skb);
  return TC_ACT_OK;
}

SEC("tc")
int nodeport_egress(struct __sk_buff* skb) {
  __be16 p = eth_protocol(skb);
  if (p == bpf_htons(ETH_P_IP)) return np4_egress(skb);
  if (p == bpf_htons(ETH_P_IPV6)) return np6_egress(skb);
  return TC_ACT_OK;
}

/* --- XDP: the DNAT of tracked flows, with checksums fixed by hand (no skb helpers) ----------- */

/* RFC 1624 incremental update of a 16-bit one's complement checksum for a 32-bit change. */
static __always_inline __u16 csum_replace4(__u16 check, __be32 from, __be32 to) {
  __u32 sum = (__u16)~check;
  sum += (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

static __always_inline __u16 csum_replace2(__u16 check, __be16 from, __be16 to) {
  return csum_replace4(check, (__be32)from, (__be32)to);
}

/* The L4 checksum field, or 0 when the packet is too short. */
static __always_inline __u16* xdp_l4_csum(void* l4, void* data_end, __u8 proto) {
  __u16* c = l4 + (proto == IPPROTO_TCP ? 16 : 6);
  if ((void*)(c + 1) > data_end) return 0;
  return c;
}

static __always_inline int xdp4(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct iphdr* ip = data + ETH_HLEN_;
  if ((void*)(ip + 1) > data_end || ip->ihl != 5) return XDP_PASS;
  if (ip->frag_off & bpf_htons(IP_FRAGMENTED)) return XDP_PASS;
  __u8 proto = ip->protocol;
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return XDP_PASS;
  __be16* ports = (void*)(ip + 1);
  if ((void*)(ports + 2) > data_end) return XDP_PASS;
  if (tcp_reset(data, data_end, ETH_HLEN_ + sizeof(struct iphdr), proto)) return XDP_PASS;  /* tc forgets the flow */
  struct ct4_key ct = {.client = ip->saddr, .frontend = ip->daddr, .client_port = ports[0], .frontend_port = ports[1], .proto = proto};
  struct ct4_entry* tracked = bpf_map_lookup_elem(&ct4_v1, &ct);
  if (!tracked || tracked->snat_port) return XDP_PASS;
  __be32 backend = tracked->backend;
  __be16 backend_port = tracked->backend_port;
  __u16* l4c = xdp_l4_csum(ports, data_end, proto);
  if (!l4c) return XDP_PASS;
  if (proto == IPPROTO_TCP || *l4c) {
    __u16 c = csum_replace4(*l4c, ct.frontend, backend);
    c = csum_replace2(c, ct.frontend_port, backend_port);
    if (proto == IPPROTO_UDP && c == 0) c = 0xffff;
    *l4c = c;
  }
  ip->check = csum_replace4(ip->check, ct.frontend, backend);
  ip->daddr = backend;
  ports[1] = backend_port;
  np_count(NP_METRIC_XDP_DNAT);
  return XDP_PASS;
}

static __always_inline int xdp6(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ipv6hdr* ip = data + ETH_HLEN_;
  if ((void*)(ip + 1) > data_end) return XDP_PASS;
  __u8 proto = ip->nexthdr;
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return XDP_PASS;
  __be16* ports = (void*)(ip + 1);
  if ((void*)(ports + 2) > data_end) return XDP_PASS;
  struct ct6_key ct = {.client_port = ports[0], .frontend_port = ports[1], .proto = proto};
  __builtin_memcpy(ct.client, &ip->saddr, 16);
  __builtin_memcpy(ct.frontend, &ip->daddr, 16);
  struct ct6_entry* tracked = bpf_map_lookup_elem(&ct6_v1, &ct);
  if (!tracked || tracked->snat_port) return XDP_PASS;
  if (tcp_reset(data, data_end, ETH_HLEN_ + sizeof(struct ipv6hdr), proto)) return XDP_PASS;  /* tc forgets the flow */
  __u16* l4c = xdp_l4_csum(ports, data_end, proto);
  if (!l4c) return XDP_PASS;
  __be32 from[4], to[4];
  __builtin_memcpy(from, ct.frontend, 16);
  __builtin_memcpy(to, tracked->backend, 16);
  __u16 c = *l4c;
#pragma unroll
  for (int i = 0; i < 4; i++) c = csum_replace4(c, from[i], to[i]);
  c = csum_replace2(c, ct.frontend_port, tracked->backend_port);
  if (proto == IPPROTO_UDP && c == 0) c = 0xffff;
  *l4c = c;
  __builtin_memcpy(&ip->daddr, to, 16);
  ports[1] = tracked->backend_port;
  np_count(NP_METRIC_XDP_DNAT);
  return XDP_PASS;
}

SEC("xdp")
int nodeport_xdp(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return XDP_PASS;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) return xdp4(ctx);
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) return xdp6(ctx);
  return XDP_PASS;
}
