#include "orchestrator/apiserver/allocation_repair.h"

#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/apiserver/resources.h"

namespace switchyard::apiserver {

namespace {

// Every "ip:…" and "port:…" value each stored Service holds, by owner ("namespace/name").
Result<std::map<std::string, std::set<std::string>>> held_by_services(store::Store& store) {
  const std::string prefix = storage_prefix(*find_resource("", "v1", "services"), "");
  std::map<std::string, std::set<std::string>> held;
  std::string after;
  store::Revision at = 0;  // every page as of the first one's revision
  for (;;) {
    auto page = store.list(prefix, 500, after, at);
    if (!page) return fail(ErrorCode::Unavailable, "listing services: " + page.error().message);
    for (const auto& kv : page->items) {
      auto decoded = api::decode_object(nlohmann::json::parse(kv.value, nullptr, false));
      if (!decoded || !std::holds_alternative<api::Service>(decoded->object))
        return fail(ErrorCode::Internal, "service " + kv.key + " in the store does not decode");
      const auto& svc = std::get<api::Service>(decoded->object);
      auto& values = held[allocation_owner(svc)];
      for (const auto& ip : svc.spec.cluster_ips) values.insert("ip:" + ip);
      if (!svc.spec.cluster_ip.empty()) values.insert("ip:" + svc.spec.cluster_ip);
      for (const auto& p : svc.spec.ports)
        if (p.node_port) values.insert(fmt::format("port:{}", p.node_port));
      if (svc.spec.health_check_node_port) values.insert(fmt::format("port:{}", svc.spec.health_check_node_port));
    }
    if (!page->more || page->items.empty()) break;
    after = page->items.back().key;
    at = page->revision;
  }
  return held;
}

}  // namespace

Result<AllocationRepairReport> AllocationRepair::run_once() {
  // Allocations first: a Service created after this read holds values allocated before it, and
  // those are seen as held (or are not in this pass's allocation list at all).
  std::map<std::string, std::string> owners;  // value -> owner, one listing per range
  for (auto* range : allocators_.cluster_ips) {
    auto ips = range->owners();
    if (!ips) return fail(ErrorCode::Unavailable, "listing allocated cluster IPs: " + ips.error().message);
    for (auto& [ip, owner] : *ips) owners["ip:" + ip] = std::move(owner);
  }
  if (allocators_.node_ports) {
    auto ports = allocators_.node_ports->owners();
    if (!ports) return fail(ErrorCode::Unavailable, "listing allocated node ports: " + ports.error().message);
    for (auto& [port, owner] : *ports) owners[fmt::format("port:{}", port)] = std::move(owner);
  }
  auto held = held_by_services(store_);
  if (!held) return fail(held.error());

  AllocationRepairReport report;
  std::map<std::string, std::string> suspects;
  for (const auto& [value, owner] : owners) {
    auto it = held->find(owner);
    if (it != held->end() && it->second.contains(value)) {
      ++report.held;
      continue;
    }
    auto before = suspects_.find(value);
    if (before == suspects_.end() || before->second != owner) {
      suspects.emplace(value, owner);
      ++report.suspects;
      continue;
    }
    const bool is_ip = value.starts_with("ip:");
    const std::string v = value.substr(is_ip ? 3 : 5);
    Result<bool> released = fail(ErrorCode::Internal, "no allocator for " + value);
    if (is_ip) {
      for (auto* range : allocators_.cluster_ips)
        if (range->range().offset_of(v)) {
          auto r = range->release(v, owner);
          released = r ? Result<bool>(*r) : fail(ErrorCode::Unavailable, r.error().message);
        }
    } else if (allocators_.node_ports) {
      auto r = allocators_.node_ports->release(std::stoi(v), owner);
      released = r ? Result<bool>(*r) : fail(ErrorCode::Unavailable, r.error().message);
    }
    if (!released) {
      spdlog::warn("event=allocation_repair_failed value={} owner={} error=\"{}\"", v, owner, released.error().message);
      suspects.emplace(value, owner);  // tried again next pass
      continue;
    }
    spdlog::info("event=allocation_repaired value={} owner={} reason=\"no such service holds it\"", v, owner);
    ++report.released;
  }
  suspects_ = std::move(suspects);
  return report;
}

}  // namespace switchyard::apiserver
