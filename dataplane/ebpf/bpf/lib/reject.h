/* ICMP errors the tc programs answer with: the packet becomes an ICMP (ICMPv6) error back to its
 * sender, quoting the original IP header and 8 bytes of L4 (RFC 792 / RFC 4443), out of the
 * interface it came in on. A frontend without endpoints answers port unreachable (TCP clients
 * fail at once with ECONNREFUSED, as with kube-proxy's reject); a redirected packet whose TTL
 * (hop limit) runs out, time exceeded. Rate-limited as the kernel limits its own ICMP errors
 * (net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst): a token bucket per CPU. */
#ifndef SWITCHYARD_BPF_REJECT_H
#define SWITCHYARD_BPF_REJECT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "csum.h"
#include "nodeport_metrics.h"
#include "packet.h"

/* Tokens per second and the bucket's size (the kernel's defaults: 1000/s, burst 50); load-time
 * knobs. */
const volatile __u32 icmp_rate_per_sec = 1000;
const volatile __u32 icmp_rate_burst = 50;

struct icmp_rate_bucket {
  __u64 refilled_ns; /* when tokens were last added */
  __u64 tokens;
};

/* 0 -> this CPU's token bucket for the ICMP errors the programs send. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct icmp_rate_bucket);
} np_icmp_rate_v1 SEC(".maps");

/* True when one more ICMP error may be sent now (a token taken). */
static __always_inline bool icmp_rate_allow(void) {
  __u32 zero = 0;
  struct icmp_rate_bucket* b = bpf_map_lookup_elem(&np_icmp_rate_v1, &zero);
  if (!b) return false;
  const __u64 now = bpf_ktime_get_ns();
  if (b->refilled_ns == 0) {
    b->refilled_ns = now;
    b->tokens = icmp_rate_burst;
  }
  __u64 elapsed = now - b->refilled_ns;
  if (elapsed > 10000000000ull) elapsed = 10000000000ull; /* bounds the product below */
  const __u64 add = elapsed * icmp_rate_per_sec / 1000000000ull;
  if (add) { /* a fraction of a token waits for the next call: refilled_ns stays */
    b->tokens = b->tokens + add > icmp_rate_burst ? icmp_rate_burst : b->tokens + add;
    b->refilled_ns = now;
  }
  if (b->tokens == 0) return false;
  b->tokens -= 1;
  return true;
}

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
  if (bpf_skb_store_bytes(skb, 0, eth, ETH_HLEN, 0) || bpf_skb_store_bytes(skb, ETH_HLEN, message, len, 0)) return -NP_DROP_REJECT;
  return bpf_redirect(skb->ifindex, 0);
}

/* Answers the packet (of `family`) with an ICMP error (type4/code4 for IPv4, type6/code6 for
 * IPv6): the tc verdict, or a drop reason when the answer could not be built or is over the
 * rate limit. */
static __always_inline int icmp_answer(struct __sk_buff* skb, __u8 family, __u8 type4, __u8 code4, __u8 type6, __u8 code6) {
  if (!icmp_rate_allow()) return -NP_DROP_ICMP_RATE;
  struct ethhdr in, eth;
  if (bpf_skb_load_bytes(skb, 0, &in, sizeof in)) return -NP_DROP_REJECT;
  __builtin_memcpy(eth.h_dest, in.h_source, 6); /* back where it came from */
  __builtin_memcpy(eth.h_source, in.h_dest, 6);
  eth.h_proto = in.h_proto;
  if (family == LB_AF_INET6) {
    struct reject6_message m = {.icmp = {.type = type6, .code = code6}};
    if (bpf_skb_load_bytes(skb, ETH_HLEN, m.icmp.original, sizeof m.icmp.original)) return -NP_DROP_REJECT;
    reject_build6(&m);
    return reject_send(skb, &eth, &m, sizeof m);
  }
  struct reject4_message m = {.icmp = {.type = type4, .code = code4}};
  if (bpf_skb_load_bytes(skb, ETH_HLEN, m.icmp.original, sizeof m.icmp.original)) return -NP_DROP_REJECT;
  reject_build4(&m);
  return reject_send(skb, &eth, &m, sizeof m);
}

/* A frontend without endpoints: destination unreachable, port unreachable. */
static __always_inline int reject(struct __sk_buff* skb, __u8 family) {
  const int ret = icmp_answer(skb, family, 3, 3, 1, 4);
  if (ret >= 0) np_count(NP_METRIC_REJECT_NO_BACKEND);
  return ret;
}

/* A packet to redirect whose TTL (hop limit) would run out here: time exceeded in transit back to
 * its sender (quoting it as it arrived: call this before any rewrite). */
static __always_inline bool icmp_ttl_runs_out(struct __sk_buff* skb, __u8 family) {
  __u8 ttl = 0;
  const __u32 off = ETH_HLEN + (family == LB_AF_INET6 ? offsetof(struct ipv6hdr, hop_limit) : offsetof(struct iphdr, ttl));
  if (bpf_skb_load_bytes(skb, off, &ttl, 1)) return false;
  return ttl <= 1;
}

static __always_inline int icmp_time_exceeded(struct __sk_buff* skb, __u8 family) {
  const int ret = icmp_answer(skb, family, 11, 0, 3, 0);
  if (ret >= 0) np_count_icmp(NP_ICMP_TIME_EXCEEDED);
  return ret;
}

#endif
