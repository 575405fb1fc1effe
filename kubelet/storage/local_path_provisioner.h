// The node half of the built-in local-path provisioner (k3s ships rancher.io/local-path; here it
// runs inside each node's kubelet process, for its own node only, because the directories live on
// the node):
//  - provisioning: a claim annotated volume.kubernetes.io/storage-provisioner: rancher.io/local-path
//    (or switchyard.io/local-path) whose volume.kubernetes.io/selected-node is this node gets a
//    directory <storage_dir>/pvc-<uid>_<namespace>_<name> (mode 0777, as k3s) and a
//    PersistentVolume "pvc-<uid>" pre-bound to it: hostPath DirectoryOrCreate, node affinity to
//    kubernetes.io/hostname=<node>, the class's reclaim policy; the binder then binds the two;
//  - reclaiming: a Released volume of this node with reclaim policy Delete loses its directory,
//    then its PersistentVolume object.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"

namespace switchyard::kubelet {

inline constexpr const char* kLocalPathProvisioner = "rancher.io/local-path";

struct LocalPathOptions {
  std::string node_name;
  std::string storage_dir;  // <data-dir>/storage under `switchyard up`
};

class LocalPathProvisioner {
 public:
  LocalPathProvisioner(client::SharedInformerFactory& informers, client::ClusterConnection connection, LocalPathOptions options);
  ~LocalPathProvisioner();
  LocalPathProvisioner(const LocalPathProvisioner&) = delete;
  LocalPathProvisioner& operator=(const LocalPathProvisioner&) = delete;

  void start();
  void stop();
  Result<void> sync(const std::string& key, client::ApiClient& api);

 private:
  struct Handlers;
  void worker();
  Result<void> provision(const std::string& key, client::ApiClient& api);
  Result<void> reclaim(const std::string& name, client::ApiClient& api);

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  LocalPathOptions options_;
  client::SharedIndexInformer<api::PersistentVolumeClaim>& claims_;
  client::SharedIndexInformer<api::PersistentVolume>& volumes_;
  client::SharedIndexInformer<api::StorageClass>& classes_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace switchyard::kubelet
