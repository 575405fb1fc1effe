// HTTPS (or, for tests, plain HTTP) transport of the API server on Boost.Beast: a thread per
// connection with keep-alive, chunked watch streams with bookmarks and timeouts.
#pragma once

#include <atomic>
#include <expected>
#include <memory>
#include <string>
#include <thread>

#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:6443";
  std::string tls_cert_file, tls_key_file;  // both empty: plain HTTP
};

class HttpServer {
 public:
  static std::expected<std::unique_ptr<HttpServer>, std::string> start(ApiHandler& handler, HttpServerOptions options);
  ~HttpServer();
  int port() const { return port_; }
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace switchyard::apiserver
