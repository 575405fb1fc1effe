// The Kubernetes REST API over an ObjectRegistry: routing of /api and /apis paths, verbs,
// discovery, OpenAPI v3 for kubectl's field validation, Tables for kubectl get, and Status
// errors. Transport-free: http_server.cpp feeds it requests.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "orchestrator/apiserver/access_control.h"
#include "orchestrator/apiserver/content_negotiation.h"
#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/apiserver/service_account_tokens.h"

namespace switchyard::apiserver {

// The real server's limit on a request body (the transport answers 413 above it, unread).
inline constexpr std::size_t kMaxRequestBodyBytes = 3 * 1024 * 1024;

struct HttpRequest {
  std::string method, target, content_type, accept, authorization, body;
  std::string user_agent;  // names the field manager of writes that do not name one
  // Who is asking, besides `authorization`: a CA-verified client certificate's CN and O, and
  // the Impersonate-User / Impersonate-Group headers.
  std::string client_certificate_cn;
  std::vector<std::string> client_certificate_organizations;
  Impersonation impersonate;
};

struct HttpResponse {
  int code = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::string> warnings;  // Warning: 299 - "..."
  Json document;                      // set while handling: the answer before content negotiation
};

// A watch: the transport writes `first` then each event line until done() or timeout.
struct WatchRequest {
  const ResourceInfo* resource = nullptr;
  std::string ns;
  ListOptions options;
  int timeout_seconds = 0;
  bool bookmarks = false;
  bool as_table = false;
  bool protobuf = false;  // frames of application/vnd.kubernetes.protobuf;stream=watch
};

class ApiHandler {
 public:
  ApiHandler(ObjectRegistry& registry, std::string admin_token);

  // Authentication only (the transport's check before a body is read): false is 401.
  bool authorized(const HttpRequest& req) const;
  // Authentication, impersonation and RBAC: the user the request acts as, or 401/403/400.
  ApiResult<UserInfo> admit(const HttpRequest& req) const;
  // The token file, client certificates: set before serving.
  AccessControl& access() { return access_; }
  // The TokenRequest API and the authenticator of its tokens: set before serving.
  void enable_service_account_tokens(std::shared_ptr<ServiceAccountTokens> tokens);
  // Non-watch requests. Returns a WatchRequest instead when the request is a watch.
  HttpResponse handle(const HttpRequest& req, std::optional<WatchRequest>& watch);
  ObjectRegistry& registry() { return registry_; }
  // One watch event as the wire carries it: a JSON line (a Table row event when asked) or a
  // length-prefixed protobuf frame.
  std::string event_line(const WatchRequest& w, const WatchEvent& e) const;

 private:
  HttpResponse handle_request(const HttpRequest& req, const AcceptedTypes& accepted, std::optional<WatchRequest>& watch);
  // GET, PUT and PATCH of an apps/v1 workload's autoscaling/v1 Scale (scale_subresource.cpp).
  HttpResponse handle_scale(const HttpRequest& req, const ResourceInfo& r, const std::string& ns, const std::string& name, bool dry_run);

  ObjectRegistry& registry_;
  AccessControl access_;
  std::shared_ptr<ServiceAccountTokens> service_account_tokens_;
};

// Discovery and OpenAPI documents (discovery.cpp).
Json api_versions();
Json api_group_list();
Json api_resource_list(std::string_view group, std::string_view version);
Json openapi_v3_index();
Json openapi_v3_document(std::string_view group, std::string_view version);
Json version_info();
std::string openapi_v2_protobuf();  // openapi_v2.cpp
Json openapi_v2_json();

// Tables for kubectl get (tables.cpp).
Json to_table(const ResourceInfo& r, const Json& object_or_list, bool include_object);
// The apps/v1 kinds' columns and cells (apps_tables.cpp); nullopt for other kinds.
std::optional<Json> apps_columns(const std::string& kind);
std::optional<Json> apps_cells(const std::string& kind, const Json& object, const std::string& age);
// ConfigMap, Secret, ServiceAccount (config_tables.cpp).
std::optional<Json> config_columns(const std::string& kind);
std::optional<Json> config_cells(const std::string& kind, const Json& object, const std::string& age);
// PriorityClass and PodDisruptionBudget (policy_tables.cpp); nullopt for other kinds.
std::optional<Json> policy_columns(const std::string& kind);
std::optional<Json> policy_cells(const std::string& kind, const Json& object, const std::string& age);
// PersistentVolume, PersistentVolumeClaim, StorageClass (storage_tables.cpp).
std::optional<Json> storage_columns(const std::string& kind);
std::optional<Json> storage_cells(const std::string& kind, const Json& object, const std::string& age);
// The batch/v1 kinds' (batch_tables.cpp).
std::optional<Json> batch_columns(const std::string& kind);
std::optional<Json> batch_cells(const std::string& kind, const Json& object, const std::string& age);
// StatefulSet's (statefulset_tables.cpp).
std::optional<Json> statefulset_columns(const std::string& kind);
std::optional<Json> statefulset_cells(const std::string& kind, const Json& object, const std::string& age);
// apimachinery's duration.HumanDuration ("2m30s"), tables.cpp.
std::string human_duration(long long seconds);

}  // namespace switchyard::apiserver
