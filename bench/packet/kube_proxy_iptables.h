// kube-proxy's iptables-mode layout (pkg/proxy/iptables/proxier.go), written as
// `iptables-restore --noflush` input: the baseline the packet benchmark compares the two
// dataplanes against. Only what a ClusterIP/NodePort service with ready endpoints and the
// default Cluster traffic policy needs:
//
//   nat:    PREROUTING/OUTPUT -> KUBE-SERVICES -> KUBE-SVC-<hash> (one rule per service port,
//           in order: the walk is linear) -> KUBE-SEP-<hash> picked with `statistic --mode
//           random --probability 1/(n-i)` -> DNAT; KUBE-MARK-MASQ for traffic from outside the
//           cluster CIDR; KUBE-NODEPORTS (the last rule of KUBE-SERVICES) -> KUBE-EXT-<hash>;
//           POSTROUTING -> KUBE-POSTROUTING masquerades marked packets.
//   filter: FORWARD -> KUBE-FORWARD (drop INVALID, accept marked and established).
//
// Chain names hash as kube-proxy's do: "KUBE-SVC-" + the first 16 characters of
// base32(sha256(service port name + protocol)), "KUBE-SEP-" the same over the endpoint too.
#pragma once

#include <string>
#include <vector>

namespace switchyard::bench {

struct KubeProxyEndpoint {
  std::string ip;
  int port = 0;
};

struct KubeProxyServicePort {
  std::string namespace_, name, port_name;
  std::string protocol = "tcp";  // lower case, as iptables writes it
  std::string cluster_ip;
  int port = 0;
  int node_port = 0;  // 0: none
  std::vector<KubeProxyEndpoint> endpoints;
};

// "KUBE-SVC-…", "KUBE-EXT-…", "KUBE-SEP-…" as kube-proxy names them.
std::string kube_chain(const std::string& prefix, const KubeProxyServicePort& port, const std::string& endpoint = {});

// The whole ruleset, as kube-proxy's first (full) sync writes it.
std::string kube_proxy_full_restore(const std::vector<KubeProxyServicePort>& ports, const std::string& cluster_cidr);

// What kube-proxy's partial sync writes when `changed` (one of `ports`, already updated) lost
// the endpoints in `removed`: the top-level chains in full (KUBE-SERVICES is always rewritten),
// the service's chains, and `-X` of the stale endpoint chains.
std::string kube_proxy_partial_restore(const std::vector<KubeProxyServicePort>& ports, const KubeProxyServicePort& changed,
                                       const std::vector<KubeProxyEndpoint>& removed, const std::string& cluster_cidr);

// The jumps from the built-in chains into kube-proxy's, which kube-proxy adds with `iptables -I`
// outside the restore (run once after the first restore).
std::vector<std::string> kube_proxy_jump_commands();

}  // namespace switchyard::bench
