// /openapi/v2 for kubectl 1.27 and 1.28, which learn from it (as gnostic protobuf) that the
// server validates fields itself: every PATCH operation carries x-kubernetes-group-version-kind
// and a fieldValidation query parameter. Only those parts of the Swagger document are written;
// a tiny protobuf writer is enough for them (no schema compiler needed).
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

namespace {

// Protocol-buffer wire format: length-delimited fields only (type 2), which is all we write.
class Message {
 public:
  Message& field(int number, std::string_view bytes) {
    varint(static_cast<std::uint64_t>(number) << 3 | 2);
    varint(bytes.size());
    out_.append(bytes);
    return *this;
  }
  Message& field(int number, const Message& m) { return field(number, std::string_view(m.out_)); }
  const std::string& bytes() const { return out_; }

 private:
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

// gnostic openapi_v2 field numbers.
constexpr int kDocumentSwagger = 1, kDocumentInfo = 2, kDocumentPaths = 8;
constexpr int kInfoTitle = 1, kInfoVersion = 2;
constexpr int kPathsPath = 2;
constexpr int kNamedName = 1, kNamedValue = 2;
constexpr int kPathItemPatch = 8;
constexpr int kOperationParameters = 8, kOperationVendorExtension = 13;
constexpr int kParametersItemParameter = 1, kParameterNonBody = 2, kNonBodyQuery = 3;
constexpr int kQueryIn = 2, kQueryName = 4, kQueryType = 6;
constexpr int kAnyYaml = 2;

Message patch_operation(const ResourceInfo& r) {
  Message query;
  query.field(kQueryIn, "query").field(kQueryName, "fieldValidation").field(kQueryType, "string");
  Message parameter;
  parameter.field(kParameterNonBody, Message().field(kNonBodyQuery, query));
  Message gvk_yaml;
  gvk_yaml.field(kAnyYaml, fmt::format("group: \"{}\"\nkind: {}\nversion: {}\n", r.group, r.kind, r.version));
  Message extension;
  extension.field(kNamedName, "x-kubernetes-group-version-kind").field(kNamedValue, gvk_yaml);
  Message op;
  op.field(kOperationParameters, Message().field(kParametersItemParameter, parameter)).field(kOperationVendorExtension, extension);
  return op;
}

std::string item_path(const ResourceInfo& r) {
  const std::string base = r.group.empty() ? "/api/" + r.version : fmt::format("/apis/{}/{}", r.group, r.version);
  return r.namespaced ? fmt::format("{}/namespaces/{{namespace}}/{}/{{name}}", base, r.plural)
                      : fmt::format("{}/{}/{{name}}", base, r.plural);
}

}  // namespace

std::string openapi_v2_protobuf() {
  Message paths;
  for (const auto& r : served_resources()) {
    if (r.read_only_list) continue;
    Message item;
    item.field(kPathItemPatch, patch_operation(r));
    paths.field(kPathsPath, Message().field(kNamedName, item_path(r)).field(kNamedValue, item));
  }
  Message doc;
  doc.field(kDocumentSwagger, "2.0").field(kDocumentInfo, Message().field(kInfoTitle, "Kubernetes").field(kInfoVersion, "v1.31.0"));
  doc.field(kDocumentPaths, paths);
  return doc.bytes();
}

Json openapi_v2_json() {
  Json paths = Json::object();
  for (const auto& r : served_resources()) {
    if (r.read_only_list) continue;
    paths[item_path(r)] = {{"patch",
                            {{"x-kubernetes-group-version-kind", {{"group", r.group}, {"kind", r.kind}, {"version", r.version}}},
                             {"parameters", {{{"name", "fieldValidation"}, {"in", "query"}, {"type", "string"}}}},
                             {"responses", {{"200", {{"description", "OK"}}}}}}}};
  }
  return {
      {"swagger", "2.0"}, {"info", {{"title", "Kubernetes"}, {"version", "v1.31.0"}}}, {"paths", paths}, {"definitions", Json::object()}};
}

}  // namespace switchyard::apiserver
