#include "orchestrator/controllers/api_discovery.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "orchestrator/client/list_watch.h"

namespace switchyard::controllers {

using nlohmann::json;

bool ApiResource::supports(const std::string& verb) const { return std::find(verbs.begin(), verbs.end(), verb) != verbs.end(); }

std::string ApiResource::collection_path(const std::string& ns) const {
  std::string out = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) out += "/namespaces/" + ns;
  return out + "/" + plural;
}

std::string ApiResource::object_path(const std::string& ns, const std::string& name) const { return collection_path(ns) + "/" + name; }

const ApiResource* Discovery::find_kind(const std::string& api_version, const std::string& kind) const {
  for (const auto& r : resources)
    if (r.kind == kind && r.api_version() == api_version) return &r;
  return nullptr;
}

namespace {

Result<json> get_json(client::ApiClient& api, const std::string& path) {
  auto r = api.get(path);
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(client::http_error(r->status, r->body, "GET " + path));
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) return fail(ErrorCode::Internal, "GET " + path + ": not a JSON object");
  return j;
}

void read_resource_list(const json& list, const std::string& group, const std::string& version, Discovery& out) {
  for (const auto& e : list.value("resources", json::array())) {
    const std::string name = e.value("name", "");
    if (name.empty() || name.find('/') != std::string::npos) continue;  // subresources
    ApiResource r{group, version, name, e.value("kind", ""), e.value("namespaced", false), {}};
    for (const auto& v : e.value("verbs", json::array()))
      if (v.is_string()) r.verbs.push_back(v.get<std::string>());
    out.resources.push_back(std::move(r));
  }
}

}  // namespace

Result<Discovery> discover(client::ApiClient& api) {
  Discovery out;
  auto core = get_json(api, "/api/v1");
  if (core)
    read_resource_list(*core, "", "v1", out);
  else
    out.failures.push_back(core.error().message);
  auto groups = get_json(api, "/apis");
  if (!groups) {
    if (!core) return fail(groups.error());
    out.failures.push_back(groups.error().message);
    return out;
  }
  for (const auto& g : groups->value("groups", json::array())) {
    const std::string name = g.value("name", "");
    const std::string version = g.value("preferredVersion", json::object()).value("version", "");
    if (name.empty() || version.empty()) continue;
    auto list = get_json(api, "/apis/" + name + "/" + version);
    if (!list) {
      out.failures.push_back(fmt::format("{}/{}: {}", name, version, list.error().message));
      continue;
    }
    read_resource_list(*list, name, version, out);
  }
  return out;
}

}  // namespace switchyard::controllers
