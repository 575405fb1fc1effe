// Test support: a cluster of network namespaces, grown only with what `switchyard up` prints.
// A "switch" namespace holds a bridge; the control plane's namespace and each node's namespace
// get a veth port on it (one L2 link, as hosts on one switch). `up` runs in the control plane's
// namespace, each node runs `switchyard join` with the printed token and CA pin, its own data
// directory and its own containerd. Everything (processes, containers, mounts, namespaces, the
// directory) is removed when this goes away, also after a failed assertion.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "netns-tests/support/process.h"

namespace switchyard::testing {

class ClusterFixture {
 public:
  // `nodes` joined nodes; addresses 10.<subnet>.0.1 (control plane), .2, .3, ... (nodes).
  ClusterFixture(const std::string& purpose, int nodes, int subnet);
  ~ClusterFixture();
  ClusterFixture(const ClusterFixture&) = delete;
  ClusterFixture& operator=(const ClusterFixture&) = delete;

  // Starts `up` (node name "cp") and waits for its join command: "" or what went wrong.
  std::string start_up(const std::vector<std::string>& extra_flags = {});
  // Starts `switchyard join` on node i (1-based) as `node_name(i)` and waits for "joined the
  // cluster" in this start's log: "" or what went wrong. Each start logs to its own file.
  std::string join(int i, double timeout_seconds = 120);
  // Waits for node i's Ready condition to be `status` ("True", "False", "Unknown").
  bool wait_ready(int i, const std::string& status, double seconds);

  // A node dies: SIGKILL to every process in its namespace (join, its containerd and shims).
  void kill_node(int i);
  // Its port on the switch down or up again.
  CommandResult set_link(int i, bool up);

  // As the admin, from the control plane's namespace (stdout and stderr).
  CommandResult kubectl(const std::string& args) const;
  // kubectl apply of `yaml`, written to a file in the cluster's directory.
  CommandResult apply(const std::string& name, const std::string& yaml) const;
  // A command in node i's namespace (0: the control plane's).
  CommandResult exec(int i, const std::string& command) const;
  // "nsenter --net=..." for node i's namespace, to put before a command (no trailing space).
  std::string exec_prefix(int i) const;
  std::string log(const std::string& name) const;
  // The logs of `up` and of every join start, for a failure message.
  std::string logs_tail(std::size_t bytes_each = 3000) const;

  const std::filesystem::path& dir() const { return dir_; }
  std::string ip(int i) const { return prefix_ + std::to_string(i + 1); }
  std::string node_name(int i) const { return i == 0 ? "cp" : "node-" + std::to_string(i); }
  const std::string& server() const { return server_; }
  const std::string& token() const { return token_; }
  const std::string& ca_hash() const { return ca_hash_; }
  int nodes() const { return static_cast<int>(namespaces_.size()) - 1; }

 private:
  // The switch namespace with its bridge, the members' namespaces and their ports (throws).
  void make_network(const std::string& purpose, int nodes);
  std::string port_name(int i) const;
  std::filesystem::path dir_;
  std::string prefix_;
  std::unique_ptr<NetworkNamespace> switch_;
  std::vector<std::unique_ptr<NetworkNamespace>> namespaces_;  // [0] control plane
  std::unique_ptr<ChildProcess> up_;
  std::vector<std::unique_ptr<ChildProcess>> joins_;  // [i] node i's current join (index 0 unused)
  std::vector<int> starts_;                           // joins started per node, for log names
  std::string server_, token_, ca_hash_;
};

}  // namespace switchyard::testing
