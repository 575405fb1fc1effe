#include "orchestrator/controllers/namespace_controller.h"

#include <pthread.h>

#include <algorithm>
#include <ctime>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/list_watch.h"
#include "orchestrator/controllers/api_discovery.h"

namespace switchyard::controllers {

using nlohmann::json;

namespace {

constexpr const char* kKubernetesFinalizer = "kubernetes";

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<json> request(client::ApiClient& api, const std::string& method, const std::string& path, const json& body = nullptr) {
  auto r = method == "GET" ? api.get(path) : api.send(method, path, body.is_null() ? "" : body.dump(), "application/json");
  if (!r) return fail(r.error());
  if (r->status < 200 || r->status > 299) return fail(client::http_error(r->status, r->body, method + " " + path));
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return fail(ErrorCode::Internal, method + " " + path + ": the answer is not JSON");
  return j;
}

std::string counts(const std::vector<std::pair<std::string, int>>& items, const char* what) {
  std::vector<std::string> parts;
  for (const auto& [name, n] : items) parts.push_back(fmt::format("{} {} {} resource instances", name, what, n));
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

json namespace_conditions(const json& old_conditions, const NamespaceContent& c, const std::string& now) {
  struct Condition {
    const char* type;
    bool failed;
    std::string reason, message;
  };
  const std::vector<Condition> fresh = {
      {"NamespaceDeletionDiscoveryFailure", !c.discovery_failures.empty(),
       c.discovery_failures.empty() ? "ResourcesDiscovered" : "DiscoveryFailed",
       c.discovery_failures.empty() ? "All resources successfully discovered"
                                    : fmt::format("Discovery failed for some groups, {} failing: {}", c.discovery_failures.size(),
                                                  fmt::join(c.discovery_failures, ", "))},
      {"NamespaceDeletionGroupVersionParsingFailure", false, "ParsedGroupVersions", "All legacy kube types successfully parsed"},
      {"NamespaceDeletionContentFailure", !c.delete_failures.empty(),
       c.delete_failures.empty() ? "ContentDeleted" : "ContentDeletionFailed",
       c.delete_failures.empty() ? "All content successfully deleted, may be waiting on finalization"
                                 : fmt::format("Failed to delete all resource types, {} remaining: {}", c.delete_failures.size(),
                                               fmt::join(c.delete_failures, ", "))},
      {"NamespaceContentRemaining", !c.remaining.empty(), c.remaining.empty() ? "ContentRemoved" : "SomeResourcesRemain",
       c.remaining.empty() ? "All content successfully removed" : "Some resources are remaining: " + counts(c.remaining, "has")},
      {"NamespaceFinalizersRemaining", !c.remaining_finalizers.empty(),
       c.remaining_finalizers.empty() ? "ContentHasNoFinalizers" : "SomeFinalizersRemain",
       c.remaining_finalizers.empty() ? "All content-preserving finalizers finished"
                                      : "Some content in the namespace has finalizers remaining: " + counts(c.remaining_finalizers, "in")},
  };
  json out = json::array();
  for (const auto& f : fresh) {
    json cond = {{"type", f.type},
                 {"status", f.failed ? "True" : "False"},
                 {"lastTransitionTime", now},
                 {"reason", f.reason},
                 {"message", f.message}};
    for (const auto& old : old_conditions.is_array() ? old_conditions : json::array())
      if (old.value("type", "") == f.type && old.value("status", "") == cond["status"] && old.value("reason", "") == f.reason &&
          old.value("message", "") == f.message)
        cond["lastTransitionTime"] = old.value("lastTransitionTime", now);
    out.push_back(std::move(cond));
  }
  return out;
}

NamespaceController::NamespaceController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                         NamespaceControllerOptions options)
    : informers_(informers), connection_(std::move(connection)), options_(options), namespaces_(informers.informer<api::Namespace>()) {
  auto enqueue = [this](const client::ObjectPtr<api::Namespace>& n) {
    if (n->metadata.deletion_timestamp) queue_.add(n->metadata.name);
  };
  handler_ =
      namespaces_.add_event_handler({enqueue, [enqueue](const auto&, const client::ObjectPtr<api::Namespace>& n) { enqueue(n); }, {}, {}});
}

NamespaceController::~NamespaceController() {
  stop();
  namespaces_.remove_event_handler(handler_);
}

void NamespaceController::start() {
  if (!workers_.empty()) return;
  stopping_ = false;
  informers_.start();
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
}

void NamespaceController::stop() {
  stopping_ = true;
  queue_.shut_down();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void NamespaceController::worker() {
  pthread_setname_np(pthread_self(), "ns-controller");
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  client::ApiClient api(connection_);
  while (auto name = queue_.get()) {
    bool done = true;
    auto synced = sync(*name, api, done);
    if (!synced) {
      spdlog::warn("event=namespace_sync_failed namespace={} error=\"{}\"", *name, synced.error().message);
      queue_.add_rate_limited(*name);
    } else {
      queue_.forget(*name);
      if (!done) queue_.add_after(*name, options_.recheck);
    }
    queue_.done(*name);
  }
}

Result<NamespaceContent> NamespaceController::delete_content(const std::string& ns, client::ApiClient& api) {
  auto found = discover(api);
  if (!found) return fail(found.error());
  NamespaceContent content;
  content.discovery_failures = found->failures;
  const json background = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", "Background"}};
  std::map<std::string, int> finalizers;
  for (const auto& r : found->resources) {
    if (!r.namespaced || !r.supports("list")) continue;
    const std::string path = r.collection_path(ns);
    const std::string group_resource = r.plural + "." + r.group;  // "pods." for the core group, as upstream prints it
    if (r.supports("deletecollection")) {
      if (auto gone = request(api, "DELETE", path, background); !gone) content.delete_failures.push_back(gone.error().message);
    } else if (r.supports("delete")) {
      auto items = request(api, "GET", path);
      if (!items) {
        content.delete_failures.push_back(items.error().message);
        continue;
      }
      for (const auto& item : items->value("items", json::array()))
        if (auto gone = request(api, "DELETE", r.object_path(ns, item["metadata"].value("name", "")), background);
            !gone && gone.error().code != ErrorCode::NotFound)
          content.delete_failures.push_back(gone.error().message);
    } else {
      continue;
    }
    auto left = request(api, "GET", path);
    if (!left) {
      content.delete_failures.push_back(left.error().message);
      continue;
    }
    const auto& items = left->value("items", json::array());
    if (items.empty()) continue;
    content.remaining.emplace_back(group_resource, static_cast<int>(items.size()));
    for (const auto& item : items)
      for (const auto& f : item["metadata"].value("finalizers", json::array()))
        if (f.is_string()) ++finalizers[f.get<std::string>()];
  }
  for (const auto& [f, n] : finalizers) content.remaining_finalizers.emplace_back(f, n);
  return content;
}

Result<void> NamespaceController::sync(const std::string& name, client::ApiClient& api, bool& done) {
  done = true;
  const std::string path = "/api/v1/namespaces/" + name;
  auto current = api.get(path);
  if (!current) return fail(current.error());
  if (current->status == 404) return {};
  if (current->status != 200) return fail(client::http_error(current->status, current->body, "GET " + path));
  json ns = json::parse(current->body, nullptr, false);
  if (!ns.is_object() || !ns["metadata"].contains("deletionTimestamp")) return {};
  const auto spec_finalizers = ns.value("spec", json::object()).value("finalizers", json::array());
  if (std::find(spec_finalizers.begin(), spec_finalizers.end(), json(kKubernetesFinalizer)) == spec_finalizers.end()) return {};

  auto content = delete_content(name, api);
  if (!content) return fail(content.error());
  // The conditions say how far it got (written only when they changed).
  json conditions = namespace_conditions(ns["status"].value("conditions", json::array()), *content, now_rfc3339());
  if (conditions != ns["status"].value("conditions", json::array()) || ns["status"].value("phase", "") != "Terminating") {
    json updated = ns;
    updated["status"]["phase"] = "Terminating";
    updated["status"]["conditions"] = conditions;
    auto written = request(api, "PUT", path + "/status", updated);
    if (!written) return fail(written.error());
    ns = std::move(*written);
  }
  if (!content->remaining.empty() || !content->delete_failures.empty() || !content->discovery_failures.empty()) {
    done = false;
    return {};
  }
  // Empty: our finalizer goes; the API server deletes the namespace when it was the last.
  json finalized = ns;
  json kept = json::array();
  for (const auto& f : spec_finalizers)
    if (f != kKubernetesFinalizer) kept.push_back(f);
  finalized["spec"]["finalizers"] = kept;
  auto written = request(api, "PUT", path + "/finalize", finalized);
  if (!written) return fail(written.error());
  spdlog::info("event=namespace_finalized namespace={}", name);
  return {};
}

}  // namespace switchyard::controllers
