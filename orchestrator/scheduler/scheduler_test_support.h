// Test support: Pods and Nodes from JSON text, as the API server would hand them over.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/scheduler/node_info.h"

namespace switchyard::scheduler::testing {

// A Pod named `name` in `ns` whose spec is `spec_json` ({} if empty); `meta_extra` merges into metadata.
inline PodInfoPtr pod(const std::string& spec_json, const std::string& name = "p", const std::string& labels_json = "{}",
                      const std::string& ns = "default") {
  nlohmann::json j = {{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", {{"name", name}, {"namespace", ns}, {"labels", nlohmann::json::parse(labels_json)}}},
                      {"spec", nlohmann::json::parse(spec_json.empty() ? "{}" : spec_json)}};
  if (!j["spec"].contains("containers")) j["spec"]["containers"] = {{{"name", "c"}, {"image", "x"}}};
  auto d = api::decode_object(j);
  EXPECT_TRUE(d.has_value()) << j.dump();
  auto p = std::make_shared<api::Pod>(std::get<api::Pod>(d->object));
  auto info = make_pod_info(p);
  EXPECT_TRUE(info.has_value());
  return *info;
}

// A pod of one container requesting `cpu` and `memory` (empty: not requested).
inline PodInfoPtr pod_requesting(const std::string& cpu, const std::string& memory, const std::string& name = "p",
                                 const std::string& node_name = "") {
  nlohmann::json requests = nlohmann::json::object();
  if (!cpu.empty()) requests["cpu"] = cpu;
  if (!memory.empty()) requests["memory"] = memory;
  nlohmann::json spec = {{"containers", {{{"name", "c"}, {"image", "x"}, {"resources", {{"requests", requests}}}}}}};
  if (!node_name.empty()) spec["nodeName"] = node_name;
  return pod(spec.dump(), name);
}

// A Node `name` with `labels_json`, allocatable cpu/memory/pods and the given spec fields (taints, unschedulable).
inline NodeInfo node(const std::string& name, const std::string& labels_json = "{}", const std::string& cpu = "4",
                     const std::string& memory = "8Gi", const std::string& pods = "110", const std::string& spec_json = "{}") {
  nlohmann::json j = {{"apiVersion", "v1"},
                      {"kind", "Node"},
                      {"metadata", {{"name", name}, {"labels", nlohmann::json::parse(labels_json)}}},
                      {"spec", nlohmann::json::parse(spec_json)},
                      {"status", {{"allocatable", {{"cpu", cpu}, {"memory", memory}, {"pods", pods}}}}}};
  auto d = api::decode_object(j);
  EXPECT_TRUE(d.has_value()) << j.dump();
  NodeInfo n;
  n.set_node(std::make_shared<api::Node>(std::get<api::Node>(d->object)));
  return n;
}

}  // namespace switchyard::scheduler::testing
