// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does
// it for kube-controller-manager and kube-scheduler: of several candidates, one holds the Lease
// and renews it; the others watch its record and take it over once it has not changed for a
// whole lease duration, measured on their own clock (so clock skew between hosts does not matter).
// A leader that cannot renew within the renew deadline stops leading before the lease could
// expire for the others (renew deadline < lease duration leaves the margin).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "orchestrator/client/cluster_connection.h"

namespace switchyard::client {

struct LeaderElectionConfig {
  std::string lease_namespace = "kube-system";
  std::string lease_name;  // kube-controller-manager, kube-scheduler
  // Unique per process: the host name and a random suffix (default_leader_identity()).
  std::string identity;
  // kube-controller-manager's and kube-scheduler's defaults.
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
};

// "HOSTNAME_" followed by a random UUID, as upstream's components name themselves.
std::string default_leader_identity();

// Runs `lead` on its own thread each time this candidate becomes the leader, and `stop_leading`
// (on the same thread) when it loses the lease or is stopped while leading. Then it is a
// candidate again.
class LeaderElector {
 public:
  LeaderElector(ClusterConnection connection, LeaderElectionConfig config, std::function<void()> lead, std::function<void()> stop_leading);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void start();
  // Stops leading (stop_leading runs) and gives the lease up at once, so a standby need not wait
  // for it to expire (client-go's ReleaseOnCancel).
  void stop();
  bool leading() const { return leading_.load(); }

  struct Impl;

 private:
  void run();
  std::unique_ptr<Impl> impl_;
  std::function<void()> lead_, stop_leading_;
  std::atomic<bool> leading_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace switchyard::client
