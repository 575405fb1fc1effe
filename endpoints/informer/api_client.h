// A client of the kube-apiserver protocol for the node agent: kubeconfig or in-cluster
// configuration, HTTPS with the cluster CA verified, bearer tokens; list and watch requests.
// The same code talks to a real kube-apiserver and to `switchyard apiserver`.
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <string>

namespace switchyard::informer {

struct ClusterConnection {
  std::string host;  // IP or name
  std::string port;
  std::string ca_pem;  // empty: system roots
  std::string token;
  bool tls = true;
};

// The current-context cluster and user of a kubeconfig (token auth, CA data or file).
std::expected<ClusterConnection, std::string> load_kubeconfig(const std::string& path);
// KUBERNETES_SERVICE_HOST/PORT and the service-account token and CA files.
std::expected<ClusterConnection, std::string> load_in_cluster(const std::string& secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

struct HttpResult {
  int status = 0;
  std::string body;
};

class ApiClient {
 public:
  explicit ApiClient(ClusterConnection c);
  ~ApiClient();
  // A GET returning the whole body.
  std::expected<HttpResult, std::string> get(const std::string& target);
  // Any other request with a body ("PATCH", "/api/v1/…/status", "{…}", "application/merge-patch+json").
  std::expected<HttpResult, std::string> send(const std::string& method, const std::string& target, const std::string& body,
                                              const std::string& content_type);
  // A streaming GET: `on_line` gets each newline-terminated chunk of the body (a watch event)
  // until the server ends the stream, `on_line` returns false, or the connection fails.
  std::expected<int, std::string> stream(const std::string& target, const std::function<bool(const std::string&)>& on_line);
  // From another thread: ends the request in progress at once (its call returns an error).
  void abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;

};

}  // namespace switchyard::informer
