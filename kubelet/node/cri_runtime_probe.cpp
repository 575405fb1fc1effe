#include "kubelet/node/cri_runtime_probe.h"

#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "kubelet/cri/cri_client.h"

namespace switchyard::kubelet::node {

RuntimeProbe cri_runtime_probe(const std::string& endpoint) {
  struct State {
    std::mutex mu;
    std::string endpoint;
    std::unique_ptr<cri::CriClient> client;
    RuntimeState last_known;  // name and version stay known while the runtime is down
  };
  auto state = std::make_shared<State>();
  state->endpoint = endpoint;
  return [state]() {
    std::lock_guard lock(state->mu);
    RuntimeState rt = state->last_known;
    if (!state->client) {
      cri::CriClient::Options options;
      options.timeout = std::chrono::seconds(2);
      auto c = cri::CriClient::connect(state->endpoint, options);
      if (!c) {
        rt.ready = false;
        rt.message = fmt::format("container runtime is down: {}", c.error().message);
        return rt;
      }
      state->client = std::move(*c);
    }
    auto version = state->client->version();
    if (!version) {
      rt.ready = false;
      rt.message = fmt::format("container runtime is down: {}", version.error().message);
      return rt;
    }
    rt.name = version->runtime_name;
    rt.version = version->runtime_version;
    state->last_known = rt;
    auto status = state->client->status();
    if (!status) {
      rt.ready = false;
      rt.message = fmt::format("container runtime status check may not have completed yet: {}", status.error().message);
      return rt;
    }
    // As kubelet's runtimeState: each condition that is not true says why.
    std::vector<std::string> problems;
    for (const char* type : {"RuntimeReady", "NetworkReady"}) {
      if (status->condition(type)) continue;
      std::string reason, message;
      for (const auto& c : status->conditions)
        if (c.type == type) {
          reason = c.reason;
          message = c.message;
        }
      problems.push_back(
          std::string(type) == "RuntimeReady"
              ? fmt::format("container runtime not ready: RuntimeReady=false reason:{} message:{}", reason, message)
              : fmt::format("container runtime network not ready: NetworkReady=false reason:{} message:{}", reason, message));
    }
    rt.ready = problems.empty();
    rt.message.clear();
    for (std::size_t i = 0; i < problems.size(); ++i) rt.message += (i ? ", " : "") + problems[i];
    return rt;
  };
}

}  // namespace switchyard::kubelet::node
