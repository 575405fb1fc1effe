#include "orchestrator/client/list_watch.h"

#include <fmt/format.h>

#include "orchestrator/api/protobuf_codec.h"
#include "orchestrator/client/api_client.h"

namespace switchyard::client {

using nlohmann::json;

Error http_error(int status, const std::string& body, const std::string& what) {
  ErrorCode code = ErrorCode::Internal;
  switch (status) {
    case 400:
    case 422:
      code = ErrorCode::Invalid;
      break;
    case 401:
      code = ErrorCode::Unauthorized;
      break;
    case 403:
      code = ErrorCode::Forbidden;
      break;
    case 404:
      code = ErrorCode::NotFound;
      break;
    case 409:
      code = ErrorCode::Conflict;
      break;
    case 410:
      code = ErrorCode::Compacted;
      break;
    case 413:
      code = ErrorCode::TooLarge;
      break;
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      code = ErrorCode::Unavailable;
      break;
    default:
      break;
  }
  // 409 for a create is AlreadyExists: the Status says which.
  // The Status comes in JSON, or in protobuf when that was asked for.
  const json parsed =
      body.starts_with(api::protobuf::kMagic) ? api::protobuf::decode_object(body).value_or(json()) : json::parse(body, nullptr, false);
  std::string message = parsed.is_object() ? parsed.value("message", "") : "";
  if (status == 409 && parsed.is_object() && parsed.value("reason", "") == "AlreadyExists") code = ErrorCode::AlreadyExists;
  if (message.empty()) message = fmt::format("HTTP {}", status);
  return Error{code, fmt::format("{}: {}", what, message)};
}

HttpListerWatcher::HttpListerWatcher(ClusterConnection connection, std::string path, int watch_timeout_seconds)
    : connection_(std::move(connection)), path_(std::move(path)), watch_timeout_seconds_(watch_timeout_seconds) {}

HttpListerWatcher::~HttpListerWatcher() = default;

namespace {

std::string with_query(const std::string& path, const std::string& query) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + query;
}

}  // namespace

Result<ObjectList> HttpListerWatcher::list() {
  ApiClient client(connection_);
  {
    std::lock_guard lock(mu_);
    if (aborted_) return fail(ErrorCode::Unavailable, fmt::format("list {}: aborted", path_));
    active_ = &client;
  }
  auto r = client.get(path_);
  {
    std::lock_guard lock(mu_);
    active_ = nullptr;
  }
  if (!r) return fail(with_context(r.error(), "list " + path_));
  if (r->status != 200) return fail(http_error(r->status, r->body, "list " + path_));
  json list;
  if (r->content_type.starts_with(api::protobuf::kMediaType)) {
    auto decoded = api::protobuf::decode_object(r->body);
    if (!decoded) return fail(ErrorCode::Internal, fmt::format("list {}: {}", path_, decoded.error().message));
    list = std::move(*decoded);
  } else {
    list = json::parse(r->body, nullptr, false);
  }
  if (!list.is_object() || !list.contains("items") || !list["items"].is_array())
    return fail(ErrorCode::Internal, fmt::format("list {}: the answer is not a list", path_));
  ObjectList out;
  out.items.reserve(list["items"].size());
  for (auto& item : list["items"]) out.items.push_back(std::move(item));
  out.resource_version = list.value("metadata", json::object()).value("resourceVersion", "");
  return out;
}

Result<void> HttpListerWatcher::watch(const std::string& resource_version, const std::function<bool(WatchEvent&&)>& on_event) {
  ApiClient client(connection_);
  {
    std::lock_guard lock(mu_);
    if (aborted_) return fail(ErrorCode::Unavailable, fmt::format("watch {}: aborted", path_));
    active_ = &client;
  }
  std::optional<Error> event_error;
  const std::string target = with_query(path_, fmt::format("watch=true&allowWatchBookmarks=true&timeoutSeconds={}&resourceVersion={}",
                                                           watch_timeout_seconds_, resource_version));
  auto status = client.stream_watch(target, [&](const std::string& message, bool protobuf) {
    json e;
    if (protobuf) {
      auto decoded = api::protobuf::decode_watch_event(message);
      if (!decoded) {
        event_error = Error{ErrorCode::Internal, fmt::format("watch {}: {}", path_, decoded.error().message)};
        return false;
      }
      e = {{"type", std::move(decoded->type)}, {"object", std::move(decoded->object)}};
    } else {
      e = json::parse(message, nullptr, false);
    }
    if (!e.is_object()) return true;
    const std::string type = e.value("type", "");
    json& obj = e["object"];
    if (type == "ERROR") {
      const int code = obj.is_object() ? obj.value("code", 0) : 0;
      event_error = http_error(code, obj.dump(), "watch " + path_);
      return false;
    }
    WatchEvent event{.object = std::move(obj)};
    if (type == "ADDED")
      event.type = WatchEventType::Added;
    else if (type == "MODIFIED")
      event.type = WatchEventType::Modified;
    else if (type == "DELETED")
      event.type = WatchEventType::Deleted;
    else if (type == "BOOKMARK")
      event.type = WatchEventType::Bookmark;
    else
      return true;
    return on_event(std::move(event));
  });
  {
    std::lock_guard lock(mu_);
    active_ = nullptr;
  }
  if (event_error) return fail(*event_error);
  if (!status) return fail(with_context(status.error(), "watch " + path_));
  if (*status != 200) return fail(http_error(*status, "", "watch " + path_));
  return {};
}

void HttpListerWatcher::abort() {
  std::lock_guard lock(mu_);
  aborted_ = true;
  if (active_) active_->abort();
}

void HttpListerWatcher::resume() {
  std::lock_guard lock(mu_);
  aborted_ = false;
}

}  // namespace switchyard::client
