// Two nodes joined the way users join them: `switchyard up` in a control-plane network namespace
// and `switchyard join` (with the token and CA pin `up` printed) in a node namespace, the two
// linked by a veth pair on one subnet, each with its own containerd and data directory under
// /tmp/sy-PURPOSE-PID. Everything (pods, processes, containerd leftovers, mounts, namespaces,
// files) is removed when it goes away, also after a failed test.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "netns-tests/support/process.h"

namespace switchyard::testing {

struct TwoNodeClusterOptions {
  std::string purpose;  // in directory, namespace and link names
  std::string binary;   // SWITCHYARD_BINARY
  std::string images_dir;
  std::string control_ip = "10.86.0.1";  // node-a, where `up` runs
  std::string node_ip = "10.86.0.2";     // the joined node's
  std::vector<std::string> up_flags;     // more flags for `up`
};

class TwoNodeCluster {
 public:
  explicit TwoNodeCluster(TwoNodeClusterOptions options);
  ~TwoNodeCluster();
  TwoNodeCluster(const TwoNodeCluster&) = delete;
  TwoNodeCluster& operator=(const TwoNodeCluster&) = delete;

  // Namespaces, link, `up` (node-a); waits for the printed join command and the default
  // ServiceAccount. "" when it worked, else what went wrong (with up.log).
  std::string start();
  // `switchyard join` as `name` from the node namespace with the printed server and pin, logging
  // to LOG_NAME; `token` "" means the printed one, `servers` "" the printed server. The process
  // stays running until reset.
  std::unique_ptr<ChildProcess> join(const std::string& name, const std::string& log_name, const std::vector<std::string>& extra_flags = {},
                                     const std::string& token = "", const std::string& servers = "") const;
  // join() for `name` and waits for "joined the cluster" and Ready: "" when it worked.
  std::string join_and_wait(const std::string& name, const std::vector<std::string>& extra_flags = {});

  // kubectl as the admin, from the control plane's namespace.
  CommandResult kubectl(const std::string& args) const;
  // kubectl with the kubeconfig `join` wrote for the node, from the node's namespace.
  CommandResult node_kubectl(const std::string& args) const;
  // Writes `yaml` to a file and applies it: kubectl's output.
  std::string apply(const std::string& file_name, const std::string& yaml) const;
  std::string log(const std::string& name) const;
  // A command in the control (node-a) or the joined node's namespace.
  CommandResult in_control(const std::string& command) const;
  CommandResult in_node(const std::string& command) const;

  const std::filesystem::path& dir() const { return dir_; }
  const NetworkNamespace& control() const { return *control_; }
  const NetworkNamespace& node() const { return *node_; }
  const TwoNodeClusterOptions& options() const { return options_; }
  const std::string& server() const { return server_; }
  const std::string& token() const { return token_; }
  const std::string& ca_hash() const { return ca_hash_; }
  // The running join (join_and_wait), to stop or replace.
  std::unique_ptr<ChildProcess>& joined() { return joined_; }

 private:
  TwoNodeClusterOptions options_;
  std::filesystem::path dir_;
  std::unique_ptr<NetworkNamespace> control_, node_;
  std::unique_ptr<ChildProcess> up_, joined_;
  std::string server_, token_, ca_hash_;
};

}  // namespace switchyard::testing
