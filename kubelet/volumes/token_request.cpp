#include "kubelet/volumes/token_request.h"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "orchestrator/client/list_watch.h"

namespace switchyard::kubelet {

using nlohmann::json;

Result<IssuedToken> request_pod_token(client::ApiClient& api, const PodTokenRequest& r) {
  json spec = {{"expirationSeconds", r.expiration_seconds},
               {"boundObjectRef", {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", r.pod_name}, {"uid", r.pod_uid}}}};
  if (!r.audience.empty()) spec["audiences"] = json::array({r.audience});
  const json body = {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", spec}};
  const std::string what = fmt::format("TokenRequest for serviceaccount {}/{}", r.ns, r.service_account);
  auto answer = api.send("POST", fmt::format("/api/v1/namespaces/{}/serviceaccounts/{}/token", r.ns, r.service_account), body.dump(),
                         "application/json");
  if (!answer) return fail(with_context(answer.error(), what));
  if (answer->status != 201 && answer->status != 200) return fail(client::http_error(answer->status, answer->body, what));
  const json tr = json::parse(answer->body, nullptr, false);
  const json status = tr.is_object() ? tr.value("status", json()) : json();
  if (!status.is_object() || !status.value("token", json()).is_string() || !status.value("expirationTimestamp", json()).is_string())
    return fail(ErrorCode::Internal, what + ": the answer has no status.token and status.expirationTimestamp");
  std::tm tm{};
  const std::string expires = status["expirationTimestamp"];
  if (!strptime(expires.c_str(), "%Y-%m-%dT%H:%M:%S", &tm))
    return fail(ErrorCode::Internal, fmt::format("{}: expirationTimestamp {} is not RFC 3339", what, expires));
  IssuedToken t;
  t.token = status["token"];
  t.expires = std::chrono::system_clock::from_time_t(timegm(&tm));
  const json granted = tr["spec"].is_object() ? tr["spec"].value("expirationSeconds", json()) : json();
  t.expiration_seconds = granted.is_number_integer() ? granted.get<std::int64_t>() : r.expiration_seconds;
  return t;
}

}  // namespace switchyard::kubelet
