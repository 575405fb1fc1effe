// Runs a containerd of our own as a child process: writes its config (containerd_config.h),
// starts it (inside a given network namespace if asked), waits until its CRI socket answers
// Version, starts it again whenever it dies, and stops it with SIGTERM, then SIGKILL.
// Stopping containerd leaves the pods running (their shims outlive it, as on any node); a
// restarted containerd adopts them. runtime_cleanup.h removes them for good.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "kubelet/runtime/containerd_config.h"
#include "orchestrator/base/error.h"

namespace switchyard::kubelet::runtime {

class ContainerdSupervisor {
 public:
  // Writes the files, starts containerd and waits until it answers over CRI.
  static Result<std::unique_ptr<ContainerdSupervisor>> start(ContainerdOptions options);
  ~ContainerdSupervisor();  // stop()
  ContainerdSupervisor(const ContainerdSupervisor&) = delete;
  ContainerdSupervisor& operator=(const ContainerdSupervisor&) = delete;

  const ContainerdPaths& paths() const { return paths_; }
  std::string endpoint() const { return paths_.socket.string(); }
  pid_t pid() const;  // the current containerd process, -1 while none runs
  int restarts() const { return restarts_.load(); }

  // Waits until a containerd (the first or a restarted one) answers Version, up to `timeout`.
  Result<> wait_ready(std::chrono::milliseconds timeout) const;

  // Ends supervision and containerd: SIGTERM, up to `grace`, then SIGKILL. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  explicit ContainerdSupervisor(ContainerdOptions options);
  Result<> spawn();  // with mutex_ held
  void supervise();

  ContainerdOptions options_;
  ContainerdPaths paths_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point started_;
  int pidfd_ = -1;
  bool stopping_ = false;
  std::atomic<int> restarts_{0};
  std::thread supervisor_;
};

}  // namespace switchyard::kubelet::runtime
