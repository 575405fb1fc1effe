// A synchronous client of a container runtime's CRI v1 API (RuntimeService and ImageService)
// over gRPC on a unix socket. Every call has a deadline and returns a Result: gRPC status codes
// map to ErrorCode (UNAVAILABLE → Unavailable, NOT_FOUND → NotFound, DEADLINE_EXCEEDED →
// Timeout, …) with a message naming the call and the object. Thread-safe: one channel, many
// callers.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kubelet/cri/cri_types.h"
#include "orchestrator/base/error.h"

namespace switchyard::kubelet::cri {

class CriClient {
 public:
  struct Options {
    // Per call, except where the call takes its own (ExecSync, StopContainer add theirs).
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
    // RunPodSandbox sets up networking and starts the sandbox: slower than the rest.
    std::chrono::milliseconds sandbox_timeout{std::chrono::minutes(2)};
    std::chrono::milliseconds pull_timeout{std::chrono::minutes(5)};
  };

  // `endpoint` is a socket path ("/run/x/containerd.sock") or "unix:///run/x/containerd.sock".
  // Connecting is lazy: a runtime that is not up yet fails the first call with Unavailable.
  static Result<std::unique_ptr<CriClient>> connect(const std::string& endpoint, Options options);
  static Result<std::unique_ptr<CriClient>> connect(const std::string& endpoint) { return connect(endpoint, Options{}); }
  ~CriClient();
  CriClient(const CriClient&) = delete;
  CriClient& operator=(const CriClient&) = delete;

  const std::string& endpoint() const;

  // RuntimeService
  Result<VersionInfo> version();
  Result<RuntimeStatus> status();
  Result<std::string> run_pod_sandbox(const PodSandboxConfig& config, const std::string& runtime_handler = "");
  Result<> stop_pod_sandbox(const std::string& sandbox_id);
  Result<> remove_pod_sandbox(const std::string& sandbox_id);
  Result<PodSandboxStatus> pod_sandbox_status(const std::string& sandbox_id);
  Result<std::vector<PodSandbox>> list_pod_sandbox(const PodSandboxFilter& filter = {});
  Result<std::string> create_container(const std::string& sandbox_id, const ContainerConfig& config,
                                       const PodSandboxConfig& sandbox_config);
  Result<> start_container(const std::string& container_id);
  // Sends the stop signal, then SIGKILL after `grace` (0: at once).
  Result<> stop_container(const std::string& container_id, std::chrono::seconds grace);
  Result<> remove_container(const std::string& container_id);
  Result<std::vector<Container>> list_containers(const ContainerFilter& filter = {});
  Result<ContainerStatus> container_status(const std::string& container_id);
  // Runs cmd in the container and waits for it, up to `timeout` (0: no limit of the runtime's).
  Result<ExecSyncResult> exec_sync(const std::string& container_id, const std::vector<std::string>& cmd, std::chrono::seconds timeout);
  // The runtime's streaming-server URL for an exec, attach or port-forward session.
  Result<std::string> exec(const StreamRequest& request);
  Result<std::string> attach(const StreamRequest& request);
  Result<std::string> port_forward(const std::string& sandbox_id, const std::vector<int32_t>& ports);

  // ImageService
  Result<std::vector<Image>> list_images();
  // The image, or nothing when the runtime does not have it (CRI answers an empty status).
  Result<std::optional<Image>> image_status(const std::string& image);
  Result<std::string> pull_image(const std::string& image);
  Result<> remove_image(const std::string& image);

 private:
  struct Impl;
  explicit CriClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchyard::kubelet::cri
