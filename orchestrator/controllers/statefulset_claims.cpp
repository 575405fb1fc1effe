// StatefulSet claims and their retention-policy owners (pure; see statefulset_claims.h).
#include "orchestrator/controllers/statefulset_claims.h"

#include <algorithm>

#include <fmt/format.h>

namespace switchyard::controllers::sts {

namespace {

constexpr const char* kSetApiVersion = "apps/v1";
constexpr const char* kSetKind = "StatefulSet";
constexpr const char* kPodApiVersion = "v1";
constexpr const char* kPodKind = "Pod";

bool is_set(const api::OwnerReference& r, const ClaimOwners& o) {
  return r.api_version == kSetApiVersion && r.kind == kSetKind && r.name == o.set_name;
}
bool is_pod(const api::OwnerReference& r, const ClaimOwners& o) {
  return r.api_version == kPodApiVersion && r.kind == kPodKind && r.name == o.pod_name;
}
bool has_uid(const std::vector<api::OwnerReference>& refs, const std::string& uid) {
  return std::any_of(refs.begin(), refs.end(), [&](const api::OwnerReference& r) { return r.uid == uid; });
}
// hasStaleOwnerRef: the first reference naming the object carries another uid.
bool stale(const std::vector<api::OwnerReference>& refs, bool (*names)(const api::OwnerReference&, const ClaimOwners&),
           const ClaimOwners& o, const std::string& uid) {
  for (const auto& r : refs)
    if (names(r, o)) return r.uid != uid;
  return false;
}
bool is_delete(const std::string& v) { return v == "Delete"; }

}  // namespace

std::string claim_name(const std::string& template_name, const std::string& set_name, int ordinal) {
  return fmt::format("{}-{}-{}", template_name, set_name, ordinal);
}

std::vector<api::PersistentVolumeClaim> claims_for(const api::StatefulSet& set, const std::vector<api::PersistentVolumeClaim>& templates,
                                                   int ordinal) {
  std::vector<api::PersistentVolumeClaim> out;
  for (const auto& t : templates) {
    api::PersistentVolumeClaim c;
    c.metadata.name = claim_name(t.metadata.name, set.metadata.name, ordinal);
    c.metadata.namespace_ = set.metadata.namespace_;
    c.metadata.labels = t.metadata.labels;
    if (set.spec.selector)
      for (const auto& [k, v] : set.spec.selector->match_labels) c.metadata.labels[k] = v;
    c.metadata.annotations = t.metadata.annotations;
    c.metadata.finalizers = t.metadata.finalizers;
    c.body = t.body;
    c.body.erase("status");  // the template's defaulted status.phase is the server's to set
    out.push_back(std::move(c));
  }
  return out;
}

bool has_unexpected_controller(const std::vector<api::OwnerReference>& refs, const ClaimOwners& o) {
  if (!is_delete(o.when_scaled) && !is_delete(o.when_deleted)) return false;  // Retain/Retain: anyone may manage it
  for (const auto& r : refs) {
    if (is_set(r, o)) {
      if (r.uid != o.set_uid) return true;  // an earlier set of that name: leave it to the garbage collector
      continue;
    }
    if (is_pod(r, o)) {
      if (r.uid != o.pod_uid) return true;
      continue;
    }
    if (r.controller.value_or(false)) return true;
  }
  return false;
}

bool claim_owners_up_to_date(const std::vector<api::OwnerReference>& refs, const ClaimOwners& o) {
  if (stale(refs, &is_set, o, o.set_uid) || stale(refs, &is_pod, o, o.pod_uid)) return true;
  const bool set_ref = has_uid(refs, o.set_uid), pod_ref = has_uid(refs, o.pod_uid);
  if (has_unexpected_controller(refs, o)) return !set_ref && !pod_ref;
  for (const auto& r : refs)
    if ((r.uid == o.set_uid || r.uid == o.pod_uid) && !r.controller.value_or(false)) return false;
  const bool del_set = is_delete(o.when_deleted), del_scaled = is_delete(o.when_scaled);
  if (!del_scaled) return set_ref == del_set && !pod_ref;  // Retain/Retain, or Delete on set deletion only
  if (!del_set) return !set_ref && pod_ref == o.pod_scaled_down;
  return set_ref != o.pod_scaled_down && pod_ref == o.pod_scaled_down;  // Delete/Delete: one or the other
}

std::vector<api::OwnerReference> updated_claim_owners(const std::vector<api::OwnerReference>& refs, const ClaimOwners& o) {
  const bool unexpected = has_unexpected_controller(refs, o);
  std::vector<api::OwnerReference> out;
  for (const auto& r : refs)
    if (!is_set(r, o) && !is_pod(r, o)) out.push_back(r);
  if (unexpected) return out;
  auto add = [&](const char* api_version, const char* kind, const std::string& name, const std::string& uid) {
    if (!has_uid(out, uid)) out.push_back({api_version, kind, name, uid, true, true});
  };
  const bool del_set = is_delete(o.when_deleted), del_scaled = is_delete(o.when_scaled);
  if (del_scaled && o.pod_scaled_down)
    add(kPodApiVersion, kPodKind, o.pod_name, o.pod_uid);
  else if (del_set && (!del_scaled || !o.pod_scaled_down))
    add(kSetApiVersion, kSetKind, o.set_name, o.set_uid);
  return out;
}

}  // namespace switchyard::controllers::sts
