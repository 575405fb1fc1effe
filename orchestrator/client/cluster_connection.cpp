#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/client/client_certificates.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

namespace switchyard::client {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string base64_decode(const std::string& in) {
  std::string out(in.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return {};
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '\0') out.pop_back();  // padding
  return out;
}

void trim_newlines(std::string& s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
}

// "https://host:port" -> host, port, tls
Result<void> parse_server(const std::string& server, ClusterConnection& c) {
  std::string rest;
  if (server.starts_with("https://"))
    rest = server.substr(8), c.tls = true;
  else if (server.starts_with("http://"))
    rest = server.substr(7), c.tls = false;
  else
    return fail(ErrorCode::Invalid, fmt::format("server {}: expected https://HOST:PORT", server));
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    if (close == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("server {}: unterminated [", server));
    c.host = rest.substr(1, close - 1);
    c.port = close + 1 < rest.size() && rest[close + 1] == ':' ? rest.substr(close + 2) : (c.tls ? "443" : "80");
  } else {
    auto colon = rest.rfind(':');
    c.host = colon == std::string::npos ? rest : rest.substr(0, colon);
    c.port = colon == std::string::npos ? (c.tls ? "443" : "80") : rest.substr(colon + 1);
  }
  return {};
}

}  // namespace

Result<ClusterConnection> load_kubeconfig(const std::string& path) {
  if (!std::filesystem::exists(path)) return fail(ErrorCode::NotFound, fmt::format("{}: no such file", path));
  try {
    YAML::Node kc = YAML::LoadFile(path);
    const std::string current = kc["current-context"].as<std::string>("");
    // A default YAML::Node is a defined null: track what was found explicitly.
    YAML::Node context, cluster, user;
    bool has_context = false, has_cluster = false, has_user = false;
    for (const auto& c : kc["contexts"])
      if (c["name"].as<std::string>("") == current) context = c["context"], has_context = true;
    if (!has_context) return fail(ErrorCode::NotFound, fmt::format("{}: current-context \"{}\" not found", path, current));
    for (const auto& c : kc["clusters"])
      if (c["name"].as<std::string>("") == context["cluster"].as<std::string>("")) cluster = c["cluster"], has_cluster = true;
    for (const auto& u : kc["users"])
      if (u["name"].as<std::string>("") == context["user"].as<std::string>("")) user = u["user"], has_user = true;
    if (!has_cluster) return fail(ErrorCode::NotFound, fmt::format("{}: cluster of context {} not found", path, current));
    ClusterConnection c;
    if (auto r = parse_server(cluster["server"].as<std::string>(""), c); !r) return fail(with_context(r.error(), path));
    if (cluster["certificate-authority-data"])
      c.ca_pem = base64_decode(cluster["certificate-authority-data"].as<std::string>());
    else if (cluster["certificate-authority"])
      c.ca_pem = read_file(cluster["certificate-authority"].as<std::string>());
    if (has_user && user["token"])
      c.token = user["token"].as<std::string>();
    else if (has_user && user["tokenFile"])
      c.token = read_file(user["tokenFile"].as<std::string>());
    trim_newlines(c.token);
    ClientCertificate certificate;
    if (has_user && user["client-certificate-data"])
      certificate.cert_pem = base64_decode(user["client-certificate-data"].as<std::string>());
    else if (has_user && user["client-certificate"])
      certificate.cert_pem = read_file(user["client-certificate"].as<std::string>());
    if (has_user && user["client-key-data"])
      certificate.key_pem = base64_decode(user["client-key-data"].as<std::string>());
    else if (has_user && user["client-key"])
      certificate.key_pem = read_file(user["client-key"].as<std::string>());
    if (certificate.cert_pem.empty() != certificate.key_pem.empty())
      return fail(ErrorCode::Invalid, fmt::format("{}: a client certificate needs its key (and a key its certificate)", path));
    if (!certificate.cert_pem.empty()) register_client_certificate(c.host, c.port, std::move(certificate));
    return c;
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::Invalid, fmt::format("{}: {}", path, e.what()));
  }
}

Result<ClusterConnection> load_in_cluster(const std::string& dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port) return fail(ErrorCode::NotFound, "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  ClusterConnection c{host, port, read_file(dir + "/ca.crt"), read_file(dir + "/token"), true};
  trim_newlines(c.token);
  if (c.token.empty()) return fail(ErrorCode::NotFound, fmt::format("{}/token: empty or unreadable", dir));
  if (c.ca_pem.empty()) return fail(ErrorCode::NotFound, fmt::format("{}/ca.crt: empty or unreadable", dir));
  return c;
}

Result<void> set_servers(ClusterConnection& c, const std::string& servers) {
  std::vector<std::string> urls;
  std::size_t at = 0;
  while (at <= servers.size()) {
    const auto comma = std::min(servers.find(',', at), servers.size());
    if (comma > at) urls.push_back(servers.substr(at, comma - at));
    at = comma + 1;
  }
  if (urls.empty()) return fail(ErrorCode::Invalid, "no API server given");
  ClusterConnection probe;
  for (const auto& url : urls)
    if (auto ok = parse_server(url, probe); !ok) return fail(ok.error());
  if (auto ok = parse_server(urls.front(), c); !ok) return fail(ok.error());
  c.other_servers.assign(urls.begin() + 1, urls.end());
  return {};
}

Result<ClusterConnection> load_connection(const std::string& kubeconfig, const std::string& servers) {
  auto c = kubeconfig.empty() ? load_in_cluster() : load_kubeconfig(kubeconfig);
  if (!c) return c;
  if (!servers.empty())
    if (auto ok = set_servers(*c, servers); !ok) return fail(with_context(ok.error(), "--server"));
  return c;
}

}  // namespace switchyard::client
