/* An address of either family, as every program and map accessor passes it around. */
#ifndef SWITCHYARD_BPF_ADDR_H
#define SWITCHYARD_BPF_ADDR_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define LB_AF_INET 2   /* AF_INET, as bpf_fib_lookup and struct sock_common have it */
#define LB_AF_INET6 10 /* AF_INET6 */

/* IPv4 in the first 4 bytes (the rest zero), network order. */
union lb_addr {
  __be32 v4;
  __be32 words[4];
  __u8 bytes[16];
};

static __always_inline __u32 lb_addr_len(__u8 family) { return family == LB_AF_INET6 ? 16 : 4; }

#endif
