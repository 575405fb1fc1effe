#include "orchestrator/apiserver/api_handler.h"
#include "orchestrator/apiserver/certificate_requests.h"
#include "orchestrator/apiserver/node_restriction.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "orchestrator/api/manifest.h"
#include "orchestrator/api/protobuf_codec.h"
#include "orchestrator/apiserver/content_negotiation.h"
#include "orchestrator/apiserver/delete_options.h"
#include "orchestrator/apiserver/patch.h"
#include "orchestrator/apiserver/pod_binding.h"
#include "orchestrator/apiserver/pod_eviction.h"
#include "orchestrator/apiserver/query_params.h"
#include "orchestrator/apiserver/server_side_apply.h"
#include "orchestrator/apiserver/update_managers.h"

namespace switchyard::apiserver {

namespace {

constexpr std::size_t kMaxBody = kMaxRequestBodyBytes;

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  while (!p.empty()) {
    if (p[0] == '/') {
      p.remove_prefix(1);
      continue;
    }
    auto slash = p.find('/');
    out.emplace_back(p.substr(0, slash));
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash);
  }
  return out;
}

// The answer as a document: handle() serializes it in the type the client negotiated.
HttpResponse json_response(int code, Json body) { return {code, "application/json", {}, {}, std::move(body)}; }
HttpResponse error_response(const ApiError& e) { return json_response(e.code, e.status); }

// Where a resource path points.
struct Route {
  const ResourceInfo* resource = nullptr;
  std::string ns, name, subresource;
};

// /api/v1/..., /apis/GROUP/VERSION/...: [namespaces/NS/]PLURAL[/NAME[/SUB]]
std::optional<Route> route(const std::vector<std::string>& seg, std::size_t at, const std::string& group, const std::string& version) {
  Route r;
  std::vector<std::string> rest(seg.begin() + static_cast<long>(at), seg.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    const ResourceInfo* inner = find_resource(group, version, rest[2]);
    if (inner && inner->namespaced) {
      r.resource = inner;
      r.ns = rest[1];
      if (rest.size() >= 4) r.name = rest[3];
      if (rest.size() >= 5) r.subresource = rest[4];
      if (rest.size() > 5) return std::nullopt;
      return r;
    }
  }
  if (rest.empty()) return std::nullopt;
  r.resource = find_resource(group, version, rest[0]);
  if (!r.resource) return std::nullopt;
  if (rest.size() >= 2) r.name = rest[1];
  if (rest.size() >= 3) r.subresource = rest[2];
  if (rest.size() > 3) return std::nullopt;
  return r;
}

// Every JSON body the server reads (objects, patches, delete options) goes through here: the
// nesting limit stops a deeply nested body before any recursive code (patching, decoding) sees it.
constexpr std::size_t kMaxJsonDepth = 200;

std::optional<Json> parse_json_body(std::string_view body, ApiError& err) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_structured()) {
    err = bad_request("the body of the request was not valid JSON");
    return std::nullopt;
  }
  if (api::json_depth(j) > kMaxJsonDepth) {
    err = bad_request("the body of the request is nested too deeply");
    return std::nullopt;
  }
  return j;
}

std::optional<Json> parse_body(const HttpRequest& req, ApiError& err) {
  if (req.body.size() > kMaxBody) {
    err = too_large();
    return std::nullopt;
  }
  const std::string ct = req.content_type.substr(0, req.content_type.find(';'));
  if (ct == "application/json" || ct.empty() || ct.ends_with("+json")) return parse_json_body(req.body, err);
  if (ct == api::protobuf::kMediaType) {
    // Transcoded to the JSON a JSON client would have sent: the same decoding and validation follow.
    auto object = api::protobuf::decode_object(req.body);
    if (!object) {
      err = bad_request("the body of the request was not a valid Kubernetes protobuf object: " + object.error().message);
      return std::nullopt;
    }
    return std::move(*object);
  }
  if (ct == "application/yaml") {
    auto docs = api::parse_documents(req.body);
    if (!docs || docs->size() != 1) {
      err = bad_request(docs ? "expected one YAML document" : docs.error().message);
      return std::nullopt;
    }
    return (*docs)[0];
  }
  err = unsupported_media_type(req.content_type);
  return std::nullopt;
}

FieldValidation field_validation(const std::map<std::string, std::string>& q) {
  auto it = q.find("fieldValidation");
  if (it == q.end() || it->second == "Warn") return FieldValidation::Warn;
  if (it->second == "Strict") return FieldValidation::Strict;
  return FieldValidation::Ignore;
}

}  // namespace

ApiHandler::ApiHandler(ObjectRegistry& registry, std::string admin_token)
    : registry_(registry), access_(registry, Authenticator(std::move(admin_token))) {}

static RequestCredentials credentials_of(const HttpRequest& req) {
  return {req.authorization, req.client_certificate_cn, &req.client_certificate_organizations};
}

void ApiHandler::enable_service_account_tokens(std::shared_ptr<ServiceAccountTokens> tokens) {
  service_account_tokens_ = tokens;
  access_.authenticator().add_token_authenticator([tokens](std::string_view token) { return tokens->authenticate(token); });
}

// kubeadm's discovery reads the cluster-info ConfigMap before it trusts the server, so without
// credentials: that one GET is anonymous (as an AuthenticationConfiguration whose anonymous
// authenticator is limited to a path); RBAC then decides (kubeadm's Role in kube-public).
static std::optional<UserInfo> anonymous_user(const HttpRequest& req) {
  if (req.method != "GET" || !req.authorization.empty() || !req.client_certificate_cn.empty()) return std::nullopt;
  const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  if (path != "/api/v1/namespaces/kube-public/configmaps/cluster-info") return std::nullopt;
  return UserInfo{"system:anonymous", "", {"system:unauthenticated"}};
}

bool ApiHandler::authorized(const HttpRequest& req) const {
  return access_.authenticate(credentials_of(req)).has_value() || anonymous_user(req).has_value();
}

ApiResult<UserInfo> ApiHandler::admit(const HttpRequest& req) const {
  auto user = access_.authenticate(credentials_of(req));
  if (!user) user = anonymous_user(req);
  if (!user) return std::unexpected(unauthorized());
  auto acting = access_.act_as(std::move(*user), req.impersonate);
  if (!acting) return acting;
  if (auto denied = access_.authorize(*acting, request_attributes(req.method, req.target))) return std::unexpected(*denied);
  return acting;
}

std::string ApiHandler::event_line(const WatchRequest& w, const WatchEvent& e) const {
  if (w.protobuf) {
    auto frame = api::protobuf::encode_watch_frame(e.type, e.object_ref());
    if (frame) return std::move(*frame);
    // Every served kind and Status has a protobuf form: this is a bug's symptom, said in-band.
    auto error = api::protobuf::encode_watch_frame("ERROR", internal_error(frame.error().message).status);
    return error ? std::move(*error) : std::string();
  }
  const bool table = w.as_table && e.type != "ERROR" && e.type != "BOOKMARK";
  // {"object":…,"type":…}: the keys in the order a Json object dumps them, the object's text
  // shared by every watcher of the event.
  std::string line = "{\"object\":";
  if (table)
    line += to_table(*w.resource, e.object_ref(), false).dump(-1, ' ', false, Json::error_handler_t::replace);
  else if (e.encoded)
    line += e.encoded->json;
  else
    line += e.object.dump(-1, ' ', false, Json::error_handler_t::replace);
  line += ",\"type\":";
  line += Json(e.type).dump();
  line += "}\n";
  return line;
}

HttpResponse ApiHandler::handle(const HttpRequest& req, std::optional<WatchRequest>& watch) {
  const AcceptedTypes accepted = parse_accept(req.accept);
  HttpResponse out = handle_request(req, accepted, watch);
  if (watch && out.code == 200) {
    watch->protobuf = accepted.first_is(MediaType::Protobuf);
    return out;
  }
  if (out.document.is_null()) return out;
  // A Table is JSON only; anything else goes out in the first accepted type that can carry it.
  const bool is_table = out.document.is_object() && out.document.value("kind", "") == "Table";
  EncodedBody body = encode_body(out.code, out.document, is_table ? AcceptedTypes{{MediaType::Json}, false} : accepted);
  out.code = body.code;
  out.content_type = std::move(body.content_type);
  out.body = std::move(body.body);
  out.document = nullptr;
  return out;
}

HttpResponse ApiHandler::handle_request(const HttpRequest& req, const AcceptedTypes& accepted, std::optional<WatchRequest>& watch) {
  const auto qpos = req.target.find('?');
  const std::string path = req.target.substr(0, qpos);
  const auto seg = split_path(path);

  if (path == "/healthz" || path == "/readyz" || path == "/livez") return {200, "text/plain", "ok", {}};
  auto user = admit(req);
  if (!user) return error_response(user.error());
  auto parsed_query = parse_query_string(qpos == std::string::npos ? "" : std::string_view(req.target).substr(qpos + 1));
  if (!parsed_query) return error_response(bad_request(parsed_query.error().message));
  const QueryParams& query = *parsed_query;
  auto writer = [&] {
    auto m = query.find("fieldManager");
    return FieldWriter{field_manager_of(m == query.end() ? "" : m->second, req.user_agent), now_rfc3339()};
  };
  if (path == "/version") return json_response(200, version_info());
  if (path == "/api") return json_response(200, api_versions());
  if (path == "/apis") return json_response(200, api_group_list());
  if (path == "/openapi/v3") return json_response(200, openapi_v3_index());
  if (path == "/openapi/v2") {
    if (req.accept.find("protobuf") != std::string::npos)
      return {200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", openapi_v2_protobuf(), {}};
    return json_response(200, openapi_v2_json());
  }
  if (seg.size() >= 3 && seg[0] == "openapi" && seg[1] == "v3") {
    Json doc = seg[2] == "api" && seg.size() == 4 ? openapi_v3_document("", seg[3])
               : seg.size() == 5                  ? openapi_v3_document(seg[3], seg[4])
                                                  : Json();
    return doc.is_null() ? error_response(not_found_path()) : json_response(200, doc);
  }

  std::string group, version;
  std::size_t at = 0;
  if (seg.size() >= 2 && seg[0] == "api") {
    version = seg[1];
    at = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    group = seg[1];
    version = seg[2];
    at = 3;
  } else if (seg.size() == 2 && seg[0] == "apis") {
    Json list = api_group_list();
    for (const auto& g : list["groups"])
      if (g["name"] == seg[1])
        return json_response(200, Json{{"kind", "APIGroup"},
                                       {"apiVersion", "v1"},
                                       {"name", g["name"]},
                                       {"versions", g["versions"]},
                                       {"preferredVersion", g["preferredVersion"]}});
    return error_response(not_found_path());
  } else {
    return error_response(not_found_path());
  }
  if (seg.size() == at) {
    Json list = api_resource_list(group, version);
    return list.is_null() ? error_response(not_found_path()) : json_response(200, list);
  }
  if (query.contains("dryRun") && seg.size() > at && (seg.back() == "binding" || seg.back() == "bindings"))
    return error_response(bad_request("dryRun is not supported for pods/binding"));
  if (auto binding = handle_pod_binding(registry_, req, seg, at, group, version)) return std::move(*binding);
  auto r = route(seg, at, group, version);
  if (!r) return error_response(not_found_path());
  const ResourceInfo& res = *r->resource;
  if (!r->subresource.empty() && std::find(res.subresources.begin(), res.subresources.end(), r->subresource) == res.subresources.end())
    return error_response(not_found_path());
  // dryRun=All on a write (DELETE also reads it from its DeleteOptions body). Where it is not
  // implemented it is refused: a dry run must never write.
  ApiError dry_run_error;
  const auto dry_run_flag = read_dry_run(query, Json(), dry_run_error);
  if (!dry_run_flag) return error_response(dry_run_error);
  const bool dry_run = *dry_run_flag;
  // NodeRestriction: a kubelet changes only its own Node and the pods bound to it.
  if (req.method != "GET" && node_identity(*user)) {
    Json object;
    if (req.method == "POST" && !req.body.empty()) {
      ApiError ignored;
      if (auto parsed = parse_body(req, ignored)) object = std::move(*parsed);
    }
    if (auto refused = node_restriction(registry_, *user, request_attributes(req.method, req.target), object))
      return error_response(*refused);
  }
  if (dry_run && (r->subresource == "eviction" || r->subresource == "token" || r->subresource == "finalize"))
    return error_response(bad_request(fmt::format("dryRun is not supported for {}/{}", res.plural, r->subresource)));
  if (r->subresource == "scale") return handle_scale(req, res, r->ns, r->name, dry_run);
  if (r->subresource == "eviction") {
    if (req.method != "POST") return error_response(method_not_allowed());
    ApiError err;
    auto body = parse_body(req, err);
    if (!body) return error_response(err);
    auto evicted = evict_pod(registry_, r->ns, r->name, *body);
    return evicted ? json_response(201, *evicted) : error_response(evicted.error());
  }
  if (r->subresource == "token") {
    if (req.method != "POST") return error_response(method_not_allowed());
    if (!service_account_tokens_) return error_response(not_found_path());
    ApiError err;
    auto body = parse_body(req, err);
    if (!body) return error_response(err);
    auto issued = service_account_tokens_->request_token(r->ns, r->name, *body);
    return issued ? json_response(201, *issued) : error_response(issued.error());
  }
  if (r->subresource == "finalize" && req.method != "PUT") return error_response(method_not_allowed());

  if (res.create_only) {  // access reviews: answered, not stored
    if (req.method != "POST" || !r->name.empty()) return error_response(method_not_allowed());
    ApiError err;
    auto body = parse_body(req, err);
    if (!body) return error_response(err);
    if (res.kind == "SelfSubjectReview") {
      Json info = {{"username", user->name}, {"groups", user->groups}};
      if (!user->uid.empty()) info["uid"] = user->uid;
      return json_response(201, Json{{"kind", "SelfSubjectReview"},
                                     {"apiVersion", res.api_version()},
                                     {"metadata", {{"creationTimestamp", nullptr}}},
                                     {"status", {{"userInfo", info}}}});
    }
    auto review = res.kind == "SelfSubjectAccessReview"  ? access_.self_subject_access_review(*body, *user)
                  : res.kind == "SelfSubjectRulesReview" ? access_.self_subject_rules_review(*body, *user)
                                                         : access_.subject_access_review(*body, r->ns);
    return review ? json_response(201, *review) : error_response(review.error());
  }
  if (res.kind == "CertificateSigningRequest" && (req.method == "POST" || req.method == "PUT")) {
    ApiError err;
    auto body = parse_body(req, err);
    if (!body) return error_response(err);
    if (req.method == "POST") {
      if (!r->name.empty()) return error_response(method_not_allowed());
      auto made = CertificateRequests(registry_).create(*body, *user, dry_run);
      return made ? json_response(201, *made) : error_response(made.error());
    }
    if (r->name.empty()) return error_response(method_not_allowed());
    // The certificateapproval and certificatesigning admission plugins: approving (or denying)
    // and issuing need the approve / sign verb on the signer's name (or "domain/*").
    if (r->subresource == "approval" || r->subresource == "status") {
      auto current = registry_.get(res, "", r->name);
      if (!current) return error_response(current.error());
      const std::string signer = current->value("spec", Json::object()).value("signerName", "");
      const bool issuing = r->subresource == "status" && body->value("status", Json::object()).value("certificate", "") !=
                                                             current->value("status", Json::object()).value("certificate", "");
      if (r->subresource == "approval" || issuing) {
        const std::string verb = r->subresource == "approval" ? "approve" : "sign";
        auto allowed = [&](const std::string& name) {
          return access_
              .decide(*user, {.verb = verb,
                              .resource_request = true,
                              .api_group = "certificates.k8s.io",
                              .api_version = "*",
                              .resource = "signers",
                              .name = name})
              .allowed;
        };
        const auto slash = signer.find('/');
        if (!allowed(signer) && (slash == std::string::npos || !allowed(signer.substr(0, slash) + "/*")))
          return error_response(status_error(403, "Forbidden",
                                             fmt::format("{} \"{}\" is forbidden: user not permitted to {} requests with signerName \"{}\"",
                                                         res.group_resource(), r->name, verb, signer)));
      }
    }
    auto updated = CertificateRequests(registry_).update(r->name, *body, r->subresource, dry_run);
    return updated ? json_response(200, *updated) : error_response(updated.error());
  }
  if (res.kind == "CertificateSigningRequest" && req.method == "PATCH") return error_response(method_not_allowed());
  const bool table = accepted.first_is(MediaType::Table);
  const bool include_object = query.contains("includeObject") && query.at("includeObject") == "Object";
  ListOptions lo;
  if (query.contains("labelSelector")) lo.label_selector = query.at("labelSelector");
  if (query.contains("fieldSelector")) lo.field_selector = query.at("fieldSelector");
  auto limit = query_integer(query, "limit");
  auto timeout_seconds = query_integer(query, "timeoutSeconds");
  for (const auto* n : {&limit, &timeout_seconds})
    if (!*n) return error_response(bad_request(n->error().message));
  if (*limit && **limit > 0) lo.limit = static_cast<std::size_t>(**limit);
  if (query.contains("continue")) lo.continue_token = query.at("continue");
  if (query.contains("resourceVersion")) lo.resource_version = query.at("resourceVersion");
  std::vector<std::string> warnings;
  // Takes the result: a list of thousands of objects is moved into the answer, not copied.
  auto respond = [&](ApiResult<Json>&& result, int ok_code) {
    if (!result) return error_response(result.error());
    HttpResponse resp = json_response(
        ok_code, table && result->value("kind", "") != "Status" ? to_table(res, *result, include_object) : std::move(*result));
    resp.warnings = warnings;
    return resp;
  };

  if (req.method == "GET") {
    const bool is_watch = query_flag(query, "watch");
    if (is_watch) {
      if (query_flag(query, "sendInitialEvents"))
        return error_response(
            status_error(422, "Invalid", "sendInitialEvents is not supported by this server; use resourceVersion \"\" or \"0\""));
      WatchRequest w;
      w.resource = &res;
      w.ns = r->ns;
      w.options = lo;
      if (!r->name.empty())
        w.options.field_selector = "metadata.name=" + r->name + (lo.field_selector.empty() ? "" : "," + lo.field_selector);
      w.timeout_seconds = *timeout_seconds ? static_cast<int>(std::clamp<std::int64_t>(**timeout_seconds, 0, 1 << 30)) : 1800;
      w.bookmarks = query_flag(query, "allowWatchBookmarks");
      w.as_table = table;
      watch = w;
      return {200, table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json", "", {}};
    }
    if (r->name.empty()) return respond(registry_.list(res, r->ns, lo), 200);
    return respond(registry_.get(res, r->ns, r->name), 200);
  }
  if (req.method == "POST") {
    if (!r->name.empty()) return error_response(method_not_allowed());
    ApiError err;
    auto body = parse_body(req, err);
    if (!body) return error_response(err);
    record_update(Json(), *body, res.kind, writer());
    return respond(registry_.create(res, r->ns, *body, field_validation(query), warnings, dry_run), 201);
  }
  if (req.method == "PUT") {
    if (r->name.empty()) return error_response(method_not_allowed());
    ApiError err;
    auto body = parse_body(req, err);
    if (!body) return error_response(err);
    if (r->subresource.empty())
      if (auto current = registry_.get(res, r->ns, r->name)) record_update(*current, *body, res.kind, writer());
    if (r->subresource == "finalize") return respond(registry_.finalize_namespace(r->name, *body, field_validation(query), warnings), 200);
    return respond(registry_.update(res, r->ns, r->name, *body, r->subresource == "status", field_validation(query), warnings, dry_run),
                   200);
  }
  if (req.method == "PATCH") {
    if (r->name.empty()) return error_response(method_not_allowed());
    if (req.body.size() > kMaxBody) return error_response(too_large());
    const auto type = parse_patch_type(req.content_type);
    if (!type) return error_response(unsupported_media_type(req.content_type));
    auto current = registry_.get(res, r->ns, r->name);
    const bool exists = current.has_value();
    if (!exists && (*type != PatchType::apply_yaml || current.error().code != 404)) return error_response(current.error());
    Json patched;
    if (*type == PatchType::apply_yaml) {
      // Server-side apply: the body is YAML or JSON; an apply to a missing object creates it.
      auto docs = api::parse_documents(req.body);
      if (!docs || docs->size() != 1 || !(*docs)[0].is_object())
        return error_response(bad_request(docs ? "an apply body must be one object" : docs.error().message));
      const auto manager = query.contains("fieldManager") ? query.at("fieldManager") : "";
      if (manager.empty()) return error_response(bad_request("PATCH of type apply requires a fieldManager"));
      auto applied = server_side_apply(exists ? *current : Json(), (*docs)[0], res.kind,
                                       ApplyOptions{manager, query_flag(query, "force"), now_rfc3339()});
      if (!applied)
        return error_response(status_error(applied.error().http_status, applied.error().http_status == 409 ? "Conflict" : "BadRequest",
                                           applied.error().message));
      if (!exists) return respond(registry_.create(res, r->ns, *applied, field_validation(query), warnings, dry_run), 201);
      patched = std::move(*applied);
    } else {
      ApiError err;
      auto patch = parse_json_body(req.body, err);
      if (!patch) return error_response(err);
      auto result = apply_patch(*type, *current, *patch, res.kind);
      if (!result) {
        const int code = result.error().http_status;
        return error_response(status_error(code,
                                           code == 422   ? "Invalid"
                                           : code == 415 ? "UnsupportedMediaType"
                                           : code == 413 ? "RequestEntityTooLarge"
                                           : code == 409 ? "Conflict"
                                                         : "BadRequest",
                                           result.error().message));
      }
      patched = std::move(*result);
      // Each JSON patch operation may nest a value 200 deep under the last one: what the patch
      // builds gets the limit its body had, before any recursive code walks it.
      if (api::json_depth(patched) > kMaxJsonDepth)
        return error_response(status_error(422, "Invalid", "the patched object is nested too deeply"));
      if (r->subresource.empty()) record_update(*current, patched, res.kind, writer());
    }
    // A patch applies to what was read: a concurrent write in between is a conflict, as upstream retries.
    patched["metadata"]["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
    return respond(registry_.update(res, r->ns, r->name, patched, r->subresource == "status", field_validation(query), warnings, dry_run),
                   200);
  }
  if (req.method == "DELETE") {
    // DeleteOptions from the query and the body (JSON or, from client-go, protobuf; the body wins).
    Json body;
    if (!req.body.empty()) {
      ApiError err;
      auto opts = req.content_type.starts_with(api::protobuf::kMediaType) ? parse_body(req, err) : parse_json_body(req.body, err);
      if (!opts) return error_response(err);
      body = std::move(*opts);
    }
    ApiError err;
    auto options = read_delete_options(query, body, err);
    if (!options) return error_response(err);
    if (r->name.empty()) {  // deletecollection
      auto list = registry_.list(res, r->ns, lo);
      if (!list) return error_response(list.error());
      // As kube-apiserver: every item is tried; if one could not be deleted the answer is that
      // item's error as it is (a namespace already terminating: 409), and an item someone else
      // deleted meanwhile is no failure.
      DeleteOptions each = *options;
      each.precondition_uid.clear();
      std::optional<ApiError> first_failure;
      for (const auto& item : (*list)["items"]) {
        const std::string ns = item["metadata"].value("namespace", ""), name = item["metadata"].value("name", "");
        if (auto gone = registry_.remove(res, ns, name, each); !gone && gone.error().code != 404 && !first_failure)
          first_failure = gone.error();
      }
      if (first_failure) return error_response(*first_failure);
      return respond(std::move(list), 200);
    }
    return respond(registry_.remove(res, r->ns, r->name, *options), 200);
  }
  return error_response(method_not_allowed());
}

}  // namespace switchyard::apiserver
