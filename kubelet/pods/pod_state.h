// What the kubelet knows of one pod besides its spec: what CRI reports (the observed sandbox and
// containers, found by the pod-uid label) and what only the kubelet remembers (why a container
// waits, probe results). Plain values shared by pod_sync (what to do) and pod_status (what to
// write).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kubelet/cri/cri_types.h"

namespace switchyard::kubelet {

struct ObservedContainer {
  cri::ContainerStatus status;
  std::int32_t restart_count = 0;   // from the restartCount annotation
  std::string hash;                 // from the hash annotation
  std::string termination_message;  // read from the message file (or the log tail) once it exited
};

struct ObservedPod {
  std::optional<cri::PodSandboxStatus> sandbox;  // the newest sandbox
  std::vector<std::string> old_sandboxes;        // ids of older ones (to remove)
  // By container name, newest first (created_at).
  std::map<std::string, std::vector<ObservedContainer>> containers;

  const ObservedContainer* latest(const std::string& name) const {
    auto it = containers.find(name);
    return it == containers.end() || it->second.empty() ? nullptr : &it->second.front();
  }
  const ObservedContainer* previous(const std::string& name) const {
    auto it = containers.find(name);
    return it == containers.end() || it->second.size() < 2 ? nullptr : &it->second[1];
  }
  bool sandbox_ready() const { return sandbox && sandbox->state == cri::SandboxState::Ready; }
};

// Per container name, what the kubelet decided or measured.
struct ContainerNote {
  std::string waiting_reason;  // ErrImagePull, ImagePullBackOff, CrashLoopBackOff, CreateContainerConfigError, …
  std::string waiting_message;
  std::string waiting_for_id;                        // the container the waiting reason is about ("" for a first start)
  bool ready = false;                                // readiness: true when running and no readiness probe says otherwise
  bool started = false;                              // startup probe passed (or none)
  std::map<std::string, std::string> kill_messages;  // container id → why the kubelet killed it (liveness)
  std::string kill_requested_id;                     // a probe asks for this container to be restarted
  std::string kill_reason;
};

using ContainerNotes = std::map<std::string, ContainerNote>;

}  // namespace switchyard::kubelet
