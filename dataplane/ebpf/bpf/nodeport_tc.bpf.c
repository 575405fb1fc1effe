/* tc programs for the node's external interfaces: packets from outside to a NodePort, a
 * LoadBalancer IP or an externalIP are DNATed to a backend on ingress (the flow remembered in a
 * conntrack map so every packet follows the first), and the backend's replies get the frontend
 * back as their source on egress.
 *
 * Under externalTrafficPolicy Cluster, a flow to a backend whose route leaves through one of the
 * external interfaces (a pod on another node) is also SNATed to the node's address on that route
 * with a port allocated per flow, and redirected there: the replies come back to this node, where
 * ingress finds the flow by the reply tuple and sends them back to the client. Local backends
 * keep the client's address (their replies pass through this node anyway), as Cilium does; under
 * Local policy the client's address is always kept. Frontends without endpoints answer ICMP port
 * unreachable; loadBalancerSourceRanges drop other sources. ICMP errors about translated flows
 * are translated too (lib/icmp_error.h); a packet to redirect whose TTL runs out is answered
 * with time exceeded.
 *
 * The logic is written once for IPv4 and IPv6 (lib/packet.h): it returns a TC_ACT_ verdict or a
 * drop reason negated, which the entry programs count (lib/nodeport_metrics.h). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "lib/conntrack.h"
#include "lib/external.h"
#include "lib/icmp_error.h"
#include "lib/nat.h"
#include "lib/nodeport_metrics.h"
#include "lib/packet.h"
#include "lib/reject.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* np_new_flow's "not a verdict: translate the packet as `flow` says". */
#define NP_TRANSLATE 0x100

/* A frontend without an endpoint for this traffic: reject, or drop when the service has endpoints
 * on other nodes (Local policy). */
static __always_inline int np_no_endpoint(struct __sk_buff* skb, __u16 flags, __u8 family) {
  if (flags & LB_SERVICE_FLAG_DROP_EMPTY) return -NP_DROP_NO_LOCAL;
  return reject(skb, family);
}

/* A flow's first packet: its frontend, source ranges, backend, SNAT when the backend is on another
 * node (Cluster policy), and both conntrack entries. NP_TRANSLATE with `flow` filled, or the
 * verdict (TC_ACT_OK when the packet is for no frontend). */
static __always_inline int np_new_flow(struct __sk_buff* skb, const struct lb_packet* p, const union ct_key* flow_key,
                                       struct ct_value* flow) {
  *flow = (struct ct_value){};
  union lb_service_key key;
  const struct lb_service_value* svc = ext_frontend(p, &key);
  if (!svc) return TC_ACT_OK;
  if ((svc->flags & LB_SERVICE_FLAG_SOURCE_RANGES) && !ext_source_allowed(p->family, svc->service_id, &p->saddr))
    return -NP_DROP_SOURCE_RANGE;
  if (svc->count == 0) return np_no_endpoint(skb, svc->flags, p->family);
  const bool local_policy = svc->flags & LB_SERVICE_FLAG_LOCAL;
  if (!ext_backend(p->family, &key, svc, &flow->to, &flow->to_port)) return np_no_endpoint(skb, 0, p->family);
  /* The reply's tuple: (backend, client), or (backend, the node's address and port) when SNATed. */
  struct ct_value reply = {.to = p->daddr, .to_port = p->dport};
  ct_value_start(&reply, p);
  flow->lifetime = reply.lifetime;
  flow->flags = reply.flags;
  union ct_key reply_key;
  if (!local_policy) flow->ifindex = nat_remote_route(skb, p->family, &flow->to, &flow->via);
  if (flow->ifindex) {
    reply.via = p->saddr;
    reply.via_port = p->sport;
    reply.ifindex = skb->ifindex;
    ct_key(&reply_key, p->family, &flow->to, &flow->via, flow->to_port, 0, p->proto);
    flow->via_port = nat_snat_claim(p->family, &reply_key, &reply);
    if (!flow->via_port) return -NP_DROP_SNAT_PORTS;
    np_count(NP_METRIC_SNAT_NEW);
  } else {
    ct_key(&reply_key, p->family, &flow->to, &p->saddr, flow->to_port, p->sport, p->proto);
    ct_update(p->family, CT_REPLY, &reply_key, &reply, BPF_ANY);
  }
  ct_update(p->family, CT_FLOW, flow_key, flow, BPF_ANY);
  np_count(NP_METRIC_DNAT_NEW);
  return NP_TRANSLATE;
}

/* A reply to a SNATed flow (to the node's address and allocated port): back to the client, from
 * the frontend, out of the interface the client came in on. */
static __always_inline int np_reverse_snat(struct __sk_buff* skb, const struct lb_packet* p, const union ct_key* reply_key,
                                           union ct_stored* stored, const struct ct_value* reply) {
  if (icmp_ttl_runs_out(skb, p->family)) return icmp_time_exceeded(skb, p->family);
  if (p->tcp_reset) {
    ct_forget_reply(p, reply_key, reply);
    np_count(NP_METRIC_CT_RESET);
  } else
    ct_seen(p, CT_REPLY, stored, reply);
  if (nat_rewrite(skb, p, true, &p->daddr, &reply->via, p->dport, reply->via_port)) return -NP_DROP_REWRITE;
  if (nat_rewrite(skb, p, false, &p->saddr, &reply->to, p->sport, reply->to_port)) return -NP_DROP_REWRITE;
  np_count(NP_METRIC_REVERSE_SNAT);
  return nat_redirect(skb, p->family, reply->ifindex);
}

static __always_inline int np_ingress(struct __sk_buff* skb, __u8 family) {
  struct lb_packet p = {};
  if (!lb_parse((void*)(long)skb->data, (void*)(long)skb->data_end, family, &p)) return icmp_error_ingress(skb, family);
  union ct_key key;
  ct_key_of(&key, &p);
  struct ct_value flow;
  union ct_stored* stored = ct_lookup(family, CT_FLOW, &key, &flow);
  if (stored) {
    np_count(NP_METRIC_DNAT_TRACKED);
    if (!p.tcp_reset) ct_seen(&p, CT_FLOW, stored, &flow);
  } else {
    /* A reply to a flow this node SNATed? Its tuple is the reply entry's key. */
    struct ct_value reply;
    union ct_stored* reply_stored = ct_lookup(family, CT_REPLY, &key, &reply);
    if (reply_stored && reply.via_port) return np_reverse_snat(skb, &p, &key, reply_stored, &reply);
    const int ret = np_new_flow(skb, &p, &key, &flow);
    if (ret != NP_TRANSLATE) return ret;
  }
  /* Sent on by a redirect (below), which skips the kernel's forwarding and its time exceeded. */
  if (flow.via_port && icmp_ttl_runs_out(skb, family)) return icmp_time_exceeded(skb, family);
  if (p.tcp_reset) {
    ct_forget(&p, &key, &flow);
    np_count(NP_METRIC_CT_RESET);
  }
  if (nat_rewrite(skb, &p, true, &p.daddr, &flow.to, p.dport, flow.to_port)) return -NP_DROP_REWRITE;
  if (!flow.via_port) return TC_ACT_OK;
  if (nat_rewrite(skb, &p, false, &p.saddr, &flow.via, p.sport, flow.via_port)) return -NP_DROP_REWRITE;
  return nat_redirect(skb, family, flow.ifindex);
}

/* Replies of flows that kept the client's address: the frontend becomes their source again.
 * (Replies to SNATed flows come back in on an external interface: ingress handles them.) */
static __always_inline int np_egress(struct __sk_buff* skb, __u8 family) {
  struct lb_packet p = {};
  if (!lb_parse((void*)(long)skb->data, (void*)(long)skb->data_end, family, &p)) return icmp_error_egress(skb, family);
  union ct_key key;
  ct_key_of(&key, &p);
  struct ct_value reply;
  union ct_stored* stored = ct_lookup(family, CT_REPLY, &key, &reply);
  if (!stored || reply.via_port) return TC_ACT_OK;
  if (p.tcp_reset) {
    ct_forget_reply(&p, &key, &reply);
    np_count(NP_METRIC_CT_RESET);
  } else
    ct_seen(&p, CT_REPLY, stored, &reply);
  if (nat_rewrite(skb, &p, false, &p.saddr, &reply.to, p.sport, reply.to_port)) return -NP_DROP_REWRITE;
  np_count(NP_METRIC_REVERSE_NAT);
  return TC_ACT_OK;
}

SEC("tc")
int nodeport_ingress(struct __sk_buff* skb) {
  const __u8 family = lb_eth_family((void*)(long)skb->data, (void*)(long)skb->data_end);
  if (family == LB_AF_INET) return np_tc_verdict(np_ingress(skb, LB_AF_INET));
  if (family == LB_AF_INET6) return np_tc_verdict(np_ingress(skb, LB_AF_INET6));
  return TC_ACT_OK;
}

SEC("tc")
int nodeport_egress(struct __sk_buff* skb) {
  const __u8 family = lb_eth_family((void*)(long)skb->data, (void*)(long)skb->data_end);
  if (family == LB_AF_INET) return np_tc_verdict(np_egress(skb, LB_AF_INET));
  if (family == LB_AF_INET6) return np_tc_verdict(np_egress(skb, LB_AF_INET6));
  return TC_ACT_OK;
}
