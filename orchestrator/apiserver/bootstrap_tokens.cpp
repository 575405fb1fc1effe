#include "orchestrator/apiserver/bootstrap_tokens.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/api/protobuf_values.h"
#include "orchestrator/api/rfc3339.h"
#include "orchestrator/apiserver/resources.h"

namespace switchyard::apiserver {

namespace {

constexpr std::string_view kDefaultGroup = "system:bootstrappers";
constexpr std::string_view kUserPrefix = "system:bootstrap:";

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool all_lower_alnum(std::string_view s) { return std::all_of(s.begin(), s.end(), lower_alnum); }

long long system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::optional<BootstrapToken> parse_bootstrap_token(std::string_view token) {
  if (token.size() != 23 || token[6] != '.') return std::nullopt;
  const std::string_view id = token.substr(0, 6), secret = token.substr(7);
  if (!all_lower_alnum(id) || !all_lower_alnum(secret)) return std::nullopt;
  return BootstrapToken{std::string(id), std::string(secret)};
}

bool valid_bootstrap_group(std::string_view group) {
  constexpr std::string_view kPrefix = "system:bootstrappers:";
  if (!group.starts_with(kPrefix)) return false;
  const std::string_view rest = group.substr(kPrefix.size());
  if (rest.empty() || rest.size() > 256 || !lower_alnum(rest.back())) return false;
  return std::all_of(rest.begin(), rest.end(), [](char c) { return lower_alnum(c) || c == ':' || c == '-'; });
}

std::string secret_data(const Json& secret, const std::string& key) {
  const Json* data = secret.is_object() && secret.contains("data") ? &secret["data"] : nullptr;
  if (!data || !data->is_object() || !data->contains(key) || !(*data)[key].is_string()) return {};
  std::string out;
  if (!api::protobuf::values::base64_decode((*data)[key].get<std::string>(), out)) return {};
  return out;
}

std::optional<long long> bootstrap_token_expiration(const Json& secret) {
  const std::string text = secret_data(secret, "expiration");
  if (text.empty()) return std::nullopt;
  return api::parse_rfc3339_seconds(text);
}

bool bootstrap_token_expired(const Json& secret, long long now) {
  const std::string text = secret_data(secret, "expiration");
  if (text.empty()) return false;
  const auto at = api::parse_rfc3339_seconds(text);
  return !at || *at <= now;  // an unparseable expiration counts as expired, as upstream
}

std::optional<UserInfo> bootstrap_token_user(const Json& secret, const BootstrapToken& token, long long now, std::string& why) {
  const Json meta = secret.value("metadata", Json::object());
  if (meta.is_object() && meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null()) {
    why = "is deleted and awaiting removal";
    return std::nullopt;
  }
  if (secret.value("type", "") != kBootstrapTokenSecretType || !secret.contains("data") || !secret["data"].is_object()) {
    why = fmt::format("has invalid type, expected {}", kBootstrapTokenSecretType);
    return std::nullopt;
  }
  const std::string stored = secret_data(secret, "token-secret");
  // Constant time over the stored secret's length: no early exit that would time the prefix.
  if (stored.size() != token.secret.size() || CRYPTO_memcmp(stored.data(), token.secret.data(), stored.size()) != 0) {
    why = "has invalid value for key token-secret";
    return std::nullopt;
  }
  if (secret_data(secret, "token-id") != token.id) {
    why = "has invalid value for key token-id";
    return std::nullopt;
  }
  if (bootstrap_token_expired(secret, now)) {
    why = "has expired";
    return std::nullopt;
  }
  if (secret_data(secret, "usage-bootstrap-authentication") != "true") {
    why = "not marked usage-bootstrap-authentication=true";
    return std::nullopt;
  }
  // Deduplicated and sorted, as upstream's sets.String.List().
  std::set<std::string> groups{std::string(kDefaultGroup)};
  if (const std::string extra = secret_data(secret, "auth-extra-groups"); !extra.empty()) {
    std::string_view rest = extra;
    while (true) {
      const auto comma = rest.find(',');
      const std::string_view g = rest.substr(0, comma);
      if (!valid_bootstrap_group(g)) {
        why = fmt::format("has invalid value for key auth-extra-groups: bootstrap group \"{}\" is invalid", g);
        return std::nullopt;
      }
      groups.emplace(g);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  UserInfo user{std::string(kUserPrefix) + token.id, "", {groups.begin(), groups.end()}};
  user.groups.emplace_back(kSystemAuthenticated);
  return user;
}

BootstrapTokenAuthenticator::BootstrapTokenAuthenticator(ObjectRegistry& registry, std::function<long long()> now)
    : registry_(registry), now_(now ? std::move(now) : std::function<long long()>(system_now)) {}

std::optional<UserInfo> BootstrapTokenAuthenticator::authenticate(std::string_view token) const {
  const auto parsed = parse_bootstrap_token(token);
  if (!parsed) return std::nullopt;
  const std::string name = std::string(kBootstrapTokenSecretPrefix) + parsed->id;
  auto secret = registry_.get(*find_resource("", "v1", "secrets"), std::string(kBootstrapTokenNamespace), name);
  if (!secret) {
    spdlog::info("event=bootstrap_token_rejected secret={}/{} reason=\"{}\"", kBootstrapTokenNamespace, name,
                 secret.error().status.value("message", ""));
    return std::nullopt;
  }
  std::string why;
  auto user = bootstrap_token_user(*secret, *parsed, now_(), why);
  // Logged without the presented secret (upstream logs it at V(3); a log is no place for it).
  if (!user) spdlog::info("event=bootstrap_token_rejected secret={}/{} reason=\"{}\"", kBootstrapTokenNamespace, name, why);
  return user;
}

}  // namespace switchyard::apiserver
