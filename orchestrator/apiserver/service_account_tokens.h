// Bound service-account tokens, as kube-apiserver issues and checks them:
//  - the TokenRequest API (POST serviceaccounts/NAME/token, authentication.k8s.io/v1): a JWT
//    signed with the service-account key, for the requested audiences (default: the API
//    server's), expiring after expirationSeconds (at least 600, default 3600), optionally bound
//    to a Pod or Secret by name and uid (pkg/registry/core/serviceaccount/storage/token.go);
//  - the authenticator for those tokens: signature, issuer, audience, expiry, and that the
//    ServiceAccount and the bound object still exist with the uids in the token
//    (pkg/serviceaccount/claims.go). The user is system:serviceaccount:NS:NAME in the groups
//    system:serviceaccounts and system:serviceaccounts:NS.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/apiserver/authentication.h"
#include "orchestrator/apiserver/jwt.h"
#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

struct ServiceAccountTokenOptions {
  std::string issuer;                      // --service-account-issuer
  std::vector<std::string> api_audiences;  // --api-audiences (default: the issuer)
  long long max_expiration_seconds = 0;    // --service-account-max-token-expiration (0: none)
};

class ServiceAccountTokens {
 public:
  // `now` is injectable for tests (seconds since the epoch).
  ServiceAccountTokens(ObjectRegistry& registry, JwtSigner signer, JwtVerifier verifier, ServiceAccountTokenOptions options,
                       std::function<long long()> now = {});

  // POST .../serviceaccounts/NAME/token with a TokenRequest body: the TokenRequest with its status.
  ApiResult<Json> request_token(const std::string& ns, const std::string& service_account, const Json& body);
  // nullopt: not a token of ours, or no longer valid (the caller answers 401).
  std::optional<UserInfo> authenticate(std::string_view token) const;

 private:
  ObjectRegistry& registry_;
  JwtSigner signer_;
  JwtVerifier verifier_;
  ServiceAccountTokenOptions options_;
  std::function<long long()> now_;
};

inline constexpr std::string_view kServiceAccountUserPrefix = "system:serviceaccount:";

}  // namespace switchyard::apiserver
