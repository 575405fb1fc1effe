#include "orchestrator/controllers/node_ipam_controller.h"

#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/client/rest.h"
#include "orchestrator/controllers/event_recorder.h"

namespace switchyard::controllers {

namespace {

using client::ObjectPtr;

// podCIDRs, or the podCIDR of a Node written before podCIDRs existed.
std::vector<std::string> cidrs_of(const api::Node& n) {
  if (!n.pod_cidrs.empty()) return n.pod_cidrs;
  if (!n.pod_cidr.empty()) return {n.pod_cidr};
  return {};
}

}  // namespace

struct NodeIpamController::Handlers {
  NodeIpamController& c;
  std::uint64_t nodes = 0;
  ~Handlers() { c.nodes_.remove_event_handler(nodes); }
};

Result<std::unique_ptr<NodeIpamController>> NodeIpamController::create(client::SharedInformerFactory& informers,
                                                                       client::ClusterConnection connection, const NodeIpamOptions& o) {
  auto sets = node_cidr_sets(o.cluster_cidrs, o.node_cidr_mask_size, o.node_cidr_mask_size_ipv4, o.node_cidr_mask_size_ipv6);
  if (!sets) return fail(sets.error());
  return std::unique_ptr<NodeIpamController>(new NodeIpamController(informers, std::move(connection), std::move(*sets)));
}

NodeIpamController::NodeIpamController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                       std::vector<CidrSet> sets)
    : informers_(informers), connection_(std::move(connection)), nodes_(informers.informer<api::Node>()), sets_(std::move(sets)) {
  handlers_ = std::make_unique<Handlers>(Handlers{*this});
  auto enqueue = [this](const ObjectPtr<api::Node>& n) { queue_.add(n->metadata.name); };
  handlers_->nodes = nodes_.add_event_handler(
      {enqueue, [enqueue](const auto&, const auto& n) { enqueue(n); }, [enqueue](const auto& n, bool) { enqueue(n); }, {}});
}

NodeIpamController::~NodeIpamController() { stop(); }

void NodeIpamController::start() {
  informers_.start();
  worker_ = std::thread([this] { worker(); });
}

void NodeIpamController::stop() {
  stopping_ = true;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
}

void NodeIpamController::occupy(const std::string& node, const std::vector<std::string>& cidrs) {
  std::vector<std::string> marked;
  for (const auto& cidr : cidrs) {
    auto parsed = Cidr::parse(cidr);
    if (!parsed) continue;
    for (auto& set : sets_) {
      if (set.v6() != parsed->v6) continue;
      // Upstream logs and goes on: a range outside the cluster CIDR is the operator's to keep apart.
      if (auto ok = set.occupy(cidr); !ok)
        spdlog::warn("event=node_cidr_not_occupied node={} cidr={} error=\"{}\"", node, cidr, ok.error().message);
      else
        marked.push_back(cidr);
    }
  }
  held_[node] = std::move(marked);
}

// Reads back what earlier runs gave: the CIDRs in the spec of every Node.
void NodeIpamController::seed_from_cache() {
  std::lock_guard lock(mu_);
  for (const auto& n : nodes_.indexer().list())
    if (auto cidrs = cidrs_of(*n); !cidrs.empty()) occupy(n->metadata.name, cidrs);
  std::vector<std::string> ranges;
  for (const auto& s : sets_)
    ranges.push_back(fmt::format("{} (/{}: {} of {} taken)", s.cluster().text(), s.mask_size(), s.allocated(), s.size()));
  spdlog::info("event=node_ipam_started ranges=\"{}\" nodes_with_cidrs={}", fmt::join(ranges, ", "), held_.size());
}

void NodeIpamController::worker() {
  while (!stopping_ && !informers_.wait_for_cache_sync(std::chrono::seconds(1), &stopping_)) {
  }
  if (stopping_) return;
  seed_from_cache();
  client::ApiClient api(connection_);
  while (auto key = queue_.get()) {
    if (auto synced = sync_node(*key, api); synced) {
      queue_.forget(*key);
    } else {
      queue_.add_rate_limited(*key);
      spdlog::info("event=node_ipam_sync_requeued node={} error=\"{}\"", *key, synced.error().describe());
    }
    queue_.done(*key);
  }
}

void NodeIpamController::unmark(const std::string& node, const std::vector<std::string>& cidrs) {
  for (const auto& cidr : cidrs)
    for (auto& set : sets_)
      if (auto parsed = Cidr::parse(cidr); parsed && parsed->v6 == set.v6())
        if (auto ok = set.release(cidr); !ok)
          spdlog::warn("event=node_cidr_release_failed node={} cidr={} error=\"{}\"", node, cidr, ok.error().message);
}

void NodeIpamController::release(const std::string& node) {
  {
    std::lock_guard lock(mu_);
    warned_.erase(node);
    auto it = held_.find(node);
    if (it == held_.end()) return;
    unmark(node, it->second);
    spdlog::info("event=node_cidr_released node={} cidrs=\"{}\"", node, fmt::join(it->second, ","));
    held_.erase(it);
  }
  // Subnets came back: the Nodes still waiting get another try.
  for (const auto& n : nodes_.indexer().list())
    if (cidrs_of(*n).empty()) queue_.add(n->metadata.name);
}

Result<void> NodeIpamController::sync_node(const std::string& name, client::ApiClient& api) {
  const auto node = nodes_.indexer().get(name);
  if (!node || node->metadata.deletion_timestamp) {
    release(name);
    return {};
  }
  std::vector<std::string> chosen;
  bool exhausted = false, first_warning = false;
  {
    std::lock_guard lock(mu_);
    if (auto cidrs = cidrs_of(*node); !cidrs.empty()) {
      // Set (by us, by hand, or before a restart): marked taken once.
      if (auto it = held_.find(name); it == held_.end() || it->second != cidrs) {
        if (it != held_.end()) unmark(name, it->second);
        occupy(name, cidrs);
      }
      warned_.erase(name);
      return {};
    }
    if (auto it = held_.find(name); it != held_.end() && it->second.size() == sets_.size()) {
      chosen = it->second;  // chosen earlier, the write not seen yet (or it failed): write the same
    } else {
      for (auto& set : sets_) {
        auto next = set.allocate_next();
        if (!next) {
          exhausted = true;
          break;
        }
        chosen.push_back(*next);
      }
      if (exhausted) {
        unmark(name, chosen);
        chosen.clear();
        first_warning = warned_.insert(name).second;
      } else {
        held_[name] = chosen;
      }
    }
  }
  if (exhausted) {
    if (first_warning) {
      spdlog::warn("event=node_cidr_not_available node={}", name);
      record_event(api, {"cidrAllocator"}, "v1", "Node", node->metadata, "Warning", "CIDRNotAvailable",
                   fmt::format("Node {} status is now: CIDRNotAvailable", name));
    }
    return {};
  }
  const nlohmann::json patch = {{"spec", {{"podCIDR", chosen.front()}, {"podCIDRs", chosen}}}};
  auto written = client::merge_patch_object(api, client::object_path<api::Node>("", name), patch);
  if (!written) {
    if (written.error().code == ErrorCode::NotFound) {
      release(name);
      return {};
    }
    return fail(written.error());
  }
  spdlog::info("event=node_cidr_allocated node={} cidrs=\"{}\"", name, fmt::join(chosen, ","));
  return {};
}

}  // namespace switchyard::controllers
