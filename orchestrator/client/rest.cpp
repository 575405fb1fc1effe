#include "orchestrator/client/rest.h"

#include "orchestrator/client/list_watch.h"

namespace switchyard::client {

using nlohmann::json;

namespace {

Result<json> answer(Result<HttpResult> r, const std::string& what) {
  if (!r) return fail(with_context(r.error(), what));
  if (r->status < 200 || r->status >= 300) return fail(http_error(r->status, r->body, what));
  json body = json::parse(r->body, nullptr, false);
  if (body.is_discarded()) return fail(ErrorCode::Internal, what + ": the answer is not JSON");
  return body;
}

}  // namespace

Result<json> create_object(ApiClient& client, const std::string& collection, const json& body) {
  return answer(client.send("POST", collection, body.dump(), "application/json"), "create in " + collection);
}

Result<json> update_object(ApiClient& client, const std::string& path, const json& body) {
  return answer(client.send("PUT", path, body.dump(), "application/json"), "update " + path);
}

Result<json> merge_patch_object(ApiClient& client, const std::string& path, const json& patch) {
  return answer(client.send("PATCH", path, patch.dump(), "application/merge-patch+json"), "patch " + path);
}

Result<void> delete_object(ApiClient& client, const std::string& path) {
  auto r = answer(client.send("DELETE", path, "", ""), "delete " + path);
  if (!r) return fail(r.error());
  return {};
}

Result<void> delete_object(ApiClient& client, const std::string& path, std::int64_t grace_period_seconds) {
  const json options = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"gracePeriodSeconds", grace_period_seconds}};
  auto r = answer(client.send("DELETE", path, options.dump(), "application/json"), "delete " + path);
  if (!r) return fail(r.error());
  return {};
}

}  // namespace switchyard::client
