// What ClusterState keeps of the API objects: only what the Snapshot build reads, parsed once
// when the informer hands the object over. The API objects themselves are not kept (issue #25:
// a whole api::Service was 1,048 bytes, a slice's endpoints were copied into every port).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "endpoints/node/endpoint_list.h"
#include "orchestrator/api/types.h"

namespace switchyard::endpoints {

// A Service: its spec with the defaults and the rules of rebuild_service already applied.
struct ServiceRecord {
  struct Port {
    std::string name, protocol;  // protocol defaulted: TCP
    std::int32_t port = 0;
    std::int32_t node_port = 0;  // NodePort and LoadBalancer only
  };
  std::string type;  // defaulted: ClusterIP
  std::string external_name;
  std::vector<std::string> cluster_ips;  // none when headless
  std::vector<Port> ports;
  std::vector<std::string> external_ips;
  std::vector<std::string> load_balancer_ips;            // LoadBalancer status ingress IPs with ipMode VIP
  std::vector<std::string> load_balancer_source_ranges;  // LoadBalancer only
  std::string load_balancing;                            // the lb-algorithm annotation
  std::optional<std::int32_t> affinity_timeout_seconds;  // sessionAffinity ClientIP
  std::int32_t health_check_node_port = 0;               // LoadBalancer with external policy Local only
  bool headless = false;
  bool proxied = false;  // not headless, not ExternalName, not another proxy's
  bool publish_not_ready_addresses = false;
  bool topology = false;  // topology-aware routing requested
  bool external_policy_local = false;
  bool internal_policy_local = false;

  // `proxy_name`: this proxy's name, for the service-proxy-name label.
  static ServiceRecord parse(const api::Service& s, const std::string& proxy_name);
};

// An EndpointSlice: the owning service, its ports and its endpoints in the Snapshot's form.
struct SliceRecord {
  struct Port {
    std::string name, protocol;
    std::optional<std::int32_t> port;
  };
  std::string service;
  bool fqdn = false;
  std::vector<Port> ports;
  // The endpoints that have an address (kube-proxy uses only the first), sorted by address as
  // text, once per port number the slice gives (with `port` set to it), or once with port 0 if
  // it gives none. Immutable: the Snapshot's lists index these arrays instead of copying them.
  std::vector<std::pair<std::int32_t, EndpointPool::Part>> endpoints;

  // The endpoints with `port` set to `number` (null if the slice gives no such port).
  const EndpointPool::Part* with_port(std::int32_t number) const;
  // `node_name`: this node's, to mark the endpoints on it local.
  static SliceRecord parse(const api::EndpointSlice& s, const std::string& node_name);
};

}  // namespace switchyard::endpoints
