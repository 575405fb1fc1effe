// Table columns and cells of the apps/v1 kinds, as kube-apiserver's printers write them
// (pkg/printers/internalversion: printDeployment, printReplicaSet, printDaemonSet,
// printControllerRevision)..
#include <fmt/format.h>

#include "orchestrator/api/selectors.h"
#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

namespace {

Json column(const char* name, const char* type, int priority = 0, const char* format = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", ""}, {"priority", priority}};
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
  return out;
}

// metav1.FormatLabelSelector: "<none>" for an empty selector.
std::string format_selector(const Json& selector) {
  std::vector<api::LabelSelectorExpression> exprs;
  for (const auto& e : selector.value("matchExpressions", Json::array()))
    exprs.push_back({e.value("key", ""), e.value("operator", ""), e.value("values", std::vector<std::string>{})});
  auto parsed = api::LabelSelector::from_api(selector.value("matchLabels", api::StringMap{}), exprs, api::FieldPath("spec.selector"));
  if (!parsed) return "<error>";
  const std::string s = parsed->to_string();
  return s.empty() ? "<none>" : s;
}

// The template's container names and images, comma-separated.
std::pair<std::string, std::string> containers_and_images(const Json& spec) {
  std::vector<std::string> names, images;
  const Json pod_spec = spec.value("template", Json::object()).value("spec", Json::object());
  for (const auto& c : pod_spec.value("containers", Json::array())) {
    names.push_back(c.value("name", ""));
    images.push_back(c.value("image", ""));
  }
  return {joined(names), joined(images)};
}

}  // namespace

std::optional<Json> apps_columns(const std::string& kind) {
  if (kind == "Deployment")
    return Json{column("Name", "string", 0, "name"), column("Ready", "string"),      column("Up-to-date", "integer"),
                column("Available", "integer"),      column("Age", "string"),        column("Containers", "string", 1),
                column("Images", "string", 1),       column("Selector", "string", 1)};
  if (kind == "ReplicaSet")
    return Json{column("Name", "string", 0, "name"), column("Desired", "integer"),   column("Current", "integer"),
                column("Ready", "integer"),          column("Age", "string"),        column("Containers", "string", 1),
                column("Images", "string", 1),       column("Selector", "string", 1)};
  if (kind == "DaemonSet")
    return Json{column("Name", "string", 0, "name"), column("Desired", "integer"),    column("Current", "integer"),
                column("Ready", "integer"),          column("Up-to-date", "integer"), column("Available", "integer"),
                column("Node Selector", "string"),   column("Age", "string"),         column("Containers", "string", 1),
                column("Images", "string", 1),       column("Selector", "string", 1)};
  if (kind == "ControllerRevision")
    return Json{column("Name", "string", 0, "name"), column("Controller", "string"), column("Revision", "integer"),
                column("Age", "string")};
  return std::nullopt;
}

std::optional<Json> apps_cells(const std::string& kind, const Json& o, const std::string& age) {
  const Json& meta = o["metadata"];
  const std::string name = meta.value("name", "");
  const Json spec = o.value("spec", Json::object());
  const Json status = o.value("status", Json::object());
  if (kind == "Deployment" || kind == "ReplicaSet") {
    const auto [containers, images] = containers_and_images(spec);
    const std::string selector = format_selector(spec.value("selector", Json::object()));
    const int desired = spec.value("replicas", 0);
    if (kind == "Deployment")
      return Json{name,
                  fmt::format("{}/{}", status.value("readyReplicas", 0), desired),
                  status.value("updatedReplicas", 0),
                  status.value("availableReplicas", 0),
                  age,
                  containers,
                  images,
                  selector};
    return Json{name, desired, status.value("replicas", 0), status.value("readyReplicas", 0), age, containers, images, selector};
  }
  if (kind == "DaemonSet") {
    const auto [containers, images] = containers_and_images(spec);
    // labels.FormatLabels of the template's nodeSelector: sorted k=v pairs, "<none>" when empty.
    std::string node_selector;
    for (const auto& [k, v] : spec.value("template", Json::object()).value("spec", Json::object()).value("nodeSelector", api::StringMap{}))
      node_selector += (node_selector.empty() ? "" : ",") + k + "=" + v;
    if (node_selector.empty()) node_selector = "<none>";
    return Json{name,
                status.value("desiredNumberScheduled", 0),
                status.value("currentNumberScheduled", 0),
                status.value("numberReady", 0),
                status.value("updatedNumberScheduled", 0),
                status.value("numberAvailable", 0),
                node_selector,
                age,
                containers,
                images,
                format_selector(spec.value("selector", Json::object()))};
  }
  if (kind == "ControllerRevision") {
    std::string controller = "<none>";
    for (const auto& ref : meta.value("ownerReferences", Json::array()))
      if (ref.value("controller", false)) {
        std::string group = ref.value("apiVersion", "");
        group = group.find('/') == std::string::npos ? "" : "." + group.substr(0, group.find('/'));
        std::string k = ref.value("kind", "");
        for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        controller = k + group + "/" + ref.value("name", "");
      }
    return Json{name, controller, o.value("revision", 0), age};
  }
  return std::nullopt;
}

}  // namespace switchyard::apiserver
