// The resources the API server serves, as discovery, routing and storage see them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace switchyard::apiserver {

struct ResourceInfo {
  std::string group;     // "" for core
  std::string version;   // "v1"
  std::string plural;    // "services"
  std::string singular;  // "service"
  std::string kind;      // "Service"
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> subresources;  // "status"
  bool read_only_list = false;            // events: list may be empty, nothing is stored
  bool create_only = false;               // access reviews: POST answers, nothing is stored
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // Kind or Kind.group, as Status messages name it.
  std::string group_kind() const { return group.empty() ? kind : kind + "." + group; }
  // The plural with its group, as "Operation cannot be fulfilled on services" names it.
  std::string group_resource() const { return group.empty() ? plural : plural + "." + group; }
};

const std::vector<ResourceInfo>& served_resources();
const ResourceInfo* find_resource(std::string_view group, std::string_view version, std::string_view plural);
const ResourceInfo* find_resource_by_kind(std::string_view api_version, std::string_view kind);

}  // namespace switchyard::apiserver
