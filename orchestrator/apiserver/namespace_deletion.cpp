#include "orchestrator/apiserver/namespace_deletion.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "orchestrator/apiserver/graceful_deletion.h"
#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

void prepare_namespace_create(api::Namespace& n) {
  n.status_phase = "Active";
  n.status_passthrough.clear();
  if (std::find(n.spec_finalizers.begin(), n.spec_finalizers.end(), kNamespaceFinalizer) == n.spec_finalizers.end())
    n.spec_finalizers.push_back(kNamespaceFinalizer);
}

ApiResult<Json> ObjectRegistry::remove_namespace(const ResourceInfo& r, const std::string& name, const Json& stored, store::Revision mod,
                                                 const DeleteOptions& options) {
  const std::string key = storage_key(r, "", name);
  Json object = stored;
  auto finalizers = object["metadata"].value("finalizers", std::vector<std::string>{});
  const bool gc_changed = apply_gc_finalizers(finalizers, options.propagation);
  if (!object["metadata"].contains("deletionTimestamp")) {
    // The first delete: Terminating. The namespace controller empties it, then finalizes it.
    object["metadata"]["deletionTimestamp"] = rfc3339_at(std::time(nullptr));
    object["metadata"]["deletionGracePeriodSeconds"] = 0;
    if (!finalizers.empty()) object["metadata"]["finalizers"] = finalizers;
    object["status"]["phase"] = "Terminating";
    return write_back(r, key, name, std::move(object), mod);
  }
  if (!object.value("spec", Json::object()).value("finalizers", Json::array()).empty())
    return std::unexpected(status_error(
        409, "Conflict",
        fmt::format(
            "Operation cannot be fulfilled on namespaces \"{}\": The system is ensuring all content is removed from this namespace.  "
            "Upon completion, this namespace will automatically be purged by the system.",
            name),
        Json{{"name", name}, {"kind", "namespaces"}}));
  if (!finalizers.empty()) {
    if (!gc_changed) return stored;
    object["metadata"]["finalizers"] = finalizers;
    return write_back(r, key, name, std::move(object), mod);
  }
  auto gone = store_.remove(key, mod);
  if (!gone) {
    if (gone.error().code == store::StoreErrorCode::NotFound) return std::unexpected(not_found(r.group_resource(), name));
    if (gone.error().code == store::StoreErrorCode::Conflict) return std::unexpected(conflict(r.group, r.plural, name));
    return std::unexpected(internal_error(gone.error().message));
  }
  return success_status(r.group, r.plural, name, stored["metadata"].value("uid", ""));
}

ApiResult<Json> ObjectRegistry::finalize_namespace(const std::string& name, const Json& body, FieldValidation fv,
                                                   std::vector<std::string>& warnings) {
  return update(*find_resource("", "v1", "namespaces"), "", name, body, UpdateMode::Finalize, fv, warnings);
}

}  // namespace switchyard::apiserver
