/* Internet checksum arithmetic (RFC 1071, RFC 1624) for the programs that rewrite packets: where
 * the L4 checksum sits, how tc's checksum helpers treat UDP, and by-hand updates for XDP, which
 * has no skb helpers. No maps. */
#ifndef SWITCHYARD_BPF_CSUM_H
#define SWITCHYARD_BPF_CSUM_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

/* The L4 checksum's offset from the start of the TCP or UDP header. */
static __always_inline __u32 csum_l4_field(__u8 proto) { return proto == IPPROTO_TCP ? 16 : 6; }

/* UDP checksum 0 means "none": bpf_l4_csum_replace leaves it so (BPF_F_MARK_MANGLED_0). */
static __always_inline __u64 csum_l4_flags(__u8 proto) { return proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0; }

/* A 32-bit running sum (bpf_csum_diff's) folded into a 16-bit checksum. */
static __always_inline __u16 csum_fold(__s64 sum) {
  __u32 s = (__u32)sum;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (__u16)~s;
}

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

#endif
