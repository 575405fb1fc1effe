// kube-controller-manager's persistentvolume-binder and its two protection controllers, in one
// loop keyed by "claim/NS/NAME" or "volume/NAME":
//  - binding: an unbound claim gets the smallest Available volume that fits it (class, access
//    modes, capacity, selector, volume mode; a volume pre-bound to the claim first; for a
//    WaitForFirstConsumer class only once the scheduler chose a node, and only a volume whose
//    node affinity admits that node). With no such volume, a claim whose class has a provisioner
//    is annotated volume.kubernetes.io/storage-provisioner so that the provisioner makes one;
//  - phases: a volume is Available, Bound, Released once its claim is gone, or Failed; a claim is
//    Pending, Bound, or Lost when its volume is gone;
//  - reclaim: Retain keeps a Released volume; Delete of a local-path volume is its node's (the
//    kubelet's LocalPathProvisioner), any other Delete fails as upstream with no deleter plugin;
//  - protection: the kubernetes.io/pvc-protection finalizer leaves a deleted claim once no pod
//    uses it, kubernetes.io/pv-protection a deleted volume once it is not Bound.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"

namespace switchyard::controllers {

// The volume that binding picks for `claim` among `volumes` (nullptr: none). `node`: the node
// the scheduler selected for a WaitForFirstConsumer claim (nullptr: no node constraint).
struct SelectedNode {
  std::string name;
  api::StringMap labels;
};
client::ObjectPtr<api::PersistentVolume> find_matching_volume(const api::PersistentVolumeClaim& claim,
                                                              const std::vector<client::ObjectPtr<api::PersistentVolume>>& volumes,
                                                              const SelectedNode* node);

class PersistentVolumeController {
 public:
  PersistentVolumeController(client::SharedInformerFactory& informers, client::ClusterConnection connection);
  ~PersistentVolumeController();
  PersistentVolumeController(const PersistentVolumeController&) = delete;
  PersistentVolumeController& operator=(const PersistentVolumeController&) = delete;

  void start();
  void stop();
  Result<void> sync(const std::string& key, client::ApiClient& api);

 private:
  struct Handlers;
  void worker();
  Result<void> sync_claim(const std::string& key, client::ApiClient& api);
  Result<void> sync_volume(const std::string& name, client::ApiClient& api);
  Result<void> bind(const api::PersistentVolume& volume, const api::PersistentVolumeClaim& claim, client::ApiClient& api);
  bool claim_in_use(const api::PersistentVolumeClaim& claim) const;
  // An Event on a claim, once per message while the message stays the same.
  void claim_event(client::ApiClient& api, const api::PersistentVolumeClaim& claim, const std::string& type, const std::string& reason,
                   const std::string& message);

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  client::SharedIndexInformer<api::PersistentVolumeClaim>& claims_;
  client::SharedIndexInformer<api::PersistentVolume>& volumes_;
  client::SharedIndexInformer<api::StorageClass>& classes_;
  client::SharedIndexInformer<api::Pod>& pods_;
  client::SharedIndexInformer<api::Node>& nodes_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::mutex events_mu_;
  std::map<std::string, std::string> last_event_;  // claim uid -> the last message recorded
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace switchyard::controllers
