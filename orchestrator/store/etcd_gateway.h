// etcd 3.4's v3 JSON gateway (grpc-gateway): plain HTTP/1.1 POSTs of JSON-mapped protobuf
// messages. Field names are the .proto names (key, range_end, mod_revision, ...), bytes are
// base64, int64s are JSON strings, and fields at their zero value are left out of responses.
// Errors come back as a non-200 status with {"error", "message", "code" (a gRPC code)}.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/http/client.h"
#include "orchestrator/store/store.h"

namespace switchyard::store::etcd {

struct Endpoint {
  std::string host;  // an IP address or a name
  std::uint16_t port = 0;
  std::string str() const;
  // "http://127.0.0.1:2379" or "127.0.0.1:2379"; https is not supported.
  static StoreResult<Endpoint> parse(std::string_view url);
};

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// An int64 field that grpc-gateway writes as a string ("12"); 0 when absent.
std::int64_t int_field(const nlohmann::json& object, const char* name);
// A base64 bytes field, decoded; empty when absent.
StoreResult<std::string> bytes_field(const nlohmann::json& object, const char* name);
// mvccpb.KeyValue -> KeyValue.
StoreResult<KeyValue> key_value_from(const nlohmann::json& kv);

// The store error for a gateway error body (or a body that is not one).
StoreError gateway_error(std::string_view what, unsigned http_status, std::string_view body);

// Requests to one etcd member over the project's HTTP client (keep-alive connections reused,
// a stale one replaced once); thread-safe.
class GatewayClient {
 public:
  GatewayClient(Endpoint endpoint, std::chrono::milliseconds timeout);
  ~GatewayClient();
  GatewayClient(const GatewayClient&) = delete;
  GatewayClient& operator=(const GatewayClient&) = delete;

  // POSTs `request` to `path` ("/v3/kv/range") and returns the parsed 200 response.
  // `idempotent` requests are retried once on a fresh connection when a reused one turns out
  // to be closed; others only when the request could not be sent at all.
  StoreResult<nlohmann::json> post(std::string_view path, const nlohmann::json& request, bool idempotent);

  const Endpoint& endpoint() const { return endpoint_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<http::HttpClient> client_;  // null when the endpoint makes no URL (post says why)
  std::string client_error_;
};

// The client options for an etcd member (plain HTTP).
http::HttpClientOptions gateway_client_options(const Endpoint& endpoint, std::chrono::milliseconds timeout);
// A store error for a failed request: Unavailable when etcd cannot be reached or timed out.
StoreError request_error(std::string_view what, const Error& error);

}  // namespace switchyard::store::etcd
