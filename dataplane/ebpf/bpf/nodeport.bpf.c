/* tc programs for the node's external interface: packets from outside to a NodePort, a
 * LoadBalancer IP or an externalIP are DNATed to a backend on ingress (the flow remembered in a
 * conntrack map so every packet follows the first), and the backend's replies get the frontend
 * back as their source on egress. Checksums are fixed incrementally. The client's source is
 * kept (externalTrafficPolicy Local semantics); SNAT for Cluster policy is not done yet. */
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

/* Where the L4 checksum sits. */
static __always_inline __u32 l4_csum_offset(__u32 l4_off, __u8 proto) {
  return l4_off + (proto == IPPROTO_TCP ? 16 : 6);
}

/* UDP checksum 0 means "none": leave it (BPF_F_MARK_MANGLED_0). */
static __always_inline __u64 l4_flags(__u8 proto) { return proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0; }

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
  struct ct4_key ct = {.client = ip->saddr, .frontend = ip->daddr, .client_port = ports[0], .frontend_port = ports[1], .proto = proto};
  __be32 backend;
  __be16 backend_port;
  struct ct4_entry* tracked = bpf_map_lookup_elem(&ct4_v1, &ct);
  if (tracked) {
    backend = tracked->backend;
    backend_port = tracked->backend_port;
    np_count(NP_METRIC_DNAT_TRACKED);
  } else {
    struct lb4_service_key key = {.address = ct.frontend, .port = ct.frontend_port, .proto = proto};
    struct lb_service_value* svc = bpf_map_lookup_elem(&lb4_external_v1, &key);
    if (!svc) {
      key.address = 0;  /* a NodePort: any address of the node */
      svc = bpf_map_lookup_elem(&lb4_external_v1, &key);
    }
    if (!svc) return TC_ACT_OK;
    if (svc->count == 0) {
      np_count(NP_METRIC_DROP_NO_BACKEND);
      return TC_ACT_SHOT;
    }
    __u32 id = NP_CHOOSE(lb4_external_v1, &key, svc);
    struct lb4_backend* b = bpf_map_lookup_elem(&lb4_backends_v1, &id);
    if (!b) {
      np_count(NP_METRIC_DROP_NO_BACKEND);
      return TC_ACT_SHOT;
    }
    backend = b->address;
    backend_port = b->port;
    struct ct4_entry entry = {.backend = backend, .backend_port = backend_port};
    bpf_map_update_elem(&ct4_v1, &ct, &entry, BPF_ANY);
    struct ct4_reverse_key rk = {.backend = backend, .client = ct.client, .backend_port = backend_port, .client_port = ct.client_port, .proto = proto};
    struct ct4_reverse_entry re = {.frontend = ct.frontend, .frontend_port = ct.frontend_port};
    bpf_map_update_elem(&ct4_reverse_v1, &rk, &re, BPF_ANY);
    np_count(NP_METRIC_DNAT_NEW);
  }
  if (nat4(skb, l4_off, proto, true, ct.frontend, backend, ct.frontend_port, backend_port)) return TC_ACT_SHOT;
  return TC_ACT_OK;
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
  struct ct4_reverse_key rk = {.backend = ip->saddr, .client = ip->daddr, .backend_port = ports[0], .client_port = ports[1], .proto = proto};
  struct ct4_reverse_entry* re = bpf_map_lookup_elem(&ct4_reverse_v1, &rk);
  if (!re) return TC_ACT_OK;
  __be32 frontend = re->frontend;
  __be16 frontend_port = re->frontend_port;
  if (nat4(skb, l4_off, proto, false, rk.backend, frontend, rk.backend_port, frontend_port)) return TC_ACT_SHOT;
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
  struct ct6_key ct = {.client_port = ports[0], .frontend_port = ports[1], .proto = proto};
  __builtin_memcpy(ct.client, &ip->saddr, 16);
  __builtin_memcpy(ct.frontend, &ip->daddr, 16);
  struct ct6_entry entry = {};
  struct ct6_entry* tracked = bpf_map_lookup_elem(&ct6_v1, &ct);
  if (tracked) {
    entry = *tracked;
    np_count(NP_METRIC_DNAT_TRACKED);
  } else {
    struct lb6_service_key key = {.port = ct.frontend_port, .proto = proto};
    __builtin_memcpy(key.address, ct.frontend, 16);
    struct lb_service_value* svc = bpf_map_lookup_elem(&lb6_external_v1, &key);
    if (!svc) {
      __builtin_memset(key.address, 0, 16);
      svc = bpf_map_lookup_elem(&lb6_external_v1, &key);
    }
    if (!svc) return TC_ACT_OK;
    if (svc->count == 0) {
      np_count(NP_METRIC_DROP_NO_BACKEND);
      return TC_ACT_SHOT;
    }
    __u32 id = NP_CHOOSE(lb6_external_v1, &key, svc);
    struct lb6_backend* b = bpf_map_lookup_elem(&lb6_backends_v1, &id);
    if (!b) {
      np_count(NP_METRIC_DROP_NO_BACKEND);
      return TC_ACT_SHOT;
    }
    __builtin_memcpy(entry.backend, b->address, 16);
    entry.backend_port = b->port;
    bpf_map_update_elem(&ct6_v1, &ct, &entry, BPF_ANY);
    struct ct6_reverse_key rk = {.backend_port = entry.backend_port, .client_port = ct.client_port, .proto = proto};
    __builtin_memcpy(rk.backend, entry.backend, 16);
    __builtin_memcpy(rk.client, ct.client, 16);
    struct ct6_reverse_entry re = {.frontend_port = ct.frontend_port};
    __builtin_memcpy(re.frontend, ct.frontend, 16);
    bpf_map_update_elem(&ct6_reverse_v1, &rk, &re, BPF_ANY);
    np_count(NP_METRIC_DNAT_NEW);
  }
  if (nat6(skb, l4_off, proto, true, ct.frontend, entry.backend, ct.frontend_port, entry.backend_port)) return TC_ACT_SHOT;
  return TC_ACT_OK;
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
  struct ct6_reverse_key rk = {.backend_port = ports[0], .client_port = ports[1], .proto = proto};
  __builtin_memcpy(rk.backend, &ip->saddr, 16);
  __builtin_memcpy(rk.client, &ip->daddr, 16);
  struct ct6_reverse_entry* found = bpf_map_lookup_elem(&ct6_reverse_v1, &rk);
  if (!found) return TC_ACT_OK;
  struct ct6_reverse_entry re = *found;
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
