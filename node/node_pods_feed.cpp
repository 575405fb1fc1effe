#include "node/node_pods_feed.h"

#include <algorithm>

namespace switchyard::node {

std::vector<PodAddress> pod_addresses(const api::Pod& pod) {
  if (pod.spec.host_network) return {};
  const std::string& phase = pod.status.phase;
  if (phase == "Succeeded" || phase == "Failed") return {};
  std::vector<PodAddress> out;
  auto add = [&](const std::string& ip) {
    if (!ip.empty() && std::ranges::find(out, PodAddress{ip, pod.metadata.namespace_}) == out.end())
      out.push_back({ip, pod.metadata.namespace_});
  };
  // status.podIPs lists every family; older servers only fill status.podIP.
  for (const auto& ip : pod.status.pod_ips) add(ip);
  add(pod.status.pod_ip);
  return out;
}

std::string NodePodsFeed::watched_collection() { return client::collection_path<api::Pod>(); }

NodePodsFeed::NodePodsFeed(client::SharedInformerFactory& informers, const std::string& node_name)
    : NodePodsFeed(nullptr, &informers, node_name) {}

NodePodsFeed::NodePodsFeed(client::ClusterConnection connection, const std::string& node_name)
    : NodePodsFeed(std::make_unique<client::SharedInformerFactory>(std::move(connection)), nullptr, node_name) {}

NodePodsFeed::NodePodsFeed(std::unique_ptr<client::SharedInformerFactory> own, client::SharedInformerFactory* shared,
                           const std::string& node_name)
    : own_informers_(std::move(own)), pods_((shared ? *shared : *own_informers_).informer<api::Pod>("spec.nodeName=" + node_name)) {
  auto changed = [this] {
    if (on_change_ && !pods_.listing()) on_change_();
  };
  handler_ = pods_.add_event_handler({[changed](const auto&) { changed(); }, [changed](const auto&, const auto&) { changed(); },
                                      [changed](const auto&, bool) { changed(); },
                                      [this] {
                                        if (on_change_) on_change_();
                                      }});
}

NodePodsFeed::~NodePodsFeed() {
  stop();
  pods_.remove_event_handler(handler_);
}

void NodePodsFeed::start() { pods_.start(); }
void NodePodsFeed::stop() { pods_.stop(); }
bool NodePodsFeed::synced() const { return pods_.has_synced(); }

std::vector<PodAddress> NodePodsFeed::addresses() const {
  std::vector<PodAddress> out;
  for (const auto& pod : pods_.indexer().list()) {
    auto a = pod_addresses(*pod);
    out.insert(out.end(), a.begin(), a.end());
  }
  std::ranges::sort(out, [](const auto& a, const auto& b) { return a.ip < b.ip; });
  return out;
}

}  // namespace switchyard::node
