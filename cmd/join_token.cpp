#include "cmd/join_token.h"

#include <ctime>
#include <fstream>

#include <fmt/format.h>

#include "orchestrator/apiserver/kubeconfig.h"
#include "orchestrator/apiserver/resources.h"
#include "orchestrator/base/x509_requests.h"

namespace switchyard::cmd {

namespace {

using apiserver::Json;

std::string rfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<void> create(apiserver::ObjectRegistry& registry, const char* group, const char* plural, const std::string& ns, const Json& body) {
  const auto* r = apiserver::find_resource(group, "v1", plural);
  std::vector<std::string> warnings;
  auto made = registry.create(*r, ns, body, apiserver::FieldValidation::Strict, warnings);
  if (!made && made.error().code != 409)
    return fail(ErrorCode::Internal,
                fmt::format("{} {}: {}", plural, body["metadata"].value("name", ""), made.error().status.value("message", "")));
  return {};
}

// Creates the object, or replaces one of that name whose content differs (a new CA, server).
Result<void> ensure(apiserver::ObjectRegistry& registry, const char* group, const char* plural, const std::string& ns, const Json& body) {
  const auto* r = apiserver::find_resource(group, "v1", plural);
  const std::string name = body["metadata"]["name"];
  if (auto current = registry.get(*r, ns, name)) {
    Json wanted = body;
    wanted["metadata"] = (*current)["metadata"];
    bool same = true;
    for (const auto& [k, v] : body.items())
      if (k != "metadata" && current->value(k, Json()) != v) same = false;
    if (same) return {};
    std::vector<std::string> warnings;
    auto updated = registry.update(*r, ns, name, wanted, false, apiserver::FieldValidation::Strict, warnings);
    if (!updated) return fail(ErrorCode::Internal, fmt::format("{} {}: {}", plural, name, updated.error().status.value("message", "")));
    return {};
  }
  return create(registry, group, plural, ns, body);
}

Json crb(const std::string& name, const std::string& role, const std::string& group) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "ClusterRoleBinding"},
          {"metadata", {{"name", name}}},
          {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
          {"subjects", {{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Group"}, {"name", group}}}}};
}

}  // namespace

Result<std::string> new_bootstrap_token() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::ifstream random("/dev/urandom", std::ios::binary);
  std::string out;
  while (out.size() < 23) {
    char c = 0;
    if (!random.get(c)) return fail(ErrorCode::Internal, "reading /dev/urandom failed");
    const auto b = static_cast<unsigned char>(c);
    if (b >= 252) continue;  // 252 = 7 * 36: keeps every character equally likely
    if (out.size() == 6) out += '.';
    out += kAlphabet[b % 36];
  }
  return out;
}

Result<JoinCredentials> prepare_join(apiserver::ObjectRegistry& registry, const std::string& server_url, const std::string& ca_pem,
                                     std::chrono::seconds token_ttl) {
  JoinCredentials out;
  auto pin = public_key_pin(ca_pem);
  if (!pin) return fail(with_context(pin.error(), "the cluster CA"));
  out.ca_cert_hash = *pin;
  auto token = new_bootstrap_token();
  if (!token) return fail(token.error());
  out.token = *token;
  out.expiration = rfc3339(std::time(nullptr) + token_ttl.count());
  const std::string id = out.token.substr(0, 6), secret = out.token.substr(7);

  if (auto ok =
          create(registry, "", "namespaces", "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "kube-public"}}}});
      !ok)
    return fail(ok.error());
  if (auto ok = create(registry, "", "secrets", "kube-system",
                       {{"apiVersion", "v1"},
                        {"kind", "Secret"},
                        {"metadata", {{"name", "bootstrap-token-" + id}, {"namespace", "kube-system"}}},
                        {"type", "bootstrap.kubernetes.io/token"},
                        {"stringData",
                         {{"description", "The default bootstrap token printed by 'switchyard up'."},
                          {"token-id", id},
                          {"token-secret", secret},
                          {"expiration", out.expiration},
                          {"usage-bootstrap-authentication", "true"},
                          {"usage-bootstrap-signing", "true"},
                          {"auth-extra-groups", std::string(kDefaultNodeTokenGroup)}}}});
      !ok)
    return fail(ok.error());

  // cluster-info: what a joining node learns before it trusts anything, checked against the pin.
  const std::string kubeconfig = fmt::format(
      "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {}\n  name: \"\"\ncontexts: null\n"
      "current-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n",
      apiserver::base64_encode(ca_pem), server_url);
  if (auto ok = ensure(registry, "", "configmaps", "kube-public",
                       {{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", {{"name", "cluster-info"}, {"namespace", "kube-public"}}},
                        {"data", {{"kubeconfig", kubeconfig}}}});
      !ok)
    return fail(ok.error());
  if (auto ok = ensure(
          registry, "rbac.authorization.k8s.io", "roles", "kube-public",
          {{"apiVersion", "rbac.authorization.k8s.io/v1"},
           {"kind", "Role"},
           {"metadata", {{"name", "kubeadm:bootstrap-signer-clusterinfo"}, {"namespace", "kube-public"}}},
           {"rules", {{{"verbs", {"get"}}, {"apiGroups", {""}}, {"resources", {"configmaps"}}, {"resourceNames", {"cluster-info"}}}}}});
      !ok)
    return fail(ok.error());
  if (auto ok = ensure(
          registry, "rbac.authorization.k8s.io", "rolebindings", "kube-public",
          {{"apiVersion", "rbac.authorization.k8s.io/v1"},
           {"kind", "RoleBinding"},
           {"metadata", {{"name", "kubeadm:bootstrap-signer-clusterinfo"}, {"namespace", "kube-public"}}},
           {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "kubeadm:bootstrap-signer-clusterinfo"}}},
           {"subjects", {{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "User"}, {"name", "system:anonymous"}}}}});
      !ok)
    return fail(ok.error());
  const std::string group(kDefaultNodeTokenGroup);
  for (const Json& b :
       {crb("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", group),
        crb("kubeadm:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", group),
        crb("kubeadm:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "system:nodes"),
        crb("switchyard:node-agent", "system:switchyard-agent", "system:nodes")})
    if (auto ok = ensure(registry, "rbac.authorization.k8s.io", "clusterrolebindings", "", b); !ok) return fail(ok.error());
  return out;
}

}  // namespace switchyard::cmd
