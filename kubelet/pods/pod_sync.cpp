#include "kubelet/pods/pod_sync.h"

#include "kubelet/pods/pod_config.h"
#include "kubelet/pods/pod_status.h"

namespace switchyard::kubelet {

bool should_restart(const std::string& restart_policy, std::int32_t exit_code) {
  if (restart_policy == "Never") return false;
  if (restart_policy == "OnFailure") return exit_code != 0;
  return true;  // Always, the default
}

namespace {

ContainerStart start_of(const api::Container& c, const ObservedContainer* latest, bool init) {
  ContainerStart s{.name = c.name, .init = init};
  if (latest) {
    s.restart = latest->status.state == cri::ContainerState::Exited;
    s.restart_count = latest->restart_count + 1;
    s.previous_id = latest->status.id;
  }
  return s;
}

}  // namespace

SyncPlan plan_pod_sync(const api::Pod& pod, const ObservedPod& observed, const ContainerNotes& notes) {
  SyncPlan plan;
  const std::string policy = pod.spec.restart_policy.empty() ? "Always" : pod.spec.restart_policy;
  for (const auto& [name, list] : observed.containers)
    for (std::size_t i = 2; i < list.size(); ++i)
      if (list[i].status.state != cri::ContainerState::Running) plan.remove_containers.push_back(list[i].status.id);

  auto any_running = [&] {
    for (const auto& [name, list] : observed.containers)
      for (const auto& c : list)
        if (c.status.state == cri::ContainerState::Running) return true;
    return false;
  };
  if (phase_is_terminal(pod_phase(pod, observed, notes))) {
    // Done for good: nothing runs again; the sandbox goes (its address back to the pool).
    plan.kill_pod = any_running() || observed.sandbox_ready();
    return plan;
  }
  if (!observed.sandbox_ready()) {
    plan.kill_pod = observed.sandbox.has_value() || any_running();
    plan.create_sandbox = true;
    plan.sandbox_attempt = observed.sandbox ? observed.sandbox->metadata.attempt + 1 : 0;
    // A new sandbox runs the init containers again from the first.
    if (!pod.spec.init_containers.empty()) {
      const auto& first = pod.spec.init_containers.front();
      plan.start.push_back(start_of(first, observed.latest(first.name), true));
      plan.start.back().restart = false;
      return plan;
    }
    for (const auto& c : pod.spec.containers) {
      plan.start.push_back(start_of(c, observed.latest(c.name), false));
      plan.start.back().restart = false;
    }
    return plan;
  }
  plan.remove_sandboxes = observed.old_sandboxes;

  for (const auto& c : pod.spec.init_containers) {
    const ObservedContainer* latest = observed.latest(c.name);
    if (!latest) {
      plan.start.push_back(start_of(c, nullptr, true));
      return plan;
    }
    switch (latest->status.state) {
      case cri::ContainerState::Running:
        return plan;  // wait for it
      case cri::ContainerState::Exited:
        if (latest->status.exit_code == 0) continue;
        if (should_restart(policy, latest->status.exit_code)) plan.start.push_back(start_of(c, latest, true));
        return plan;
      default:  // created and never started (a kubelet stopped in between): make it again
        plan.kill.push_back({latest->status.id, c.name, ""});
        plan.start.push_back(start_of(c, latest, true));
        plan.start.back().restart = false;
        return plan;
    }
  }

  for (const auto& c : pod.spec.containers) {
    const ObservedContainer* latest = observed.latest(c.name);
    if (!latest) {
      // Never ran here; with restartPolicy Never a container that ran and was removed stays down.
      plan.start.push_back(start_of(c, nullptr, false));
      continue;
    }
    auto note = notes.find(c.name);
    switch (latest->status.state) {
      case cri::ContainerState::Running: {
        std::string reason;
        if (!latest->hash.empty() && latest->hash != container_hash(c))
          reason = "Container " + c.name + " definition changed, will be restarted";
        else if (note != notes.end() && note->second.kill_requested_id == latest->status.id)
          reason = note->second.kill_reason;
        if (reason.empty()) break;
        plan.kill.push_back({latest->status.id, c.name, reason});
        // A killed container exits non-zero: OnFailure restarts it as Always does.
        if (policy != "Never") plan.start.push_back(start_of(c, latest, false));
        break;
      }
      case cri::ContainerState::Exited:
        if (should_restart(policy, latest->status.exit_code)) plan.start.push_back(start_of(c, latest, false));
        break;
      default:
        plan.kill.push_back({latest->status.id, c.name, ""});
        plan.start.push_back(start_of(c, latest, false));
        plan.start.back().restart = false;
        break;
    }
  }
  return plan;
}

}  // namespace switchyard::kubelet
