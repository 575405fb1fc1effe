#include "cmd/pod_network_flag.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

namespace switchyard::cmd {

void add_pod_network_flag(CLI::App* sub, std::string& mode) {
  sub->add_option("--pod-network", mode,
                  "how this node reaches the other nodes' pods: host-gw (a route per node, nodes on one link), vxlan (the kernel's "
                  "VXLAN device sy-vxlan, VNI 1, port 8472), auto (host-gw to nodes on a connected subnet, vxlan to the others) or "
                  "none (leave it to another CNI)")
      ->check(CLI::IsMember({"auto", "host-gw", "vxlan", "none"}))
      ->capture_default_str();
}

std::unique_ptr<node::PodNetworkController> start_pod_network(const std::string& mode, const std::string& node_name,
                                                              const std::string& node_ip, const std::vector<std::string>& pod_cidrs,
                                                              const std::vector<std::string>& cluster_cidrs,
                                                              const client::ClusterConnection& connection) {
  auto parsed = dataplane::podnet::parse_pod_network_mode(mode);
  if (!parsed || *parsed == dataplane::podnet::PodNetworkMode::None) return nullptr;
  node::PodNetworkControllerOptions o;
  o.node_name = node_name;
  o.network.mode = *parsed;
  o.network.node_ip = node_ip;
  o.network.pod_cidrs = pod_cidrs;
  o.network.cluster_cidrs = cluster_cidrs;
  auto started = node::PodNetworkController::start(std::move(o), connection);
  if (!started) {
    spdlog::warn("event=pod_network_failed error=\"{}\" effect=\"pods reach only this node's pods\"", started.error().message);
    return nullptr;
  }
  return std::move(*started);
}

}  // namespace switchyard::cmd
