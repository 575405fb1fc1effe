#include "orchestrator/controllers/csr_controllers.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/api/protobuf_values.h"

namespace switchyard::controllers {

namespace {

using Json = nlohmann::json;

constexpr const char* kCollection = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

std::string str(const Json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
}

bool has_condition(const Json& csr, std::string_view type) {
  const Json status = csr.value("status", Json::object());
  for (const auto& c : status.value("conditions", Json::array()))
    if (str(c, "type") == type && str(c, "status") == "True") return true;
  return false;
}

std::string now_text() { return api::protobuf::values::format_time(std::time(nullptr), 0, false).value_or(""); }

Result<CertificateRequestInfo> request_of(const Json& csr) {
  std::string pem;
  if (!api::protobuf::values::base64_decode(str(csr.value("spec", Json::object()), "request"), pem))
    return fail(ErrorCode::Invalid, "spec.request is not base64");
  return parse_certificate_request(pem);
}

std::string base64(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    for (int s : {18, 12, 6, 0}) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == data.size()) {
    const unsigned v = static_cast<unsigned char>(data[i]) << 16;
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += "==";
  } else if (i + 2 == data.size()) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63], out += '=';
  }
  return out;
}

}  // namespace

std::string kubelet_client_problem(const CertificateRequestInfo& r, const Json& usages) {
  if (r.organizations != std::vector<std::string>{"system:nodes"}) return "subject organization is not system:nodes";
  if (!r.common_name.starts_with("system:node:") || r.common_name.size() == std::string_view("system:node:").size())
    return "subject common name does not begin with system:node:";
  if (!r.dns_names.empty()) return "dnsNames are not allowed";
  if (!r.email_addresses.empty()) return "email addresses are not allowed";
  if (!r.ip_addresses.empty()) return "IP addresses are not allowed";
  if (!r.uris.empty()) return "URI SANs are not allowed";
  // Digital signature and client auth required; key encipherment allowed (RSA keys).
  std::set<std::string> got;
  for (const auto& u : usages.is_array() ? usages : Json::array())
    if (u.is_string()) got.insert(u.get<std::string>());
  for (const auto& u : got)
    if (u != "digital signature" && u != "client auth" && u != "key encipherment") return fmt::format("usage \"{}\" is not allowed", u);
  if (!got.contains("digital signature") || !got.contains("client auth")) return "usages must include digital signature and client auth";
  return "";
}

Result<std::optional<Json>> approval_for(const Json& csr, const SubjectAccess& may_create) {
  const Json spec = csr.value("spec", Json::object());
  if (str(spec, "signerName") != kKubeletClientSignerName) return std::optional<Json>();
  if (has_condition(csr, "Approved") || has_condition(csr, "Denied")) return std::optional<Json>();
  if (!str(csr.value("status", Json::object()), "certificate").empty()) return std::optional<Json>();
  auto request = request_of(csr);
  if (!request) return std::optional<Json>();  // the signer will mark it Failed if ever approved
  if (!kubelet_client_problem(*request, spec.value("usages", Json::array())).empty()) return std::optional<Json>();
  // As upstream's recognizers, in order: a node renewing its own certificate, then any node
  // client request (bootstrap tokens).
  struct Recognizer {
    bool applies;
    const char* permission;
    const char* message;
  };
  const Recognizer recognizers[] = {
      {request->common_name == str(spec, "username"), "selfnodeclient",
       "Auto approving self kubelet client certificate after SubjectAccessReview."},
      {true, "nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."},
  };
  for (const auto& r : recognizers) {
    if (!r.applies) continue;
    auto allowed = may_create(csr, r.permission);
    if (!allowed) return std::unexpected(allowed.error());
    if (*allowed)
      return std::optional<Json>(Json{
          {"type", "Approved"}, {"status", "True"}, {"reason", "AutoApproved"}, {"message", r.message}, {"lastUpdateTime", now_text()}});
  }
  return std::optional<Json>();
}

Result<std::optional<Json>> signing_for(const Json& csr, const SigningCa& ca) {
  const Json spec = csr.value("spec", Json::object());
  const std::string signer = str(spec, "signerName");
  if (signer != kKubeletClientSignerName && signer != kApiserverClientSignerName) return std::optional<Json>();
  if (!has_condition(csr, "Approved") || has_condition(csr, "Denied") || has_condition(csr, "Failed")) return std::optional<Json>();
  if (!str(csr.value("status", Json::object()), "certificate").empty()) return std::optional<Json>();
  auto failed = [&](const std::string& message) {
    Json conditions = csr.value("status", Json::object()).value("conditions", Json::array());
    conditions.push_back({{"type", "Failed"},
                          {"status", "True"},
                          {"reason", "SignerValidationFailure"},
                          {"message", message},
                          {"lastUpdateTime", now_text()}});
    return std::optional<Json>(Json{{"conditions", conditions}});
  };
  auto request = request_of(csr);
  if (!request) return failed(request.error().message);
  if (signer == kKubeletClientSignerName) {
    if (auto problem = kubelet_client_problem(*request, spec.value("usages", Json::array())); !problem.empty())
      return failed("invalid kubelet client certificate request: " + problem);
  } else {
    const Json usages = spec.value("usages", Json::array());
    if (std::find(usages.begin(), usages.end(), Json("client auth")) == usages.end())
      return failed("kube-apiserver-client requests must include the client auth usage");
  }
  std::int64_t seconds = ca.duration.count();
  if (spec.contains("expirationSeconds") && spec["expirationSeconds"].is_number_integer())
    seconds = std::min<std::int64_t>(seconds, spec["expirationSeconds"].get<std::int64_t>());
  std::string pem;
  if (!api::protobuf::values::base64_decode(str(spec, "request"), pem)) return failed("spec.request is not base64");
  auto cert = sign_client_certificate(pem, ca.cert_pem, ca.key_pem, seconds);
  if (!cert) return std::unexpected(cert.error());
  return std::optional<Json>(Json{{"certificate", base64(*cert)}});
}

CertificateRequestControllers::CertificateRequestControllers(client::ClusterConnection connection, std::optional<SigningCa> ca,
                                                             std::chrono::milliseconds interval)
    : connection_(std::move(connection)), ca_(std::move(ca)), interval_(interval) {}

CertificateRequestControllers::~CertificateRequestControllers() { stop(); }

void CertificateRequestControllers::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void CertificateRequestControllers::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CertificateRequestControllers::loop() {
  client::ApiClient api(connection_);
  std::string last_error;
  while (!stopping_) {
    auto synced = sync_all(api);
    // A failing pass is logged once per distinct error, not every interval.
    if (!synced && synced.error().message != last_error) spdlog::warn("event=csr_sync_failed error=\"{}\"", synced.error().message);
    last_error = synced ? "" : synced.error().message;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, interval_, [this] { return stopping_.load(); });
  }
}

Result<void> CertificateRequestControllers::sync_all(client::ApiClient& api) {
  auto list = api.get(kCollection);
  if (!list) return fail(list.error());
  if (list->status != 200) return fail(ErrorCode::Unavailable, fmt::format("listing certificatesigningrequests: HTTP {}", list->status));
  const Json items = Json::parse(list->body, nullptr, false).value("items", Json::array());
  Result<void> result;
  for (Json csr : items) {
    const std::string name = str(csr.value("metadata", Json::object()), "name");
    const std::string path = fmt::format("{}/{}", kCollection, name);
    auto approval = approval_for(csr, [&](const Json& c, const std::string& subresource) -> Result<bool> {
      const Json spec = c.value("spec", Json::object());
      Json review = {{"apiVersion", "authorization.k8s.io/v1"},
                     {"kind", "SubjectAccessReview"},
                     {"spec",
                      {{"user", str(spec, "username")},
                       {"groups", spec.value("groups", Json::array())},
                       {"resourceAttributes",
                        {{"group", "certificates.k8s.io"},
                         {"resource", "certificatesigningrequests"},
                         {"verb", "create"},
                         {"subresource", subresource}}}}}};
      if (!str(spec, "uid").empty()) review["spec"]["uid"] = str(spec, "uid");
      auto answer = api.send("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review.dump(), "application/json");
      if (!answer) return fail(answer.error());
      if (answer->status != 201 && answer->status != 200)
        return fail(ErrorCode::Unavailable, fmt::format("subjectaccessreview for csr {}: HTTP {}", name, answer->status));
      return Json::parse(answer->body, nullptr, false).value("status", Json::object()).value("allowed", false);
    });
    if (!approval) {
      result = fail(approval.error());
      continue;
    }
    if (*approval) {
      Json& status = csr["status"];
      if (!status.is_object()) status = Json::object();
      if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = Json::array();
      status["conditions"].push_back(**approval);
      auto put = api.send("PUT", path + "/approval", csr.dump(), "application/json");
      if (!put || put->status != 200) {
        result = fail(ErrorCode::Unavailable, fmt::format("approving csr {}: {}", name, put ? put->body : put.error().message));
        continue;
      }
      spdlog::info("event=csr_approved name={} requester={}", name, str(csr["spec"], "username"));
      csr = Json::parse(put->body, nullptr, false);
    }
    if (!ca_) continue;
    auto signing = signing_for(csr, *ca_);
    if (!signing) {
      result = fail(signing.error());
      continue;
    }
    if (!*signing) continue;
    for (auto& [k, v] : (*signing)->items()) csr["status"][k] = v;
    auto put = api.send("PUT", path + "/status", csr.dump(), "application/json");
    if (!put || put->status != 200) {
      result =
          fail(ErrorCode::Unavailable, fmt::format("writing the certificate of csr {}: {}", name, put ? put->body : put.error().message));
      continue;
    }
    spdlog::info("event=csr_{} name={}", (*signing)->contains("certificate") ? "signed" : "failed", name);
  }
  return result;
}

}  // namespace switchyard::controllers
