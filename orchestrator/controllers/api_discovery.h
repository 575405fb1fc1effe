// The resources a server serves, found as client-go's discovery finds them (/api/v1, /apis, then
// each group's preferred version): the garbage collector and the namespace controller work on
// every kind the server lists, including kinds this binary has no type for.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"

namespace switchyard::controllers {

struct ApiResource {
  std::string group, version, plural, kind;
  bool namespaced = false;
  std::vector<std::string> verbs;
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  bool supports(const std::string& verb) const;
  // "/api/v1/namespaces/NS/pods" (NS empty or the resource cluster-scoped: every namespace).
  std::string collection_path(const std::string& ns = "") const;
  std::string object_path(const std::string& ns, const std::string& name) const;
};

struct Discovery {
  std::vector<ApiResource> resources;  // top-level resources only (no subresources)
  std::vector<std::string> failures;   // group versions that could not be read, with why
  // By "apiVersion/Kind" ("apps/v1/ReplicaSet", "v1/Pod").
  const ApiResource* find_kind(const std::string& api_version, const std::string& kind) const;
};

// Fails only when nothing could be read at all.
Result<Discovery> discover(client::ApiClient& api);

}  // namespace switchyard::controllers
