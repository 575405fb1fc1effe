// Who is asking: kube-apiserver's request authenticators over what the transport verified.
// The admin bearer token (user "admin" in system:masters), a static token file in
// --token-auth-file's CSV format, and x509 client certificates verified against the cluster CA
// (CN: the user, O: its groups). Every authenticated user is also in system:authenticated.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::apiserver {

inline constexpr std::string_view kSystemMasters = "system:masters";
inline constexpr std::string_view kSystemAuthenticated = "system:authenticated";

struct UserInfo {
  std::string name, uid;
  std::vector<std::string> groups;
  bool in_group(std::string_view g) const;
};

// The credentials a request carries, as the transport saw them.
struct RequestCredentials {
  std::string_view authorization;          // the Authorization header
  std::string_view client_certificate_cn;  // "" unless the CA verified a client certificate
  const std::vector<std::string>* client_certificate_organizations = nullptr;
};

class Authenticator {
 public:
  Authenticator() = default;
  explicit Authenticator(std::string admin_token);

  // kube-apiserver's --token-auth-file: token,user,uid,"group1,group2" per line.
  Result<void> load_token_file(const std::string& path);
  // Parses the CSV text of a token file (the part of load_token_file tests reach).
  Result<void> add_tokens(std::string_view csv, std::string_view source);
  // Client certificates verified by the transport are users (the server passes their CN and O).
  void accept_client_certificates(bool on) { client_certificates_ = on; }
  // A bearer-token authenticator tried after the static tokens (service-account JWTs); it
  // returns the complete user (groups included) or nullopt.
  using TokenAuthenticator = std::function<std::optional<UserInfo>(std::string_view token)>;
  void add_token_authenticator(TokenAuthenticator f) { token_authenticators_.push_back(std::move(f)); }

  // No credential of any kind is configured (tests on plain HTTP): every request is the admin.
  bool open() const { return admin_token_.empty() && tokens_.empty() && !client_certificates_; }
  // nullopt: unauthenticated (401).
  std::optional<UserInfo> authenticate(const RequestCredentials& c) const;

 private:
  std::string admin_token_;
  std::unordered_map<std::string, UserInfo> tokens_;
  bool client_certificates_ = false;
  std::vector<TokenAuthenticator> token_authenticators_;
};

// The admin's identity (the admin token, and every request of an open server).
UserInfo admin_user();

}  // namespace switchyard::apiserver
