// Bootstrap tokens, as kube-apiserver's --enable-bootstrap-token-auth authenticates them
// (plugin/pkg/auth/authenticator/token/bootstrap and k8s.io/cluster-bootstrap): a bearer token
// `<id>.<secret>` ([a-z0-9]{6}.[a-z0-9]{16}) names the Secret kube-system/bootstrap-token-<id> of
// type bootstrap.kubernetes.io/token. It authenticates when that Secret holds the same token-id
// and token-secret (compared in constant time), has usage-bootstrap-authentication "true", has not
// expired (expiration: RFC 3339; unparseable counts as expired) and is not being deleted. The user
// is system:bootstrap:<id> in system:bootstrappers plus auth-extra-groups (each must match
// system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9], else the token is refused).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "orchestrator/apiserver/authentication.h"
#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

inline constexpr std::string_view kBootstrapTokenSecretType = "bootstrap.kubernetes.io/token";
inline constexpr std::string_view kBootstrapTokenSecretPrefix = "bootstrap-token-";
inline constexpr std::string_view kBootstrapTokenNamespace = "kube-system";

struct BootstrapToken {
  std::string id, secret;
};
// `<id>.<secret>` with upstream's pattern; nullopt for any other token (left to other authenticators).
std::optional<BootstrapToken> parse_bootstrap_token(std::string_view token);
// An auth-extra-groups entry upstream accepts.
bool valid_bootstrap_group(std::string_view group);
// A Secret's data value, decoded ("" when absent or not base64).
std::string secret_data(const Json& secret, const std::string& key);
// Whether a bootstrap-token Secret has expired at `now` (no expiration: never; unparseable: yes),
// and when it will (nullopt: never or already).
bool bootstrap_token_expired(const Json& secret, long long now);
std::optional<long long> bootstrap_token_expiration(const Json& secret);

// The user a stored Secret makes of a token, or nullopt with the reason in `why` (never the secret).
std::optional<UserInfo> bootstrap_token_user(const Json& secret, const BootstrapToken& token, long long now, std::string& why);

class BootstrapTokenAuthenticator {
 public:
  // `now` is injectable for tests (seconds since the epoch).
  explicit BootstrapTokenAuthenticator(ObjectRegistry& registry, std::function<long long()> now = {});
  // nullopt: not a bootstrap token, or no valid Secret for it (the caller answers 401).
  std::optional<UserInfo> authenticate(std::string_view token) const;

 private:
  ObjectRegistry& registry_;
  std::function<long long()> now_;
};

}  // namespace switchyard::apiserver
