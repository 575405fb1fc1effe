// Pure: what to do to bring one pod's runtime state to its spec (kubelet's computePodActions):
// a sandbox to (re)create, containers to kill, the next init container or the app containers to
// start (with their restart count), dead containers and old sandboxes to remove. Backoff is the
// caller's: a planned restart may still wait in CrashLoopBackOff.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kubelet/pods/pod_state.h"
#include "orchestrator/api/types.h"

namespace switchyard::kubelet {

struct ContainerKill {
  std::string id;
  std::string name;
  std::string reason;  // kept as the terminated state's message
};

struct ContainerStart {
  std::string name;
  bool init = false;
  bool restart = false;  // it ran before: subject to CrashLoopBackOff
  std::int32_t restart_count = 0;
  std::string previous_id;  // the container it replaces ("" for a first start)
};

struct SyncPlan {
  bool kill_pod = false;  // stop every container and the sandbox before anything else
  bool create_sandbox = false;
  std::uint32_t sandbox_attempt = 0;
  std::vector<ContainerKill> kill;
  std::vector<ContainerStart> start;
  std::vector<std::string> remove_containers;  // exited ones older than the newest two per name
  std::vector<std::string> remove_sandboxes;   // sandboxes a newer one replaced

  bool empty() const {
    return !kill_pod && !create_sandbox && kill.empty() && start.empty() && remove_containers.empty() && remove_sandboxes.empty();
  }
};

// Whether a container that exited with `exit_code` runs again under the pod's restartPolicy.
bool should_restart(const std::string& restart_policy, std::int32_t exit_code);

SyncPlan plan_pod_sync(const api::Pod& pod, const ObservedPod& observed, const ContainerNotes& notes);

}  // namespace switchyard::kubelet
