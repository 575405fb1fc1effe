#include "cmd/kubelet_endpoint.h"

#include <filesystem>

#include <fmt/format.h>

#include "orchestrator/apiserver/pki.h"

namespace switchyard::cmd {

Result<std::unique_ptr<kubelet::server::KubeletServer>> start_kubelet_endpoint(const KubeletEndpointOptions& o) {
  if (o.client_ca_file.empty())
    return fail(ErrorCode::Invalid, "the kubelet's server needs --client-ca-file (the CA of the API server's kubelet client certificate)");
  kubelet::server::KubeletServerOptions s;
  s.listen = o.address.find(':') != std::string::npos ? fmt::format("[{}]:{}", o.address, o.port) : fmt::format("{}:{}", o.address, o.port);
  s.runtime_endpoint = o.runtime_endpoint;
  s.client_ca_file = o.client_ca_file;
  s.tls_cert_file = o.tls_cert_file;
  s.tls_key_file = o.tls_key_file;
  if (s.tls_cert_file.empty()) {
    const std::filesystem::path dir(o.cert_dir);
    apiserver::LeafCertificate leaf{.common_name = o.node_name, .cert_file = dir / "kubelet.crt", .key_file = dir / "kubelet.key"};
    if (!o.ca_key_file.empty()) {
      leaf.ca_cert_file = o.client_ca_file;
      leaf.ca_key_file = o.ca_key_file;
    }
    leaf.sans.ips = {"127.0.0.1"};
    if (!o.node_ip.empty() && o.node_ip != "127.0.0.1") leaf.sans.ips.push_back(o.node_ip);
    leaf.sans.dns_names = {o.node_name};
    if (auto made = apiserver::ensure_leaf_certificate(leaf); !made) return fail(made.error());
    s.tls_cert_file = leaf.cert_file.string();
    s.tls_key_file = leaf.key_file.string();
  }
  return kubelet::server::KubeletServer::start(std::move(s));
}

}  // namespace switchyard::cmd
