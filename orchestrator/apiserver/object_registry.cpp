#include "orchestrator/apiserver/object_registry.h"

#include "orchestrator/api/protobuf_codec.h"

#include <openssl/rand.h>

#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/selectors.h"
#include "orchestrator/api/validation.h"
#include "orchestrator/apiserver/admission.h"
#include "orchestrator/apiserver/event_versions.h"
#include "orchestrator/apiserver/graceful_deletion.h"
#include "orchestrator/apiserver/namespace_deletion.h"
#include "orchestrator/apiserver/service_update.h"
#include "orchestrator/apiserver/watch_encoding_cache.h"

namespace switchyard::apiserver {

std::string random_name_suffix(std::size_t n) {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";  // as the API server's generateName
  std::string out;
  unsigned char buf[16];
  RAND_bytes(buf, sizeof buf);
  for (std::size_t i = 0; i < n && i < sizeof buf; ++i) out += kAlphabet[buf[i] % (sizeof kAlphabet - 1)];
  return out;
}

namespace {

std::string join_unknown(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) out += fmt::format("{}unknown field \"{}\"", i ? ", " : "", fields[i]);
  return out;
}

Json with_version(Json obj, store::Revision rev) {
  obj["metadata"]["resourceVersion"] = std::to_string(rev);
  return obj;
}

bool has_status_subresource(const ResourceInfo& r) {
  return std::find(r.subresources.begin(), r.subresources.end(), "status") != r.subresources.end();
}

// An events.k8s.io/v1 body as the core/v1 Event the registry stores: the apiVersion checked and
// core-only field names handled per fieldValidation.
ApiResult<Json> core_event_body(const Json& body, FieldValidation fv, std::vector<std::string>& warnings) {
  CoreEvent e = event_from_v1(body);
  if (!e.error.empty()) return std::unexpected(bad_request(e.error));
  if (!e.unknown_fields.empty()) {
    if (fv == FieldValidation::Strict) return std::unexpected(bad_request("strict decoding error: " + join_unknown(e.unknown_fields)));
    if (fv == FieldValidation::Warn)
      for (const auto& f : e.unknown_fields) warnings.push_back(fmt::format("unknown field \"{}\"", f));
  }
  return std::move(e.object);
}

// A Status about a core Event, as events.k8s.io/v1 names it (events.events.k8s.io "x" not found,
// Event.events.k8s.io "x" is invalid).
ApiError as_events_v1_error(ApiError e) {
  if (!e.status.is_object() || !e.status.contains("details") || !e.status["details"].is_object()) return e;
  Json& details = e.status["details"];
  const std::string kind = details.value("kind", "");
  if (kind != "events" && kind != "Event") return e;
  details["group"] = "events.k8s.io";
  std::string message = e.status.value("message", "");
  for (const std::string from : {"Event \"", "events \""}) {
    const auto at = message.find(from);
    if (at != std::string::npos && (at == 0 || message[at - 1] == ' '))
      message.replace(at, from.size() - 2, from.substr(0, from.size() - 2) + ".events.k8s.io");
  }
  e.status["message"] = message;
  return e;
}

Json event_or_status_to_v1(const Json& j) { return j.is_object() && j.value("kind", "") == "Event" ? event_to_v1(j) : j; }

// A core Event result as events.k8s.io/v1 answers it (this libstdc++ has no expected::transform).
ApiResult<Json> as_events_v1(ApiResult<Json> result) {
  if (!result) return std::unexpected(as_events_v1_error(std::move(result.error())));
  return event_or_status_to_v1(*result);
}

}  // namespace

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string new_uid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0F) | 0x40;
  b[8] = (b[8] & 0x3F) | 0x80;
  return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", b[0], b[1],
                     b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

std::string storage_prefix(const ResourceInfo& r, const std::string& ns) {
  std::string p = fmt::format("/registry/{}/", r.group_resource());
  if (r.namespaced && !ns.empty()) p += ns + "/";
  return p;
}

std::string storage_key(const ResourceInfo& r, const std::string& ns, const std::string& name) {
  return r.namespaced ? fmt::format("/registry/{}/{}/{}", r.group_resource(), ns, name)
                      : fmt::format("/registry/{}/{}", r.group_resource(), name);
}

ObjectRegistry::ObjectRegistry(store::Store& store, api::ClusterNetworkConfig net, const ServiceAllocators* allocators)
    : store_(store), net_(std::move(net)), allocators_(allocators), watch_cache_(std::make_shared<WatchEncodingCache>()) {}

ApiResult<std::optional<ServiceAllocationTransaction>> ObjectRegistry::allocate(const ResourceInfo& r, const api::Object* old,
                                                                                api::Object& obj) {
  auto* svc = std::get_if<api::Service>(&obj);
  if (!svc || !allocators_) return std::optional<ServiceAllocationTransaction>();
  auto tx = allocate_service(*allocators_, old ? std::get_if<api::Service>(old) : nullptr, *svc);
  if (!tx) {
    if (!tx.error().field_errors.empty()) return std::unexpected(invalid(r.group, r.kind, svc->metadata.name, tx.error().field_errors));
    return std::unexpected(internal_error(tx.error().internal));
  }
  return std::optional<ServiceAllocationTransaction>(std::move(*tx));
}

store::Revision ObjectRegistry::current_revision() { return store_.current_revision().value_or(0); }

static ApiError store_failure(const store::StoreError& e) {
  if (e.code == store::StoreErrorCode::Compacted) return gone(e.message);
  return internal_error(e.message);
}

ApiResult<Json> ObjectRegistry::read_object(const ResourceInfo& r, const std::string& key, bool must_exist, const std::string& name,
                                            store::Revision* mod_revision, bool* stale) {
  auto kv = store_.get(key);
  if (!kv) return std::unexpected(store_failure(kv.error()));
  if (!*kv) {
    if (must_exist) return std::unexpected(not_found(r.group_resource(), name));
    return Json();
  }
  if (mod_revision) *mod_revision = (*kv)->mod_revision;
  if (stale) *stale = (*kv)->stale;
  return with_version(Json::parse((*kv)->value), (*kv)->mod_revision);
}

// Decode (unknown fields per fieldValidation), default and validate a body.
ApiResult<Json> ObjectRegistry::admit(const ResourceInfo& r, const Json& body, FieldValidation fv, std::vector<std::string>& warnings,
                                      api::Object& out) {
  auto decoded = api::decode_object_as(body, r.api_version(), r.kind);
  if (!decoded) return std::unexpected(bad_request(decoded.error().message));
  // Fields kept verbatim (probes, volumes, node status, …) are typed too, as upstream's decoding
  // types them: a value of the wrong type is refused here rather than stored (where no client
  // with typed objects, and no protobuf answer, could carry it).
  if (const auto* schema = api::protobuf::message_for_kind(r.api_version(), r.kind))
    if (auto typed = api::protobuf::json_to_message(*schema, body); !typed)
      return std::unexpected(
          bad_request(fmt::format("{} in version \"{}\" cannot be handled as a {}: {}", r.kind, r.version, r.kind, typed.error().message)));
  if (!decoded->unknown_fields.empty()) {
    if (fv == FieldValidation::Strict)
      return std::unexpected(bad_request("strict decoding error: " + join_unknown(decoded->unknown_fields)));
    if (fv == FieldValidation::Warn)
      for (const auto& f : decoded->unknown_fields) warnings.push_back(fmt::format("unknown field \"{}\"", f));
  }
  out = std::move(decoded->object);
  return Json();
}

namespace {

// Commits (the write stored the Service) or reverts (it did not) a Service's allocations. A
// release that fails leaves a key whose owner no longer holds it: the write's outcome stands,
// and AllocationRepair gives the value back on its next passes.
void finish_allocation(ServiceAllocationTransaction& allocation, bool stored) {
  auto released = stored ? allocation.commit() : allocation.revert();
  if (!released)
    spdlog::warn("event=allocation_release_failed stored={} error=\"{}\" repair=\"the allocation repair loop releases it\"", stored,
                 released.error().message);
}

}  // namespace

ApiResult<Json> ObjectRegistry::create(const ResourceInfo& r, const std::string& ns, const Json& body, FieldValidation fv,
                                       std::vector<std::string>& warnings, bool dry_run) {
  if (is_events_v1(r)) {
    auto core = core_event_body(body, fv, warnings);
    if (!core) return std::unexpected(core.error());
    // The namespace comes from the request before validation, as upstream fills it in.
    if (auto meta = core->find("metadata"); meta != core->end() && meta->is_object() && !meta->contains("namespace"))
      (*meta)["namespace"] = ns;
    if (auto errors = core->is_object() ? validate_v1_event_create(*core) : api::FieldErrors{}; !errors.empty()) {
      const Json meta = core->contains("metadata") && (*core)["metadata"].is_object() ? (*core)["metadata"] : Json::object();
      const Json name = meta.contains("name") ? meta["name"] : meta.value("generateName", Json(""));
      return std::unexpected(invalid(r.group, r.kind, name.is_string() ? name.get<std::string>() : "", errors));
    }
    return as_events_v1(create(core_events_resource(), ns, *core, fv, warnings, dry_run));
  }
  api::Object obj;
  if (auto a = admit(r, body, fv, warnings, obj); !a) return std::unexpected(a.error());
  api::ObjectMeta& m = api::meta_of(obj);
  if (r.namespaced) {
    if (m.namespace_.empty())
      m.namespace_ = ns;
    else if (m.namespace_ != ns)
      return std::unexpected(bad_request("the namespace of the provided object does not match the namespace sent on the request"));
    auto ns_obj = store_.get(storage_key(*find_resource("", "v1", "namespaces"), "", ns));
    if (!ns_obj) return std::unexpected(store_failure(ns_obj.error()));
    if (!*ns_obj) return std::unexpected(not_found("namespaces", ns));
    if (Json::parse((*ns_obj)->value).value("metadata", Json::object()).contains("deletionTimestamp"))
      return std::unexpected(
          status_error(403, "Forbidden",
                       fmt::format("{} \"{}\" is forbidden: unable to create new content in namespace {} because it is being terminated",
                                   r.group_resource(), m.name, ns)));
  } else {
    m.namespace_.clear();
  }
  if (auto admitted = run_admission(*this, r, obj, nullptr); !admitted) return std::unexpected(admitted.error());
  if (m.name.empty() && !m.generate_name.empty()) m.name = m.generate_name + random_name_suffix(5);
  m.uid = new_uid();
  m.creation_timestamp = now_rfc3339();
  m.resource_version.clear();
  m.deletion_timestamp.reset();
  m.generation = 1;
  if (auto* svc = std::get_if<api::Service>(&obj)) svc->status_load_balancer_ingress.clear();
  if (auto* n = std::get_if<api::Namespace>(&obj)) prepare_namespace_create(*n);
  api::apply_defaults(obj, net_);
  auto allocation = allocate(r, nullptr, obj);
  if (!allocation) return std::unexpected(allocation.error());
  if (auto errors = api::validate(obj, net_); !errors.empty())
    return std::unexpected(invalid(r.group, r.kind, m.name.empty() ? m.generate_name : m.name, errors));
  const Json stored = api::encode_object(obj);
  if (dry_run) {
    if (*allocation) finish_allocation(**allocation, false);
    return stored;
  }
  if (r.group.empty() && r.kind == "Event") expire_events();
  auto rev = store_.create(storage_key(r, m.namespace_, m.name), stored.dump());
  if (*allocation) finish_allocation(**allocation, rev.has_value());
  if (!rev) {
    if (rev.error().code == store::StoreErrorCode::AlreadyExists) return std::unexpected(already_exists(r.group, r.plural, m.name));
    return std::unexpected(store_failure(rev.error()));
  }
  return with_version(stored, *rev);
}

ApiResult<Json> ObjectRegistry::get(const ResourceInfo& r, const std::string& ns, const std::string& name) {
  if (is_events_v1(r)) return as_events_v1(get(core_events_resource(), ns, name));
  return read_object(r, storage_key(r, ns, name), true, name, nullptr);
}

namespace {

// The Pod fields kube-apiserver selects on besides metadata.*, and their values as strings
// (what `--field-selector spec.nodeName=n1` compares): kubelets and node agents list only the
// pods of their node this way.
constexpr std::string_view kPodFieldNames[] = {"spec.nodeName",    "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                                               "spec.hostNetwork", "status.phase",       "status.podIP",       "status.nominatedNodeName"};

void add_pod_fields(const Json& pod, api::StringMap& f) {
  const Json& spec = pod.contains("spec") ? pod["spec"] : Json::object();
  const Json& status = pod.contains("status") ? pod["status"] : Json::object();
  f["spec.nodeName"] = spec.value("nodeName", "");
  f["spec.restartPolicy"] = spec.value("restartPolicy", "");
  f["spec.schedulerName"] = spec.value("schedulerName", "");
  f["spec.serviceAccountName"] = spec.value("serviceAccountName", "");
  f["spec.hostNetwork"] = spec.value("hostNetwork", false) ? "true" : "false";
  f["status.phase"] = status.value("phase", "");
  f["status.podIP"] = status.value("podIP", "");
  f["status.nominatedNodeName"] = status.value("nominatedNodeName", "");
}

// The Event fields kube-apiserver selects on: `kubectl describe` finds an object's events by
// involvedObject.{name,namespace,kind,uid}.
constexpr std::string_view kEventFieldNames[] = {"involvedObject.kind",
                                                 "involvedObject.namespace",
                                                 "involvedObject.name",
                                                 "involvedObject.uid",
                                                 "involvedObject.apiVersion",
                                                 "involvedObject.resourceVersion",
                                                 "involvedObject.fieldPath",
                                                 "reason",
                                                 "reportingComponent",
                                                 "source",
                                                 "type"};

void add_event_fields(const Json& event, api::StringMap& f) {
  const Json& ref = event.contains("involvedObject") && event["involvedObject"].is_object() ? event["involvedObject"] : Json::object();
  for (const char* k : {"kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"})
    f[std::string("involvedObject.") + k] = ref.value(k, "");
  f["reason"] = event.value("reason", "");
  f["reportingComponent"] = event.value("reportingComponent", "");
  const Json& source = event.contains("source") && event["source"].is_object() ? event["source"] : Json::object();
  f["source"] = source.value("component", "");
  f["type"] = event.value("type", "");
}

struct Filters {
  api::LabelSelector labels;
  api::FieldSelector fields;
  bool namespaced;
  bool pods;
  bool events = false;
  // No selector: nothing to look at (a list of every pod would otherwise build each one's fields).
  bool everything() const { return labels.matches_everything() && fields.empty(); }
  bool matches(const Json& obj) const { return everything() || matches(selectable(obj)); }
  bool matches(const SelectableFields& s) const { return labels.matches(s.labels) && fields.matches(s.fields); }
  // Depends on the resource only (not on the selectors), so watchers of a resource can share it.
  SelectableFields selectable(const Json& obj) const {
    SelectableFields s;
    const Json& meta = obj["metadata"];
    if (meta.contains("labels"))
      for (auto it = meta["labels"].begin(); it != meta["labels"].end(); ++it) s.labels[it.key()] = it->get<std::string>();
    s.fields["metadata.name"] = meta.value("name", "");
    if (namespaced) s.fields["metadata.namespace"] = meta.value("namespace", "");
    if (pods) add_pod_fields(obj, s.fields);
    if (events) add_event_fields(obj, s.fields);
    return s;
  }
};

ApiResult<Filters> make_filters(const ResourceInfo& r, const ListOptions& o) {
  const bool pods = r.group.empty() && r.kind == "Pod";
  const bool events = r.group.empty() && r.kind == "Event";
  Filters f{{}, {}, r.namespaced, pods, events};
  auto l = api::LabelSelector::parse(o.label_selector);
  if (!l) return std::unexpected(bad_request(fmt::format("unable to parse requirement: {}", l.error().message)));
  f.labels = *l;
  std::vector<std::string_view> supported{"metadata.name"};
  if (r.namespaced) supported.push_back("metadata.namespace");
  if (pods) supported.insert(supported.end(), std::begin(kPodFieldNames), std::end(kPodFieldNames));
  if (events) supported.insert(supported.end(), std::begin(kEventFieldNames), std::end(kEventFieldNames));
  auto fs = api::FieldSelector::parse(o.field_selector, supported);
  if (!fs) return std::unexpected(bad_request(fs.error().message));
  f.fields = *fs;
  return f;
}

// Continue tokens: the revision the first page was read at and the last key returned.
std::string encode_continue(store::Revision rev, const std::string& last_key) { return fmt::format("{}/{}", rev, last_key); }

}  // namespace

ApiResult<Json> ObjectRegistry::list(const ResourceInfo& r, const std::string& ns, const ListOptions& o) {
  if (is_events_v1(r)) {
    ListOptions core_options = o;
    core_options.field_selector = event_field_selector_from_v1(o.field_selector);
    auto core = list(core_events_resource(), ns, core_options);
    if (!core) return core;
    (*core)["apiVersion"] = r.api_version();
    for (auto& item : (*core)["items"]) item = event_to_v1(item);
    return core;
  }
  if (r.group.empty() && r.kind == "Event") expire_events();
  auto filters = make_filters(r, o);
  if (!filters) return std::unexpected(filters.error());
  Json list = {{"kind", r.kind + "List"}, {"apiVersion", r.api_version()}, {"metadata", Json::object()}, {"items", Json::array()}};
  if (r.read_only_list) {
    list["metadata"]["resourceVersion"] = std::to_string(current_revision());
    return list;
  }
  store::Revision at = 0;
  std::string after;
  if (!o.continue_token.empty()) {
    auto slash = o.continue_token.find('/');
    if (slash == std::string::npos) return std::unexpected(bad_request("continue key is not valid: malformed token"));
    at = std::strtoll(o.continue_token.substr(0, slash).c_str(), nullptr, 10);
    after = o.continue_token.substr(slash + 1);
  } else if (!o.resource_version.empty() && o.resource_version != "0") {
    at = std::strtoll(o.resource_version.c_str(), nullptr, 10);
    if (at <= 0) return std::unexpected(bad_request(fmt::format("invalid resource version: {}", o.resource_version)));
  }
  const std::string prefix = storage_prefix(r, ns);
  std::size_t wanted = o.limit;
  store::Revision read_at = at;
  while (true) {
    auto page = store_.list(prefix, wanted ? std::max<std::size_t>(wanted, 50) : 0, after, read_at);
    if (!page) {
      if (page.error().code == store::StoreErrorCode::Compacted)
        return std::unexpected(
            gone(fmt::format("The provided continue parameter is too old to display a consistent list result. "
                             "You can start a new list without the continue parameter, or use the continue token "
                             "in this response to retrieve the remainder of the results.")));
      return std::unexpected(store_failure(page.error()));
    }
    read_at = page->revision;
    for (const auto& kv : page->items) {
      Json obj = with_version(Json::parse(kv.value), kv.mod_revision);
      after = kv.key;
      if (!filters->matches(obj)) continue;
      list["items"].push_back(std::move(obj));
      if (wanted && list["items"].size() == wanted) {
        const bool more = page->more || &kv != &page->items.back();
        if (more) list["metadata"]["continue"] = encode_continue(read_at, after);
        list["metadata"]["resourceVersion"] = std::to_string(read_at);
        return list;
      }
    }
    if (!page->more) break;
  }
  list["metadata"]["resourceVersion"] = std::to_string(read_at);
  return list;
}

ApiResult<Json> ObjectRegistry::update(const ResourceInfo& r, const std::string& ns, const std::string& name, const Json& body,
                                       bool status_only, FieldValidation fv, std::vector<std::string>& warnings, bool dry_run) {
  if (is_events_v1(r)) {
    auto core = core_event_body(body, fv, warnings);
    if (!core) return std::unexpected(core.error());
    return as_events_v1(update(core_events_resource(), ns, name, *core, UpdateMode::Main, fv, warnings, dry_run));
  }
  return update(r, ns, name, body, status_only ? UpdateMode::Status : UpdateMode::Main, fv, warnings, dry_run);
}

ApiResult<Json> ObjectRegistry::update(const ResourceInfo& r, const std::string& ns, const std::string& name, const Json& body,
                                       UpdateMode mode, FieldValidation fv, std::vector<std::string>& warnings, bool dry_run) {
  const bool status_only = mode == UpdateMode::Status;
  const std::string key = storage_key(r, ns, name);
  store::Revision mod = 0;
  bool stale = false;
  auto old = read_object(r, key, true, name, &mod, &stale);
  if (!old) return old;
  api::Object obj;
  if (auto a = admit(r, body, fv, warnings, obj); !a) return std::unexpected(a.error());
  api::ObjectMeta& m = api::meta_of(obj);
  if (m.name.empty()) m.name = name;
  if (m.name != name)
    return std::unexpected(bad_request(fmt::format("the name of the object ({}) does not match the name on the URL ({})", m.name, name)));
  if (r.namespaced && m.namespace_.empty()) m.namespace_ = ns;
  if (r.namespaced && m.namespace_ != ns)
    return std::unexpected(bad_request("the namespace of the provided object does not match the namespace sent on the request"));
  if (!m.resource_version.empty() && m.resource_version != std::to_string(mod)) return std::unexpected(conflict(r.group, r.plural, name));
  auto old_obj = api::decode_object(*old);
  if (!old_obj) return std::unexpected(internal_error(old_obj.error().message));
  const api::ObjectMeta& om = api::meta_of(old_obj->object);
  m.uid = om.uid;
  m.creation_timestamp = om.creation_timestamp;
  m.deletion_timestamp = om.deletion_timestamp;  // an update cannot clear or move a deletion
  m.deletion_grace_period_seconds = om.deletion_grace_period_seconds;
  m.generation = om.generation;
  if (auto* ns_obj = std::get_if<api::Namespace>(&obj); ns_obj && !status_only) {
    // spec.finalizers changes only through the finalize subresource, which changes nothing else.
    const auto& old_ns = std::get<api::Namespace>(old_obj->object);
    if (mode == UpdateMode::Main) {
      ns_obj->spec_finalizers = old_ns.spec_finalizers;
    } else {
      auto finalizers = std::move(ns_obj->spec_finalizers);
      *ns_obj = old_ns;
      ns_obj->spec_finalizers = std::move(finalizers);
    }
  }
  if (has_status_subresource(r)) {
    // The main resource cannot change status, and the status subresource only changes status.
    Json merged = api::encode_object(obj);
    Json base = *old;
    if (status_only) {
      base["status"] = merged.value("status", Json::object());
      merged = base;
    } else {
      merged["status"] = base.value("status", Json::object());
    }
    merged["metadata"]["resourceVersion"] = std::to_string(mod);
    auto re = api::decode_object(merged);
    if (!re) return std::unexpected(internal_error(re.error().message));
    obj = std::move(re->object);
    if (status_only) api::meta_of(obj) = om;
  }
  if (!status_only)
    if (auto admitted = run_admission(*this, r, obj, &old_obj->object); !admitted) return std::unexpected(admitted.error());
  if (auto* svc = std::get_if<api::Service>(&obj); svc && !status_only)
    prepare_service_update(std::get<api::Service>(old_obj->object), *svc);
  api::apply_defaults(obj, net_);
  auto allocation = allocate(r, &old_obj->object, obj);
  if (!allocation) return std::unexpected(allocation.error());
  auto errors = api::validate(obj, net_);
  if (!status_only) {
    auto update_errors = api::validate_update(obj, old_obj->object);
    errors.insert(errors.end(), update_errors.begin(), update_errors.end());
  }
  if (!errors.empty()) return std::unexpected(invalid(r.group, r.kind, name, errors));
  Json stored = api::encode_object(obj);
  stored["metadata"].erase("resourceVersion");
  Json old_cmp = *old;
  old_cmp["metadata"].erase("resourceVersion");
  if (stored.value("spec", Json()) != old_cmp.value("spec", Json())) stored["metadata"]["generation"] = om.generation + 1;
  // No-op updates do not bump the resourceVersion, unless the stored value is stale: an update
  // is how a value moves to the current encryption key.
  if (stored == old_cmp && !stale) return *old;
  if (dry_run) {
    if (*allocation) finish_allocation(**allocation, false);
    return with_version(stored, mod);
  }
  auto rev = store_.update(key, stored.dump(), mod);
  if (*allocation) finish_allocation(**allocation, rev.has_value());
  if (!rev) {
    if (rev.error().code == store::StoreErrorCode::Conflict) return std::unexpected(conflict(r.group, r.plural, name));
    if (rev.error().code == store::StoreErrorCode::NotFound) return std::unexpected(not_found(r.group_resource(), name));
    return std::unexpected(store_failure(rev.error()));
  }
  // An object being deleted goes once its last finalizer is removed, unless its grace period
  // is still running (a terminating Pod whose kubelet writes its status).
  // A namespace also waits for its spec.finalizers (the namespace controller's `kubernetes`).
  if (stored["metadata"].contains("deletionTimestamp") && stored["metadata"].value("finalizers", Json::array()).empty() &&
      stored["metadata"].value("deletionGracePeriodSeconds", std::int64_t{0}) == 0 &&
      (r.kind != "Namespace" || stored["spec"].value("finalizers", Json::array()).empty()))
    return remove(r, ns, name);
  return with_version(stored, *rev);
}

ApiResult<Json> ObjectRegistry::remove(const ResourceInfo& r, const std::string& ns, const std::string& name,
                                       const std::string& precondition_uid, std::optional<std::int64_t> grace_period_seconds) {
  return remove(r, ns, name, DeleteOptions{precondition_uid, grace_period_seconds, std::nullopt});
}

ApiResult<Json> ObjectRegistry::write_back(const ResourceInfo& r, const std::string& key, const std::string& name, Json stored,
                                           store::Revision mod) {
  stored["metadata"].erase("resourceVersion");
  auto rev = store_.update(key, stored.dump(), mod);
  if (!rev) {
    if (rev.error().code == store::StoreErrorCode::NotFound) return std::unexpected(not_found(r.group_resource(), name));
    return std::unexpected(rev.error().code == store::StoreErrorCode::Conflict ? conflict(r.group, r.plural, name)
                                                                               : store_failure(rev.error()));
  }
  return with_version(stored, *rev);
}

ApiResult<Json> ObjectRegistry::remove(const ResourceInfo& r, const std::string& ns, const std::string& name,
                                       const DeleteOptions& options) {
  if (is_events_v1(r)) return as_events_v1(remove(core_events_resource(), ns, name, options));
  const std::string key = storage_key(r, ns, name);
  store::Revision mod = 0;
  auto old = read_object(r, key, true, name, &mod);
  if (!old) return old;
  Json meta = (*old)["metadata"];
  const std::string uid = meta.value("uid", "");
  if (!options.precondition_uid.empty() && options.precondition_uid != uid) return std::unexpected(conflict(r.group, r.plural, name));
  if (options.dry_run) return *old;  // it exists and the preconditions hold: nothing is written
  if (r.group.empty() && r.kind == "Namespace") return remove_namespace(r, name, *old, mod, options);
  // As the generic registry: a deletion whose grace period is still running cannot change the
  // GC finalizers; otherwise the propagation policy sets them, and an object that keeps any
  // finalizer stays, marked, until they are all removed (by the garbage collector for its own).
  auto finalizers = meta.value("finalizers", std::vector<std::string>{});
  const bool graceful_pending = meta.contains("deletionTimestamp") && meta.value("deletionGracePeriodSeconds", std::int64_t{0}) > 0;
  const bool gc_changed = !graceful_pending && apply_gc_finalizers(finalizers, options.propagation);
  Json object = *old;
  object["metadata"]["finalizers"] = finalizers;
  if (finalizers.empty()) object["metadata"].erase("finalizers");
  if (meta.contains("deletionTimestamp") && !graceful_pending) {
    // Already being deleted (finalizers held it): a new policy is written; without finalizers left it goes.
    if (!finalizers.empty()) return gc_changed ? write_back(r, key, name, object, mod) : *old;
  }
  const DeletionPlan plan = plan_deletion(r, object, options.grace_period_seconds, std::time(nullptr));
  if (plan.action == DeletionPlan::Action::Pending) return *old;
  if (plan.action == DeletionPlan::Action::Mark && (plan.grace_period_seconds > 0 || !finalizers.empty())) {
    // Kept, marked: the watchers (the Pod's kubelet, the garbage collector) see a MODIFIED event.
    if (!object["metadata"].contains("deletionTimestamp") && r.kind != "Pod" && object["metadata"].value("generation", std::int64_t{0}) > 0)
      object["metadata"]["generation"] = object["metadata"].value("generation", std::int64_t{0}) + 1;
    object["metadata"]["deletionTimestamp"] = plan.deletion_timestamp;
    object["metadata"]["deletionGracePeriodSeconds"] = plan.grace_period_seconds;
    return write_back(r, key, name, object, mod);
  }
  auto gone_kv = store_.remove(key, mod);
  if (!gone_kv) {
    if (gone_kv.error().code == store::StoreErrorCode::NotFound) return std::unexpected(not_found(r.group_resource(), name));
    if (gone_kv.error().code == store::StoreErrorCode::Conflict) return std::unexpected(conflict(r.group, r.plural, name));
    return std::unexpected(store_failure(gone_kv.error()));
  }
  if (allocators_ && r.kind == "Service")
    if (auto svc = api::decode_object(*old); svc)
      if (auto released = release_service(*allocators_, std::get<api::Service>(svc->object)); !released)
        spdlog::warn("event=allocation_release_failed service={}/{} error=\"{}\" repair=\"the allocation repair loop releases it\"", ns,
                     name, released.error().message);
  // What it owned is the garbage collector's: it sees this deletion and collects the dependents.
  return success_status(r.group, r.plural, name, uid);
}

namespace {

class StoreWatchStream : public WatchStream {
 public:
  explicit StoreWatchStream(store::Store& s) : store(s) {}
  store::Revision progress() const override {
    // Without a store watch (a list that is always empty) nothing can be missed.
    return watch ? watch->progress() : store.current_revision().value_or(0);
  }
  store::Store& store;
  std::unique_ptr<store::Watch> watch;
};

}  // namespace

ApiResult<std::unique_ptr<WatchStream>> ObjectRegistry::watch(const ResourceInfo& r, const std::string& ns, const ListOptions& o,
                                                              std::function<void(const WatchEvent&)> sink) {
  if (is_events_v1(r)) {
    ListOptions core_options = o;
    core_options.field_selector = event_field_selector_from_v1(o.field_selector);
    return watch(core_events_resource(), ns, core_options, [sink](const WatchEvent& e) {
      // The core Event's shared encoding does not fit this version: the converted object is sent.
      sink({e.type, e.type == "ERROR" ? e.object_ref() : event_or_status_to_v1(e.object_ref())});
    });
  }
  auto filters = make_filters(r, o);
  if (!filters) return std::unexpected(filters.error());
  store::Revision from = 0;
  if (o.resource_version.empty() || o.resource_version == "0") {
    // Start with the current state as ADDED events, then follow from that revision.
    ListOptions all = o;
    all.limit = 0;
    all.continue_token.clear();
    all.resource_version.clear();
    auto current = list(r, ns, all);
    if (!current) return std::unexpected(current.error());
    for (auto& item : (*current)["items"]) sink({"ADDED", item});
    from = std::strtoll((*current)["metadata"]["resourceVersion"].get<std::string>().c_str(), nullptr, 10);
  } else {
    from = std::strtoll(o.resource_version.c_str(), nullptr, 10);
  }
  auto stream = std::make_unique<StoreWatchStream>(store_);
  if (r.read_only_list) return std::unique_ptr<WatchStream>(std::move(stream));
  const Filters f = *filters;
  // Without selectors every event is sent as it is: neither the object nor its previous state
  // needs to be looked at, and the encoding is shared with the other watchers.
  const bool everything = f.everything();
  auto w =
      store_.watch(storage_prefix(r, ns), from, [sink, f, everything, cache = watch_cache_](const store::StoreResult<store::Event>& ev) {
        if (!ev) {
          const auto err =
              ev.error().code == store::StoreErrorCode::Compacted ? gone(ev.error().message) : internal_error(ev.error().message);
          sink({"ERROR", err.status});
          return;
        }
        const auto& key = ev->kv.key;
        const store::Revision revision = ev->kv.mod_revision;
        if (ev->type == store::Event::Type::Delete) {
          if (!ev->prev_kv) return;
          auto obj = cache->get(key, ev->prev_kv->value, revision);
          if (everything || f.matches(*cache->selectable(key, revision, false, [&] { return f.selectable(obj->object); })))
            sink({"DELETED", nullptr, std::move(obj)});
          return;
        }
        auto obj = cache->get(key, ev->kv.value, revision);
        const bool now = everything || f.matches(*cache->selectable(key, revision, false, [&] { return f.selectable(obj->object); }));
        // The previous state is parsed once per event for all the watchers with selectors.
        const bool before = ev->prev_kv && (everything || f.matches(*cache->selectable(key, revision, true, [&] {
                              return f.selectable(Json::parse(ev->prev_kv->value));
                            })));
        if (now && before)
          sink({"MODIFIED", nullptr, std::move(obj)});
        else if (now)
          sink({"ADDED", nullptr, std::move(obj)});  // matches now, did not before (or is new)
        else if (before)
          sink({"DELETED", nullptr, std::move(obj)});
      });
  if (!w) {
    if (w.error().code == store::StoreErrorCode::Compacted)
      return std::unexpected(gone(fmt::format("too old resource version: {} ({})", from, store_.compacted_revision().value_or(0))));
    return std::unexpected(store_failure(w.error()));
  }
  stream->watch = std::move(*w);
  return std::unique_ptr<WatchStream>(std::move(stream));
}

}  // namespace switchyard::apiserver
