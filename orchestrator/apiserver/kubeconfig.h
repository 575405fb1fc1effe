// DIR/kubeconfig for the admin user, so that `kubectl --kubeconfig DIR/kubeconfig ...` works
// against a freshly started `switchyard apiserver --data-dir DIR`; and the bearer-token check
// the API server applies to every request.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/apiserver/pki.h"
#include "orchestrator/base/error.h"

namespace switchyard::apiserver {

struct KubeconfigOptions {
  std::string server;          // https://127.0.0.1:6443 (see server_url)
  std::string ca_cert_pem;     // becomes certificate-authority-data (base64)
  std::string token;           // the admin bearer token
  std::string cluster_name = "switchyard";
  std::string user_name = "admin";
  std::string context_name = "switchyard";
};

// "https://HOST:PORT" with an IPv6 host in brackets; an unspecified host (0.0.0.0, ::) is
// replaced by the loopback address of its family, which the serving certificate always covers.
std::string server_url(std::string_view listen_host, std::uint16_t port);

// The kubeconfig YAML (apiVersion v1, kind Config, one cluster, user and context, current-context).
std::string render_kubeconfig(const KubeconfigOptions& options);

// Writes render_kubeconfig(options) to `path` atomically with mode 0600 (it holds the token).
Result<> write_kubeconfig(const std::filesystem::path& path, const KubeconfigOptions& options);

// DIR/kubeconfig for `credentials` (from ensure_credentials over DIR): server_url(listen_host,
// port), the CA, the admin token. Rewritten on every start, so a new listen address reaches it.
Result<std::filesystem::path> write_admin_kubeconfig(const std::filesystem::path& data_dir,
                                                                         const Credentials& credentials,
                                                                         std::string_view listen_host,
                                                                         std::uint16_t port);

std::string base64_encode(std::string_view data);

// Authenticates `Authorization: Bearer <token>` against one static token, in constant time with
// respect to the token's contents and length (both sides are hashed with SHA-256 first).
// Parsing follows the API server's bearer-token authenticator: surrounding white space is
// trimmed, the scheme is case-insensitive, the token is the second space-separated word.
class TokenAuthenticator {
 public:
  struct User {
    std::string name;
    std::vector<std::string> groups;
    bool operator==(const User&) const = default;
  };

  explicit TokenAuthenticator(std::string_view token,
                              User user = {"admin", {"system:masters", "system:authenticated"}});

  // The user for a matching header value (what follows "Authorization:"), nullopt otherwise.
  std::optional<User> authenticate(std::string_view authorization_header) const;

 private:
  unsigned char digest_[32];
  User user_;
};

}  // namespace switchyard::apiserver
