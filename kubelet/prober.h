// Liveness, readiness and startup probes (exec through CRI ExecSync, httpGet, tcpSocket), one
// worker thread per probe of a running container, with kubelet's timing: nothing before
// initialDelaySeconds, one try every periodSeconds bounded by timeoutSeconds, a result that
// flips after successThreshold successes or failureThreshold failures in a row; liveness and
// readiness wait for the startup probe. A result that changes re-syncs the pod (readiness sets
// Ready; a failed liveness or startup probe asks the sync to restart the container). Also runs
// preStop hooks (exec, httpGet).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "kubelet/cri/cri_client.h"
#include "kubelet/pods/pod_state.h"
#include "orchestrator/api/types.h"

namespace switchyard::kubelet {

struct ProbeSpec {
  nlohmann::json handler;  // the probe object: exec | httpGet | tcpSocket and the timings
  std::chrono::seconds initial_delay{0}, period{10}, timeout{1};
  int success_threshold = 1, failure_threshold = 3;
  static ProbeSpec from_json(const nlohmann::json& probe);
};

// One probe attempt: success or not, with a message on failure. `pod_ip` is where httpGet and
// tcpSocket connect when the probe names no host.
struct ProbeResult {
  bool success = false;
  std::string message;
  bool errored = false;  // the probe could not run (a port name the container does not declare)
};
ProbeResult run_probe_once(cri::CriClient& cri, const nlohmann::json& handler, const std::string& container_id, const std::string& pod_ip,
                           const api::Container& container, std::chrono::seconds timeout);

class Prober {
 public:
  // on_failure gets each failed attempt's message as the kubelet's Unhealthy Event words it
  // ("Readiness probe failed: …", "Liveness probe errored: …").
  using FailureHandler = std::function<void(const std::string& uid, const std::string& container, const std::string& message)>;
  Prober(cri::CriClient& cri, std::function<void(const std::string& uid)> on_change, FailureHandler on_failure = nullptr)
      : cri_(cri), on_change_(std::move(on_change)), on_failure_(std::move(on_failure)) {}
  ~Prober() { stop(); }

  // From a pod's sync: starts workers for the probes of newly running containers, ends those of
  // containers that stopped, and fills each container's ready/started/kill request in `notes`.
  void update(const api::Pod& pod, const ObservedPod& observed, ContainerNotes& notes);
  // Runs the containers' preStop hooks (in parallel), each bounded by `grace`.
  void run_pre_stop(const api::Pod& pod, const ObservedPod& observed, std::chrono::seconds grace);
  void forget(const std::string& uid);
  void stop();

 private:
  enum class Kind { Liveness, Readiness, Startup };
  static const char* kind_name(Kind k) { return k == Kind::Liveness ? "liveness" : k == Kind::Readiness ? "readiness" : "startup"; }
  struct Worker {
    std::string uid, container_id;
    Kind kind;
    ProbeSpec spec;
    std::string pod_ip;
    api::Container container;
    std::int64_t started_at = 0;  // ns
    // Results, read under mu_.
    bool has_result = false;
    bool success = false;
    std::string message;
    std::atomic<bool> stop{false};
    std::thread thread;
  };
  using Key = std::tuple<std::string, std::string, int>;  // uid, container name, kind
  void run(Worker* w);
  bool startup_passed(const std::string& uid, const std::string& container_name);

  cri::CriClient& cri_;
  std::function<void(const std::string&)> on_change_;
  FailureHandler on_failure_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<Key, std::unique_ptr<Worker>> workers_;
};

}  // namespace switchyard::kubelet
