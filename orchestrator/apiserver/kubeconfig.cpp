#include "orchestrator/apiserver/kubeconfig.h"

#include <arpa/inet.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>


namespace switchyard::apiserver {
namespace {

void sha256(std::string_view data, unsigned char out[32]) {
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string server_url(std::string_view listen_host, std::uint16_t port) {
  std::string host(listen_host);
  unsigned char buf[16]{};
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) {
    if (host == "0.0.0.0") host = "127.0.0.1";
    return fmt::format("https://{}:{}", host, port);
  }
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    static const unsigned char zero[16]{};
    if (std::memcmp(buf, zero, 16) == 0) host = "::1";
    return fmt::format("https://[{}]:{}", host, port);
  }
  return fmt::format("https://{}:{}", host, port);
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string render_kubeconfig(const KubeconfigOptions& o) {
  YAML::Emitter y;
  y << YAML::BeginMap;
  y << YAML::Key << "apiVersion" << YAML::Value << "v1";
  y << YAML::Key << "kind" << YAML::Value << "Config";
  y << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << o.cluster_name;
  y << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "server" << YAML::Value << o.server;
  y << YAML::Key << "certificate-authority-data" << YAML::Value << base64_encode(o.ca_cert_pem);
  y << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  y << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << o.user_name;
  y << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "token" << YAML::Value << o.token;
  y << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  y << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << o.context_name;
  y << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "cluster" << YAML::Value << o.cluster_name;
  y << YAML::Key << "user" << YAML::Value << o.user_name;
  y << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  y << YAML::Key << "current-context" << YAML::Value << o.context_name;
  y << YAML::Key << "preferences" << YAML::Value << YAML::BeginMap << YAML::EndMap;
  y << YAML::EndMap;
  return std::string(y.c_str()) + "\n";
}

Result<> write_kubeconfig(const std::filesystem::path& path, const KubeconfigOptions& o) {
  return write_file_atomically(path, render_kubeconfig(o), 0600);
}

Result<std::filesystem::path> write_admin_kubeconfig(const std::filesystem::path& data_dir,
                                                                         const Credentials& credentials,
                                                                         std::string_view listen_host,
                                                                         std::uint16_t port) {
  const auto path = data_dir / "kubeconfig";
  KubeconfigOptions o;
  o.server = server_url(listen_host, port);
  o.ca_cert_pem = credentials.ca_cert_pem;
  o.token = credentials.admin_token;
  if (auto w = write_kubeconfig(path, o); !w) return std::unexpected(w.error());
  return path;
}

TokenAuthenticator::TokenAuthenticator(std::string_view token, User user) : user_(std::move(user)) {
  sha256(token, digest_);
}

std::optional<TokenAuthenticator::User> TokenAuthenticator::authenticate(std::string_view header) const {
  header = trim(header);
  // strings.SplitN(auth, " ", 3): scheme, token, anything after.
  const auto sp = header.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  std::string_view scheme = header.substr(0, sp), rest = header.substr(sp + 1);
  std::string_view token = rest.substr(0, rest.find(' '));
  if (scheme.size() != 6 || token.empty()) return std::nullopt;
  for (std::size_t i = 0; i < 6; ++i)
    if (std::tolower(static_cast<unsigned char>(scheme[i])) != "bearer"[i]) return std::nullopt;
  unsigned char presented[32];
  sha256(token, presented);
  if (CRYPTO_memcmp(presented, digest_, sizeof digest_) != 0) return std::nullopt;
  return user_;
}

}  // namespace switchyard::apiserver
