// Table columns and cells of PriorityClass and PodDisruptionBudget, as kube-apiserver's printers
// write them (pkg/printers/internalversion: printPriorityClass, printPodDisruptionBudget).
#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

namespace {

Json column(const char* name, const char* type, const char* format = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", ""}, {"priority", 0}};
}

// An IntOrString as printed ("2", "50%"), "N/A" when unset.
std::string int_or_percent(const Json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_string()) return v.get<std::string>();
  return "N/A";
}

}  // namespace

std::optional<Json> policy_columns(const std::string& kind) {
  if (kind == "PriorityClass")
    return Json{column("Name", "string", "name"), column("Value", "integer"), column("Global-Default", "boolean"), column("Age", "string"),
                column("PreemptionPolicy", "string")};
  if (kind == "PodDisruptionBudget")
    return Json{column("Name", "string", "name"), column("Min Available", "string"), column("Max Unavailable", "string"),
                column("Allowed Disruptions", "integer"), column("Age", "string")};
  return std::nullopt;
}

std::optional<Json> policy_cells(const std::string& kind, const Json& o, const std::string& age) {
  const std::string name = o.value("metadata", Json::object()).value("name", "");
  if (kind == "PriorityClass")
    return Json{name, o.value("value", 0), o.value("globalDefault", false), age, o.value("preemptionPolicy", "")};
  if (kind == "PodDisruptionBudget") {
    const Json spec = o.value("spec", Json::object());
    return Json{name, int_or_percent(spec.value("minAvailable", Json())), int_or_percent(spec.value("maxUnavailable", Json())),
                o.value("status", Json::object()).value("disruptionsAllowed", 0), age};
  }
  return std::nullopt;
}

}  // namespace switchyard::apiserver
