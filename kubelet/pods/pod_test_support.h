// Pods and observed runtime states for the pure kubelet tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "kubelet/pods/pod_config.h"
#include "kubelet/pods/pod_state.h"
#include "orchestrator/api/json_codec.h"

namespace switchyard::kubelet::testing {

inline api::Pod pod_from(const std::string& text) {
  auto d = api::decode_object_as(nlohmann::json::parse(text), "v1", "Pod");
  EXPECT_TRUE(d.has_value()) << d.error().message;
  return d ? std::get<api::Pod>(d->object) : api::Pod{};
}

inline constexpr std::int64_t kSecond = 1000000000LL;

inline ObservedContainer running(const std::string& id, std::int32_t restarts = 0, std::int64_t started_s = 1000) {
  ObservedContainer c;
  c.status.id = id;
  c.status.state = cri::ContainerState::Running;
  c.status.created_at = started_s * kSecond;
  c.status.started_at = started_s * kSecond;
  c.status.image_ref = "sha256:abc";
  c.restart_count = restarts;
  return c;
}

inline ObservedContainer exited(const std::string& id, std::int32_t code, std::int32_t restarts = 0, std::int64_t started_s = 1000) {
  ObservedContainer c = running(id, restarts, started_s);
  c.status.state = cri::ContainerState::Exited;
  c.status.exit_code = code;
  c.status.finished_at = (started_s + 5) * kSecond;
  c.status.reason = code == 0 ? "Completed" : "Error";
  return c;
}

inline cri::PodSandboxStatus ready_sandbox(const std::string& ip = "10.244.0.9") {
  cri::PodSandboxStatus s;
  s.id = "sandbox-1";
  s.state = cri::SandboxState::Ready;
  s.ip = ip;
  return s;
}

}  // namespace switchyard::kubelet::testing
