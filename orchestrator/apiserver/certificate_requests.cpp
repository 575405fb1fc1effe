#include "orchestrator/apiserver/certificate_requests.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "orchestrator/api/field_error.h"
#include "orchestrator/api/names.h"
#include "orchestrator/api/protobuf_values.h"
#include "orchestrator/apiserver/admission.h"

namespace switchyard::apiserver {

namespace {

using api::FieldErrors;
using api::FieldPath;

const ResourceInfo& csr_resource() { return *find_resource("certificates.k8s.io", "v1", "certificatesigningrequests"); }

std::string str(const Json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
}

// KeyUsage values upstream accepts.
constexpr std::string_view kUsages[] = {"signing",
                                        "digital signature",
                                        "content commitment",
                                        "key encipherment",
                                        "key agreement",
                                        "data encipherment",
                                        "cert sign",
                                        "crl sign",
                                        "encipher only",
                                        "decipher only",
                                        "any",
                                        "server auth",
                                        "client auth",
                                        "code signing",
                                        "email protection",
                                        "s/mime",
                                        "ipsec end system",
                                        "ipsec tunnel",
                                        "ipsec user",
                                        "timestamping",
                                        "ocsp signing",
                                        "microsoft sgc",
                                        "netscape sgc"};

// signerName: a DNS subdomain, a slash, a path (ValidateSignerName).
void validate_signer_name(const FieldPath& p, const std::string& name, FieldErrors& errors) {
  if (name.empty()) {
    errors.push_back(api::required(p, ""));
    return;
  }
  const auto slash = name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == name.size() || name.find('/', slash + 1) != std::string::npos) {
    errors.push_back(
        api::invalid(p, api::go_quoted(name), "must be a fully qualified domain and path of the form 'example.com/signer-name'"));
    return;
  }
  if (!api::name_is_dns1123_subdomain(name.substr(0, slash), false).empty())
    errors.push_back(api::invalid(p, api::go_quoted(name), "should be a domain with at least two segments separated by dots"));
}

void validate_spec(const Json& spec, FieldErrors& errors) {
  const FieldPath sp("spec");
  const std::string request = str(spec, "request");
  std::string pem;
  if (request.empty())
    errors.push_back(api::required(sp.child("request"), ""));
  else if (!api::protobuf::values::base64_decode(request, pem))
    errors.push_back(api::invalid(sp.child("request"), "\"<request>\"", "must be base64"));
  else if (auto parsed = parse_certificate_request(pem); !parsed)
    errors.push_back(api::invalid(sp.child("request"), "\"<request>\"", parsed.error().message));
  validate_signer_name(sp.child("signerName"), str(spec, "signerName"), errors);
  const Json usages = spec.value("usages", Json::array());
  if (!usages.is_array() || usages.empty()) errors.push_back(api::required(sp.child("usages"), ""));
  std::set<std::string> seen;
  if (usages.is_array())
    for (std::size_t i = 0; i < usages.size(); ++i) {
      const std::string u = usages[i].is_string() ? usages[i].get<std::string>() : "";
      if (std::find(std::begin(kUsages), std::end(kUsages), u) == std::end(kUsages))
        errors.push_back(api::not_supported(sp.child("usages").index(i), api::go_quoted(u), {std::begin(kUsages), std::end(kUsages)}));
      else if (!seen.insert(u).second)
        errors.push_back(api::duplicate(sp.child("usages").index(i), api::go_quoted(u)));
    }
  if (spec.contains("expirationSeconds") && !spec["expirationSeconds"].is_null()) {
    const auto e = spec["expirationSeconds"].is_number_integer() ? spec["expirationSeconds"].get<std::int64_t>() : 0;
    if (e < 600)
      errors.push_back(
          api::invalid(sp.child("expirationSeconds"), api::rendered(e), "may not specify a duration less than 600 seconds (10 minutes)"));
  }
}

void validate_status(const Json& status, const Json& old_status, FieldErrors& errors) {
  const FieldPath st("status");
  const Json conditions = status.value("conditions", Json::array());
  bool approved = false, denied = false;
  if (conditions.is_array())
    for (std::size_t i = 0; i < conditions.size(); ++i) {
      const Json& c = conditions[i];
      const std::string type = str(c, "type"), state = str(c, "status");
      if (type.empty()) errors.push_back(api::required(st.child("conditions").index(i).child("type"), ""));
      if (state.empty())
        errors.push_back(api::required(st.child("conditions").index(i).child("status"), ""));
      else if (state != "True" && state != "False" && state != "Unknown")
        errors.push_back(
            api::not_supported(st.child("conditions").index(i).child("status"), api::go_quoted(state), {"False", "True", "Unknown"}));
      if (type == "Approved") {
        if (approved) errors.push_back(api::duplicate(st.child("conditions").index(i).child("type"), api::go_quoted(type)));
        approved = true;
        if (denied)
          errors.push_back(
              api::invalid(st.child("conditions"), api::go_quoted(type), "Approved and Denied conditions are mutually exclusive"));
      }
      if (type == "Denied") {
        if (denied) errors.push_back(api::duplicate(st.child("conditions").index(i).child("type"), api::go_quoted(type)));
        denied = true;
        if (approved)
          errors.push_back(
              api::invalid(st.child("conditions"), api::go_quoted(type), "Approved and Denied conditions are mutually exclusive"));
      }
    }
  // An approval or denial, once given, stays.
  for (const char* kept : {"Approved", "Denied"})
    if (csr_has_condition(Json{{"status", old_status}}, kept) && !csr_has_condition(Json{{"status", status}}, kept))
      errors.push_back(api::forbidden(st.child("conditions"), fmt::format("updates may not remove a condition of type \"{}\"", kept)));
  const std::string cert = str(status, "certificate");
  if (!cert.empty()) {
    std::string pem;
    if (!api::protobuf::values::base64_decode(cert, pem) || pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
      errors.push_back(api::invalid(st.child("certificate"), "\"<certificate data>\"", "must contain at least one CERTIFICATE PEM block"));
    else if (!approved)
      errors.push_back(api::forbidden(st.child("certificate"), "certificate can only be set on an approved request"));
    const std::string old_cert = str(old_status, "certificate");
    if (!old_cert.empty() && old_cert != cert)
      errors.push_back(api::forbidden(st.child("certificate"), "updates may not modify existing certificate content"));
  }
}

// Conditions without their times get them now (as the registry's strategy fills them).
Json stamp_conditions(Json conditions, const Json& old_conditions, const std::string& now) {
  if (!conditions.is_array()) return Json::array();
  for (auto& c : conditions) {
    if (!c.is_object()) continue;
    if (str(c, "lastUpdateTime").empty()) c["lastUpdateTime"] = now;
    if (str(c, "lastTransitionTime").empty()) {
      std::string since = now;
      if (old_conditions.is_array())
        for (const auto& o : old_conditions)
          if (str(o, "type") == str(c, "type") && str(o, "status") == str(c, "status") && !str(o, "lastTransitionTime").empty())
            since = str(o, "lastTransitionTime");
      c["lastTransitionTime"] = since;
    }
  }
  return conditions;
}

Json with_version(Json obj, store::Revision rev) {
  obj["metadata"]["resourceVersion"] = std::to_string(rev);
  return obj;
}

}  // namespace

std::string csr_request_pem(const Json& csr) {
  std::string pem;
  if (!api::protobuf::values::base64_decode(str(csr.value("spec", Json::object()), "request"), pem)) return {};
  return pem;
}

bool csr_has_condition(const Json& csr, std::string_view type) {
  const Json status = csr.is_object() ? csr.value("status", Json::object()) : Json::object();
  const Json conditions = status.is_object() ? status.value("conditions", Json::array()) : Json::array();
  if (!conditions.is_array()) return false;
  for (const auto& c : conditions)
    if (str(c, "type") == type && str(c, "status") == "True") return true;
  return false;
}

ApiResult<Json> CertificateRequests::create(const Json& body, const UserInfo& requester, bool dry_run) {
  const ResourceInfo& r = csr_resource();
  if (!body.is_object()) return std::unexpected(bad_request("the body must be a CertificateSigningRequest object"));
  if (str(body, "kind") != "" && str(body, "kind") != r.kind)
    return std::unexpected(bad_request(fmt::format("the kind \"{}\" does not match CertificateSigningRequest", str(body, "kind"))));
  Json obj = body;
  obj["apiVersion"] = r.api_version();
  obj["kind"] = r.kind;
  Json& meta = obj["metadata"];
  if (!meta.is_object()) meta = Json::object();
  std::string name = str(meta, "name");
  FieldErrors errors;
  if (name.empty() && !str(meta, "generateName").empty()) name = str(meta, "generateName") + random_name_suffix(5);
  if (name.empty())
    errors.push_back(api::required(FieldPath("metadata").child("name"), "name or generateName is required"));
  else if (auto problems = api::name_is_dns1123_subdomain(name, false); !problems.empty())
    errors.push_back(api::invalid(FieldPath("metadata").child("name"), api::go_quoted(name), problems.front()));
  meta["name"] = name;
  meta.erase("namespace");
  meta.erase("resourceVersion");
  meta.erase("deletionTimestamp");
  meta["uid"] = new_uid();
  meta["creationTimestamp"] = now_rfc3339();
  // The requester is who sent it, whatever the body says (the registry's PrepareForCreate).
  Json& spec = obj["spec"];
  if (!spec.is_object()) spec = Json::object();
  spec["username"] = requester.name;
  if (!requester.uid.empty())
    spec["uid"] = requester.uid;
  else
    spec.erase("uid");
  spec["groups"] = requester.groups;
  spec.erase("extra");
  obj.erase("status");
  validate_spec(spec, errors);
  if (!errors.empty()) return std::unexpected(invalid(r.group, r.kind, name, errors));
  // The certificatesubjectrestriction admission plugin: no client certificate for system:masters.
  if (str(spec, "signerName") == kApiserverClientSigner) {
    std::string pem;
    if (api::protobuf::values::base64_decode(str(spec, "request"), pem))
      if (auto info = parse_certificate_request(pem); info)
        for (const auto& o : info->organizations)
          if (o == "system:masters")
            return std::unexpected(
                status_error(403, "Forbidden",
                             fmt::format("{} \"{}\" is forbidden: use of {} signer with system:masters group is not allowed",
                                         r.group_resource(), name, kApiserverClientSigner)));
  }
  if (dry_run) return obj;
  auto rev = registry_.backing_store().create(storage_key(r, "", name), obj.dump());
  if (!rev) {
    if (rev.error().code == store::StoreErrorCode::AlreadyExists) return std::unexpected(already_exists(r.group, r.plural, name));
    return std::unexpected(internal_error(rev.error().message));
  }
  return with_version(std::move(obj), *rev);
}

ApiResult<Json> CertificateRequests::update(const std::string& name, const Json& body, std::string_view subresource, bool dry_run) {
  const ResourceInfo& r = csr_resource();
  if (!body.is_object()) return std::unexpected(bad_request("the body must be a CertificateSigningRequest object"));
  const std::string key = storage_key(r, "", name);
  auto kv = registry_.backing_store().get(key);
  if (!kv) return std::unexpected(internal_error(kv.error().message));
  if (!*kv) return std::unexpected(not_found(r.group_resource(), name));
  const Json old = Json::parse((*kv)->value);
  const Json body_meta = body.value("metadata", Json::object());
  const std::string rv = str(body_meta, "resourceVersion");
  if (!rv.empty() && rv != std::to_string((*kv)->mod_revision)) return std::unexpected(conflict(r.group, r.plural, name));
  if (!str(body_meta, "name").empty() && str(body_meta, "name") != name)
    return std::unexpected(bad_request("the name of the object does not match the name on the URL"));
  Json obj = old;
  const Json old_status = old.value("status", Json::object());
  const Json new_status = body.value("status", Json::object());
  if (subresource.empty()) {
    // Metadata only: spec and status stay as they are.
    for (const char* k : {"labels", "annotations", "finalizers", "ownerReferences"}) {
      if (body_meta.contains(k))
        obj["metadata"][k] = body_meta[k];
      else
        obj["metadata"].erase(k);
    }
  } else if (subresource == "approval") {
    obj["status"] = old_status;
    obj["status"]["conditions"] =
        stamp_conditions(new_status.value("conditions", Json::array()), old_status.value("conditions", Json::array()), now_rfc3339());
  } else if (subresource == "status") {
    obj["status"] = old_status;
    if (new_status.contains("certificate")) obj["status"]["certificate"] = new_status["certificate"];
    // Approval and denial are /approval's: the conditions of those types stay as they were.
    Json conditions = Json::array();
    for (const auto& c : old_status.value("conditions", Json::array()))
      if (str(c, "type") == "Approved" || str(c, "type") == "Denied") conditions.push_back(c);
    for (const auto& c : new_status.value("conditions", Json::array()))
      if (str(c, "type") != "Approved" && str(c, "type") != "Denied") conditions.push_back(c);
    obj["status"]["conditions"] = stamp_conditions(conditions, old_status.value("conditions", Json::array()), now_rfc3339());
  } else {
    return std::unexpected(not_found_path());
  }
  if (obj["status"].is_object() && obj["status"].contains("conditions") && obj["status"]["conditions"].empty())
    obj["status"].erase("conditions");
  FieldErrors errors;
  validate_status(obj.value("status", Json::object()), old_status, errors);
  if (!errors.empty()) return std::unexpected(invalid(r.group, r.kind, name, errors));
  if (obj == old) return with_version(std::move(obj), (*kv)->mod_revision);
  if (dry_run) return with_version(std::move(obj), (*kv)->mod_revision);
  obj["metadata"].erase("resourceVersion");
  auto rev = registry_.backing_store().update(key, obj.dump(), (*kv)->mod_revision);
  if (!rev) {
    if (rev.error().code == store::StoreErrorCode::NotFound) return std::unexpected(not_found(r.group_resource(), name));
    if (rev.error().code == store::StoreErrorCode::Conflict) return std::unexpected(conflict(r.group, r.plural, name));
    return std::unexpected(internal_error(rev.error().message));
  }
  return with_version(std::move(obj), *rev);
}

}  // namespace switchyard::apiserver
