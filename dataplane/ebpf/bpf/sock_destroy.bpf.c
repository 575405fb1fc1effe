/* A UDP socket iterator that destroys connected UDP sockets whose backend was removed from the
 * service they were translated for (the socket load balancer rewrote their destination at
 * connect(), so they would keep talking to the removed backend). bpf_sock_destroy() aborts the
 * socket: the application gets ECONNABORTED and reconnects, and its new connect() goes through
 * the hooks to a remaining backend, as Cilium does. The agent fills lb4/lb6_destroy_v1 and reads
 * the iterator once per network namespace (the iterator walks the namespace it is created in).
 *
 * Kernel structures are declared here with only the fields used, for CO-RE relocation against
 * the running kernel's BTF (no vmlinux.h needed). */
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "lib/maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCP_ESTABLISHED_ 1 /* a connected UDP socket's state */

struct in6_addr___sy {
  __u8 s6_addr[16];
};

struct sock_common {
  union {
    struct {
      __be32 skc_daddr;
      __be32 skc_rcv_saddr;
    };
  };
  union {
    struct {
      __be16 skc_dport;
      __u16 skc_num;
    };
  };
  unsigned short skc_family;
  volatile unsigned char skc_state;
  struct in6_addr___sy skc_v6_daddr;
} __attribute__((preserve_access_index));

struct sock {
  struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct inet_sock {
  struct sock sk;
} __attribute__((preserve_access_index));

struct udp_sock {
  struct inet_sock inet;
} __attribute__((preserve_access_index));

struct bpf_iter_meta;

struct bpf_iter__udp {
  struct bpf_iter_meta* meta;
  struct udp_sock* udp_sk;
} __attribute__((preserve_access_index));

extern int bpf_sock_destroy(struct sock_common* sk) __ksym;

/* (backend, VIP) whose connected UDP sockets go, IPv4; filled for one iteration. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct lb4_destroy_key);
  __type(value, __u8);
} lb4_destroy_v1 SEC(".maps");

/* The same for IPv6. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct lb6_destroy_key);
  __type(value, __u8);
} lb6_destroy_v1 SEC(".maps");

/* Destroyed sockets, for the agent's log and the tests. */
__u64 destroyed = 0;

/* Whether a connected socket of `family` was translated by the hooks from a VIP to a backend
 * that the agent listed in the destroy maps. */
static __always_inline bool lb_destroy_wanted(struct sock_common* sk, __u8 family, __u64 cookie) {
  union lb_addr backend = {}, vip = {};
  __be16 vip_port;
  if (family == LB_AF_INET6) __builtin_memcpy(backend.bytes, sk->skc_v6_daddr.s6_addr, 16);
  else backend.v4 = sk->skc_daddr;
  if (!lb_reverse_lookup(family, cookie, &backend, sk->skc_dport, &vip, &vip_port)) return false; /* not ours */
  if (family == LB_AF_INET6) {
    struct lb6_destroy_key k = {.backend_port = sk->skc_dport, .vip_port = vip_port};
    __builtin_memcpy(k.backend, backend.bytes, 16);
    __builtin_memcpy(k.vip, vip.bytes, 16);
    return bpf_map_lookup_elem(&lb6_destroy_v1, &k) != 0;
  }
  struct lb4_destroy_key k = {.backend = backend.v4, .vip = vip.v4, .backend_port = sk->skc_dport, .vip_port = vip_port};
  return bpf_map_lookup_elem(&lb4_destroy_v1, &k) != 0;
}

SEC("iter/udp")
int destroy_udp(struct bpf_iter__udp* ctx) {
  struct udp_sock* udp = ctx->udp_sk;
  if (!udp) return 0;
  struct sock_common* sk = &udp->inet.sk.__sk_common;
  if (sk->skc_state != TCP_ESTABLISHED_) return 0; /* not connected: each sendmsg is translated anew */
  const __u64 cookie = bpf_get_socket_cookie(sk);
  bool wanted = false;
  if (sk->skc_family == LB_AF_INET) wanted = lb_destroy_wanted(sk, LB_AF_INET, cookie);
  else if (sk->skc_family == LB_AF_INET6) wanted = lb_destroy_wanted(sk, LB_AF_INET6, cookie);
  if (wanted && bpf_sock_destroy(sk) == 0) __sync_fetch_and_add(&destroyed, 1);
  return 0;
}
