/* Socket-level load balancing on cgroup sock_addr hooks: connect() and UDP sendmsg() to a
 * service VIP are rewritten to a backend once per connection (per socket for unconnected UDP),
 * and recvmsg()/getpeername() show the VIP again, so applications never see the translation.
 * Services without endpoints make connect() fail at once with ECONNREFUSED.
 *
 * NodePorts from the node itself (and its pods): a connect() or sendmsg() to one of the node's
 * addresses (lb_node_addrs_v1) on a NodePort is translated with the NodePort's frontend in the
 * external maps, as Cilium's socket load balancer does (for sockets of the node's namespace, and of
 * the scope's namespaces when scoped); 127.0.0.0/8 too for sockets of the node's
 * own network namespace when `nodeport_localhost` is set (kube-proxy's
 * --iptables-localhost-nodeports, default on, IPv4 only as there). */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "lib/select.h"

#define LB_ECONNREFUSED 111

/* Load-time knobs: localhost NodePorts, and the network namespace of the node (where the agent
 * loaded the programs) whose sockets they are for. */
const volatile __u8 nodeport_localhost = 1;
const volatile __u64 host_netns_cookie = 0;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* sock_addr programs: 1 lets the call go on (possibly rewritten), 0 fails it. */
#define LB_PASS 1
#define LB_REJECT 0

static __always_inline int lb_reject(__u32 metric) {
  lb_count(metric);
  bpf_set_retval(-LB_ECONNREFUSED);
  return LB_REJECT;
}

/* The hash that picks a slot or Maglev entry. connect() may pick at random; sendmsg() keys on
 * the socket so that every datagram of one socket reaches one backend. */
static __always_inline __u32 lb_hash(__u64 socket_cookie, const struct lb_service_value* svc, bool per_socket) {
  if (per_socket || (svc->flags & LB_SERVICE_FLAG_MAGLEV)) return lb_mix(socket_cookie);
  return bpf_get_prandom_u32();
}

/* The address the socket asked for (connect, sendmsg) or is shown (recvmsg, getpeername). The
 * kernel hands IPv6 addresses over as four 32-bit words (unrolled: context offsets must be
 * constants). */
static __always_inline void lb_sock_address(struct bpf_sock_addr* ctx, __u8 family, union lb_addr* out) {
  if (family == LB_AF_INET) {
    out->v4 = ctx->user_ip4;
    return;
  }
#pragma unroll
  for (int i = 0; i < 4; i++) out->words[i] = ctx->user_ip6[i];
}

static __always_inline void lb_sock_set_address(struct bpf_sock_addr* ctx, __u8 family, const union lb_addr* in, __be16 port) {
  ctx->user_port = port;
  if (family == LB_AF_INET) {
    ctx->user_ip4 = in->v4;
    return;
  }
#pragma unroll
  for (int i = 0; i < 4; i++) ctx->user_ip6[i] = in->words[i];
}

/* A NodePort's frontend when `address` is the node's (the external map's entry for address 0),
 * else NULL; `key` is left naming it. */
static __always_inline const struct lb_service_value* lb_node_port(struct bpf_sock_addr* ctx, __u8 family, const union lb_addr* address,
                                                                   __be16 port, union lb_service_key* key) {
  const bool host = bpf_get_netns_cookie(ctx) == host_netns_cookie;
  /* Unscoped, the hooks see every socket of the cgroup whatever its namespace: the node's
   * address is only this node's from its own namespace. Scoped: the node's and its pods'. */
  if (!host && !scope_by_netns) return NULL;
  const bool localhost = family == LB_AF_INET && address->bytes[0] == 127 && nodeport_localhost && host;
  if (!localhost && !lb_node_address(family, address)) return NULL;
  union lb_addr any;
  __builtin_memset(&any, 0, sizeof any); /* all 16 bytes: `= {}` zeroes a union's first member only */
  lb_service_key_init(key, family, &any, port, (__u8)ctx->protocol);
  return ext_lookup(family, key);
}

/* connect() or sendmsg() to a VIP: rewritten to one of its backends, remembered for the way
 * back. Written once for both families; each entry program passes its own as a constant. */
static __always_inline int lb_translate(struct bpf_sock_addr* ctx, __u8 family, bool per_socket) {
  if (!lb_in_scope(ctx)) return LB_PASS;
  union lb_addr vip = {};
  lb_sock_address(ctx, family, &vip);
  const __be16 vip_port = (__be16)ctx->user_port;
  union lb_service_key key;
  lb_service_key_init(&key, family, &vip, vip_port, (__u8)ctx->protocol);
  const struct lb_service_value* svc = lb_service_lookup(family, &key);
  bool node_port = false;
  if (!svc) {
    svc = lb_node_port(ctx, family, &vip, vip_port, &key);
    if (!svc) return LB_PASS;
    node_port = true;
  }
  if (svc->count == 0) return lb_reject(LB_METRIC_REJECT_NO_BACKEND);
  const __u64 cookie = bpf_get_socket_cookie(ctx);
  const __u32 id = lb_choose(ctx, family, &key, svc, lb_hash(cookie, svc, per_socket), node_port);
  union lb_addr backend = {};
  __be16 backend_port;
  if (!id || !lb_backend(family, id, &backend, &backend_port)) return lb_reject(LB_METRIC_DROP_BACKEND_MISSING);
  lb_reverse_remember(family, cookie, &backend, backend_port, &vip, vip_port);
  lb_sock_set_address(ctx, family, &backend, backend_port);
  lb_count(LB_METRIC_TRANSLATED);
  return LB_PASS;
}

/* recvmsg() and getpeername() on a translated socket: the backend is shown as the VIP. */
static __always_inline int lb_reverse(struct bpf_sock_addr* ctx, __u8 family) {
  union lb_addr backend = {}, vip = {};
  __be16 vip_port;
  lb_sock_address(ctx, family, &backend);
  if (!lb_reverse_lookup(family, bpf_get_socket_cookie(ctx), &backend, (__be16)ctx->user_port, &vip, &vip_port)) return LB_PASS;
  lb_sock_set_address(ctx, family, &vip, vip_port);
  lb_count(LB_METRIC_REVERSED);
  return LB_PASS;
}

SEC("cgroup/connect4")
int sock4_connect(struct bpf_sock_addr* ctx) { return lb_translate(ctx, LB_AF_INET, false); }

SEC("cgroup/sendmsg4")
int sock4_sendmsg(struct bpf_sock_addr* ctx) { return lb_translate(ctx, LB_AF_INET, true); }

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr* ctx) { return lb_reverse(ctx, LB_AF_INET); }

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr* ctx) { return lb_reverse(ctx, LB_AF_INET); }

SEC("cgroup/connect6")
int sock6_connect(struct bpf_sock_addr* ctx) { return lb_translate(ctx, LB_AF_INET6, false); }

SEC("cgroup/sendmsg6")
int sock6_sendmsg(struct bpf_sock_addr* ctx) { return lb_translate(ctx, LB_AF_INET6, true); }

SEC("cgroup/recvmsg6")
int sock6_recvmsg(struct bpf_sock_addr* ctx) { return lb_reverse(ctx, LB_AF_INET6); }

SEC("cgroup/getpeername6")
int sock6_getpeername(struct bpf_sock_addr* ctx) { return lb_reverse(ctx, LB_AF_INET6); }
