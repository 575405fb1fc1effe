// StatefulSet ControllerRevisions (see statefulset_revisions.h).
#include "orchestrator/controllers/statefulset_revisions.h"

#include "orchestrator/api/json_codec.h"
#include "orchestrator/controllers/statefulset_math.h"
#include "orchestrator/controllers/workload_pods.h"

namespace switchyard::controllers::sts {

nlohmann::json revision_patch(const api::StatefulSet& set) {
  nlohmann::json tmpl = api::encode_object(api::Object(set))["spec"]["template"];
  tmpl["$patch"] = "replace";
  return {{"spec", {{"template", std::move(tmpl)}}}};
}

std::optional<api::PodTemplateSpec> template_of(const api::ControllerRevision& revision) {
  auto data = nlohmann::json::parse(revision.data_json, nullptr, false);
  if (data.is_discarded() || !data.is_object()) return std::nullopt;
  nlohmann::json tmpl = data.value("spec", nlohmann::json::object()).value("template", nlohmann::json::object());
  tmpl.erase("$patch");
  nlohmann::json set = {
      {"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"metadata", {{"name", "revision"}}}, {"spec", {{"template", tmpl}}}};
  auto decoded = api::decode_object(set);
  if (!decoded) return std::nullopt;
  const auto* s = std::get_if<api::StatefulSet>(&decoded->object);
  if (!s) return std::nullopt;
  return s->spec.template_;
}

api::ControllerRevision new_revision(const api::StatefulSet& set, std::int64_t number, std::int32_t collision_count) {
  api::ControllerRevision r;
  r.data_json = revision_patch(set).dump();
  const std::string hash = revision_hash(r.data_json, collision_count);
  r.metadata.name = set.metadata.name + "-" + hash;
  r.metadata.namespace_ = set.metadata.namespace_;
  r.metadata.labels = set.spec.template_.metadata.labels;
  r.metadata.labels[api::kControllerRevisionHashLabel] = hash;
  r.metadata.owner_references = {make_controller_ref("apps/v1", "StatefulSet", set.metadata)};
  r.revision = number;
  return r;
}

}  // namespace switchyard::controllers::sts
