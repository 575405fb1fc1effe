// The kubelet's side of the Node: registers it (creates it, or adopts one that exists and keeps
// the labels it does not own), reports its status through nodes/status (capacity and
// allocatable from the machine, addresses, nodeInfo, the Ready and pressure conditions), and
// renews its Lease in kube-node-lease, as kubelet's node status and node lease controllers do:
//  - status is computed every status_update_interval (10 s) and written only when it changed or
//    status_report_interval (5 min) has passed; lastHeartbeatTime moves only when it is written,
//    lastTransitionTime only when a condition's status changes;
//  - the Lease (leaseDurationSeconds 40) is renewed every lease_renew_interval (10 s).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kubelet/node/machine_info.h"
#include "orchestrator/api/types.h"
#include "orchestrator/base/error.h"
#include "orchestrator/client/cluster_connection.h"

namespace switchyard::kubelet::node {

inline constexpr const char* kKubeletVersion = "v1.31.0-switchyard";

// What the container runtime says about itself (CRI Version and Status).
struct RuntimeState {
  std::string name, version;  // "containerd", "1.6.20"; empty: this node has no runtime
  bool ready = true;          // RuntimeReady and NetworkReady
  std::string message;        // why not ready, as the Ready condition's message says it
};
// Asked once per status computation; must not block for long (a CRI call with a deadline).
using RuntimeProbe = std::function<RuntimeState()>;

struct NodeStatusOptions {
  std::string node_name;
  std::string node_ip;   // InternalIP
  std::string hostname;  // the Hostname address and kubernetes.io/hostname; default node_name
  std::string pod_cidr;  // spec.podCIDR when the Node has none
  std::string root_dir = "/";
  int max_pods = 110;
  int kubelet_port = 0;  // status.daemonEndpoints.kubeletEndpoint.Port: where the API server reaches logs/exec (0: none)
  RuntimeProbe runtime;  // null: no runtime (Ready, no runtime version)
  std::chrono::milliseconds status_update_interval{std::chrono::seconds(10)};
  std::chrono::milliseconds status_report_interval{std::chrono::minutes(5)};
  std::chrono::milliseconds lease_renew_interval{std::chrono::seconds(10)};
  std::int32_t lease_duration_seconds = 40;
};

// The Node as this kubelet wants it, from what the API server has (`existing`, may be null)
// and the machine. `now` is RFC 3339. Conditions keep their lastTransitionTime unless their
// status changed; every heartbeat is `now` (the caller decides whether to write).
api::Node desired_node(const api::Node* existing, const NodeStatusOptions& o, const MachineInfo& m, const RuntimeState& rt,
                       const std::string& now);
// Whether two Nodes' status differ in anything but heartbeat times.
bool status_changed(const api::Node& before, const api::Node& after);

// The Node's spec.podCIDRs (podCIDR for a Node without them) once they are set, as the kubelet
// waits for the node IPAM controller before it configures the pod network; Unavailable, saying
// what to check, after `timeout`.
Result<std::vector<std::string>> wait_for_pod_cidrs(const client::ClusterConnection& connection, const std::string& node_name,
                                                    std::chrono::milliseconds timeout);

class NodeStatusReporter {
 public:
  // Registers the Node and writes its first status and Lease before returning, then keeps them
  // up to date on a thread of its own until stop().
  static Result<std::unique_ptr<NodeStatusReporter>> start(const client::ClusterConnection& connection, NodeStatusOptions options);
  ~NodeStatusReporter();
  NodeStatusReporter(const NodeStatusReporter&) = delete;
  NodeStatusReporter& operator=(const NodeStatusReporter&) = delete;
  void stop();

  // One round at once (tests): status if due or changed, and the Lease.
  Result<void> sync_now();

 private:
  struct Impl;
  explicit NodeStatusReporter(std::unique_ptr<Impl> impl);
  void loop();
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace switchyard::kubelet::node
