#include "orchestrator/apiserver/content_negotiation.h"

#include <algorithm>
#include <cstdlib>

#include "orchestrator/api/protobuf_codec.h"

namespace switchyard::apiserver {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

AcceptedTypes parse_accept(std::string_view accept) {
  struct Entry {
    MediaType type;
    double q;
  };
  std::vector<Entry> entries;
  AcceptedTypes out;
  while (!accept.empty()) {
    const auto comma = accept.find(',');
    std::string_view item = trim(accept.substr(0, comma));
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    if (item.empty()) continue;
    const auto semi = item.find(';');
    const std::string type = lower(trim(item.substr(0, semi)));
    std::string as;
    double q = 1;
    for (std::string_view params = semi == std::string_view::npos ? "" : item.substr(semi + 1); !params.empty();) {
      const auto next = params.find(';');
      std::string_view p = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      const auto eq = p.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string key = lower(trim(p.substr(0, eq)));
      const std::string value(trim(p.substr(eq + 1)));
      if (key == "as") as = value;
      if (key == "q") q = std::strtod(value.c_str(), nullptr);
    }
    if (q <= 0) continue;
    if (type == "application/json" || type == "application/yaml" || type == "*/*" || type == "application/*") {
      if (as.empty())
        entries.push_back({MediaType::Json, q});
      else if (as == "Table")
        entries.push_back({MediaType::Table, q});
      else
        out.named_unservable = true;  // PartialObjectMetadata is not served
    } else if (type == std::string(api::protobuf::kMediaType) && as.empty()) {
      entries.push_back({MediaType::Protobuf, q});
    } else {
      out.named_unservable = true;
    }
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.q > b.q; });
  for (const auto& e : entries) out.in_order.push_back(e.type);
  // No Accept header (or only types this server never produces, as before negotiation existed) is JSON.
  if (out.in_order.empty() && !out.named_unservable) out.in_order.push_back(MediaType::Json);
  return out;
}

ApiError not_acceptable() {
  return status_error(
      406, "NotAcceptable",
      "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf");
}

EncodedBody encode_body(int code, const nlohmann::json& document, const AcceptedTypes& accepted) {
  for (MediaType t : accepted.in_order) {
    if (t == MediaType::Protobuf) {
      auto bytes = api::protobuf::encode_object(document);
      if (bytes) return {code, std::string(api::protobuf::kMediaType), std::move(*bytes)};
      continue;  // no protobuf form for this kind: the next accepted type, as upstream does
    }
    return {code, "application/json", document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
  }
  // Nothing the client accepts can carry this answer.
  const ApiError e = not_acceptable();
  return {e.code, "application/json", e.status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace switchyard::apiserver
