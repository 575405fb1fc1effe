// The node agent's running parts, wired together: shared informers → Snapshots → sync loop → backend,
// the same Snapshots → DNS server, and the health and metrics HTTP servers. `switchyard agent`
// runs one against any API server; `switchyard up` runs one beside its own control plane.
#pragma once

#include <memory>
#include <string>

#include "orchestrator/client/cluster_connection.h"
#include "node/agent_config.h"

namespace switchyard::node {

class NodeAgent {
 public:
  // Creates the backend in the calling thread's network namespace and starts everything.
  // Errors name the setting at fault ("--dns-listen 127.0.0.1:53: …").
  static Result<std::unique_ptr<NodeAgent>> start(const AgentConfig& config, client::ClusterConnection connection);
  ~NodeAgent();
  // Stops syncing and serving; the rules stay in the kernel.
  void stop();
  // Every informer listed once and the dataplane was programmed from that (/readyz).
  bool ready() const;

  struct Impl;

 private:
  explicit NodeAgent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Removes everything the backend of `config.mode` programmed in this network namespace.
Result<void> cleanup_dataplane(const AgentConfig& config);

}  // namespace switchyard::node
