// The API server on the project's HTTP server (orchestrator/http): HTTPS (or, for tests, plain
// HTTP), authentication on the request head before any body is read, the 3 MiB body limit
// answered with a Status 413 before the body is read, and watch streams with bookmarks written
// as the store's events arrive (no thread per connection or per watch in the transport).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "orchestrator/apiserver/api_handler.h"
#include "orchestrator/apiserver/pod_proxy.h"
#include "orchestrator/base/error.h"
#include "orchestrator/http/server.h"

namespace switchyard::apiserver {

// The transport's threads, timeouts and limits for the API server (kube-apiserver's where it
// has them: 32 s for a request head, 1 MiB of headers, 3 MiB of body).
http::HttpServerOptions api_transport_defaults();

struct HttpServerOptions {
  std::string listen = "127.0.0.1:6443";
  std::string tls_cert_file, tls_key_file;  // both empty: plain HTTP
  KubeletClientConfig kubelet_client;       // pods/log, exec, attach, portforward go to kubelets with it
  // Threads, timeouts, limits; its listen, TLS files, name, check_head and error_response are
  // set by start() from the above and the handler.
  http::HttpServerOptions transport = api_transport_defaults();
};

// The steps of a request before and through the handler, for the server and its fuzz target:
// the check on the head (401 before any body is read), and the request as the handler sees it.
std::optional<http::Response> check_request_head(const ApiHandler& handler, const http::RequestHead& head);
HttpRequest to_api_request(const http::Request& r);

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> start(ApiHandler& handler, HttpServerOptions options);
  ~HttpServer();
  int port() const;
  std::size_t connections() const;
  void stop();

 private:
  explicit HttpServer(std::unique_ptr<http::HttpServer> server);
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace switchyard::apiserver
