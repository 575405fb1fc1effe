// `--pod-network auto|host-gw|vxlan|none` on `up` and `join`, and the node's pod network
// controller (node/pod_network_controller.h) started from it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "node/pod_network_controller.h"

namespace CLI {
class App;
}

namespace switchyard::cmd {

void add_pod_network_flag(CLI::App* sub, std::string& mode);

// Null for `none`, or when it cannot start (logged as a warning: pods then reach only their own
// node's pods). `connection` is the node's own (system:node:NAME).
std::unique_ptr<node::PodNetworkController> start_pod_network(const std::string& mode, const std::string& node_name,
                                                              const std::string& node_ip, const std::vector<std::string>& pod_cidrs,
                                                              const std::vector<std::string>& cluster_cidrs,
                                                              const client::ClusterConnection& connection);

}  // namespace switchyard::cmd
