// The kubelet's HTTPS endpoint (port 10250), the part of it the API server uses:
//
//   GET      /containerLogs/{ns}/{pod}/{container}  follow, previous, tailLines, timestamps,
//                                                    sinceSeconds, sinceTime, limitBytes
//   GET|POST /exec/{ns}/{pod}/{container}            command=…&input=1&output=1&error=1&tty=1
//   GET|POST /attach/{ns}/{pod}/{container}          input, output, error, tty
//   GET|POST /portForward/{ns}/{pod}                 [port=…]
//
// Logs are read from the CRI log files; exec, attach and port-forward ask the runtime for a
// streaming URL and hand the connection to the runtime's streaming server (SPDY or WebSocket,
// whatever the client offered) as upstream's kubelet does. Only callers with a client
// certificate from `client_ca_file` whose common name is in `authorized_users` are served:
// no certificate is 401, another name 403.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::kubelet::server {

inline constexpr const char* kApiServerKubeletClientName = "kube-apiserver-kubelet-client";

struct KubeletServerOptions {
  std::string listen = "0.0.0.0:10250";
  std::string tls_cert_file, tls_key_file;  // the serving certificate
  std::string client_ca_file;               // required: who may call
  std::vector<std::string> authorized_users{kApiServerKubeletClientName};
  std::string runtime_endpoint;  // the CRI socket
};

class KubeletServer {
 public:
  static Result<std::unique_ptr<KubeletServer>> start(KubeletServerOptions options);
  ~KubeletServer();
  KubeletServer(const KubeletServer&) = delete;
  KubeletServer& operator=(const KubeletServer&) = delete;
  std::uint16_t port() const;
  void stop();

  struct Impl;

 private:
  explicit KubeletServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchyard::kubelet::server
