#include "orchestrator/apiserver/pod_printer.h"

#include <fmt/format.h>

namespace switchyard::apiserver {

using nlohmann::json;

namespace {

const json& field(const json& o, const char* name) {
  static const json null;
  return o.is_object() && o.contains(name) ? o[name] : null;
}

std::string text(const json& o, const char* name) {
  const json& v = field(o, name);
  return v.is_string() ? v.get<std::string>() : "";
}

int integer(const json& o, const char* name) {
  const json& v = field(o, name);
  return v.is_number_integer() ? v.get<int>() : 0;
}

bool restartable_init(const json& spec, const std::string& name) {
  for (const auto& c : field(spec, "initContainers"))
    if (text(c, "name") == name) return text(c, "restartPolicy") == "Always";
  return false;
}

// A terminated state without a reason, as kubectl names it.
std::string exit_text(const json& terminated, const char* prefix) {
  if (integer(terminated, "signal") != 0) return fmt::format("{}Signal:{}", prefix, integer(terminated, "signal"));
  return fmt::format("{}ExitCode:{}", prefix, integer(terminated, "exitCode"));
}

bool condition_true(const json& status, const char* type) {
  for (const auto& c : field(status, "conditions"))
    if (text(c, "type") == type && text(c, "status") == "True") return true;
  return false;
}

}  // namespace

PodPrintout print_pod(const json& pod, const std::function<std::string(const std::string&)>& since) {
  const json& spec = field(pod, "spec");
  const json& status = field(pod, "status");
  const json& meta = field(pod, "metadata");
  int restarts = 0, restartable_restarts = 0, ready = 0;
  int total = static_cast<int>(field(spec, "containers").size());
  std::string last_restart, last_restartable_restart;  // RFC 3339 compares in time order
  const std::string phase = text(status, "phase");
  std::string reason = text(status, "reason").empty() ? phase : text(status, "reason");
  for (const auto& c : field(status, "conditions"))
    if (text(c, "type") == "PodScheduled" && text(c, "reason") == "SchedulingGated") reason = "SchedulingGated";
  for (const auto& c : field(spec, "initContainers"))
    if (text(c, "restartPolicy") == "Always") ++total;

  bool initializing = false;
  const json& init_statuses = field(status, "initContainerStatuses");
  const int init_count = static_cast<int>(field(spec, "initContainers").size());
  for (int i = 0; i < static_cast<int>(init_statuses.size()); ++i) {
    const json& c = init_statuses[i];
    restarts += integer(c, "restartCount");
    const json& last_terminated = field(field(c, "lastState"), "terminated");
    if (last_terminated.is_object() && text(last_terminated, "finishedAt") > last_restart)
      last_restart = text(last_terminated, "finishedAt");
    const bool sidecar = restartable_init(spec, text(c, "name"));
    if (sidecar) {
      restartable_restarts += integer(c, "restartCount");
      if (last_terminated.is_object() && text(last_terminated, "finishedAt") > last_restartable_restart)
        last_restartable_restart = text(last_terminated, "finishedAt");
    }
    const json& state = field(c, "state");
    const json& terminated = field(state, "terminated");
    const json& waiting = field(state, "waiting");
    if (terminated.is_object() && integer(terminated, "exitCode") == 0) continue;
    if (sidecar && field(c, "started") == true) {
      if (field(c, "ready") == true) ++ready;
      continue;
    }
    if (terminated.is_object()) {
      reason = text(terminated, "reason").empty() ? exit_text(terminated, "Init:") : "Init:" + text(terminated, "reason");
    } else if (waiting.is_object() && !text(waiting, "reason").empty() && text(waiting, "reason") != "PodInitializing") {
      reason = "Init:" + text(waiting, "reason");
    } else {
      reason = fmt::format("Init:{}/{}", i, init_count);
    }
    initializing = true;
    break;
  }

  if (!initializing || condition_true(status, "Initialized")) {
    restarts = restartable_restarts;
    last_restart = last_restartable_restart;
    bool has_running = false;
    const json& statuses = field(status, "containerStatuses");
    for (int i = static_cast<int>(statuses.size()) - 1; i >= 0; --i) {
      const json& c = statuses[i];
      restarts += integer(c, "restartCount");
      const json& last_terminated = field(field(c, "lastState"), "terminated");
      if (last_terminated.is_object() && text(last_terminated, "finishedAt") > last_restart)
        last_restart = text(last_terminated, "finishedAt");
      const json& state = field(c, "state");
      const json& terminated = field(state, "terminated");
      const json& waiting = field(state, "waiting");
      if (waiting.is_object() && !text(waiting, "reason").empty()) {
        reason = text(waiting, "reason");
      } else if (terminated.is_object()) {
        reason = text(terminated, "reason").empty() ? exit_text(terminated, "") : text(terminated, "reason");
      } else if (field(c, "ready") == true && field(state, "running").is_object()) {
        has_running = true;
        ++ready;
      }
    }
    if (reason == "Completed" && has_running) reason = condition_true(status, "Ready") ? "Running" : "NotReady";
  }

  if (field(meta, "deletionTimestamp").is_string()) {
    if (text(status, "reason") == "NodeLost")
      reason = "Unknown";
    else if (phase != "Succeeded" && phase != "Failed")
      reason = "Terminating";
  }
  std::string restarts_text = std::to_string(restarts);
  if (restarts != 0 && !last_restart.empty()) restarts_text = fmt::format("{} ({} ago)", restarts, since(last_restart));
  return {fmt::format("{}/{}", ready, total), reason, restarts_text};
}

}  // namespace switchyard::apiserver
