#include "orchestrator/apiserver/authentication.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::apiserver {

namespace {

bool equal_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void add_authenticated(UserInfo& u) {
  if (!u.in_group(kSystemAuthenticated)) u.groups.emplace_back(kSystemAuthenticated);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// One CSV record as Go's encoding/csv reads it: fields split on ',', a field in double quotes
// may hold commas, "" inside quotes is one quote.
Result<std::vector<std::string>> csv_fields(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"' && cur.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  if (quoted) return fail(ErrorCode::Invalid, "unterminated quoted field");
  out.push_back(std::move(cur));
  return out;
}

}  // namespace

bool UserInfo::in_group(std::string_view g) const { return std::find(groups.begin(), groups.end(), g) != groups.end(); }

UserInfo admin_user() { return UserInfo{"admin", "", {std::string(kSystemMasters), std::string(kSystemAuthenticated)}}; }

Authenticator::Authenticator(std::string admin_token) : admin_token_(std::move(admin_token)) {}

Result<void> Authenticator::add_tokens(std::string_view csv, std::string_view source) {
  std::size_t line_no = 0;
  while (!csv.empty()) {
    const auto nl = csv.find('\n');
    std::string_view line = csv.substr(0, nl);
    csv.remove_prefix(nl == std::string_view::npos ? csv.size() : nl + 1);
    ++line_no;
    if (trim(line).empty() || trim(line).front() == '#') continue;
    auto fields = csv_fields(trim(line));
    if (!fields) return fail(ErrorCode::Invalid, fmt::format("{} line {}: {}", source, line_no, fields.error().message));
    // As upstream's tokenfile: at least token, user, uid; the token and user must not be empty.
    if (fields->size() < 3)
      return fail(ErrorCode::Invalid, fmt::format("{} line {}: expected token,user,uid[,\"group1,group2\"]", source, line_no));
    const std::string token(trim((*fields)[0])), user(trim((*fields)[1]));
    if (token.empty()) return fail(ErrorCode::Invalid, fmt::format("{} line {}: empty token", source, line_no));
    if (user.empty()) return fail(ErrorCode::Invalid, fmt::format("{} line {}: empty user name", source, line_no));
    UserInfo u{user, std::string(trim((*fields)[2])), {}};
    if (fields->size() >= 4) {
      std::string_view groups = (*fields)[3];
      while (!groups.empty()) {
        const auto comma = groups.find(',');
        if (auto g = trim(groups.substr(0, comma)); !g.empty()) u.groups.emplace_back(g);
        groups.remove_prefix(comma == std::string_view::npos ? groups.size() : comma + 1);
      }
    }
    if (tokens_.contains(token)) spdlog::warn("event=duplicate_token source={} line={} user={}", source, line_no, user);
    tokens_[token] = std::move(u);
  }
  return {};
}

Result<void> Authenticator::load_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::Invalid, fmt::format("--token-auth-file {}: cannot read it", path));
  std::stringstream text;
  text << in.rdbuf();
  return add_tokens(text.str(), path);
}

std::optional<UserInfo> Authenticator::authenticate(const RequestCredentials& c) const {
  if (open()) return admin_user();
  // x509 first, then tokens: kube-apiserver's union authenticator takes the first that succeeds.
  if (client_certificates_ && !c.client_certificate_cn.empty()) {
    UserInfo u{std::string(c.client_certificate_cn), "", {}};
    if (c.client_certificate_organizations) u.groups = *c.client_certificate_organizations;
    add_authenticated(u);
    return u;
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (c.authorization.size() > kBearer.size() && c.authorization.substr(0, kBearer.size()) == kBearer) {
    const std::string_view token = trim(c.authorization.substr(kBearer.size()));
    if (!admin_token_.empty() && equal_secret(token, admin_token_)) return admin_user();
    // Looked up by hash, as upstream's map; the comparison above keeps the admin path constant-time.
    if (auto it = tokens_.find(std::string(token)); it != tokens_.end()) {
      UserInfo u = it->second;
      add_authenticated(u);
      return u;
    }
    for (const auto& next : token_authenticators_)
      if (auto u = next(token)) return u;
  }
  return std::nullopt;
}

}  // namespace switchyard::apiserver
