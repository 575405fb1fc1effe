#include "kubelet/prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kubelet/pods/pod_config.h"

namespace switchyard::kubelet {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::seconds seconds_field(const json& j, const char* name, int fallback, int minimum) {
  int v = j.is_object() && j.contains(name) && j[name].is_number_integer() ? j[name].get<int>() : fallback;
  return std::chrono::seconds(std::max(v, minimum));
}

// An fd connected to host:port within the deadline, or -1 with `error` set.
int connect_before(const std::string& host, int port, Clock::time_point deadline, std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    error = fmt::format("resolving {}: {}", host, gai_strerror(rc));
    return -1;
  }
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = fd < 0 ? -1 : ::connect(fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  if (rc != 0 && errno != EINPROGRESS) {
    error = fmt::format("dial tcp {}:{}: {}", host, port, std::strerror(errno));
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
    error = fmt::format("dial tcp {}:{}: i/o timeout", host, port);
    ::close(fd);
    return -1;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) {
    error = fmt::format("dial tcp {}:{}: {}", host, port, std::strerror(so_error));
    ::close(fd);
    return -1;
  }
  return fd;
}

// A port given by number or by the name of one of the container's ports.
int resolve_port(const json& port, const api::Container& c) {
  if (port.is_number_integer()) return port.get<int>();
  if (port.is_string()) {
    for (const auto& p : c.ports)
      if (p.name == port.get<std::string>()) return p.container_port;
    try {
      return std::stoi(port.get<std::string>());
    } catch (...) {
    }
  }
  return -1;
}

std::string port_text(const json& port) { return port.is_string() ? port.get<std::string>() : port.dump(); }

ProbeResult http_get(const json& h, const std::string& pod_ip, const api::Container& c, std::chrono::seconds timeout) {
  const std::string host = h.value("host", pod_ip);
  const int port = resolve_port(h.value("port", json()), c);
  if (port <= 0) return {false, "couldn't find port: " + port_text(h.value("port", json())) + " in container " + c.name, true};
  std::string path = h.value("path", "/");
  if (path.empty() || path[0] != '/') path = "/" + path;
  const auto deadline = Clock::now() + timeout;
  std::string error;
  int fd = connect_before(host, port, deadline, error);
  if (fd < 0) return {false, "Get \"http://" + host + ":" + std::to_string(port) + path + "\": " + error};
  std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n",
                                    path, host, port);
  for (const auto& header : h.value("httpHeaders", json::array()))
    if (header.is_object()) request += header.value("name", "") + ": " + header.value("value", "") + "\r\n";
  request += "\r\n";
  std::string answer;
  std::size_t sent = 0;
  bool ok = true;
  while (ok && (sent < request.size() || answer.find("\r\n") == std::string::npos)) {
    pollfd p{fd, static_cast<short>(sent < request.size() ? POLLOUT : POLLIN), 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
      ok = false;
      error = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
      break;
    }
    if (sent < request.size()) {
      ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0)
        ok = false, error = std::strerror(errno);
      else
        sent += static_cast<std::size_t>(n);
    } else {
      char buf[1024];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        ok = false;
        error = "EOF";
      } else {
        answer.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  if (!ok) return {false, "Get \"http://" + host + ":" + std::to_string(port) + path + "\": " + error};
  int status = 0;
  if (std::sscanf(answer.c_str(), "HTTP/%*d.%*d %d", &status) != 1) return {false, "httpGet: not an HTTP answer"};
  if (status >= 200 && status < 400) return {true, ""};
  return {false, fmt::format("HTTP probe failed with statuscode: {}", status)};
}

// The API's status of the container says `field` (ready, started) is true for this very container.
bool status_says(const api::Pod& pod, const std::string& name, const std::string& id, const char* field) {
  json statuses = passthrough_field(pod.status.passthrough, "containerStatuses");
  if (!statuses.is_array()) return false;
  for (const auto& s : statuses)
    if (s.is_object() && s.value("name", "") == name && s.value("containerID", "") == "containerd://" + id) return s.value(field, false);
  return false;
}

}  // namespace

ProbeSpec ProbeSpec::from_json(const json& probe) {
  ProbeSpec s;
  s.handler = probe;
  s.initial_delay = seconds_field(probe, "initialDelaySeconds", 0, 0);
  s.period = seconds_field(probe, "periodSeconds", 10, 1);
  s.timeout = seconds_field(probe, "timeoutSeconds", 1, 1);
  s.success_threshold = static_cast<int>(seconds_field(probe, "successThreshold", 1, 1).count());
  s.failure_threshold = static_cast<int>(seconds_field(probe, "failureThreshold", 3, 1).count());
  return s;
}

ProbeResult run_probe_once(cri::CriClient& cri, const json& h, const std::string& container_id, const std::string& pod_ip,
                           const api::Container& container, std::chrono::seconds timeout) {
  if (h.contains("exec")) {
    std::vector<std::string> cmd;
    for (const auto& a : h["exec"].value("command", json::array()))
      if (a.is_string()) cmd.push_back(a.get<std::string>());
    auto r = cri.exec_sync(container_id, cmd, timeout);
    if (!r) {
      if (r.error().code == ErrorCode::Timeout) return {false, fmt::format("command timed out after {}s", timeout.count())};
      return {false, r.error().message};
    }
    if (r->exit_code == 0) return {true, ""};
    std::string out = r->stdout_ + r->stderr_;
    return {false, out.empty() ? fmt::format("command exited with {}", r->exit_code) : out};
  }
  if (h.contains("httpGet")) return http_get(h["httpGet"], pod_ip, container, timeout);
  if (h.contains("tcpSocket")) {
    const json& t = h["tcpSocket"];
    const std::string host = t.value("host", pod_ip);
    const int port = resolve_port(t.value("port", json()), container);
    std::string error;
    if (port <= 0) return {false, "couldn't find port: " + port_text(t.value("port", json())) + " in container " + container.name, true};
    int fd = connect_before(host, port, Clock::now() + timeout, error);
    if (fd < 0) return {false, error};
    ::close(fd);
    return {true, ""};
  }
  return {false, "probe handler not supported (exec, httpGet and tcpSocket are)"};
}

void Prober::run(Worker* w) {
  int successes = 0, failures = 0;
  auto started = Clock::now();
  // initialDelaySeconds counts from the container's start, which may be before this worker.
  auto since_start = std::chrono::nanoseconds(std::chrono::system_clock::now().time_since_epoch().count() - w->started_at);
  auto first = started + std::max(std::chrono::nanoseconds(0), std::chrono::nanoseconds(w->spec.initial_delay) - since_start);
  auto next = first;
  while (!w->stop) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_until(lock, next, [&] { return w->stop.load() || stopping_; });
      if (w->stop || stopping_) return;
    }
    next = Clock::now() + w->spec.period;
    // Liveness and readiness wait for the startup probe.
    if (w->kind != Kind::Startup && !startup_passed(w->uid, w->container.name)) continue;
    ProbeResult r = run_probe_once(cri_, w->spec.handler, w->container_id, w->pod_ip, w->container, w->spec.timeout);
    if (r.success) {
      ++successes;
      failures = 0;
    } else {
      ++failures;
      successes = 0;
    }
    bool changed = false;
    {
      std::lock_guard lock(mu_);
      if (r.success && successes >= w->spec.success_threshold && (!w->has_result || !w->success)) {
        w->has_result = w->success = true;
        changed = true;
      } else if (!r.success && failures >= w->spec.failure_threshold && (!w->has_result || w->success)) {
        w->has_result = true;
        w->success = false;
        w->message = r.message;
        changed = true;
      }
    }
    if (!r.success) {
      spdlog::info("event=probe_failed uid={} container={} probe={} message=\"{}\"", w->uid, w->container.name, kind_name(w->kind),
                   r.message);
      if (on_failure_) {
        std::string kind = kind_name(w->kind);
        kind[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(kind[0])));
        on_failure_(w->uid, w->container.name, fmt::format("{} probe {}: {}", kind, r.errored ? "errored" : "failed", r.message));
      }
    }
    if (changed) {
      // When a result flips, to the millisecond: readiness_traffic_bench times traffic from here.
      spdlog::info("event=probe_result uid={} container={} probe={} success={}", w->uid, w->container.name, kind_name(w->kind), r.success);
      on_change_(w->uid);
    }
  }
}

bool Prober::startup_passed(const std::string& uid, const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = workers_.find({uid, name, static_cast<int>(Kind::Startup)});
  return it == workers_.end() || (it->second->has_result && it->second->success);
}

void Prober::update(const api::Pod& pod, const ObservedPod& observed, ContainerNotes& notes) {
  const std::string& uid = pod.metadata.uid;
  const std::string pod_ip = pod.spec.host_network || !observed.sandbox ? pod.status.host_ip : observed.sandbox->ip;
  std::vector<std::unique_ptr<Worker>> ended;
  std::unique_lock lock(mu_);
  for (const auto& c : pod.spec.containers) {
    const ObservedContainer* latest = observed.latest(c.name);
    const bool running = latest && latest->status.state == cri::ContainerState::Running;
    ContainerNote& note = notes[c.name];
    bool started = true, ready = running;
    for (auto [kind, field] : {std::pair{Kind::Startup, "startupProbe"}, std::pair{Kind::Liveness, "livenessProbe"},
                               std::pair{Kind::Readiness, "readinessProbe"}}) {
      Key key{uid, c.name, static_cast<int>(kind)};
      json probe = passthrough_field(c.passthrough, field);
      auto it = workers_.find(key);
      if (it != workers_.end() && (!running || !probe.is_object() || it->second->container_id != latest->status.id)) {
        it->second->stop = true;
        ended.push_back(std::move(it->second));
        workers_.erase(it);
        it = workers_.end();
      }
      if (!probe.is_object()) continue;
      if (running && it == workers_.end() && !stopping_) {
        auto w = std::make_unique<Worker>();
        w->uid = uid;
        w->container_id = latest->status.id;
        w->kind = kind;
        w->spec = ProbeSpec::from_json(probe);
        w->pod_ip = pod_ip;
        w->container = c;
        w->started_at = latest->status.started_at;
        // A container the API already calls ready (a restarted kubelet adopting it) stays ready
        // until its probe says otherwise, so an adoption does not flap the endpoints.
        if (kind == Kind::Readiness && status_says(pod, c.name, latest->status.id, "ready")) w->has_result = w->success = true;
        if (kind == Kind::Startup && status_says(pod, c.name, latest->status.id, "started")) w->has_result = w->success = true;
        Worker* raw = w.get();
        it = workers_.emplace(key, std::move(w)).first;
        raw->thread = std::thread([this, raw] { run(raw); });
      }
      if (it == workers_.end()) {
        if (kind == Kind::Readiness) ready = false;
        if (kind == Kind::Startup) started = false;
        continue;
      }
      const Worker& w = *it->second;
      switch (kind) {
        case Kind::Startup:
          started = w.has_result && w.success;
          if (w.has_result && !w.success) {
            note.kill_requested_id = w.container_id;
            note.kill_reason = "Container " + c.name + " failed startup probe, will be restarted: " + w.message;
          }
          break;
        case Kind::Liveness:
          if (w.has_result && !w.success) {
            note.kill_requested_id = w.container_id;
            note.kill_reason = "Container " + c.name + " failed liveness probe, will be restarted: " + w.message;
          }
          break;
        case Kind::Readiness:
          ready = ready && w.has_result && w.success;
          break;
      }
    }
    note.started = running && started;
    note.ready = running && started && ready;
  }
  lock.unlock();
  wake_.notify_all();
  for (auto& w : ended)
    if (w->thread.joinable()) w->thread.join();
}

void Prober::run_pre_stop(const api::Pod& pod, const ObservedPod& observed, std::chrono::seconds grace) {
  std::vector<std::thread> hooks;
  for (const auto& c : pod.spec.containers) {
    const ObservedContainer* latest = observed.latest(c.name);
    if (!latest || latest->status.state != cri::ContainerState::Running) continue;
    json lifecycle = passthrough_field(c.passthrough, "lifecycle");
    if (!lifecycle.is_object() || !lifecycle.contains("preStop")) continue;
    json handler = lifecycle["preStop"];
    std::string ip = pod.spec.host_network || !observed.sandbox ? pod.status.host_ip : observed.sandbox->ip;
    hooks.emplace_back([this, handler, id = latest->status.id, ip, c, grace, name = pod.metadata.name] {
      if (handler.contains("sleep") && handler["sleep"].contains("seconds")) {
        std::this_thread::sleep_for(std::min(grace, std::chrono::seconds(handler["sleep"].value("seconds", 0))));
        return;
      }
      auto r = run_probe_once(cri_, handler, id, ip, c, std::max(grace, std::chrono::seconds(1)));
      spdlog::info("event=pre_stop pod={} container={} ok={} message=\"{}\"", name, c.name, r.success, r.message);
    });
  }
  for (auto& t : hooks) t.join();
}

void Prober::forget(const std::string& uid) {
  std::vector<std::unique_ptr<Worker>> ended;
  {
    std::lock_guard lock(mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (std::get<0>(it->first) == uid) {
        it->second->stop = true;
        ended.push_back(std::move(it->second));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  wake_.notify_all();
  for (auto& w : ended)
    if (w->thread.joinable()) w->thread.join();
}

void Prober::stop() {
  std::map<Key, std::unique_ptr<Worker>> all;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    all.swap(workers_);
    for (auto& [_, w] : all) w->stop = true;
  }
  wake_.notify_all();
  for (auto& [_, w] : all)
    if (w->thread.joinable()) w->thread.join();
}

}  // namespace switchyard::kubelet
