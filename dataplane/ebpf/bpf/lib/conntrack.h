/* Connection tracking of the flows the tc programs translate: one entry by the client's tuple as
 * it arrived (which backend, which SNAT), one by the reply's tuple (which frontend, which client).
 * Every map here is keyed by a packet's own tuple (source, destination, their ports, protocol)
 * and holds one value shape; the programs see both families through union ct_key and struct
 * ct_value, and this module alone knows the per-family layouts of lb_types.h.
 *
 * Lifetimes: each entry carries the second it expires (lb_types.h), pushed forward by every
 * packet of its direction by the protocol's lifetime (TCP: SYN until the handshake is done,
 * established, closing after a FIN; UDP; ICMP); the agent's garbage collector deletes a flow once
 * both its entries have expired. The maps stay LRU hashes: a full table evicts the least recently
 * used entry instead of refusing a new flow (the collector also removes the other half of a pair
 * the LRU broke). Map names end in _v2 since entries carry a lifetime (_v1 had none). */
#ifndef SWITCHYARD_BPF_CONNTRACK_H
#define SWITCHYARD_BPF_CONNTRACK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../lb_types.h"
#include "packet.h"

/* Client tuple -> chosen backend and SNAT: every packet of a flow goes to the same backend. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, struct ct4_key);
  __type(value, struct ct4_entry);
} ct4_v2 SEC(".maps");

/* Reply tuple (backend, client or the node's SNAT address and port) -> frontend and client. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, struct ct4_reverse_key);
  __type(value, struct ct4_reverse_entry);
} ct4_reverse_v2 SEC(".maps");

/* The same two for IPv6: client tuple -> backend and SNAT. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, struct ct6_key);
  __type(value, struct ct6_entry);
} ct6_v2 SEC(".maps");

/* IPv6 reply tuple -> frontend and client. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, struct ct6_reverse_key);
  __type(value, struct ct6_reverse_entry);
} ct6_reverse_v2 SEC(".maps");

enum ct_direction {
  CT_FLOW,  /* ct4_v2 / ct6_v2, by the client's tuple */
  CT_REPLY, /* ct4_reverse_v2 / ct6_reverse_v2, by the reply's tuple */
};

/* A key of any of the four maps. Flow and reply keys of one family share a layout (asserted):
 * (a, b, a_port, b_port, proto) is the tuple of the packet looked up. */
union ct_key {
  struct ct4_key v4;
  struct ct6_key v6;
};

/* A value of any of the four maps, addresses in lb_addr form (its layout is ct6_entry's).
 * Flow maps: `to`:`to_port` is the backend; for a SNATed flow (via_port != 0) `via`:`via_port` is
 * the node's address and port it leaves with and ifindex the interface towards the backend.
 * Reply maps: `to`:`to_port` is the frontend the reply must come from; for a SNATed flow
 * `via`:`via_port` is the real client and ifindex the interface it came in on. */
struct ct_value {
  union lb_addr to;
  __be16 to_port, via_port;
  union lb_addr via;
  __u32 ifindex;
  __u32 lifetime; /* expires after this CLOCK_MONOTONIC second */
  __u8 flags;     /* CT_FLAG_ */
  __u8 pad[3];
};

/* Lifetimes in seconds by protocol and TCP state; load-time knobs (tests shorten them). */
const volatile __u32 ct_lifetime_tcp = CT_LIFETIME_TCP;
const volatile __u32 ct_lifetime_syn = CT_LIFETIME_SYN;
const volatile __u32 ct_lifetime_close = CT_LIFETIME_CLOSE;
const volatile __u32 ct_lifetime_udp = CT_LIFETIME_UDP;
const volatile __u32 ct_lifetime_icmp = CT_LIFETIME_ICMP;

/* A value as a map stores it. */
union ct_stored {
  struct ct4_entry v4;
  struct ct6_entry v6;
};

_Static_assert(sizeof(struct ct4_key) == sizeof(struct ct4_reverse_key) &&
                   offsetof(struct ct4_key, frontend) == offsetof(struct ct4_reverse_key, client) &&
                   offsetof(struct ct4_key, client_port) == offsetof(struct ct4_reverse_key, backend_port) &&
                   offsetof(struct ct4_key, frontend_port) == offsetof(struct ct4_reverse_key, client_port) &&
                   offsetof(struct ct4_key, proto) == offsetof(struct ct4_reverse_key, proto),
               "IPv4 flow and reply keys share a layout");
_Static_assert(sizeof(struct ct6_key) == sizeof(struct ct6_reverse_key) &&
                   offsetof(struct ct6_key, frontend) == offsetof(struct ct6_reverse_key, client) &&
                   offsetof(struct ct6_key, client_port) == offsetof(struct ct6_reverse_key, backend_port) &&
                   offsetof(struct ct6_key, frontend_port) == offsetof(struct ct6_reverse_key, client_port) &&
                   offsetof(struct ct6_key, proto) == offsetof(struct ct6_reverse_key, proto),
               "IPv6 flow and reply keys share a layout");
_Static_assert(sizeof(struct ct4_entry) == sizeof(struct ct4_reverse_entry) &&
                   offsetof(struct ct4_entry, backend_port) == offsetof(struct ct4_reverse_entry, frontend_port) &&
                   offsetof(struct ct4_entry, snat_port) == offsetof(struct ct4_reverse_entry, client_port) &&
                   offsetof(struct ct4_entry, snat_addr) == offsetof(struct ct4_reverse_entry, client) &&
                   offsetof(struct ct4_entry, snat_ifindex) == offsetof(struct ct4_reverse_entry, client_ifindex) &&
                   offsetof(struct ct4_entry, lifetime) == offsetof(struct ct4_reverse_entry, lifetime) &&
                   offsetof(struct ct4_entry, flags) == offsetof(struct ct4_reverse_entry, flags),
               "IPv4 flow and reply values share a layout");
_Static_assert(sizeof(struct ct_value) == sizeof(struct ct6_entry) && sizeof(struct ct6_entry) == sizeof(struct ct6_reverse_entry) &&
                   offsetof(struct ct_value, to_port) == offsetof(struct ct6_entry, backend_port) &&
                   offsetof(struct ct_value, via_port) == offsetof(struct ct6_entry, snat_port) &&
                   offsetof(struct ct_value, via) == offsetof(struct ct6_entry, snat_addr) &&
                   offsetof(struct ct_value, ifindex) == offsetof(struct ct6_entry, snat_ifindex) &&
                   offsetof(struct ct6_entry, snat_addr) == offsetof(struct ct6_reverse_entry, client) &&
                   offsetof(struct ct6_entry, snat_ifindex) == offsetof(struct ct6_reverse_entry, client_ifindex) &&
                   offsetof(struct ct_value, lifetime) == offsetof(struct ct6_entry, lifetime) &&
                   offsetof(struct ct_value, flags) == offsetof(struct ct6_entry, flags) &&
                   offsetof(struct ct6_entry, lifetime) == offsetof(struct ct6_reverse_entry, lifetime) &&
                   offsetof(struct ct6_entry, flags) == offsetof(struct ct6_reverse_entry, flags),
               "IPv6 values share struct ct_value's layout");

static __always_inline void* ct_map(__u8 family, enum ct_direction dir) {
  if (family == LB_AF_INET6) return dir == CT_FLOW ? (void*)&ct6_v2 : (void*)&ct6_reverse_v2;
  return dir == CT_FLOW ? (void*)&ct4_v2 : (void*)&ct4_reverse_v2;
}

static __always_inline void ct_key(union ct_key* k, __u8 family, const union lb_addr* a, const union lb_addr* b, __be16 a_port,
                                   __be16 b_port, __u8 proto) {
  if (family == LB_AF_INET6) {
    k->v6 = (struct ct6_key){.client_port = a_port, .frontend_port = b_port, .proto = proto};
    __builtin_memcpy(k->v6.client, a->bytes, 16);
    __builtin_memcpy(k->v6.frontend, b->bytes, 16);
  } else {
    k->v4 = (struct ct4_key){.client = a->v4, .frontend = b->v4, .client_port = a_port, .frontend_port = b_port, .proto = proto};
  }
}

/* The key for a packet's own tuple. */
static __always_inline void ct_key_of(union ct_key* k, const struct lb_packet* p) {
  ct_key(k, p->family, &p->saddr, &p->daddr, p->sport, p->dport, p->proto);
}

static __always_inline void ct_key_set_b_port(union ct_key* k, __u8 family, __be16 port) {
  if (family == LB_AF_INET6)
    k->v6.frontend_port = port;
  else
    k->v4.frontend_port = port;
}

static __always_inline void ct_value_store(union ct_stored* s, const struct ct_value* v, __u8 family) {
  if (family == LB_AF_INET6) {
    __builtin_memcpy(&s->v6, v, sizeof s->v6);
    return;
  }
  s->v4 = (struct ct4_entry){.backend = v->to.v4,
                             .backend_port = v->to_port,
                             .snat_port = v->via_port,
                             .snat_addr = v->via.v4,
                             .snat_ifindex = v->ifindex,
                             .lifetime = v->lifetime,
                             .flags = v->flags};
}

/* The stored entry (to touch it), with its value copied to `out`; NULL when there is none. */
static __always_inline union ct_stored* ct_lookup(__u8 family, enum ct_direction dir, const union ct_key* k, struct ct_value* out) {
  union ct_stored* s = bpf_map_lookup_elem(ct_map(family, dir), k);
  if (!s) return NULL;
  if (family == LB_AF_INET6) {
    __builtin_memcpy(out, &s->v6, sizeof s->v6);
    return s;
  }
  out->to.v4 = s->v4.backend;
  out->to_port = s->v4.backend_port;
  out->via_port = s->v4.snat_port;
  out->via.v4 = s->v4.snat_addr;
  out->ifindex = s->v4.snat_ifindex;
  out->lifetime = s->v4.lifetime;
  out->flags = s->v4.flags;
  return s;
}

static __always_inline __u32 ct_now(void) { return (__u32)(bpf_ktime_get_ns() / 1000000000ull); }

/* How long a flow lives after a packet with these TCP flags (0 for UDP). */
static __always_inline __u32 ct_lifetime_of(__u8 proto, __u8 tcp_flags, bool closing) {
  if (proto == IPPROTO_TCP) {
    if (closing || (tcp_flags & (LB_TCP_FLAG_FIN | LB_TCP_FLAG_RST))) return ct_lifetime_close;
    if (tcp_flags & LB_TCP_FLAG_SYN) return ct_lifetime_syn;
    return ct_lifetime_tcp;
  }
  if (proto == IPPROTO_UDP) return ct_lifetime_udp;
  return ct_lifetime_icmp;
}

/* Lifetime and flags of a flow's first packet, for both its new entries. */
static __always_inline void ct_value_start(struct ct_value* v, const struct lb_packet* p) {
  const bool fin = p->tcp_flags & LB_TCP_FLAG_FIN;
  v->lifetime = ct_now() + ct_lifetime_of(p->proto, p->tcp_flags, fin);
  v->flags = fin ? CT_FLAG_CLOSING : 0;
}

/* A packet `p` of a tracked flow, in the direction of the stored entry `s`: its lifetime moves
 * forward (written only when the second changes, so a busy flow dirties its entry at most once
 * a second). True when `p` is the flow's first FIN: the other entry must close too. A SYN on a
 * closing entry is a new connection reusing the tuple (the client's port came round again): the
 * entry opens again, as Cilium reopens it, and its other side does on the SYN-ACK. */
static __always_inline bool ct_touch(union ct_stored* s, __u8 family, const struct lb_packet* p) {
  __u32* lifetime = family == LB_AF_INET6 ? &s->v6.lifetime : &s->v4.lifetime;
  __u8* flags = family == LB_AF_INET6 ? &s->v6.flags : &s->v4.flags;
  const bool fin = p->tcp_flags & LB_TCP_FLAG_FIN;
  bool closing = *flags & CT_FLAG_CLOSING;
  if (closing && (p->tcp_flags & (LB_TCP_FLAG_SYN | LB_TCP_FLAG_FIN | LB_TCP_FLAG_RST)) == LB_TCP_FLAG_SYN) {
    *flags &= ~CT_FLAG_CLOSING;
    closing = false;
  }
  const __u32 next = ct_now() + ct_lifetime_of(p->proto, p->tcp_flags, closing || fin);
  if (*lifetime != next) *lifetime = next;
  if (!fin || closing) return false;
  *flags |= CT_FLAG_CLOSING;
  return true;
}

static __always_inline long ct_update(__u8 family, enum ct_direction dir, const union ct_key* k, const struct ct_value* v, __u64 flags) {
  union ct_stored s;
  ct_value_store(&s, v, family);
  return bpf_map_update_elem(ct_map(family, dir), k, &s, flags);
}

/* The key of a flow's reply entry, from the client's packet `p` and the flow's value. */
static __always_inline void ct_reply_key_of_flow(union ct_key* reply_key, const struct lb_packet* p, const struct ct_value* flow) {
  /* Copies, not pointers into `p`: a packet description whose address escapes into a select
   * could no longer be kept in registers, its family no longer folded into a constant. */
  const union lb_addr client = flow->via_port ? flow->via : p->saddr;
  ct_key(reply_key, p->family, &flow->to, &client, flow->to_port, flow->via_port ? flow->via_port : p->sport, p->proto);
}

/* The key of a flow's entry, from a reply `p` and the reply entry's value. */
static __always_inline void ct_flow_key_of_reply(union ct_key* flow_key, const struct lb_packet* p, const struct ct_value* reply) {
  const union lb_addr client = reply->via_port ? reply->via : p->daddr;
  ct_key(flow_key, p->family, &client, &reply->to, reply->via_port ? reply->via_port : p->dport, reply->to_port, p->proto);
}

/* A packet `p` of the flow whose `dir` entry is `s` (value `v`): both entries close on its
 * first FIN, whichever side sent it. */
static __always_inline void ct_seen(const struct lb_packet* p, enum ct_direction dir, union ct_stored* s, const struct ct_value* v) {
  if (!ct_touch(s, p->family, p)) return;
  union ct_key other_key;
  if (dir == CT_FLOW)
    ct_reply_key_of_flow(&other_key, p, v);
  else
    ct_flow_key_of_reply(&other_key, p, v);
  union ct_stored* other = bpf_map_lookup_elem(ct_map(p->family, dir == CT_FLOW ? CT_REPLY : CT_FLOW), &other_key);
  if (!other) return;
  const __u32 closes = ct_now() + ct_lifetime_close;
  if (p->family == LB_AF_INET6) {
    other->v6.flags |= CT_FLAG_CLOSING;
    other->v6.lifetime = closes;
  } else {
    other->v4.flags |= CT_FLAG_CLOSING;
    other->v4.lifetime = closes;
  }
}

/* A TCP reset ends a flow: both its entries go at once instead of waiting for their lifetime
 * (for a SNATed flow that frees its port). From the client's side: its packet `p`, the flow's
 * key and value. */
static __always_inline void ct_forget(const struct lb_packet* p, const union ct_key* flow_key, const struct ct_value* flow) {
  union ct_key reply_key;
  ct_reply_key_of_flow(&reply_key, p, flow);
  bpf_map_delete_elem(ct_map(p->family, CT_REPLY), &reply_key);
  bpf_map_delete_elem(ct_map(p->family, CT_FLOW), flow_key);
}

/* The same from a reply's side: the reply `p`, its key and value. */
static __always_inline void ct_forget_reply(const struct lb_packet* p, const union ct_key* reply_key, const struct ct_value* reply) {
  union ct_key flow_key;
  ct_flow_key_of_reply(&flow_key, p, reply);
  bpf_map_delete_elem(ct_map(p->family, CT_FLOW), &flow_key);
  bpf_map_delete_elem(ct_map(p->family, CT_REPLY), reply_key);
}

#endif
