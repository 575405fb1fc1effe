#include "cmd/tls_bootstrap.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "orchestrator/apiserver/kubeconfig.h"
#include "orchestrator/apiserver/pki.h"
#include "orchestrator/base/x509_requests.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/client_certificates.h"
#include "orchestrator/http/client.h"

namespace switchyard::cmd {

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kCsrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

// The value of `key: value` on the first line that has it (cluster-info's kubeconfig, as kubeadm writes it).
std::string yaml_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find(key + ":");
    if (at == std::string::npos || line.find_first_not_of(" -") != at) continue;
    std::string v = line.substr(at + key.size() + 1);
    v.erase(0, v.find_first_not_of(" \t\""));
    while (!v.empty() && (v.back() == ' ' || v.back() == '"' || v.back() == '\r')) v.pop_back();
    return v;
  }
  return {};
}

std::string base64_decode(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned value = 0;
  int bits = 0;
  for (char c : in) {
    const auto at = kAlphabet.find(c);
    if (at == std::string::npos) continue;  // padding, line breaks
    value = (value << 6) | static_cast<unsigned>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xff);
    }
  }
  return out;
}

// "https://HOST:PORT" into a ClusterConnection's host and port.
Result<client::ClusterConnection> parse_server(const std::string& server) {
  if (!server.starts_with("https://")) return fail(ErrorCode::Invalid, fmt::format("--server {}: must be https://HOST:PORT", server));
  std::string rest = server.substr(8);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  client::ClusterConnection c;
  if (rest.starts_with("[")) {
    const auto close = rest.find(']');
    if (close == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("--server {}: unclosed [", server));
    c.host = rest.substr(1, close - 1);
    c.port = close + 2 < rest.size() ? rest.substr(close + 2) : "443";
  } else {
    const auto colon = rest.rfind(':');
    c.host = rest.substr(0, colon);
    c.port = colon == std::string::npos ? "443" : rest.substr(colon + 1);
  }
  if (c.host.empty()) return fail(ErrorCode::Invalid, fmt::format("--server {}: no host", server));
  return c;
}

// --server's list, "https://a:6443[,https://b:6443…]": API servers of one cluster, first preferred.
std::vector<std::string> server_list(const std::string& servers) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at <= servers.size();) {
    const auto comma = std::min(servers.find(',', at), servers.size());
    if (comma > at) out.push_back(servers.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

// The CA in a cluster-info answer, when its public key has the pin given.
Result<std::string> ca_from_cluster_info(const TlsBootstrapOptions& o, const std::string& server, const http::ClientResponse& answer) {
  if (answer.status != 200)
    return fail(ErrorCode::Unavailable, fmt::format("the API server at {} did not give the cluster-info ConfigMap of kube-public "
                                                    "(HTTP {}): is it a cluster made by `switchyard up`?",
                                                    server, answer.status));
  const Json cm = Json::parse(answer.body, nullptr, false);
  const std::string kubeconfig = cm.value("data", Json::object()).value("kubeconfig", "");
  const std::string ca = base64_decode(yaml_value(kubeconfig, "certificate-authority-data"));
  if (ca.empty()) return fail(ErrorCode::Invalid, "the cluster-info ConfigMap holds no certificate-authority-data");
  auto pin = public_key_pin(ca);
  if (!pin) return fail(with_context(pin.error(), "the CA in cluster-info"));
  if (*pin != o.ca_cert_hash)
    return fail(ErrorCode::Conflict, fmt::format("the cluster CA's public key hash is {}, not the --ca-cert-hash given ({}): refusing to "
                                                 "trust the API server at {}; the token was not sent",
                                                 *pin, o.ca_cert_hash, server));
  return ca;
}

// The cluster CA from the first server that answers (an unreachable one is skipped, as a node
// with several API server addresses would; a wrong answer stops the join).
Result<std::string> discover_ca(const TlsBootstrapOptions& o) {
  std::string unreachable;
  for (const auto& server : server_list(o.server)) {
    auto http = http::HttpClient::create({.server = server, .insecure_skip_verify = true, .connect_timeout = std::chrono::seconds(10)});
    if (!http) return fail(http.error());
    auto answer = (*http)->get("/api/v1/namespaces/kube-public/configmaps/cluster-info");
    if (!answer) {
      unreachable +=
          fmt::format("{}cannot reach the API server at {}: {}", unreachable.empty() ? "" : "; ", server, answer.error().message);
      continue;
    }
    return ca_from_cluster_info(o, server, *answer);
  }
  return fail(ErrorCode::Unavailable, unreachable);
}

// An answer that is not what was expected, in words a user acts on.
Error refused(const client::HttpResult& r, const std::string& what, const std::string& token) {
  const std::string message = Json::parse(r.body, nullptr, false).value("message", r.body);
  if (r.status == 401)
    return Error{ErrorCode::Unauthorized,
                 fmt::format("the API server refused the join token {}.…: it is unknown to this cluster or has expired (HTTP 401 "
                             "Unauthorized); print a new one on the control plane (restart `switchyard up`) or ask its admin",
                             token.substr(0, 6))};
  if (r.status == 403) return Error{ErrorCode::Forbidden, fmt::format("{}: the join token may not do this (HTTP 403): {}", what, message)};
  return Error{ErrorCode::Unavailable, fmt::format("{}: HTTP {}: {}", what, r.status, message)};
}

fs::path kubeconfig_path(const TlsBootstrapOptions& o) { return fs::path(o.data_dir) / "kubelet.kubeconfig"; }

// The node's kubeconfig from an earlier join, when the server still accepts it.
// It is used against the servers --server gives now (`servers`), which may differ from the
// kubeconfig's.
std::optional<client::ClusterConnection> reusable(const TlsBootstrapOptions& o, const client::ClusterConnection& servers) {
  if (!fs::exists(kubeconfig_path(o))) return std::nullopt;
  auto c = client::load_kubeconfig(kubeconfig_path(o).string());
  if (!c) return std::nullopt;
  auto certificate = client::client_certificate_for(c->host, c->port);  // load_kubeconfig registered it
  if (!certificate || !c->token.empty()) return std::nullopt;
  auto subject = certificate_subject(certificate->cert_pem);
  if (!subject || subject->common_name != "system:node:" + o.node_name) return std::nullopt;
  if (c->host != servers.host || c->port != servers.port) client::register_client_certificate(servers.host, servers.port, *certificate);
  c->host = servers.host;
  c->port = servers.port;
  c->other_servers = servers.other_servers;
  client::ApiClient api(*c);
  // A server not reachable yet (a node starting again after an outage, its link just back) or
  // busy is no reason to drop the credential for the token, which may have expired by then: only
  // a refusal of the credential itself (401, 403) is. Anything else: ask again.
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  for (bool logged = false;; logged = true) {
    auto r = api.get("/api/v1/nodes/" + o.node_name);
    if (r && (r->status == 200 || r->status == 404)) return *c;
    if (r && (r->status == 401 || r->status == 403)) {
      spdlog::warn("event=node_credentials_refused kubeconfig={} status={} effect=\"joining with the token\"", kubeconfig_path(o).string(),
                   r->status);
      return std::nullopt;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    if (!logged)
      spdlog::warn("event=node_credentials_unchecked server={} error=\"{}\" effect=\"asking again\"", o.server,
                   r ? fmt::format("HTTP {}", r->status) : r.error().message);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

Result<client::ClusterConnection> node_credentials(const TlsBootstrapOptions& o) {
  // The first server is the one to use; the others are where the node's clients go when it
  // cannot be reached.
  const auto servers = server_list(o.server);
  if (servers.empty()) return fail(ErrorCode::Invalid, "--server: no API server given");
  auto server = parse_server(servers.front());
  if (!server) return fail(server.error());
  for (std::size_t i = 1; i < servers.size(); ++i)
    if (auto other = parse_server(servers[i]); !other) return fail(other.error());
  server->other_servers.assign(servers.begin() + 1, servers.end());
  if (auto c = reusable(o, *server)) {
    spdlog::info("event=node_credentials_reused kubeconfig={}", kubeconfig_path(o).string());
    return *c;
  }
  if (!o.ca_cert_hash.starts_with("sha256:") || o.ca_cert_hash.size() != 7 + 64)
    return fail(ErrorCode::Invalid,
                fmt::format("--ca-cert-hash \"{}\": must be sha256: and 64 hex digits (as `switchyard up` prints it)", o.ca_cert_hash));
  auto ca = discover_ca(o);
  if (!ca) return fail(ca.error());
  client::ClusterConnection bootstrap = *server;
  bootstrap.ca_pem = *ca;
  bootstrap.token = o.token;
  client::ApiClient api(bootstrap);

  auto key = make_key_and_request("system:node:" + o.node_name, {"system:nodes"});
  if (!key) return fail(key.error());
  const Json csr = {{"apiVersion", "certificates.k8s.io/v1"},
                    {"kind", "CertificateSigningRequest"},
                    {"metadata", {{"generateName", "node-csr-"}}},
                    {"spec",
                     {{"request", apiserver::base64_encode(key->request_pem)},
                      {"signerName", "kubernetes.io/kube-apiserver-client-kubelet"},
                      {"usages", {"digital signature", "client auth"}}}}};
  auto made = api.send("POST", kCsrs, csr.dump(), "application/json");
  if (!made) return fail(ErrorCode::Unavailable, fmt::format("cannot reach the API server at {}: {}", o.server, made.error().message));
  if (made->status != 201) return fail(refused(*made, "creating the node's certificate signing request", o.token));
  const std::string name = Json::parse(made->body, nullptr, false)["metadata"].value("name", "");
  spdlog::info("event=csr_created name={} node={}", name, o.node_name);

  std::string cert;
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  while (cert.empty()) {
    auto r = api.get(fmt::format("{}/{}", kCsrs, name));
    if (!r) return fail(ErrorCode::Unavailable, fmt::format("reading csr {}: {}", name, r.error().message));
    if (r->status != 200) return fail(refused(*r, "reading csr " + name, o.token));
    const Json got = Json::parse(r->body, nullptr, false);
    const Json status = got.value("status", Json::object());
    for (const auto& c : status.value("conditions", Json::array()))
      if ((c.value("type", "") == "Denied" || c.value("type", "") == "Failed") && c.value("status", "") == "True")
        return fail(ErrorCode::Forbidden,
                    fmt::format("the certificate signing request {} was {}: {} {}", name,
                                c.value("type", "") == "Denied" ? "denied" : "not signed", c.value("reason", ""), c.value("message", "")));
    cert = base64_decode(status.value("certificate", ""));
    if (!cert.empty()) break;
    if (std::chrono::steady_clock::now() > deadline)
      return fail(ErrorCode::Timeout,
                  fmt::format("the certificate signing request {} got no certificate within {}s: is the controller manager running?", name,
                              o.timeout.count()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  // The credential the node keeps: CA, certificate and key in one 0600 kubeconfig.
  if (auto ok = apiserver::ensure_private_dir(o.data_dir); !ok) return fail(ok.error());
  if (auto ok = apiserver::write_file_atomically(fs::path(o.data_dir) / "ca.crt", *ca, 0644); !ok) return fail(ok.error());
  const std::string kubeconfig = fmt::format(
      "apiVersion: v1\nkind: Config\nclusters:\n- name: switchyard\n  cluster:\n    server: {}\n    certificate-authority-data: {}\n"
      "users:\n- name: system:node:{}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n"
      "contexts:\n- name: switchyard\n  context:\n    cluster: switchyard\n    user: system:node:{}\n"
      "current-context: switchyard\n",
      servers.front(), apiserver::base64_encode(*ca), o.node_name, apiserver::base64_encode(cert), apiserver::base64_encode(key->key_pem),
      o.node_name);
  if (auto ok = apiserver::write_file_atomically(kubeconfig_path(o), kubeconfig, 0600); !ok) return fail(ok.error());
  spdlog::info("event=node_credentials_issued csr={} kubeconfig={}", name, kubeconfig_path(o).string());
  client::ClusterConnection node = *server;
  node.ca_pem = *ca;
  client::register_client_certificate(node.host, node.port, {cert, key->key_pem});
  return node;
}

}  // namespace switchyard::cmd
