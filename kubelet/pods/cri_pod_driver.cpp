#include "kubelet/pods/cri_pod_driver.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::kubelet {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxMessageBytes = 4096;

std::string read_tail(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff from = std::max<std::streamoff>(0, size - static_cast<std::streamoff>(max_bytes));
  in.seekg(from);
  std::string text(static_cast<std::size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

// The last lines of a CRI log file, without the "<time> <stream> <F|P> " prefixes.
std::string log_tail(const std::string& path) {
  std::string raw = read_tail(path, 2 * kMaxMessageBytes), out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    auto end = raw.find('\n', pos);
    std::string line = raw.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? raw.size() : end + 1;
    auto time_end = line.find(' ');
    auto stream_end = time_end == std::string::npos ? time_end : line.find(' ', time_end + 1);
    if (stream_end == std::string::npos || stream_end + 2 > line.size()) continue;
    const bool partial = line[stream_end + 1] == 'P';  // a line the runtime split: no newline after it
    out += line.substr(std::min(line.size(), stream_end + 3));
    if (!partial) out += '\n';
  }
  if (out.size() > kMaxMessageBytes) out = out.substr(out.size() - kMaxMessageBytes);
  return out;
}

std::string termination_message(const cri::ContainerStatus& s) {
  std::string path;
  if (auto it = s.annotations.find(kTerminationMessageAnnotation); it != s.annotations.end())
    for (const auto& m : s.mounts)
      if (m.container_path == it->second) path = m.host_path;
  std::string message = path.empty() ? "" : read_tail(path, kMaxMessageBytes);
  auto policy = s.annotations.find(kTerminationPolicyAnnotation);
  if (message.empty() && s.exit_code != 0 && policy != s.annotations.end() && policy->second == "FallbackToLogsOnError")
    message = log_tail(s.log_path);
  return message;
}

std::int32_t int_annotation(const cri::Labels& annotations, const char* key) {
  auto it = annotations.find(key);
  if (it == annotations.end()) return 0;
  try {
    return std::stoi(it->second);
  } catch (...) {
    return 0;
  }
}

const api::Container* find_container(const api::Pod& pod, const std::string& name) {
  for (const auto& c : pod.spec.init_containers)
    if (c.name == name) return &c;
  for (const auto& c : pod.spec.containers)
    if (c.name == name) return &c;
  return nullptr;
}

std::string pull_policy(const api::Container& c) {
  if (!c.image_pull_policy.empty()) return c.image_pull_policy;
  auto slash = c.image.rfind('/');
  auto tail = c.image.substr(slash == std::string::npos ? 0 : slash + 1);
  if (tail.find('@') != std::string::npos) return "IfNotPresent";
  auto colon = tail.find(':');
  return colon == std::string::npos || tail.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

void set_waiting(ContainerNote& note, std::string reason, std::string message, std::string for_id) {
  note.waiting_reason = std::move(reason);
  note.waiting_message = std::move(message);
  note.waiting_for_id = std::move(for_id);
}

void keep_min(std::optional<std::chrono::milliseconds>& requeue, std::chrono::milliseconds d) {
  if (!requeue || d < *requeue) requeue = d;
}

}  // namespace

Result<ObservedPod> CriPodDriver::observe(const std::string& uid) {
  ObservedPod observed;
  auto sandboxes = cri_.list_pod_sandbox({.id = "", .state = std::nullopt, .label_selector = {{kPodUidLabel, uid}}});
  if (!sandboxes) return fail(sandboxes.error());
  std::ranges::sort(*sandboxes, [](const auto& a, const auto& b) { return a.created_at > b.created_at; });
  for (std::size_t i = 0; i < sandboxes->size(); ++i) {
    if (i > 0) {
      observed.old_sandboxes.push_back((*sandboxes)[i].id);
      continue;
    }
    auto status = cri_.pod_sandbox_status((*sandboxes)[i].id);
    if (!status && status.error().code != ErrorCode::NotFound) return fail(status.error());
    if (status) observed.sandbox = *status;
  }
  auto containers = cri_.list_containers({.id = "", .state = std::nullopt, .pod_sandbox_id = "", .label_selector = {{kPodUidLabel, uid}}});
  if (!containers) return fail(containers.error());
  for (const auto& c : *containers) {
    auto status = cri_.container_status(c.id);
    if (!status) {
      if (status.error().code == ErrorCode::NotFound) continue;  // removed meanwhile
      return fail(status.error());
    }
    ObservedContainer o;
    o.status = *status;
    if (o.status.labels.empty()) o.status.labels = c.labels;
    if (o.status.annotations.empty()) o.status.annotations = c.annotations;
    o.restart_count = int_annotation(o.status.annotations, kRestartCountAnnotation);
    if (auto it = o.status.annotations.find(kContainerHashAnnotation); it != o.status.annotations.end()) o.hash = it->second;
    if (o.status.state == cri::ContainerState::Exited) o.termination_message = termination_message(o.status);
    auto name = c.labels.contains(kContainerNameLabel) ? c.labels.at(kContainerNameLabel) : c.metadata.name;
    observed.containers[name].push_back(std::move(o));
  }
  for (auto& [name, list] : observed.containers)
    std::ranges::sort(list, [](const auto& a, const auto& b) { return a.status.created_at > b.status.created_at; });
  return observed;
}

Result<> CriPodDriver::stop_containers(const std::vector<std::string>& ids, std::chrono::seconds grace) {
  // In parallel: each may take the whole grace period.
  std::vector<std::thread> threads;
  std::vector<Result<>> results(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) threads.emplace_back([&, i] { results[i] = cri_.stop_container(ids[i], grace); });
  for (auto& t : threads) t.join();
  for (auto& r : results)
    if (!r && r.error().code != ErrorCode::NotFound) return r;
  return {};
}

Result<bool> CriPodDriver::ensure_image(const api::Pod& pod, const api::Container& c, ContainerNote& note,
                                        std::optional<std::chrono::milliseconds>& requeue) {
  const std::string policy = pull_policy(c);
  auto present = cri_.image_status(c.image);
  if (!present) return fail(present.error());
  if (present->has_value() && policy != "Always") return true;
  const std::string hint = fmt::format("; no registry is reachable from this node: import the image with `{}`", images_hint_);
  if (policy == "Never") {
    set_waiting(note, "ErrImageNeverPull", fmt::format("Container image \"{}\" is not present with pull policy of Never{}", c.image, hint),
                note.waiting_for_id);
    keep_min(requeue, std::chrono::seconds(10));
    return false;
  }
  const std::string key = pod.metadata.uid + "/" + c.name + "/" + c.image;
  const auto now = Backoff::Clock::now();
  if (auto wait = pull_backoff_.remaining_since_update(key, now); wait.count() > 0) {
    set_waiting(note, "ImagePullBackOff", fmt::format("Back-off pulling image \"{}\"{}", c.image, hint), note.waiting_for_id);
    keep_min(requeue, wait);
    return false;
  }
  auto pulled = cri_.pull_image(c.image);
  if (pulled) {
    pull_backoff_.forget_prefix(key);
    return true;
  }
  pull_backoff_.next(key, now);
  spdlog::info("event=image_pull_failed pod={}/{} image={} error=\"{}\"", pod.metadata.namespace_, pod.metadata.name, c.image,
               pulled.error().message);
  set_waiting(note, "ErrImagePull", fmt::format("Failed to pull image \"{}\": {}{}", c.image, pulled.error().message, hint),
              note.waiting_for_id);
  // Look again shortly: the status then says ImagePullBackOff until the next try, as kubelet's does.
  keep_min(requeue, std::min<std::chrono::milliseconds>(pull_backoff_.delay(key), std::chrono::seconds(2)));
  return false;
}

Result<std::optional<std::chrono::milliseconds>> CriPodDriver::apply(const api::Pod& pod, const ObservedPod& observed, const SyncPlan& plan,
                                                                     ContainerNotes& notes, const RuntimeFacts& base) {
  std::optional<std::chrono::milliseconds> requeue;
  const auto grace = termination_grace(pod);
  if (plan.kill_pod) {
    std::vector<std::string> running;
    for (const auto& [name, list] : observed.containers)
      for (const auto& c : list)
        if (c.status.state == cri::ContainerState::Running) running.push_back(c.status.id);
    if (auto r = stop_containers(running, grace); !r) return fail(r.error());
    if (observed.sandbox)
      if (auto r = cri_.stop_pod_sandbox(observed.sandbox->id); !r && r.error().code != ErrorCode::NotFound) return fail(r.error());
  }
  std::vector<std::string> kill_ids;
  for (const auto& k : plan.kill) {
    kill_ids.push_back(k.id);
    if (!k.reason.empty()) {
      notes[k.name].kill_messages[k.id] = k.reason;
      spdlog::info("event=container_killed pod={}/{} container={} reason=\"{}\"", pod.metadata.namespace_, pod.metadata.name, k.name,
                   k.reason);
    }
  }
  if (auto r = stop_containers(kill_ids, grace); !r) return fail(r.error());
  for (const auto& id : plan.remove_containers)
    if (auto r = cri_.remove_container(id); !r && r.error().code != ErrorCode::NotFound) return fail(r.error());
  for (const auto& id : plan.remove_sandboxes) {
    if (auto r = cri_.stop_pod_sandbox(id); !r && r.error().code != ErrorCode::NotFound) return fail(r.error());
    if (auto r = cri_.remove_pod_sandbox(id); !r && r.error().code != ErrorCode::NotFound) return fail(r.error());
  }
  if (plan.start.empty() && !plan.create_sandbox) return requeue;

  std::string sandbox_id;
  std::uint32_t attempt = plan.sandbox_attempt;
  RuntimeFacts facts = base;
  if (plan.create_sandbox) {
    auto config = make_sandbox_config(pod, node_, attempt);
    if (!config) return fail(config.error());
    std::error_code ec;
    fs::create_directories(config->log_directory, ec);
    auto id = cri_.run_pod_sandbox(*config);
    if (!id) return fail(with_context(id.error(), "sandbox of pod " + pod.metadata.namespace_ + "/" + pod.metadata.name));
    sandbox_id = *id;
    auto status = cri_.pod_sandbox_status(sandbox_id);
    if (!status) return fail(status.error());
    facts.pod_ip = status->ip;
    facts.pod_ips = {status->ip};
    for (const auto& ip : status->additional_ips) facts.pod_ips.push_back(ip);
  } else {
    sandbox_id = observed.sandbox->id;
    attempt = observed.sandbox->metadata.attempt;
    facts.pod_ip = observed.sandbox->ip;
    facts.pod_ips = {observed.sandbox->ip};
  }
  auto sandbox_config = make_sandbox_config(pod, node_, attempt);
  if (!sandbox_config) return fail(sandbox_config.error());

  const auto now = Backoff::Clock::now();
  for (const auto& s : plan.start) {
    const api::Container* spec = find_container(pod, s.name);
    if (!spec) continue;
    ContainerNote& note = notes[s.name];
    note.waiting_for_id = s.previous_id;
    if (s.restart) {
      const std::string key = pod.metadata.uid + "/" + s.name;
      std::int64_t finished = 0;
      for (const auto& [name, list] : observed.containers)
        for (const auto& c : list)
          if (c.status.id == s.previous_id) finished = c.status.finished_at;
      auto event = Backoff::Clock::time_point(std::chrono::duration_cast<Backoff::Clock::duration>(std::chrono::nanoseconds(finished)));
      if (auto wait = crash_backoff_.remaining(key, event, now); wait.count() > 0) {
        set_waiting(note, "CrashLoopBackOff",
                    fmt::format("back-off {}s restarting failed container={} pod={}({})",
                                std::chrono::duration_cast<std::chrono::seconds>(crash_backoff_.delay(key)).count(), s.name,
                                pod_full_name(pod), pod.metadata.uid),
                    s.previous_id);
        keep_min(requeue, wait);
        continue;
      }
      crash_backoff_.next(key, now);
    }
    auto usable = ensure_image(pod, *spec, note, requeue);
    if (!usable) return fail(usable.error());
    if (!*usable) continue;
    auto config = make_container_config(pod, *spec, s.restart_count, facts, node_);
    if (!config) {
      set_waiting(note, "CreateContainerConfigError", config.error().message, s.previous_id);
      keep_min(requeue, std::chrono::seconds(10));
      continue;
    }
    std::error_code ec;
    for (const auto& m : config->mounts)
      if (m.host_path.ends_with(".termination-log")) {
        fs::create_directories(fs::path(m.host_path).parent_path(), ec);
        std::ofstream(m.host_path, std::ios::trunc);
      } else if (!fs::exists(fs::symlink_status(m.host_path, ec))) {
        fs::create_directories(m.host_path, ec);  // a subPath not there yet, as the kubelet makes it
      }
    auto id = cri_.create_container(sandbox_id, *config, *sandbox_config);
    if (!id) {
      set_waiting(note, "CreateContainerError", id.error().message, s.previous_id);
      keep_min(requeue, std::chrono::seconds(10));
      continue;
    }
    if (auto started = cri_.start_container(*id); !started) {
      // The container stays, exited: its status says why; the next sync restarts it.
      spdlog::warn("event=container_start_failed pod={}/{} container={} error=\"{}\"", pod.metadata.namespace_, pod.metadata.name, s.name,
                   started.error().message);
    }
    set_waiting(note, "", "", "");
    spdlog::info("event=container_started pod={}/{} container={} id={} restart_count={}", pod.metadata.namespace_, pod.metadata.name,
                 s.name, id->substr(0, 12), s.restart_count);
  }
  return requeue;
}

Result<> CriPodDriver::teardown(const std::string& uid, std::chrono::seconds grace) {
  auto containers = cri_.list_containers({.id = "", .state = std::nullopt, .pod_sandbox_id = "", .label_selector = {{kPodUidLabel, uid}}});
  if (!containers) return fail(containers.error());
  std::vector<std::string> running;
  for (const auto& c : *containers)
    if (c.state == cri::ContainerState::Running) running.push_back(c.id);
  if (auto r = stop_containers(running, grace); !r) return r;
  for (const auto& c : *containers)
    if (auto r = cri_.remove_container(c.id); !r && r.error().code != ErrorCode::NotFound) return r;
  auto sandboxes = cri_.list_pod_sandbox({.id = "", .state = std::nullopt, .label_selector = {{kPodUidLabel, uid}}});
  if (!sandboxes) return fail(sandboxes.error());
  for (const auto& s : *sandboxes) {
    if (auto r = cri_.stop_pod_sandbox(s.id); !r && r.error().code != ErrorCode::NotFound) return r;
    if (auto r = cri_.remove_pod_sandbox(s.id); !r && r.error().code != ErrorCode::NotFound) return r;
    auto label = [&](const char* k) { return s.labels.contains(k) ? s.labels.at(k) : std::string(); };
    if (!node_.root_dir.empty() && !label(kPodNameLabel).empty()) {
      std::error_code ec;
      fs::remove_all(fmt::format("{}/pods/{}_{}_{}", node_.root_dir, label(kPodNamespaceLabel), label(kPodNameLabel), uid), ec);
    }
  }
  forget(uid);
  return {};
}

Result<std::set<std::string>> CriPodDriver::sandbox_uids() {
  auto sandboxes = cri_.list_pod_sandbox();
  if (!sandboxes) return fail(sandboxes.error());
  std::set<std::string> uids;
  for (const auto& s : *sandboxes)
    if (auto it = s.labels.find(kPodUidLabel); it != s.labels.end()) uids.insert(it->second);
  return uids;
}

void CriPodDriver::forget(const std::string& uid) {
  crash_backoff_.forget_prefix(uid + "/");
  pull_backoff_.forget_prefix(uid + "/");
}

}  // namespace switchyard::kubelet
