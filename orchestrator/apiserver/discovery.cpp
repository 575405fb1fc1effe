// Legacy discovery (/api, /apis, APIResourceLists) and the OpenAPI v3 documents kubectl reads
// to learn that the server validates fields itself (fieldValidation on PATCH).
#include <algorithm>

#include <fmt/format.h>

#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

Json version_info() {
  return {{"major", "1"},
          {"minor", "31"},
          {"gitVersion", "v1.31.0+switchyard"},
          {"gitCommit", "switchyard"},
          {"gitTreeState", "clean"},
          {"buildDate", "2026-11-23T00:00:00Z"},
          {"goVersion", "n/a (C++)"},
          {"compiler", "gcc"},
          {"platform", "linux/amd64"}};
}

Json api_versions() {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", ""}}}}};
}

Json api_group_list() {
  Json groups = Json::array();
  for (const auto& r : served_resources()) {
    if (r.group.empty()) continue;
    Json v = {{"groupVersion", r.api_version()}, {"version", r.version}};
    // The first version listed for a group is its preferred one; later ones are added after it.
    auto group = std::find_if(groups.begin(), groups.end(), [&](const Json& g) { return g["name"] == r.group; });
    if (group == groups.end()) {
      groups.push_back({{"name", r.group}, {"versions", {v}}, {"preferredVersion", v}});
    } else if (std::find((*group)["versions"].begin(), (*group)["versions"].end(), v) == (*group)["versions"].end()) {
      (*group)["versions"].push_back(v);
    }
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

static Json verbs_of(const ResourceInfo& r) {
  if (r.read_only_list) return {"get", "list", "watch"};
  if (r.create_only) return {"create"};
  return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
}

Json api_resource_list(std::string_view group, std::string_view version) {
  Json resources = Json::array();
  std::string gv;
  for (const auto& r : served_resources()) {
    if (r.group != group || r.version != version) continue;
    gv = r.api_version();
    Json entry = {{"name", r.plural}, {"singularName", r.singular}, {"namespaced", r.namespaced}, {"kind", r.kind}, {"verbs", verbs_of(r)}};
    if (!r.short_names.empty()) entry["shortNames"] = r.short_names;
    if ((r.group == "apps" && r.kind != "ControllerRevision") || r.group == "batch") entry["categories"] = {"all"};
    resources.push_back(entry);
    for (const auto& sub : r.subresources) {
      // Pods' connect subresources, as kube-apiserver lists them.
      const bool connect = sub == "exec" || sub == "attach" || sub == "portforward";
      const std::string kind = sub == "exec"          ? "PodExecOptions"
                               : sub == "attach"      ? "PodAttachOptions"
                               : sub == "portforward" ? "PodPortForwardOptions"
                                                      : r.kind;
      Json sub_entry = {{"name", r.plural + "/" + sub},
                        {"singularName", ""},
                        {"namespaced", r.namespaced},
                        {"kind", kind},
                        {"verbs", connect             ? Json{"create", "get"}
                                  : sub == "log"      ? Json{"get"}
                                  : sub == "finalize" ? Json{"update"}
                                                      : Json{"get", "patch", "update"}}};
      // kubectl scale finds the Scale's group and version here; kubectl drain the Eviction's.
      if (sub == "scale") sub_entry.update({{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}});
      if (sub == "eviction") sub_entry.update({{"group", "policy"}, {"version", "v1"}, {"kind", "Eviction"}, {"verbs", {"create"}}});
      if (sub == "token")
        sub_entry.update({{"group", "authentication.k8s.io"}, {"version", "v1"}, {"kind", "TokenRequest"}, {"verbs", {"create"}}});
      resources.push_back(sub_entry);
    }
  }
  if (gv.empty()) return nullptr;
  return {{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", gv}, {"resources", resources}};
}

static std::string schema_name(const ResourceInfo& r) {
  return fmt::format("io.k8s.api.{}.{}", r.group.empty() ? "core." + r.version : r.group + "." + r.version, r.kind);
}

Json openapi_v3_index() {
  Json paths = Json::object();
  paths["api/v1"] = {{"serverRelativeURL", "/openapi/v3/api/v1?hash=switchyard1"}};
  for (const auto& r : served_resources())
    if (!r.group.empty())
      paths["apis/" + r.api_version()] = {{"serverRelativeURL", fmt::format("/openapi/v3/apis/{}?hash=switchyard1", r.api_version())}};
  return {{"paths", paths}};
}

// A minimal OpenAPI v3 document: the paths of each kind with the verbs and query parameters,
// tagged with x-kubernetes-group-version-kind, which is what kubectl's query-parameter
// verifier looks for. Schemas are open objects: the server does the validation.
Json openapi_v3_document(std::string_view group, std::string_view version) {
  Json paths = Json::object();
  const Json field_validation = {
      {"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}, {"description", "Ignore, Warn or Strict"}};
  bool any = false;
  for (const auto& r : served_resources()) {
    if (r.group != group || r.version != version) continue;
    any = true;
    const std::string base = r.group.empty() ? "/api/" + r.version : fmt::format("/apis/{}/{}", r.group, r.version);
    const std::string collection = r.namespaced ? fmt::format("{}/namespaces/{{namespace}}/{}", base, r.plural) : base + "/" + r.plural;
    const Json gvk = {{"group", r.group}, {"version", r.version}, {"kind", r.kind}};
    // The media types each operation answers in, as kube-apiserver's documents list them (less
    // YAML, which this server does not produce); bodies may come in any of them ("*/*").
    const Json schema = {{"$ref", fmt::format("#/components/schemas/{}", schema_name(r))}};
    auto op = [&](const char* action) {
      Json content = Json::object();
      for (const char* type : {"application/json", "application/vnd.kubernetes.protobuf"}) content[type] = {{"schema", schema}};
      if (std::string_view(action) == "list")
        for (const char* type : {"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"})
          content[type] = {{"schema", schema}};
      Json o = {{"x-kubernetes-action", action},
                {"x-kubernetes-group-version-kind", gvk},
                {"parameters", {field_validation}},
                {"responses", {{"200", {{"description", "OK"}, {"content", content}}}}}};
      if (std::string_view(action) == "post" || std::string_view(action) == "put")
        o["requestBody"] = {{"content", {{"*/*", {{"schema", schema}}}}}};
      return o;
    };
    paths[collection] = {{"get", op("list")}, {"post", op("post")}};
    paths[collection + "/{name}"] = {{"get", op("get")}, {"put", op("put")}, {"patch", op("patch")}, {"delete", op("delete")}};
  }
  if (!any) return nullptr;
  Json schemas = Json::object();
  for (const auto& r : served_resources())
    if (r.group == group && r.version == version)
      schemas[schema_name(r)] = {{"type", "object"},
                                 {"x-kubernetes-group-version-kind", {{{"group", r.group}, {"version", r.version}, {"kind", r.kind}}}}};
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes"}, {"version", "v1.31.0"}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

}  // namespace switchyard::apiserver
