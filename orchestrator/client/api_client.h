// HTTP(S) requests to a kube-apiserver (ours or a real one): the cluster CA verified (or, with
// an explicit CA, a certificate that is itself in it), bearer tokens, whole-body requests and
// streaming GETs for watches, over the project's one HTTP client (orchestrator/http) with its
// keep-alive connections. One request at a time per ApiClient: give each thread its own.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "orchestrator/base/error.h"
#include "orchestrator/client/cluster_connection.h"

namespace switchyard::client {

struct HttpResult {
  int status = 0;
  std::string body;
  std::string content_type;
};

class ApiClient {
 public:
  explicit ApiClient(ClusterConnection c);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;
  // A GET returning the whole body. Errors (Unavailable) are transport failures; any HTTP
  // status is a result.
  Result<HttpResult> get(const std::string& target);
  // Any other request with a body ("PATCH", "/api/v1/…/status", "{…}", "application/merge-patch+json").
  Result<HttpResult> send(const std::string& method, const std::string& target, const std::string& body, const std::string& content_type);
  // A streaming GET: `on_line` gets each newline-terminated chunk of the body (a watch event)
  // until the server ends the stream, `on_line` returns false, or the connection fails.
  // Returns the HTTP status.
  Result<int> stream(const std::string& target, const std::function<bool(const std::string&)>& on_line);
  // A watch stream in whichever form the server answered: each JSON line, or each frame's body
  // of application/vnd.kubernetes.protobuf;stream=watch (`protobuf` says which).
  Result<int> stream_watch(const std::string& target, const std::function<bool(const std::string& message, bool protobuf)>& on_message);
  // From another thread: ends the request in progress at once (its call returns an error).
  void abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchyard::client
