#include "orchestrator/apiserver/status.h"

#include <fmt/format.h>

#include "orchestrator/api/validation.h"

namespace switchyard::apiserver {

using nlohmann::json;

ApiError status_error(int code, std::string_view reason, std::string message, json details) {
  json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"}, {"message", std::move(message)},
            {"reason", reason}, {"code", code}};
  if (!details.is_null()) s["details"] = std::move(details);
  if (reason.empty()) s.erase("reason");
  return {code, std::move(s)};
}

ApiError bad_request(std::string message) { return status_error(400, "BadRequest", std::move(message)); }

ApiError unauthorized() { return status_error(401, "Unauthorized", "Unauthorized"); }

static json name_details(std::string_view group, std::string_view kind, std::string_view name) {
  json d = {{"name", name}, {"kind", kind}};
  if (!group.empty()) d["group"] = group;
  return d;
}

ApiError not_found(std::string_view group_resource, std::string_view name) {
  auto dot = group_resource.find('.');
  std::string_view resource = group_resource.substr(0, dot);
  std::string_view group = dot == std::string_view::npos ? "" : group_resource.substr(dot + 1);
  return status_error(404, "NotFound", fmt::format("{} \"{}\" not found", group_resource, name), name_details(group, resource, name));
}

ApiError not_found_path() { return status_error(404, "NotFound", "the server could not find the requested resource", json{}); }

ApiError already_exists(std::string_view group, std::string_view resource, std::string_view name) {
  const std::string gr = group.empty() ? std::string(resource) : fmt::format("{}.{}", resource, group);
  return status_error(409, "AlreadyExists", fmt::format("{} \"{}\" already exists", gr, name), name_details(group, resource, name));
}

ApiError conflict(std::string_view group, std::string_view resource, std::string_view name) {
  const std::string gr = group.empty() ? std::string(resource) : fmt::format("{}.{}", resource, group);
  return status_error(409, "Conflict",
                      fmt::format("Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply "
                                  "your changes to the latest version and try again",
                                  gr, name),
                      name_details(group, resource, name));
}

ApiError invalid(std::string_view group, std::string_view kind, std::string_view name, const api::FieldErrors& errors) {
  json causes = json::array();
  for (const auto& e : errors) causes.push_back({{"reason", e.reason()}, {"message", e.message_without_field()}, {"field", e.field}});
  json details = name_details(group, kind, name);
  details["causes"] = std::move(causes);
  const std::string gk = group.empty() ? std::string(kind) : fmt::format("{}.{}", kind, group);
  return status_error(422, "Invalid", api::invalid_message(gk, name, errors), std::move(details));
}

ApiError too_large() { return status_error(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"); }

ApiError unsupported_media_type(std::string_view content_type) {
  return status_error(415, "UnsupportedMediaType",
                      fmt::format("the body of the request was in an unknown format - accepted media types include: application/json, "
                                  "application/yaml, application/vnd.kubernetes.protobuf; got {}",
                                  content_type));
}

ApiError method_not_allowed() {
  return status_error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
}

ApiError gone(std::string message) { return status_error(410, "Expired", std::move(message)); }

ApiError internal_error(std::string message) {
  return status_error(500, "InternalError", fmt::format("Internal error occurred: {}", message),
                      json{{"causes", json::array({{{"message", message}}})}});
}

json success_status(std::string_view group, std::string_view kind, std::string_view name, std::string_view uid) {
  json d = name_details(group, kind, name);
  d["uid"] = uid;
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Success"}, {"details", d}};
}

}  // namespace switchyard::apiserver
