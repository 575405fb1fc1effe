#include "node/pod_network_controller.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"

namespace switchyard::node {

namespace podnet = dataplane::podnet;

namespace {

podnet::PeerNode peer_of(const api::Node& n) {
  podnet::PeerNode p;
  p.name = n.metadata.name;
  for (const auto& a : n.addresses)
    if (a.type == "InternalIP" && a.address.find(':') == std::string::npos) {
      p.node_ip = a.address;
      break;
    }
  p.pod_cidrs = n.pod_cidrs;
  if (p.pod_cidrs.empty() && !n.pod_cidr.empty()) p.pod_cidrs.push_back(n.pod_cidr);
  if (auto it = n.metadata.annotations.find(kVxlanMacAnnotation); it != n.metadata.annotations.end()) p.vtep_mac = it->second;
  return p;
}

}  // namespace

struct PodNetworkController::Impl {
  Impl(PodNetworkControllerOptions o, client::ClusterConnection c)
      : options(std::move(o)), connection(c), informers(std::move(c)), nodes(informers.informer<api::Node>()) {}

  PodNetworkControllerOptions options;
  client::ClusterConnection connection;
  std::unique_ptr<podnet::PodNetwork> network;
  client::SharedInformerFactory informers;
  client::SharedIndexInformer<api::Node>& nodes;
  std::uint64_t handler = 0;
  std::mutex mu;
  std::condition_variable wake;
  bool dirty = true, stopping = false;
  std::atomic<bool> synced{false};
  std::thread worker;

  void notify() {
    {
      std::lock_guard lock(mu);
      dirty = true;
    }
    wake.notify_one();
  }

  // This node's VTEP MAC on its Node, unless it is there already.
  Result<void> publish_mac() {
    const auto& mac = network->vtep_mac();
    if (mac.empty()) return {};
    if (auto self = nodes.indexer().get(options.node_name)) {
      auto it = self->metadata.annotations.find(kVxlanMacAnnotation);
      if (it != self->metadata.annotations.end() && it->second == mac) return {};
    }
    client::ApiClient api(connection);
    const nlohmann::json patch = {{"metadata", {{"annotations", {{kVxlanMacAnnotation, mac}}}}}};
    auto r = api.send("PATCH", "/api/v1/nodes/" + options.node_name, patch.dump(), "application/merge-patch+json");
    if (!r) return fail(r.error());
    if (r->status != 200)
      return fail(ErrorCode::Unavailable, fmt::format("publishing {} on Node {}: HTTP {}: {}", kVxlanMacAnnotation, options.node_name,
                                                      r->status, r->body.substr(0, 300)));
    spdlog::info("event=vxlan_mac_published node={} mac={}", options.node_name, mac);
    return {};
  }

  Result<void> sync_once() {
    if (auto ok = publish_mac(); !ok) return ok;
    std::vector<podnet::PeerNode> peers;
    for (const auto& n : nodes.indexer().list())
      if (n->metadata.name != options.node_name) peers.push_back(peer_of(*n));
    return network->sync(peers);
  }

  void run() {
    std::unique_lock lock(mu);
    for (;;) {
      // A periodic pass repairs what someone else changed in the kernel; failures retry sooner.
      wake.wait_for(lock, std::chrono::seconds(30), [this] { return dirty || stopping; });
      if (stopping) return;
      if (!nodes.has_synced()) {
        wake.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping; });
        continue;
      }
      dirty = false;
      lock.unlock();
      auto ok = sync_once();
      lock.lock();
      if (ok) {
        synced = true;
        continue;
      }
      spdlog::warn("event=pod_network_sync_failed node={} error=\"{}\" retry_in_s=2", options.node_name, ok.error().message);
      dirty = true;
      wake.wait_for(lock, std::chrono::seconds(2), [this] { return stopping; });
    }
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      stopping = true;
    }
    wake.notify_one();
    if (worker.joinable()) worker.join();
    nodes.remove_event_handler(handler);
    informers.stop();
  }
};

PodNetworkController::PodNetworkController(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PodNetworkController::~PodNetworkController() { stop(); }
void PodNetworkController::stop() { impl_->stop(); }
bool PodNetworkController::synced() const { return impl_->synced; }

Result<std::unique_ptr<PodNetworkController>> PodNetworkController::start(PodNetworkControllerOptions options,
                                                                          client::ClusterConnection connection) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(connection));
  auto network = podnet::PodNetwork::create(impl->options.network);
  if (!network) return fail(with_context(network.error(), "pod network"));
  impl->network = std::move(*network);
  Impl* self = impl.get();
  impl->handler = impl->nodes.add_event_handler({
      [self](const auto&) { self->notify(); },
      // Status heartbeats change nothing we read: only a changed address, podCIDR or MAC counts.
      [self](const client::ObjectPtr<api::Node>& old_node, const client::ObjectPtr<api::Node>& new_node) {
        const auto a = peer_of(*old_node), b = peer_of(*new_node);
        if (a.node_ip != b.node_ip || a.pod_cidrs != b.pod_cidrs || a.vtep_mac != b.vtep_mac) self->notify();
      },
      [self](const auto&, bool) { self->notify(); },
      [self] { self->notify(); },
  });
  spdlog::info("event=pod_network_started node={} mode={} node_ip={} pod_cidrs=\"{}\" vtep_mac={}", impl->options.node_name,
               podnet::to_string(impl->options.network.mode), impl->options.network.node_ip,
               fmt::join(impl->options.network.pod_cidrs, ","), impl->network->vtep_mac().empty() ? "none" : impl->network->vtep_mac());
  impl->informers.start();
  impl->worker = std::thread([self] { self->run(); });
  return std::unique_ptr<PodNetworkController>(new PodNetworkController(std::move(impl)));
}

}  // namespace switchyard::node
