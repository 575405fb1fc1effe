// Kubernetes Status objects, shaped exactly as the real API server shapes them for each error.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "orchestrator/api/field_error.h"

namespace switchyard::apiserver {

struct ApiError {
  int code = 500;
  nlohmann::json status;  // the Status body
};

ApiError status_error(int code, std::string_view reason, std::string message, nlohmann::json details = nullptr);
ApiError bad_request(std::string message);
ApiError unauthorized();
ApiError not_found(std::string_view group_resource, std::string_view name);
ApiError not_found_path();  // no such resource or path
ApiError already_exists(std::string_view group, std::string_view resource, std::string_view name);
ApiError conflict(std::string_view group, std::string_view resource, std::string_view name);
ApiError invalid(std::string_view group, std::string_view kind, std::string_view name, const api::FieldErrors& errors);
ApiError too_large();
ApiError unsupported_media_type(std::string_view content_type);
ApiError method_not_allowed();
ApiError gone(std::string message);
ApiError internal_error(std::string message);

nlohmann::json success_status(std::string_view group, std::string_view kind, std::string_view name, std::string_view uid);

}  // namespace switchyard::apiserver
