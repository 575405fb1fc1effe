#include "endpoints/informer/node_pods_feed.h"

#include <algorithm>

namespace switchyard::informer {

using nlohmann::json;

namespace {

constexpr const char* kPodsPath = "/api/v1/pods";

std::pair<std::string, std::string> key_of(const json& pod) {
  const json& meta = pod.value("metadata", json::object());
  return {meta.value("namespace", ""), meta.value("name", "")};
}

}  // namespace

std::vector<PodAddress> pod_addresses(const json& pod) {
  const json spec = pod.value("spec", json::object());
  const json status = pod.value("status", json::object());
  if (spec.value("hostNetwork", false)) return {};
  const std::string phase = status.value("phase", "");
  if (phase == "Succeeded" || phase == "Failed") return {};
  const std::string ns = pod.value("metadata", json::object()).value("namespace", "");
  std::vector<PodAddress> out;
  auto add = [&](const std::string& ip) {
    if (!ip.empty() && std::ranges::find(out, PodAddress{ip, ns}) == out.end()) out.push_back({ip, ns});
  };
  // status.podIPs lists every family; older servers only fill status.podIP.
  for (const auto& entry : status.value("podIPs", json::array()))
    if (entry.is_object()) add(entry.value("ip", ""));
  add(status.value("podIP", ""));
  return out;
}

std::string NodePodsFeed::watched_collection() { return kPodsPath; }

NodePodsFeed::NodePodsFeed(ClusterConnection connection, const std::string& node_name)
    : informer_(std::make_unique<Informer>(std::move(connection), std::string(kPodsPath) + "?fieldSelector=spec.nodeName%3D" + node_name,
                                           InformerHandlers{[this](const auto& items) { replace(items); },
                                                            [this](const auto& type, const auto& pod) { on_event(type, pod), changed(); },
                                                            [this] { changed(); }})) {}

NodePodsFeed::~NodePodsFeed() { stop(); }

void NodePodsFeed::start() { informer_->start(); }
void NodePodsFeed::stop() { informer_->stop(); }
bool NodePodsFeed::synced() const { return informer_->synced(); }

void NodePodsFeed::replace(const std::vector<json>& items) {
  std::lock_guard lock(mu_);
  by_pod_.clear();
  for (const auto& pod : items)
    if (auto a = pod_addresses(pod); !a.empty()) by_pod_[key_of(pod)] = std::move(a);
}

void NodePodsFeed::on_event(const std::string& type, const json& pod) {
  std::lock_guard lock(mu_);
  auto addresses = type == "DELETED" ? std::vector<PodAddress>{} : pod_addresses(pod);
  if (addresses.empty())
    by_pod_.erase(key_of(pod));
  else
    by_pod_[key_of(pod)] = std::move(addresses);
}

std::vector<PodAddress> NodePodsFeed::addresses() const {
  std::vector<PodAddress> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [_, a] : by_pod_) out.insert(out.end(), a.begin(), a.end());
  }
  std::ranges::sort(out, [](const auto& a, const auto& b) { return a.ip < b.ip; });
  return out;
}

}  // namespace switchyard::informer
