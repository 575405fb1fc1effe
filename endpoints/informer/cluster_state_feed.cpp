#include "endpoints/informer/cluster_state_feed.h"

#include <cstdio>
#include <ctime>
#include <utility>

#include "orchestrator/api/json_codec.h"

namespace switchyard::informer {

using nlohmann::json;

namespace {

std::pair<std::string, std::string> key_of(const json& obj) {
  return {obj["metadata"].value("namespace", ""), obj["metadata"].value("name", "")};
}

// List items may come without apiVersion/kind (the real server omits them).
template <class T>
std::optional<T> decode_as(const json& obj, const char* api_version, const char* kind) {
  auto d = api::decode_object_as(obj, api_version, kind);
  if (!d) return std::nullopt;
  return std::get<T>(std::move(d->object));
}

constexpr const char* kServicesPath = "/api/v1/services";
constexpr const char* kEndpointSlicesPath = "/apis/discovery.k8s.io/v1/endpointslices";
constexpr const char* kNodesPath = "/api/v1/nodes";

}  // namespace

// "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123456Z", "2024-05-01T12:00:00+02:00".
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (*rest == '.') {
    double scale = 0.1, fraction = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) fraction += (*rest - '0') * scale;
    t += std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(fraction));
  }
  if (*rest == 'Z' || *rest == 'z') return t;
  int hours = 0, minutes = 0;
  if ((*rest == '+' || *rest == '-') && std::sscanf(rest + 1, "%d:%d", &hours, &minutes) == 2) {
    const auto offset = std::chrono::hours(hours) + std::chrono::minutes(minutes);
    return *rest == '+' ? t - offset : t + offset;
  }
  return std::nullopt;
}

std::vector<std::string> ClusterStateFeed::watched_collections() { return {kServicesPath, kEndpointSlicesPath, kNodesPath}; }

ClusterStateFeed::ClusterStateFeed(ClusterConnection connection, endpoints::ClusterStateOptions options) : state_(options) {
  service_informer_ = std::make_unique<Informer>(connection, kServicesPath,
                                                 InformerHandlers{[this](const auto& items) { replace_services(items); },
                                                                  [this](const auto& t, const auto& o) { on_service(t, o), changed(); },
                                                                  [this] { changed(); }});
  slice_informer_ = std::make_unique<Informer>(connection, kEndpointSlicesPath,
                                               InformerHandlers{[this](const auto& items) { replace_slices(items); },
                                                                [this](const auto& t, const auto& o) { on_slice(t, o), changed(); },
                                                                [this] { changed(); }});
  node_informer_ = std::make_unique<Informer>(connection, std::string(kNodesPath) + "?fieldSelector=metadata.name%3D" + options.node_name,
                                              InformerHandlers{[this](const auto& items) {
                                                                 if (items.empty()) on_node("DELETED", nlohmann::json::object());
                                                                 for (const auto& n : items) on_node("ADDED", n);
                                                               },
                                                               [this](const auto& t, const auto& o) { on_node(t, o), changed(); },
                                                               [this] { changed(); }});
}

ClusterStateFeed::~ClusterStateFeed() { stop(); }

void ClusterStateFeed::start() {
  {
    std::lock_guard lock(mu_);
    started_ = std::chrono::system_clock::now();
  }
  service_informer_->start();
  slice_informer_->start();
  node_informer_->start();
}

void ClusterStateFeed::stop() {
  service_informer_->stop();
  slice_informer_->stop();
  node_informer_->stop();
}

bool ClusterStateFeed::synced() const { return service_informer_->synced() && slice_informer_->synced() && node_informer_->synced(); }

std::uint64_t ClusterStateFeed::lists() const {
  return service_informer_->relists() + slice_informer_->relists() + node_informer_->relists();
}

std::shared_ptr<const endpoints::Snapshot> ClusterStateFeed::snapshot() {
  std::lock_guard lock(mu_);
  return state_.build();
}

void ClusterStateFeed::replace_services(const std::vector<json>& items) {
  std::lock_guard lock(mu_);
  std::set<std::pair<std::string, std::string>> now;
  for (const auto& item : items)
    if (auto s = decode_as<api::Service>(item, "v1", "Service")) {
      now.insert(key_of(item));
      state_.upsert(*s);
    }
  for (const auto& k : services_)
    if (!now.contains(k)) state_.remove_service({k.first, k.second});
  services_ = std::move(now);
}

void ClusterStateFeed::replace_slices(const std::vector<json>& items) {
  std::lock_guard lock(mu_);
  std::set<std::pair<std::string, std::string>> now;
  for (const auto& item : items)
    if (auto s = decode_as<api::EndpointSlice>(item, "discovery.k8s.io/v1", "EndpointSlice")) {
      now.insert(key_of(item));
      state_.upsert(*s);
      note_trigger_time(item);
    }
  for (const auto& k : slices_)
    if (!now.contains(k)) {
      state_.remove_slice(k.first, k.second);
      trigger_annotation_.erase(k);
    }
  slices_ = std::move(now);
}

void ClusterStateFeed::on_service(const std::string& type, const json& obj) {
  std::lock_guard lock(mu_);
  const auto k = key_of(obj);
  if (type == "DELETED") {
    state_.remove_service({k.first, k.second});
    services_.erase(k);
  } else if (auto s = decode_as<api::Service>(obj, "v1", "Service")) {
    state_.upsert(*s);
    services_.insert(k);
  }
}

void ClusterStateFeed::on_slice(const std::string& type, const json& obj) {
  std::lock_guard lock(mu_);
  const auto k = key_of(obj);
  if (type == "DELETED") {
    state_.remove_slice(k.first, k.second);
    slices_.erase(k);
    trigger_annotation_.erase(k);
  } else if (auto s = decode_as<api::EndpointSlice>(obj, "discovery.k8s.io/v1", "EndpointSlice")) {
    state_.upsert(*s);
    slices_.insert(k);
    note_trigger_time(obj);
  }
}

void ClusterStateFeed::note_trigger_time(const json& slice) {
  const auto& annotations = slice["metadata"].value("annotations", json::object());
  const auto it = annotations.find("endpoints.kubernetes.io/last-change-trigger-time");
  if (it == annotations.end() || !it->is_string()) return;
  auto& last = trigger_annotation_[key_of(slice)];
  if (last == it->get<std::string>()) return;  // the same change seen again (a relist, a status-only update)
  last = it->get<std::string>();
  if (auto t = parse_rfc3339(last); t && *t > started_) trigger_times_.push_back(*t);
}

std::vector<std::chrono::system_clock::time_point> ClusterStateFeed::take_trigger_times() {
  std::lock_guard lock(mu_);
  return std::exchange(trigger_times_, {});
}

void ClusterStateFeed::on_node(const std::string& type, const json& obj) {
  std::lock_guard lock(mu_);
  if (type == "DELETED") {
    node_.reset();  // the Snapshot keeps the last zone: topology stays as it was
    return;
  }
  if (auto n = decode_as<api::Node>(obj, "v1", "Node")) {
    state_.set_node(*n);
    node_ = std::move(*n);
  }
}

std::optional<api::Node> ClusterStateFeed::node() {
  std::lock_guard lock(mu_);
  return node_;
}

}  // namespace switchyard::informer
