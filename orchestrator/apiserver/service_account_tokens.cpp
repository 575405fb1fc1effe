#include "orchestrator/apiserver/service_account_tokens.h"

#include <openssl/rand.h>

#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/api/field_error.h"
#include "orchestrator/apiserver/graceful_deletion.h"
#include "orchestrator/apiserver/resources.h"

namespace switchyard::apiserver {

namespace {

constexpr long long kMinExpirationSeconds = 600;  // "may not specify a duration less than 10 minutes"
constexpr long long kMaxExpirationSeconds = 1LL << 32;
constexpr long long kDefaultExpirationSeconds = 3600;
// A pod being deleted keeps its tokens for a minute past its deletion timestamp, as upstream.
constexpr long long kDeletedPodGraceSeconds = 60;

long long system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::optional<long long> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
  return static_cast<long long>(timegm(&tm));
}

// A random version-4 UUID: the token's jti.
std::string random_uuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) return {};
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", b[0], b[1],
                     b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

ApiError invalid_request(const std::string& name, api::FieldErrors errors) {
  return invalid("authentication.k8s.io", "TokenRequest", name, errors);
}

bool audiences_intersect(const Json& aud, const std::vector<std::string>& accepted) {
  auto accepts = [&](const Json& a) {
    return a.is_string() && std::find(accepted.begin(), accepted.end(), a.get<std::string>()) != accepted.end();
  };
  if (aud.is_string()) return accepts(aud);
  if (!aud.is_array()) return false;
  return std::any_of(aud.begin(), aud.end(), accepts);
}

}  // namespace

ServiceAccountTokens::ServiceAccountTokens(ObjectRegistry& registry, JwtSigner signer, JwtVerifier verifier,
                                           ServiceAccountTokenOptions options, std::function<long long()> now)
    : registry_(registry), signer_(std::move(signer)), verifier_(std::move(verifier)), options_(std::move(options)), now_(std::move(now)) {
  if (!now_) now_ = system_now;
  if (options_.api_audiences.empty()) options_.api_audiences = {options_.issuer};
  // What this server signs it must also accept.
  verifier_.add_key(signer_.key());
}

ApiResult<Json> ServiceAccountTokens::request_token(const std::string& ns, const std::string& name, const Json& body) {
  if (!body.is_object() || body.value("kind", "") != "TokenRequest")
    return std::unexpected(bad_request(fmt::format("the body is a {}, expected a TokenRequest (authentication.k8s.io/v1)",
                                                   body.is_object() ? body.value("kind", "\"\"") : "non-object")));
  const Json spec = body.value("spec", Json::object());
  api::FieldErrors errors;
  long long expiration = kDefaultExpirationSeconds;
  if (spec.contains("expirationSeconds") && !spec["expirationSeconds"].is_null()) {
    if (!spec["expirationSeconds"].is_number_integer()) return std::unexpected(bad_request("spec.expirationSeconds: expected an integer"));
    expiration = spec["expirationSeconds"].get<long long>();
    if (expiration < kMinExpirationSeconds)
      errors.push_back(api::invalid(api::FieldPath("spec.expirationSeconds"), api::rendered(expiration),
                                    "may not specify a duration less than 10 minutes"));
    else if (expiration > kMaxExpirationSeconds)
      errors.push_back(api::invalid(api::FieldPath("spec.expirationSeconds"), api::rendered(expiration),
                                    "may not specify a duration larger than 2^32 seconds"));
  }
  if (!errors.empty()) return std::unexpected(invalid_request(name, errors));
  if (options_.max_expiration_seconds > 0) expiration = std::min(expiration, options_.max_expiration_seconds);

  const auto* sa_resource = find_resource("", "v1", "serviceaccounts");
  auto sa = registry_.get(*sa_resource, ns, name);
  if (!sa) return std::unexpected(sa.error());

  Json audiences = spec.contains("audiences") && spec["audiences"].is_array() && !spec["audiences"].empty() ? spec["audiences"]
                                                                                                            : Json(options_.api_audiences);
  for (const auto& a : audiences)
    if (!a.is_string()) return std::unexpected(bad_request("spec.audiences: expected strings"));

  Json private_claims = {{"namespace", ns}, {"serviceaccount", {{"name", name}, {"uid", (*sa)["metadata"].value("uid", "")}}}};
  Json bound = spec.value("boundObjectRef", Json());
  if (bound.is_object()) {
    const std::string kind = bound.value("kind", ""), api_version = bound.value("apiVersion", "v1");
    const std::string ref_name = bound.value("name", ""), ref_uid = bound.value("uid", "");
    if ((kind != "Pod" && kind != "Secret") || (api_version != "v1" && !api_version.empty()))
      return std::unexpected(
          bad_request(fmt::format("cannot bind token for object of type {}, Kind={}", api_version.empty() ? "/v1" : api_version, kind)));
    const auto* resource = find_resource("", "v1", kind == "Pod" ? "pods" : "secrets");
    auto object = registry_.get(*resource, ns, ref_name);
    if (!object) return std::unexpected(object.error());
    const std::string uid = (*object)["metadata"].value("uid", "");
    if (!ref_uid.empty() && ref_uid != uid)
      return std::unexpected(status_error(
          409, "Conflict",
          fmt::format("Operation cannot be fulfilled on {}.v1 \"{}\": the UID in the bound object reference ({}) does not match the UID "
                      "in record. The object might have been deleted and then recreated",
                      kind, ref_name, ref_uid)));
    private_claims[kind == "Pod" ? "pod" : "secret"] = {{"name", ref_name}, {"uid", uid}};
    bound["uid"] = uid;
    bound["apiVersion"] = "v1";
  }

  const long long now = now_();
  const Json claims = {{"iss", options_.issuer},
                       {"sub", fmt::format("{}{}:{}", kServiceAccountUserPrefix, ns, name)},
                       {"aud", audiences},
                       {"exp", now + expiration},
                       {"iat", now},
                       {"nbf", now},
                       {"jti", random_uuid()},
                       {"kubernetes.io", private_claims}};
  auto token = signer_.sign(claims);
  if (!token) return std::unexpected(internal_error(token.error().message));

  Json out_spec = {
      {"audiences", audiences}, {"expirationSeconds", expiration}, {"boundObjectRef", bound.is_object() ? bound : Json(nullptr)}};
  return Json{{"kind", "TokenRequest"},
              {"apiVersion", "authentication.k8s.io/v1"},
              {"metadata", {{"name", name}, {"namespace", ns}, {"creationTimestamp", rfc3339_at(static_cast<std::time_t>(now))}}},
              {"spec", out_spec},
              {"status", {{"token", *token}, {"expirationTimestamp", rfc3339_at(static_cast<std::time_t>(now + expiration))}}}};
}

std::optional<UserInfo> ServiceAccountTokens::authenticate(std::string_view token) const {
  if (!looks_like_jwt(token)) return std::nullopt;
  auto claims = verifier_.verify(token);
  auto reject = [](std::string_view why) -> std::optional<UserInfo> {
    spdlog::info("event=service_account_token_rejected reason=\"{}\"", why);
    return std::nullopt;
  };
  if (!claims) return reject(claims.error().message);
  const Json& c = *claims;
  if (c.value("iss", Json()) != options_.issuer) return reject("the issuer is not this API server's");
  if (!audiences_intersect(c.value("aud", Json()), options_.api_audiences)) return reject("the token is for another audience");
  const long long now = now_();
  const Json exp = c.value("exp", Json()), nbf = c.value("nbf", Json());
  if (!exp.is_number_integer() || exp.get<long long>() <= now) return reject("the token has expired");
  if (nbf.is_number_integer() && nbf.get<long long>() > now) return reject("the token is not valid yet");
  const Json k = c.value("kubernetes.io", Json());
  if (!k.is_object() || !k.value("namespace", Json()).is_string() || !k.value("serviceaccount", Json()).is_object())
    return reject("the token has no kubernetes.io claims");
  const std::string ns = k["namespace"];
  const std::string sa_name = k["serviceaccount"].value("name", ""), sa_uid = k["serviceaccount"].value("uid", "");
  if (c.value("sub", "") != fmt::format("{}{}:{}", kServiceAccountUserPrefix, ns, sa_name)) return reject("sub does not match the claims");

  // The objects the token names must still be the ones it was issued for.
  auto sa = registry_.get(*find_resource("", "v1", "serviceaccounts"), ns, sa_name);
  if (!sa) return reject(fmt::format("ServiceAccount {}/{} has been deleted", ns, sa_name));
  if ((*sa)["metadata"].value("uid", "") != sa_uid) return reject(fmt::format("ServiceAccount {}/{} was recreated", ns, sa_name));
  for (const char* kind : {"pod", "secret"}) {
    const Json ref = k.value(kind, Json());
    if (!ref.is_object()) continue;
    const std::string ref_name = ref.value("name", "");
    auto object = registry_.get(*find_resource("", "v1", std::string(kind) + "s"), ns, ref_name);
    if (!object) return reject(fmt::format("{} {}/{} has been deleted", kind, ns, ref_name));
    if ((*object)["metadata"].value("uid", "") != ref.value("uid", ""))
      return reject(fmt::format("{} {}/{} uid does not match the claim", kind, ns, ref_name));
    const std::string deleted = (*object)["metadata"].value("deletionTimestamp", "");
    if (auto at = parse_rfc3339(deleted); at && *at + kDeletedPodGraceSeconds < now)
      return reject(fmt::format("{} {}/{} is being deleted", kind, ns, ref_name));
  }
  UserInfo user{fmt::format("{}{}:{}", kServiceAccountUserPrefix, ns, sa_name),
                sa_uid,
                {"system:serviceaccounts", "system:serviceaccounts:" + ns, std::string(kSystemAuthenticated)}};
  return user;
}

}  // namespace switchyard::apiserver
