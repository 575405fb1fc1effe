// The kubelet's pod loop: Pods bound to this node (a watch on spec.nodeName) reconciled against
// what CRI reports. One work-queue key per pod uid, so a pod is never synced by two workers at
// once; events, a relist of the runtime every second (containerd 1.6 has no CRI event stream),
// backoff timers and a periodic resync enqueue it. A sync observes the pod's sandbox and
// containers by their pod-uid label (so a restarted kubelet adopts what runs), plans
// (pod_sync.h), acts (cri_pod_driver.h), and writes the status (pod_status.h) through the status
// subresource when it changed. A pod with a deletionTimestamp is stopped with its grace period
// and confirmed with a DELETE of grace 0; a pod gone from the API, or a sandbox of a pod the API
// does not know, is torn down.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kubelet/cri/cri_client.h"
#include "kubelet/pods/endpoint_handoff.h"
#include "kubelet/pods/cri_pod_driver.h"
#include "kubelet/pods/pod_config.h"
#include "kubelet/storage/local_path_provisioner.h"
#include "kubelet/volumes/pod_volumes.h"
#include "kubelet/volumes/service_account_token_manager.h"
#include "orchestrator/base/error.h"
#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"

namespace switchyard::kubelet {

class Prober;

struct KubeletOptions {
  NodeSettings node;             // node_name, node_ip, cluster DNS, root_dir for the CRI logs
  std::string runtime_endpoint;  // the CRI socket
  std::string images_hint = "switchyard images import FILE.tar";
  int workers = 4;
  std::chrono::milliseconds relist_period{1000};
  std::chrono::milliseconds resync_period{10000};
  // After a gracefully deleted pod's endpoints are withdrawn, how long before its containers are
  // stopped, for the dataplanes to stop sending it connections (endpoint_handoff.h); 0: no wait.
  std::chrono::milliseconds endpoint_handoff_delay{1000};
  // Where the local-path provisioner makes this node's volumes; empty: no provisioner runs.
  std::string local_path_dir;
};

class Kubelet {
 public:
  // Connects to CRI and the API server and starts the loops. `informers` may be shared with other
  // components of the process (nullptr: its own).
  static Result<std::unique_ptr<Kubelet>> start(KubeletOptions options, client::ClusterConnection connection,
                                                client::SharedInformerFactory* informers = nullptr);
  ~Kubelet();
  Kubelet(const Kubelet&) = delete;
  Kubelet& operator=(const Kubelet&) = delete;

  // Stops the loops; the pods keep running (a restarted kubelet adopts them).
  void stop();
  bool synced() const;

 private:
  struct PodRecord {
    client::ObjectPtr<api::Pod> pod;  // the latest seen
    bool gone = false;                // deleted from the API (or never known: an orphan)
    ContainerNotes notes;
    std::string last_status;            // the status JSON last written
    std::string written_at_version;     // the pod's resourceVersion our last status write was based on
    std::set<std::string> events_sent;  // "reason/fieldPath/message" of the Warnings recorded
  };
  // ConfigMaps, Secrets, claims, volumes and Services from this kubelet's informers (env
  // references, service env vars and volumes); service-account tokens from its token manager.
  class InformerConfigLookup : public ConfigLookup {
   public:
    // Secrets are read one by one from the API server (as upstream's kubelet, the Node
    // authorizer lets a node read only its own pods' Secrets, never list them); a change reaches
    // the pods at the next resync.
    InformerConfigLookup(client::SharedInformerFactory& informers, const client::ClusterConnection& connection,
                         ServiceAccountTokenManager& tokens)
        : cms_(informers.informer<api::ConfigMap>()),
          connection_(connection),
          claims_(informers.informer<api::PersistentVolumeClaim>()),
          volumes_(informers.informer<api::PersistentVolume>()),
          services_(informers.informer<api::Service>()),
          tokens_(tokens) {}
    Result<std::optional<api::ConfigMap>> config_map(const std::string& ns, const std::string& name) const override;
    Result<std::optional<api::Secret>> secret(const std::string& ns, const std::string& name) const override;
    Result<std::optional<api::PersistentVolumeClaim>> claim(const std::string& ns, const std::string& name) const override;
    Result<std::optional<api::PersistentVolume>> volume(const std::string& name) const override;
    Result<std::string> service_account_token(const api::Pod& pod, const std::string& audience,
                                              std::int64_t expiration_seconds) const override;
    Result<std::vector<api::Service>> services(const std::string& ns) const override;

   private:
    client::SharedIndexInformer<api::ConfigMap>& cms_;
    const client::ClusterConnection& connection_;
    client::SharedIndexInformer<api::PersistentVolumeClaim>& claims_;
    client::SharedIndexInformer<api::PersistentVolume>& volumes_;
    client::SharedIndexInformer<api::Service>& services_;
    ServiceAccountTokenManager& tokens_;
  };

  Kubelet(KubeletOptions options, client::ClusterConnection connection, std::unique_ptr<cri::CriClient> cri,
          client::SharedInformerFactory* informers);
  void on_pod(const client::ObjectPtr<api::Pod>& pod, bool deleted);
  void remember(const client::ObjectPtr<api::Pod>& pod);  // a newer copy, nothing to do
  // A ConfigMap or Secret changed: the pods here whose volumes project it sync now, rather than
  // at the next resync (upstream's kubelet waits for its periodic pod sync, up to a minute).
  void on_config_change(const std::string& ns, const std::string& name, bool secret);
  void worker(int index);
  Result<> sync(const std::string& uid, client::ApiClient& api);
  Result<> sync_running(const std::string& uid, const api::Pod& pod, client::ApiClient& api);
  // Stops a deleted pod: the endpoint hand-off, then stop_pod on a thread of its own.
  Result<> terminate(const std::string& uid, const api::Pod& pod, bool confirm);
  // preStop, the containers and sandbox, the volumes; with `confirm`, the DELETE of grace 0 that
  // lets the API server remove a gracefully deleted pod.
  Result<> stop_pod(const std::string& uid, const api::Pod& pod, std::chrono::seconds grace, client::ApiClient& api, bool confirm);
  void reap_stoppers_locked();  // joins the stop threads that have finished
  // How much longer a gracefully deleted pod keeps running for the endpoint hand-off (nullopt: stop it now).
  std::optional<std::chrono::milliseconds> endpoint_handoff_wait(const std::string& uid, const api::Pod& pod, std::chrono::seconds grace);
  void relist_loop();
  // A failed probe's Warning Event (reason Unhealthy), from a prober thread.
  void report_unhealthy(const std::string& uid, const std::string& container, const std::string& message);
  // A Warning Event about the pod, once per reason, container and message while the pod lives.
  void warn_once(client::ApiClient& api, const api::Pod& pod, const std::string& field_path, const std::string& reason,
                 const std::string& message);
  // Volumes, then (before a first sandbox) every container's config: false when the pod cannot
  // start yet, with the reason in notes and Events, and nothing made on the node.
  bool ready_to_start(client::ApiClient& api, const api::Pod& pod, const ObservedPod& observed, ContainerNotes& notes, RuntimeFacts& facts);

  KubeletOptions options_;
  client::ClusterConnection connection_;
  std::unique_ptr<cri::CriClient> cri_;
  std::unique_ptr<client::SharedInformerFactory> own_informers_;
  client::SharedInformerFactory& informers_;
  client::SharedIndexInformer<api::Pod>& pods_;
  ServiceAccountTokenManager tokens_;
  InformerConfigLookup config_lookup_;
  PodVolumes volumes_;
  std::uint64_t handler_ = 0, config_map_handler_ = 0;
  client::SharedIndexInformer<api::EndpointSlice>* endpoint_slices_ = nullptr;  // for the hand-off
  EndpointHandoff handoff_;
  CriPodDriver driver_;
  std::unique_ptr<Prober> prober_;
  std::unique_ptr<LocalPathProvisioner> local_path_;
  client::WorkQueue queue_;

  std::mutex mu_;
  std::map<std::string, PodRecord> records_;  // by uid

  struct Stopper {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::mutex stopping_mu_;
  std::map<std::string, Stopper> stoppers_;  // by uid: pods being stopped

  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  std::thread relister_;
};

}  // namespace switchyard::kubelet
