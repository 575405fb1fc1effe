// Table columns and cells of ConfigMap, Secret and ServiceAccount, as kube-apiserver's printers
// write them (pkg/printers/internalversion: printConfigMap, printSecret, printServiceAccount).
#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

namespace {

Json column(const char* name, const char* type, const char* format = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", ""}, {"priority", 0}};
}

std::int64_t count(const Json& o, const char* field) {
  auto it = o.find(field);
  return it == o.end() || it->is_null() ? 0 : static_cast<std::int64_t>(it->size());
}

}  // namespace

std::optional<Json> config_columns(const std::string& kind) {
  if (kind == "ConfigMap") return Json{column("Name", "string", "name"), column("Data", "integer"), column("Age", "string")};
  if (kind == "Secret")
    return Json{column("Name", "string", "name"), column("Type", "string"), column("Data", "integer"), column("Age", "string")};
  if (kind == "ServiceAccount") return Json{column("Name", "string", "name"), column("Secrets", "integer"), column("Age", "string")};
  return std::nullopt;
}

std::optional<Json> config_cells(const std::string& kind, const Json& o, const std::string& age) {
  const std::string name = o["metadata"].value("name", "");
  if (kind == "ConfigMap") return Json{name, count(o, "data") + count(o, "binaryData"), age};
  if (kind == "Secret") return Json{name, o.value("type", ""), count(o, "data"), age};
  if (kind == "ServiceAccount") return Json{name, count(o, "secrets"), age};
  return std::nullopt;
}

}  // namespace switchyard::apiserver
