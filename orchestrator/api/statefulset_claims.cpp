// A StatefulSet's volumeClaimTemplates to and from PersistentVolumeClaims.
#include "orchestrator/api/statefulset_claims.h"

#include <algorithm>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/storage.h"

namespace switchyard::api {

using nlohmann::json;

namespace {
constexpr const char* kKey = "volumeClaimTemplates";
}

ClaimTemplates volume_claim_templates(const StatefulSet& set) {
  ClaimTemplates out;
  const json list = body_field(set.spec.passthrough, kKey);
  if (list.is_null()) return out;
  const FieldPath path = FieldPath("spec").child(kKey);
  if (!list.is_array()) {
    out.errors.push_back(invalid(path, list.dump(), "must be a list of PersistentVolumeClaims"));
    return out;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto decoded = decode_object_as(list[i], "v1", "PersistentVolumeClaim");
    const auto* claim = decoded ? std::get_if<PersistentVolumeClaim>(&decoded->object) : nullptr;
    if (!claim) {
      out.errors.push_back(invalid(path.index(i), list[i].dump(), decoded ? "must be a PersistentVolumeClaim" : decoded.error().message));
      continue;
    }
    out.claims.push_back(*claim);
  }
  return out;
}

void set_volume_claim_templates(StatefulSet& set, const std::vector<PersistentVolumeClaim>& claims) {
  if (claims.empty()) {
    set_body_field(set.spec.passthrough, kKey, json());
    return;
  }
  json list = json::array();
  for (const auto& c : claims) {
    json j = encode_object(c);
    if (!j["metadata"].contains("creationTimestamp")) j["metadata"]["creationTimestamp"] = nullptr;
    list.push_back(std::move(j));
  }
  set_body_field(set.spec.passthrough, kKey, list);
}

void use_claim_volumes(PodSpec& spec, const std::vector<ClaimVolume>& volumes) {
  if (volumes.empty()) return;
  json out = json::array();
  for (const auto& v : volumes) out.push_back({{"name", v.volume}, {"persistentVolumeClaim", {{"claimName", v.claim}}}});
  const json current = body_field(spec.passthrough, "volumes");
  if (current.is_array())
    for (const auto& v : current) {
      const std::string name = text_of(v, "name");
      if (std::none_of(volumes.begin(), volumes.end(), [&](const ClaimVolume& c) { return c.volume == name; })) out.push_back(v);
    }
  set_body_field(spec.passthrough, "volumes", out);
}

}  // namespace switchyard::api
