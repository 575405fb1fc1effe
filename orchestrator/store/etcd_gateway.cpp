#include "orchestrator/store/etcd_gateway.h"

#include <openssl/evp.h>

#include <charconv>

#include <fmt/format.h>

namespace switchyard::store::etcd {

using nlohmann::json;

std::string Endpoint::str() const { return fmt::format("{}:{}", host, port); }

StoreResult<Endpoint> Endpoint::parse(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return std::unexpected(StoreError{StoreErrorCode::Internal, fmt::format("etcd endpoint \"{}\": {}", url, why)});
  };
  std::string_view rest = url;
  if (rest.starts_with("https://")) return bad("https is not supported");
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("expected host:port");
  Endpoint e{std::string(rest.substr(0, colon)), 0};
  auto port = rest.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) return bad("bad port");
  e.port = static_cast<std::uint16_t>(value);
  return e;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::int64_t int_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  return 0;
}

StoreResult<std::string> bytes_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return std::string();
  if (!it->is_string())
    return std::unexpected(StoreError{StoreErrorCode::Internal, fmt::format("etcd response: field {} is not a string", name)});
  auto decoded = base64_decode(it->get_ref<const std::string&>());
  if (!decoded) return std::unexpected(StoreError{StoreErrorCode::Internal, fmt::format("etcd response: field {} is not base64", name)});
  return std::move(*decoded);
}

StoreResult<KeyValue> key_value_from(const json& kv) {
  if (!kv.is_object()) return std::unexpected(StoreError{StoreErrorCode::Internal, "etcd response: kv is not an object"});
  auto key = bytes_field(kv, "key");
  if (!key) return std::unexpected(key.error());
  auto value = bytes_field(kv, "value");
  if (!value) return std::unexpected(value.error());
  return KeyValue{std::move(*key), std::move(*value), int_field(kv, "create_revision"), int_field(kv, "mod_revision")};
}

StoreError gateway_error(std::string_view what, unsigned http_status, std::string_view body) {
  auto parsed = json::parse(body, nullptr, false);
  std::string message(body.substr(0, 200));
  std::int64_t grpc_code = -1;
  if (parsed.is_object()) {
    if (auto it = parsed.find("message"); it != parsed.end() && it->is_string()) message = it->get<std::string>();
    if (auto it = parsed.find("code"); it != parsed.end() && it->is_number_integer()) grpc_code = it->get<std::int64_t>();
  }
  StoreErrorCode code = StoreErrorCode::Internal;
  if (message.find("required revision has been compacted") != std::string::npos)
    code = StoreErrorCode::Compacted;
  else if (message.find("required revision is a future revision") != std::string::npos)
    code = StoreErrorCode::FutureRevision;
  else if (grpc_code == 14 || grpc_code == 4 || http_status == 503)  // UNAVAILABLE, DEADLINE_EXCEEDED
    code = StoreErrorCode::Unavailable;
  return {code, fmt::format("{}: {} (HTTP {}, gRPC code {})", what, message, http_status, grpc_code)};
}

http::HttpClientOptions gateway_client_options(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  http::HttpClientOptions o;
  o.server = "http://" + endpoint.str();
  o.connect_timeout = timeout;
  o.request_timeout = timeout;
  o.max_idle_connections = 16;
  o.max_response_bytes = 256u << 20;
  return o;
}

StoreError request_error(std::string_view what, const Error& error) {
  const bool unreachable = error.code == ErrorCode::Unavailable || error.code == ErrorCode::Timeout;
  return {unreachable ? StoreErrorCode::Unavailable : StoreErrorCode::Internal, fmt::format("{}: {}", what, error.message)};
}

GatewayClient::GatewayClient(Endpoint endpoint, std::chrono::milliseconds timeout) : endpoint_(std::move(endpoint)), timeout_(timeout) {
  auto client = http::HttpClient::create(gateway_client_options(endpoint_, timeout_));
  if (client)
    client_ = std::move(*client);
  else
    client_error_ = client.error().message;
}

GatewayClient::~GatewayClient() = default;

StoreResult<json> GatewayClient::post(std::string_view path, const json& request, bool idempotent) {
  const std::string what = fmt::format("etcd {} POST {}", endpoint_.str(), path);
  if (!client_) return std::unexpected(StoreError{StoreErrorCode::Internal, fmt::format("{}: {}", what, client_error_)});
  auto res = client_->request(http::ClientRequest{
      .method = "POST", .target = std::string(path), .body = request.dump(), .content_type = "application/json", .idempotent = idempotent});
  if (!res) return std::unexpected(request_error(what, res.error()));
  if (res->status != 200) return std::unexpected(gateway_error(what, static_cast<unsigned>(res->status), res->body));
  auto parsed = json::parse(res->body, nullptr, false);
  if (!parsed.is_object())
    return std::unexpected(StoreError{StoreErrorCode::Internal, fmt::format("{}: response is not a JSON object", what)});
  return parsed;
}

}  // namespace switchyard::store::etcd
