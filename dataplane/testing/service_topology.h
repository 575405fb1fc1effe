// A node with routed pods and an external client, each in a network namespace of its own, as
// Calico and Cilium wire pods: one veth per pod, a /32 route to it on the node, and a default
// route in the pod to a link-local gateway address on the node's end. Each pod runs an HTTP
// server answering "<pod name> <client address>". Backend-neutral: a backend is created inside
// node() and the same traffic checks run against any of them.
#pragma once

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/testing/network_namespace.h"

namespace switchyard::dataplane::testing {

struct PodSpec {
  std::string name;  // also what its server answers
  std::string ip;    // a /32 in the pod CIDR
  std::int32_t port = 8080;
  std::string ipv6 = {};  // optional: a /128 in the IPv6 pod CIDR
};

class ServiceTopology {
 public:
  static constexpr const char* kNodeIp = "192.168.50.1";
  static constexpr const char* kClientIp = "192.168.50.2";
  static constexpr const char* kPodCidr = "10.244.0.0/16";
  static constexpr const char* kNodeIpv6 = "fd00:50::1";
  static constexpr const char* kClientIpv6 = "fd00:50::2";
  static constexpr const char* kPodCidrIpv6 = "fd00:244::/64";

  static std::expected<ServiceTopology, std::string> create(const std::vector<PodSpec>& pods);

  NetworkNamespace& node() { return node_; }
  NetworkNamespace& client() { return client_; }
  NetworkNamespace& pod(const std::string& name) { return pods_.at(name); }

  // One HTTP GET from `from` to host:port: the answering pod's name and the client address it
  // saw, or the failure (curl's exit code and message) with how long it took.
  struct Reply {
    bool ok = false;
    std::string pod, seen_client;
    int curl_exit = 0;
    double seconds = 0;
  };
  Reply get(NetworkNamespace& from, const std::string& host, int port, double timeout_seconds = 2);
  // The Python HTTP server each pod runs (argv: name, port), for pods a test wires itself.
  static const char* http_server_script();
  // How many of `count` requests each pod answered.
  std::map<std::string, int> spread(NetworkNamespace& from, const std::string& host, int port, int count);

 private:
  ServiceTopology(NetworkNamespace node, NetworkNamespace client) : node_(std::move(node)), client_(std::move(client)) {}
  std::expected<void, std::string> add_pod(const PodSpec& pod, int index);
  std::expected<void, std::string> wire_client();

  // Declared first so that they are removed last: pods and client go before the node.
  NetworkNamespace node_;
  NetworkNamespace client_;
  std::map<std::string, NetworkNamespace> pods_;
};

}  // namespace switchyard::dataplane::testing
