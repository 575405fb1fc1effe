#include "kubelet/node/node_status.h"

#include <sys/utsname.h>

#include <ctime>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/rfc3339.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/list_watch.h"
#include "orchestrator/client/resources.h"
#include "orchestrator/client/rest.h"

namespace switchyard::kubelet::node {

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kEvictionHardMemoryBytes = 100 * 1024 * 1024;  // memory.available<100Mi
constexpr int kEvictionHardNodefsPercent = 10;                        // nodefs.available<10%
constexpr const char* kLeaseNamespace = "kube-node-lease";

std::string rfc3339_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// GOARCH names, as kubernetes.io/arch and nodeInfo.architecture carry them.
std::string go_arch() {
  utsname u{};
  if (uname(&u) != 0) return "amd64";
  const std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m == "armv7l") return "arm";
  return m;
}

api::NodeCondition condition(const api::Node* existing, const std::string& type, bool status, const char* reason, std::string message,
                             const std::string& now) {
  api::NodeCondition c{type, status ? "True" : "False", now, now, reason, std::move(message)};
  if (existing)
    for (const auto& old : existing->conditions)
      if (old.type == type && old.status == c.status && !old.last_transition_time.empty())
        c.last_transition_time = old.last_transition_time;
  return c;
}

}  // namespace

api::Node desired_node(const api::Node* existing, const NodeStatusOptions& o, const MachineInfo& m, const RuntimeState& rt,
                       const std::string& now) {
  api::Node n = existing ? *existing : api::Node{};
  n.metadata.name = o.node_name;
  const std::string host = o.hostname.empty() ? o.node_name : o.hostname;
  const std::string arch = go_arch();
  // The labels kubelet owns (updateDefaultLabels); others stay as they are.
  n.metadata.labels["kubernetes.io/hostname"] = host;
  n.metadata.labels["kubernetes.io/os"] = "linux";
  n.metadata.labels["kubernetes.io/arch"] = arch;
  n.metadata.labels["beta.kubernetes.io/os"] = "linux";
  n.metadata.labels["beta.kubernetes.io/arch"] = arch;
  n.metadata.annotations["volumes.kubernetes.io/controller-managed-attach-detach"] = "true";
  if (n.pod_cidr.empty() && !o.pod_cidr.empty()) {
    n.pod_cidr = o.pod_cidr;
    n.pod_cidrs = {o.pod_cidr};
  }

  const std::int64_t mem_kib = m.memory_bytes / 1024;
  n.capacity["cpu"] = std::to_string(m.cpus);
  n.capacity["memory"] = fmt::format("{}Ki", mem_kib);
  n.capacity["ephemeral-storage"] = fmt::format("{}Ki", m.ephemeral_storage_bytes / 1024);
  n.capacity["pods"] = std::to_string(o.max_pods);
  // Allocatable: capacity less the default hard eviction thresholds (no reservations).
  n.allocatable["cpu"] = n.capacity["cpu"];
  n.allocatable["memory"] = fmt::format("{}Ki", std::max<std::int64_t>(0, (m.memory_bytes - kEvictionHardMemoryBytes) / 1024));
  n.allocatable["ephemeral-storage"] = std::to_string(m.ephemeral_storage_bytes / 100 * (100 - kEvictionHardNodefsPercent));
  n.allocatable["pods"] = n.capacity["pods"];

  n.addresses.clear();
  if (!o.node_ip.empty()) n.addresses.push_back({"InternalIP", o.node_ip});
  n.addresses.push_back({"Hostname", host});

  Json info = {{"machineID", m.machine_id},
               {"systemUUID", m.system_uuid},
               {"bootID", m.boot_id},
               {"kernelVersion", m.kernel_version},
               {"osImage", m.os_image},
               {"containerRuntimeVersion", rt.name.empty() ? "" : rt.name + "://" + rt.version},
               {"kubeletVersion", kKubeletVersion},
               {"kubeProxyVersion", ""},
               {"operatingSystem", "linux"},
               {"architecture", arch}};
  n.status_passthrough["nodeInfo"] = info.dump();
  if (o.kubelet_port > 0) n.status_passthrough["daemonEndpoints"] = Json{{"kubeletEndpoint", {{"Port", o.kubelet_port}}}}.dump();

  // kubelet's order; conditions other writers own (NetworkUnavailable, ...) are kept.
  std::vector<api::NodeCondition> conditions = {
      condition(existing, "MemoryPressure", false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", now),
      condition(existing, "DiskPressure", false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
      condition(existing, "PIDPressure", false, "KubeletHasSufficientPID", "kubelet has sufficient PID available", now),
      rt.ready ? condition(existing, "Ready", true, "KubeletReady", "kubelet is posting ready status", now)
               : condition(existing, "Ready", false, "KubeletNotReady", rt.message, now)};
  for (const auto& c : n.conditions)
    if (c.type != "MemoryPressure" && c.type != "DiskPressure" && c.type != "PIDPressure" && c.type != "Ready") conditions.push_back(c);
  n.conditions = std::move(conditions);
  return n;
}

bool status_changed(const api::Node& before, const api::Node& after) {
  auto strip = [](api::Node n) {
    for (auto& c : n.conditions) c.last_heartbeat_time.clear();
    n.metadata = {};
    return n;
  };
  const api::Node a = strip(before), b = strip(after);
  return a.conditions != b.conditions || a.capacity != b.capacity || a.allocatable != b.allocatable || a.addresses != b.addresses ||
         a.status_passthrough != b.status_passthrough;
}

struct NodeStatusReporter::Impl {
  Impl(const client::ClusterConnection& c, NodeStatusOptions o) : api(c), options(std::move(o)) {}
  client::ApiClient api;
  NodeStatusOptions options;
  MachineInfo machine;
  std::string node_uid;
  Clock::time_point last_report{};
  bool reported = false;
  std::mutex work;  // one round at a time: the loop's and sync_now's share the ApiClient

  RuntimeState runtime_state() const { return options.runtime ? options.runtime() : RuntimeState{}; }

  Result<std::optional<Json>> get(const std::string& path) {
    auto r = api.get(path);
    if (!r) return fail(r.error());
    if (r->status == 404) return std::optional<Json>();
    if (r->status != 200) return fail(client::http_error(r->status, r->body, "get " + path));
    Json j = Json::parse(r->body, nullptr, false);
    if (j.is_discarded()) return fail(ErrorCode::Internal, "get " + path + ": the answer is not JSON");
    return std::optional<Json>(std::move(j));
  }

  static Result<api::Node> as_node(const Json& j) {
    auto d = api::decode_object_as(j, "v1", "Node");
    if (!d) return fail(ErrorCode::Internal, "node: " + d.error().message);
    return std::get<api::Node>(std::move(d->object));
  }

  // Creates the Node, or adopts the one there: the labels and podCIDR it owns, as kubelet's
  // registerWithAPIServer does on AlreadyExists.
  Result<api::Node> register_node() {
    const std::string path = client::object_path<api::Node>("", options.node_name);
    auto current = get(path);
    if (!current) return fail(current.error());
    const RuntimeState rt = runtime_state();
    if (!*current) {
      api::Node fresh = desired_node(nullptr, options, machine, rt, rfc3339_now());
      auto created = client::create(api, fresh);
      if (created) {
        spdlog::info("event=node_registered node={}", options.node_name);
        return created;
      }
      if (created.error().code != ErrorCode::AlreadyExists) return fail(created.error());
      current = get(path);  // created meanwhile: adopt it
      if (!current) return fail(current.error());
      if (!*current) return fail(ErrorCode::Conflict, "node " + options.node_name + " vanished while registering");
    }
    auto existing = as_node(**current);
    if (!existing) return existing;
    api::Node wanted = desired_node(&*existing, options, machine, rt, rfc3339_now());
    if (wanted.metadata == existing->metadata && wanted.pod_cidr == existing->pod_cidr && wanted.pod_cidrs == existing->pod_cidrs)
      return existing;
    auto updated = client::update(api, wanted);
    if (updated) spdlog::info("event=node_adopted node={}", options.node_name);
    return updated;
  }

  // Writes the status if it changed or is due; `force` writes it whatever. A write that met a
  // newer Node (the node IPAM controller setting podCIDR, a taint) reads it again and retries, as
  // the kubelet's updateNodeStatus does, up to 5 times.
  Result<void> sync_status(bool force) {
    Result<void> r;
    for (int attempt = 0; attempt < 5; ++attempt) {
      r = sync_status_once(force);
      if (r || r.error().code != ErrorCode::Conflict) return r;
    }
    return r;
  }

  Result<void> sync_status_once(bool force) {
    const std::string path = client::object_path<api::Node>("", options.node_name);
    auto current = get(path);
    if (!current) return fail(current.error());
    api::Node existing;
    if (!*current) {
      auto registered = register_node();  // deleted behind our back: register again
      if (!registered) return fail(registered.error());
      existing = std::move(*registered);
      force = true;
    } else {
      auto decoded = as_node(**current);
      if (!decoded) return fail(decoded.error());
      existing = std::move(*decoded);
    }
    node_uid = existing.metadata.uid;
    api::Node wanted = desired_node(&existing, options, machine, runtime_state(), rfc3339_now());
    const bool due = !reported || Clock::now() - last_report >= options.status_report_interval;
    if (!force && !due && !status_changed(existing, wanted)) return {};
    auto written = client::update_object(api, path + "/status", api::encode_object(api::Object{wanted}));
    if (!written) return fail(written.error());
    reported = true;
    last_report = Clock::now();
    // As the kubelet's Ready setter: an Event when Ready turns True, or stops being True.
    const bool was_ready = ready_of(existing) == "True", is_ready = ready_of(wanted) == "True";
    if (was_ready != is_ready) record_status_event(is_ready ? "NodeReady" : "NodeNotReady");
    return {};
  }

  static std::string ready_of(const api::Node& n) {
    for (const auto& c : n.conditions)
      if (c.type == "Ready") return c.status;
    return "";
  }

  // "Node X status is now: NodeReady", from the kubelet on this host, about the Node by name (as
  // kubelet's nodeRef: kubectl describe node finds them by uid = name). Fire and forget.
  void record_status_event(const std::string& status) {
    const std::string now = rfc3339_now();
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const Json event = {{"apiVersion", "v1"},
                        {"kind", "Event"},
                        {"metadata", {{"name", fmt::format("{}.{:x}", options.node_name, nanos)}, {"namespace", "default"}}},
                        {"involvedObject", {{"kind", "Node"}, {"name", options.node_name}, {"uid", options.node_name}}},
                        {"reason", status},
                        {"message", fmt::format("Node {} status is now: {}", options.node_name, status)},
                        {"type", "Normal"},
                        {"count", 1},
                        {"firstTimestamp", now},
                        {"lastTimestamp", now},
                        {"source", {{"component", "kubelet"}, {"host", options.node_name}}},
                        {"reportingComponent", "kubelet"}};
    if (auto e = client::create_object(api, "/api/v1/namespaces/default/events", event); !e)
      spdlog::debug("event=event_write_failed node={} reason={} error=\"{}\"", options.node_name, status, e.error().describe());
  }

  Result<void> renew_lease() {
    const std::string path = client::object_path<api::Lease>(kLeaseNamespace, options.node_name);
    auto current = get(path);
    if (!current) return fail(current.error());
    api::Lease lease;
    if (*current) {
      auto d = api::decode_object_as(**current, api::Lease::kApiVersion, api::Lease::kKind);
      if (!d) return fail(ErrorCode::Internal, "lease: " + d.error().message);
      lease = std::get<api::Lease>(std::move(d->object));
    } else {
      lease.metadata.name = options.node_name;
      lease.metadata.namespace_ = kLeaseNamespace;
    }
    lease.spec_passthrough.clear();
    lease.holder_identity = options.node_name;
    lease.lease_duration_seconds = options.lease_duration_seconds;
    lease.renew_time = api::micro_time_now();
    // Owned by the Node, so that deleting the Node deletes its Lease (kubelet's setNodeOwnerFunc).
    if (!node_uid.empty()) lease.metadata.owner_references = {{"v1", "Node", options.node_name, node_uid, std::nullopt, std::nullopt}};
    if (*current) {
      auto updated = client::update(api, lease);
      if (!updated) return fail(updated.error());
    } else {
      auto created = client::create(api, lease);
      if (!created) return fail(created.error());
    }
    return {};
  }
};

NodeStatusReporter::NodeStatusReporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<NodeStatusReporter>> NodeStatusReporter::start(const client::ClusterConnection& connection,
                                                                      NodeStatusOptions options) {
  if (options.node_name.empty()) return fail(ErrorCode::Invalid, "node status: no node name");
  auto machine = read_machine_info(options.root_dir);
  if (!machine) return fail(with_context(machine.error(), "node status"));
  auto impl = std::make_unique<Impl>(connection, std::move(options));
  impl->machine = std::move(*machine);
  auto registered = impl->register_node();
  if (!registered) return fail(with_context(registered.error(), "registering node " + impl->options.node_name));
  impl->node_uid = registered->metadata.uid;
  if (auto ok = impl->sync_status(true); !ok) return fail(with_context(ok.error(), "node status " + impl->options.node_name));
  if (auto ok = impl->renew_lease(); !ok) return fail(with_context(ok.error(), "node lease " + impl->options.node_name));
  std::unique_ptr<NodeStatusReporter> reporter(new NodeStatusReporter(std::move(impl)));
  reporter->thread_ = std::thread([r = reporter.get()] { r->loop(); });
  return reporter;
}

NodeStatusReporter::~NodeStatusReporter() { stop(); }

void NodeStatusReporter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<void> NodeStatusReporter::sync_now() {
  std::lock_guard work(impl_->work);
  if (auto ok = impl_->sync_status(false); !ok) return ok;
  return impl_->renew_lease();
}

void NodeStatusReporter::loop() {
  auto next_status = Clock::now() + impl_->options.status_update_interval;
  auto next_lease = Clock::now() + impl_->options.lease_renew_interval;
  bool status_failing = false, lease_failing = false;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_until(lock, std::min(next_status, next_lease), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    std::unique_lock work(impl_->work);
    const auto now = Clock::now();
    if (now >= next_status) {
      auto ok = impl_->sync_status(false);
      if (!ok && !status_failing)
        spdlog::warn("event=node_status_failed node={} error=\"{}\"", impl_->options.node_name, ok.error().message);
      if (ok && status_failing) spdlog::info("event=node_status_recovered node={}", impl_->options.node_name);
      status_failing = !ok;
      next_status = now + impl_->options.status_update_interval;
    }
    if (now >= next_lease) {
      auto ok = impl_->renew_lease();
      if (!ok && !lease_failing) spdlog::warn("event=node_lease_failed node={} error=\"{}\"", impl_->options.node_name, ok.error().message);
      if (ok && lease_failing) spdlog::info("event=node_lease_recovered node={}", impl_->options.node_name);
      lease_failing = !ok;
      // A failed renewal is retried sooner, as kubelet's lease controller backs off from 200 ms.
      next_lease = now + (ok ? impl_->options.lease_renew_interval : std::chrono::milliseconds(500));
    }
    work.unlock();
    lock.lock();
  }
}

}  // namespace switchyard::kubelet::node

namespace switchyard::kubelet::node {

Result<std::vector<std::string>> wait_for_pod_cidrs(const client::ClusterConnection& connection, const std::string& node_name,
                                                    std::chrono::milliseconds timeout) {
  client::ApiClient api(connection);
  const std::string path = client::object_path<api::Node>("", node_name);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no answer yet";
  for (;;) {
    if (auto r = api.get(path); !r) {
      last = r.error().message;
    } else if (r->status != 200) {
      last = client::http_error(r->status, r->body, "get " + path).message;
    } else if (Json j = Json::parse(r->body, nullptr, false); !j.is_discarded()) {
      const Json& spec = j.value("spec", Json::object());
      std::vector<std::string> cidrs;
      if (spec.contains("podCIDRs") && spec["podCIDRs"].is_array())
        for (const auto& c : spec["podCIDRs"])
          if (c.is_string()) cidrs.push_back(c.get<std::string>());
      if (cidrs.empty() && spec.value("podCIDR", "") != "") cidrs.push_back(spec["podCIDR"].get<std::string>());
      if (!cidrs.empty()) return cidrs;
      last = "the Node has no spec.podCIDR yet";
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return fail(ErrorCode::Unavailable,
                  fmt::format("node {} got no spec.podCIDR in {} s ({}): is the node IPAM controller running (--allocate-node-cidrs "
                              "--cluster-cidr), and is its range exhausted (CIDRNotAvailable Events)?",
                              node_name, std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), last));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace switchyard::kubelet::node
