/* Socket-level load balancing on cgroup sock_addr hooks: connect() and UDP sendmsg() to a
 * service VIP are rewritten to a backend once per connection (per socket for unconnected UDP),
 * and recvmsg()/getpeername() show the VIP again, so applications never see the translation.
 * Services without endpoints make connect() fail at once with ECONNREFUSED. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "lib/select.h"

#define LB_ECONNREFUSED 111

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

#define LB_CHOOSE(services_map, backends_map, key, svc, hash, ctx)                               \
  ({                                                                                          \
    struct lb_affinity_key akey_ = {};                                                          \
    __u32 id_ = 0;                                                                            \
    if ((svc)->flags & LB_SERVICE_FLAG_AFFINITY) {                                             \
      id_ = lb_affinity_lookup(ctx, svc, &akey_);                                              \
      if (id_ && !bpf_map_lookup_elem(&backends_map, &id_)) id_ = 0;                           \
      if (id_) lb_count(LB_METRIC_AFFINITY_HIT);                                                \
    }                                                                                         \
    if (!id_) {                                                                               \
      if ((svc)->flags & LB_SERVICE_FLAG_MAGLEV) {                                             \
        id_ = lb_maglev_backend(svc, hash);                                                    \
      } else {                                                                                \
        (key)->slot = lb_slot(svc, hash);                                                      \
        struct lb_service_value* s_ = bpf_map_lookup_elem(&services_map, key);                 \
        (key)->slot = 0;                                                                       \
        if (s_) id_ = s_->backend_id;                                                          \
      }                                                                                       \
    }                                                                                         \
    if (id_ && ((svc)->flags & LB_SERVICE_FLAG_AFFINITY)) lb_affinity_store(&akey_, id_);      \
    id_;                                                                                      \
  })

static __always_inline int lb4_translate(struct bpf_sock_addr* ctx, bool per_socket) {
  if (!lb_in_scope(ctx)) return LB_PASS;
  struct lb4_service_key key = {
      .address = ctx->user_ip4, .port = (__be16)ctx->user_port, .proto = (__u8)ctx->protocol};
  struct lb_service_value* svc = bpf_map_lookup_elem(&lb4_services_v1, &key);
  if (!svc) return LB_PASS;
  if (svc->count == 0) return lb_reject(LB_METRIC_REJECT_NO_BACKEND);
  __u64 cookie = bpf_get_socket_cookie(ctx);
  __u32 hash = lb_hash(cookie, svc, per_socket);
  __u32 id = LB_CHOOSE(lb4_services_v1, lb4_backends_v1, &key, svc, hash, ctx);
  struct lb4_backend* b = id ? bpf_map_lookup_elem(&lb4_backends_v1, &id) : 0;
  if (!b) return lb_reject(LB_METRIC_DROP_BACKEND_MISSING);
  struct lb4_reverse_key rk = {.socket_cookie = cookie, .address = b->address, .port = b->port};
  struct lb4_reverse_value rv = {.address = key.address, .port = key.port};
  bpf_map_update_elem(&lb4_reverse_v1, &rk, &rv, BPF_ANY);
  ctx->user_ip4 = b->address;
  ctx->user_port = b->port;
  lb_count(LB_METRIC_TRANSLATED);
  return LB_PASS;
}

static __always_inline void lb4_reverse(struct bpf_sock_addr* ctx) {
  struct lb4_reverse_key rk = {
      .socket_cookie = bpf_get_socket_cookie(ctx), .address = ctx->user_ip4, .port = (__be16)ctx->user_port};
  struct lb4_reverse_value* rv = bpf_map_lookup_elem(&lb4_reverse_v1, &rk);
  if (!rv) return;
  ctx->user_ip4 = rv->address;
  ctx->user_port = rv->port;
  lb_count(LB_METRIC_REVERSED);
}

/* The kernel hands IPv6 addresses over as four 32-bit words. */
static __always_inline void lb6_read_address(struct bpf_sock_addr* ctx, __u8 out[16]) {
  __u32 w;
  w = ctx->user_ip6[0]; __builtin_memcpy(out, &w, 4);
  w = ctx->user_ip6[1]; __builtin_memcpy(out + 4, &w, 4);
  w = ctx->user_ip6[2]; __builtin_memcpy(out + 8, &w, 4);
  w = ctx->user_ip6[3]; __builtin_memcpy(out + 12, &w, 4);
}

static __always_inline void lb6_write_address(struct bpf_sock_addr* ctx, const __u8 in[16]) {
  __u32 w;
  __builtin_memcpy(&w, in, 4); ctx->user_ip6[0] = w;
  __builtin_memcpy(&w, in + 4, 4); ctx->user_ip6[1] = w;
  __builtin_memcpy(&w, in + 8, 4); ctx->user_ip6[2] = w;
  __builtin_memcpy(&w, in + 12, 4); ctx->user_ip6[3] = w;
}

static __always_inline int lb6_translate(struct bpf_sock_addr* ctx, bool per_socket) {
  if (!lb_in_scope(ctx)) return LB_PASS;
  struct lb6_service_key key = {.port = (__be16)ctx->user_port, .proto = (__u8)ctx->protocol};
  lb6_read_address(ctx, key.address);
  struct lb_service_value* svc = bpf_map_lookup_elem(&lb6_services_v1, &key);
  if (!svc) return LB_PASS;
  if (svc->count == 0) return lb_reject(LB_METRIC_REJECT_NO_BACKEND);
  __u64 cookie = bpf_get_socket_cookie(ctx);
  __u32 hash = lb_hash(cookie, svc, per_socket);
  __u32 id = LB_CHOOSE(lb6_services_v1, lb6_backends_v1, &key, svc, hash, ctx);
  struct lb6_backend* b = id ? bpf_map_lookup_elem(&lb6_backends_v1, &id) : 0;
  if (!b) return lb_reject(LB_METRIC_DROP_BACKEND_MISSING);
  struct lb6_reverse_key rk = {.socket_cookie = cookie, .port = b->port};
  __builtin_memcpy(rk.address, b->address, 16);
  struct lb6_reverse_value rv = {.port = key.port};
  __builtin_memcpy(rv.address, key.address, 16);
  bpf_map_update_elem(&lb6_reverse_v1, &rk, &rv, BPF_ANY);
  lb6_write_address(ctx, b->address);
  ctx->user_port = b->port;
  lb_count(LB_METRIC_TRANSLATED);
  return LB_PASS;
}

static __always_inline void lb6_reverse(struct bpf_sock_addr* ctx) {
  struct lb6_reverse_key rk = {.socket_cookie = bpf_get_socket_cookie(ctx), .port = (__be16)ctx->user_port};
  lb6_read_address(ctx, rk.address);
  struct lb6_reverse_value* rv = bpf_map_lookup_elem(&lb6_reverse_v1, &rk);
  if (!rv) return;
  lb6_write_address(ctx, rv->address);
  ctx->user_port = rv->port;
  lb_count(LB_METRIC_REVERSED);
}

SEC("cgroup/connect4")
int sock4_connect(struct bpf_sock_addr* ctx) { return lb4_translate(ctx, false); }

SEC("cgroup/sendmsg4")
int sock4_sendmsg(struct bpf_sock_addr* ctx) { return lb4_translate(ctx, true); }

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr* ctx) {
  lb4_reverse(ctx);
  return LB_PASS;
}

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr* ctx) {
  lb4_reverse(ctx);
  return LB_PASS;
}

SEC("cgroup/connect6")
int sock6_connect(struct bpf_sock_addr* ctx) { return lb6_translate(ctx, false); }

SEC("cgroup/sendmsg6")
int sock6_sendmsg(struct bpf_sock_addr* ctx) { return lb6_translate(ctx, true); }

SEC("cgroup/recvmsg6")
int sock6_recvmsg(struct bpf_sock_addr* ctx) {
  lb6_reverse(ctx);
  return LB_PASS;
}

SEC("cgroup/getpeername6")
int sock6_getpeername(struct bpf_sock_addr* ctx) {
  lb6_reverse(ctx);
  return LB_PASS;
}
