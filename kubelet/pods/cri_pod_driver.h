// The pod side of CRI: reads one pod's sandboxes and containers (by the pod-uid label) into an
// ObservedPod, carries out a SyncPlan (sandbox, image check or pull, container create/start,
// kills, removals) with CrashLoopBackOff and image-pull backoff, and tears a pod down. The only
// place where the kubelet's pod work touches the runtime.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>

#include "kubelet/cri/cri_client.h"
#include "kubelet/pods/backoff.h"
#include "kubelet/pods/pod_config.h"
#include "kubelet/pods/pod_state.h"
#include "kubelet/pods/pod_sync.h"
#include "orchestrator/api/types.h"
#include "orchestrator/base/error.h"

namespace switchyard::kubelet {

class CriPodDriver {
 public:
  CriPodDriver(cri::CriClient& cri, NodeSettings node, std::string images_hint)
      : cri_(cri), node_(std::move(node)), images_hint_(std::move(images_hint)) {}

  const NodeSettings& node() const { return node_; }
  cri::CriClient& cri() { return cri_; }

  Result<ObservedPod> observe(const std::string& uid);

  // Carries out `plan`; notes get the waiting reasons (backoffs, pull and config errors). Returns
  // when the pod should be looked at again for a delay to end (nothing: on the next event).
  // `base`: the pod's prepared volumes and where env references read (pod IPs are filled in).
  Result<std::optional<std::chrono::milliseconds>> apply(const api::Pod& pod, const ObservedPod& observed, const SyncPlan& plan,
                                                         ContainerNotes& notes, const RuntimeFacts& base = {});

  // Stops (with `grace`) and removes every container and sandbox of the pod, and its logs.
  Result<> teardown(const std::string& uid, std::chrono::seconds grace);

  // The pod uids that have a sandbox on this runtime.
  Result<std::set<std::string>> sandbox_uids();

  // Forgets the backoffs of a pod that is gone.
  void forget(const std::string& uid);

 private:
  // Whether the image can be used now; on false the note says why.
  Result<bool> ensure_image(const api::Pod& pod, const api::Container& c, ContainerNote& note,
                            std::optional<std::chrono::milliseconds>& requeue);
  Result<> stop_containers(const std::vector<std::string>& ids, std::chrono::seconds grace);

  cri::CriClient& cri_;
  NodeSettings node_;
  std::string images_hint_;  // how to add an image on this node ("switchyard images import …")
  Backoff crash_backoff_{std::chrono::seconds(10), std::chrono::minutes(5)};
  Backoff pull_backoff_{std::chrono::seconds(10), std::chrono::minutes(5)};
};

}  // namespace switchyard::kubelet
