// The node's container runtime as `switchyard up` (and later `switchyard kubelet`) sets it up:
// either an existing CRI socket (--container-runtime-endpoint), or a containerd of our own,
// supervised, under the node's data dir; then every image archive of --images-dir imported.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kubelet/cri/cri_types.h"
#include "kubelet/runtime/containerd_supervisor.h"
#include "orchestrator/base/error.h"

namespace switchyard::kubelet::runtime {

struct NodeRuntimeOptions {
  std::string endpoint;                 // an existing runtime's CRI socket; empty: run our own
  bool run_containerd = false;          // run our own (implied by images_dir without endpoint)
  std::filesystem::path node_data_dir;  // ours lives under node_containerd_dir(node_data_dir)
  std::string pod_cidr;                 // our CNI config's range (--pod-cidr); empty: set_pod_cidrs() once the Node has one
  std::string images_dir;               // archives to import at start (k3s's air-gap images dir)

  bool enabled() const { return !endpoint.empty() || run_containerd || !images_dir.empty(); }
};

class NodeRuntime {
 public:
  static Result<std::unique_ptr<NodeRuntime>> start(const NodeRuntimeOptions& options);
  ~NodeRuntime();
  const std::string& endpoint() const { return endpoint_; }
  const cri::VersionInfo& version() const { return version_; }
  bool ours() const { return containerd_ != nullptr; }
  int images_imported() const { return images_imported_; }
  // The Node's podCIDRs: our containerd's CNI config gets them (containerd reloads it; pods
  // start once it has); a foreign runtime's network is its own to configure.
  Result<void> set_pod_cidrs(const std::vector<std::string>& cidrs);
  // Stops our containerd (pods keep running, as their rules do); nothing for a foreign runtime.
  void stop();

 private:
  NodeRuntime() = default;
  std::unique_ptr<ContainerdSupervisor> containerd_;
  ContainerdOptions containerd_options_;
  std::string endpoint_;
  cri::VersionInfo version_;
  int images_imported_ = 0;
};

}  // namespace switchyard::kubelet::runtime
