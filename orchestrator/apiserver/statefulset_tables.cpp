// Table columns and cells of StatefulSets, as kube-apiserver's printStatefulSet writes them:
// NAME READY AGE, and CONTAINERS IMAGES with -o wide.
#include <fmt/format.h>

#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

namespace {

Json column(const char* name, const char* type, int priority = 0, const char* format = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", ""}, {"priority", priority}};
}

}  // namespace

std::optional<Json> statefulset_columns(const std::string& kind) {
  if (kind != "StatefulSet") return std::nullopt;
  return Json{column("Name", "string", 0, "name"), column("Ready", "string"), column("Age", "string"), column("Containers", "string", 1),
              column("Images", "string", 1)};
}

std::optional<Json> statefulset_cells(const std::string& kind, const Json& o, const std::string& age) {
  if (kind != "StatefulSet") return std::nullopt;
  const Json spec = o.value("spec", Json::object());
  const Json status = o.value("status", Json::object());
  std::string names, images;
  const Json pod_spec = spec.value("template", Json::object()).value("spec", Json::object());
  for (const auto& c : pod_spec.value("containers", Json::array())) {
    names += (names.empty() ? "" : ",") + c.value("name", "");
    images += (images.empty() ? "" : ",") + c.value("image", "");
  }
  return Json{o["metadata"].value("name", ""), fmt::format("{}/{}", status.value("readyReplicas", 0), spec.value("replicas", 0)), age,
              names, images};
}

}  // namespace switchyard::apiserver
