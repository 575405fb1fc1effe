#include "kubelet/pods/pod_status.h"

#include <ctime>

#include <fmt/format.h>

#include "kubelet/pods/pod_config.h"

namespace switchyard::kubelet {

using nlohmann::json;

std::string rfc3339_from_nanos(std::int64_t nanos) {
  if (nanos <= 0) return "";
  std::time_t seconds = static_cast<std::time_t>(nanos / 1000000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

namespace {

bool exited(const ObservedContainer* c) { return c && c->status.state == cri::ContainerState::Exited; }
bool running(const ObservedContainer* c) { return c && c->status.state == cri::ContainerState::Running; }

const ContainerNote* note_of(const ContainerNotes& notes, const std::string& name) {
  auto it = notes.find(name);
  return it == notes.end() ? nullptr : &it->second;
}

// A waiting reason that replaces the latest container's state (it will be restarted, or a new
// one cannot be made yet).
bool waits(const ContainerNote* note, const ObservedContainer* latest) {
  if (!note || note->waiting_reason.empty()) return false;
  return !latest || note->waiting_for_id == latest->status.id;
}

std::string terminated_reason(const ObservedContainer& c) {
  if (!c.status.reason.empty()) return c.status.reason;
  return c.status.exit_code == 0 ? "Completed" : "Error";
}

json terminated_state(const ObservedContainer& c, const ContainerNote* note) {
  json t = {{"exitCode", c.status.exit_code},
            {"reason", terminated_reason(c)},
            {"startedAt", rfc3339_from_nanos(c.status.started_at)},
            {"finishedAt", rfc3339_from_nanos(c.status.finished_at)},
            {"containerID", "containerd://" + c.status.id}};
  std::string message = c.termination_message;
  if (note)
    if (auto it = note->kill_messages.find(c.status.id); it != note->kill_messages.end() && message.empty()) message = it->second;
  if (!message.empty()) t["message"] = message;
  if (t["startedAt"] == "") t["startedAt"] = nullptr;
  if (t["finishedAt"] == "") t["finishedAt"] = nullptr;
  return json{{"terminated", t}};
}

json container_status(const api::Container& spec, const ObservedPod& observed, const ContainerNote* note, bool init, bool has_init) {
  const ObservedContainer* latest = observed.latest(spec.name);
  const ObservedContainer* previous = observed.previous(spec.name);
  json s = {{"name", spec.name}, {"image", spec.image}, {"imageID", ""}, {"restartCount", 0}, {"ready", false}, {"started", false}};
  json state, last = json::object();
  if (latest) {
    s["restartCount"] = latest->restart_count;
    s["imageID"] = latest->status.image_ref;
    s["containerID"] = "containerd://" + latest->status.id;
  }
  if (waits(note, latest)) {
    state = {{"waiting", {{"reason", note->waiting_reason}}}};
    if (!note->waiting_message.empty()) state["waiting"]["message"] = note->waiting_message;
    if (exited(latest)) last = terminated_state(*latest, note);
  } else if (running(latest)) {
    state = {{"running", {{"startedAt", rfc3339_from_nanos(latest->status.started_at)}}}};
    if (exited(previous)) last = terminated_state(*previous, note);
    s["started"] = note ? note->started : true;
    s["ready"] = note ? note->ready : !init;
  } else if (exited(latest)) {
    state = terminated_state(*latest, note);
    if (exited(previous)) last = terminated_state(*previous, note);
  } else {
    // Not made yet, or created and not started.
    // kubelet's default: PodInitializing in a pod with init containers (kubectl shows Init:i/n).
    state = {{"waiting", {{"reason", has_init ? "PodInitializing" : "ContainerCreating"}}}};
    if (exited(previous)) last = terminated_state(*previous, note);
  }
  if (init) s["ready"] = exited(latest) && latest->status.exit_code == 0 && !waits(note, latest);
  s["state"] = state;
  s["lastState"] = last;
  return s;
}

void set_condition(std::vector<api::PodCondition>& conditions, const std::vector<api::PodCondition>& old, const std::string& type,
                   bool value, const std::string& reason, const std::string& message, const std::string& now) {
  api::PodCondition c{.type = type,
                      .status = value ? "True" : "False",
                      .last_probe_time = "",
                      .last_transition_time = now,
                      .reason = value ? "" : reason,
                      .message = value ? "" : message};
  for (const auto& o : old)
    if (o.type == type && o.status == c.status && !o.last_transition_time.empty()) c.last_transition_time = o.last_transition_time;
  std::erase_if(conditions, [&](const auto& x) { return x.type == type; });
  conditions.push_back(c);
}

}  // namespace

std::string pod_phase(const api::Pod& pod, const ObservedPod& observed, const ContainerNotes& notes) {
  if (phase_is_terminal(pod.status.phase)) return pod.status.phase;  // terminal phases never change
  const std::string policy = pod.spec.restart_policy.empty() ? "Always" : pod.spec.restart_policy;
  for (const auto& c : pod.spec.init_containers) {
    const ObservedContainer* latest = observed.latest(c.name);
    if (exited(latest) && latest->status.exit_code == 0) continue;
    if (exited(latest) && policy == "Never") return "Failed";
    return "Pending";
  }
  int running_n = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const auto& c : pod.spec.containers) {
    const ObservedContainer* latest = observed.latest(c.name);
    const ContainerNote* note = note_of(notes, c.name);
    if (running(latest) && !waits(note, latest)) {
      ++running_n;
    } else if (exited(latest)) {
      ++stopped;
      if (latest->status.exit_code == 0) ++succeeded;
    } else if (observed.previous(c.name)) {
      ++stopped;
    } else {
      ++waiting;
    }
  }
  if (waiting > 0) return "Pending";
  if (running_n > 0) return "Running";
  if (stopped > 0) {
    if (policy == "Always") return "Running";
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

api::PodStatus compute_pod_status(const api::Pod& pod, const ObservedPod& observed, const ContainerNotes& notes, const StatusContext& ctx) {
  api::PodStatus s;
  const api::PodStatus& old = pod.status;
  s.phase = pod_phase(pod, observed, notes);
  s.host_ip = ctx.node_ip;
  if (!ctx.node_ip.empty()) s.host_ips = {ctx.node_ip};
  if (pod.spec.host_network) {
    s.pod_ip = ctx.node_ip;
  } else if (observed.sandbox && !observed.sandbox->ip.empty()) {
    s.pod_ip = observed.sandbox->ip;
  } else if (phase_is_terminal(s.phase)) {
    s.pod_ip = old.pod_ip;  // a finished pod keeps the address it had
  }
  if (!s.pod_ip.empty()) {
    s.pod_ips = {s.pod_ip};
    if (observed.sandbox && !pod.spec.host_network)
      for (const auto& ip : observed.sandbox->additional_ips) s.pod_ips.push_back(ip);
  }
  s.start_time = old.start_time.empty() ? ctx.now : old.start_time;

  json init_statuses = json::array(), statuses = json::array();
  for (const auto& c : pod.spec.init_containers) init_statuses.push_back(container_status(c, observed, note_of(notes, c.name), true, true));
  std::vector<std::string> unready;
  for (const auto& c : pod.spec.containers) {
    json cs = container_status(c, observed, note_of(notes, c.name), false, !pod.spec.init_containers.empty());
    if (!cs["ready"].get<bool>()) unready.push_back(c.name);
    statuses.push_back(std::move(cs));
  }
  if (!init_statuses.empty()) s.passthrough["initContainerStatuses"] = init_statuses.dump();
  s.passthrough["containerStatuses"] = statuses.dump();
  s.passthrough["qosClass"] = json(qos_class(pod)).dump();

  // Conditions: the ones the kubelet owns are recomputed; others (PodScheduled) are kept.
  s.conditions = old.conditions;
  const bool sandbox_ok = observed.sandbox_ready() && (pod.spec.host_network || !observed.sandbox->ip.empty());
  set_condition(s.conditions, old.conditions, "PodReadyToStartContainers", sandbox_ok, "", "", ctx.now);
  std::vector<std::string> pending_init;
  for (const auto& c : pod.spec.init_containers) {
    const ObservedContainer* latest = observed.latest(c.name);
    if (!exited(latest) || latest->status.exit_code != 0) pending_init.push_back(c.name);
  }
  auto list = [](const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
    return "[" + out + "]";
  };
  set_condition(s.conditions, old.conditions, "Initialized", pending_init.empty() || s.phase == "Succeeded", "ContainersNotInitialized",
                "containers with incomplete status: " + list(pending_init), ctx.now);
  const bool completed = s.phase == "Succeeded" || s.phase == "Failed";
  const std::string unready_reason = completed ? "PodCompleted" : "ContainersNotReady";
  const std::string unready_message = completed ? "" : "containers with unready status: " + list(unready);
  set_condition(s.conditions, old.conditions, "ContainersReady", unready.empty() && !completed, unready_reason, unready_message, ctx.now);
  set_condition(s.conditions, old.conditions, "Ready", unready.empty() && !completed, unready_reason, unready_message, ctx.now);
  // The order kubelet writes them in.
  static const std::vector<std::string> order = {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"};
  std::stable_sort(s.conditions.begin(), s.conditions.end(), [](const auto& a, const auto& b) {
    auto rank = [](const std::string& t) { return std::ranges::find(order, t) - order.begin(); };
    return rank(a.type) < rank(b.type);
  });
  return s;
}

}  // namespace switchyard::kubelet
