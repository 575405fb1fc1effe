// The kubelet's HTTPS endpoint as `up` and `switchyard kubelet` start it: the serving
// certificate (given, or made here: signed by the cluster CA when its key is at hand, as under
// `up`, else self-signed as upstream's kubelet does) and the CA whose clients it serves.
#pragma once

#include <memory>
#include <string>

#include "kubelet/server/kubelet_server.h"
#include "orchestrator/base/error.h"

namespace switchyard::cmd {

struct KubeletEndpointOptions {
  std::string node_name, node_ip;
  std::string address = "0.0.0.0";  // where to listen
  int port = 10250;
  std::string runtime_endpoint;
  std::string cert_dir;                     // where a made serving certificate goes
  std::string tls_cert_file, tls_key_file;  // given: used as they are
  std::string client_ca_file;               // required: the CA of the API server's client certificate
  std::string ca_key_file;                  // with client_ca_file's CA: sign the serving certificate with it
};

Result<std::unique_ptr<kubelet::server::KubeletServer>> start_kubelet_endpoint(const KubeletEndpointOptions& o);

}  // namespace switchyard::cmd
