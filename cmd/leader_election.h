// The control-plane components that run on one leader at a time (the controllers, the scheduler):
// kube-controller-manager's and kube-scheduler's --leader-elect flags, and a component started
// with informers of its own while this process holds its Lease (client/leader_election.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "orchestrator/base/error.h"
#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/client/leader_election.h"

namespace CLI {
class App;
}

namespace switchyard::client {
class SharedInformerFactory;
}

namespace switchyard::cmd {

struct LeaderElectionFlags {
  bool enabled = true;
  std::string lease_duration = "15s", renew_deadline = "10s", retry_period = "2s";
  std::string resource_name, resource_namespace = "kube-system";
};

// --leader-elect and its companions, upstream's names and defaults; `lease_name` is the default
// --leader-elect-resource-name (empty: no resource flags, for a process with several Leases).
void add_leader_election_flags(CLI::App* sub, LeaderElectionFlags& flags, const std::string& lease_name);
// The configuration for the Lease `name` (the flags' resource name when empty).
client::LeaderElectionConfig leader_election_config(const LeaderElectionFlags& flags, const std::string& name);

// Starts the component on `informers` and returns how to stop it.
using ComponentStart = std::function<Result<std::function<void()>>(client::SharedInformerFactory& informers)>;

// A component that runs only while this process leads: each term gets fresh informers, and the
// component and its informers are stopped when the term ends, so a standby holds no caches.
class ElectedComponent {
 public:
  ElectedComponent(client::ClusterConnection connection, client::LeaderElectionConfig config, std::string name, ComponentStart start);
  ~ElectedComponent();
  ElectedComponent(const ElectedComponent&) = delete;
  ElectedComponent& operator=(const ElectedComponent&) = delete;
  void stop();
  bool leading() const;

 private:
  struct Term;
  client::ClusterConnection connection_;
  std::string name_;
  ComponentStart start_;
  std::unique_ptr<Term> term_;
  std::unique_ptr<client::LeaderElector> elector_;
};

}  // namespace switchyard::cmd
