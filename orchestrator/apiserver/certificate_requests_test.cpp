// The CertificateSigningRequest API through the request handler (no transport), with a real
// registry and the bootstrap roles: the requester's identity is stamped, validation in upstream's
// words, approval and issuing need their verbs on the signer, and what is given stays.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/apiserver/api_handler.h"
#include "orchestrator/apiserver/kubeconfig.h"
#include "orchestrator/apiserver/rbac_bootstrap.h"
#include "orchestrator/base/x509_requests.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

using ::testing::HasSubstr;

constexpr const char* kCsrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

class CertificateRequestApi : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    handler_ = std::make_unique<ApiHandler>(*registry_, "admintoken");
    ASSERT_TRUE(handler_->access().authenticator().add_tokens(
        "boot,system:bootstrap:abcdef,,\"system:bootstrappers,system:bootstrappers:kubeadm:default-node-token\"\n"
        "node1,system:node:n1,,\"system:nodes\"\n"
        "approver,approver,,\n",
        "test"));
    ASSERT_TRUE(ensure_bootstrap_rbac(*registry_));
    // kubeadm's binding (`switchyard up` makes it too): the token group may create requests.
    const Json binding = {
        {"apiVersion", "rbac.authorization.k8s.io/v1"},
        {"kind", "ClusterRoleBinding"},
        {"metadata", {{"name", "kubeadm:kubelet-bootstrap"}}},
        {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "system:node-bootstrapper"}}},
        {"subjects",
         {{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Group"}, {"name", "system:bootstrappers:kubeadm:default-node-token"}}}}};
    ASSERT_EQ(call("admintoken", "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding).code, 201);
    // A user who may write /approval and /status but holds no signer's approve or sign verb.
    const Json role = {
        {"apiVersion", "rbac.authorization.k8s.io/v1"},
        {"kind", "ClusterRole"},
        {"metadata", {{"name", "csr-writer"}}},
        {"rules",
         {{{"verbs", {"get", "update"}},
           {"apiGroups", {"certificates.k8s.io"}},
           {"resources", {"certificatesigningrequests", "certificatesigningrequests/approval", "certificatesigningrequests/status"}}}}}};
    ASSERT_EQ(call("admintoken", "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", role).code, 201);
    Json writer = binding;
    writer["metadata"]["name"] = "csr-writer";
    writer["roleRef"]["name"] = "csr-writer";
    writer["subjects"] = {{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "User"}, {"name", "approver"}}};
    ASSERT_EQ(call("admintoken", "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", writer).code, 201);
    auto made = make_key_and_request("system:node:n1", {"system:nodes"});
    ASSERT_TRUE(made);
    request_ = made->request_pem;
  }
  HttpResponse call(const std::string& token, const std::string& method, const std::string& target, const Json& body = nullptr) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.authorization = "Bearer " + token;
    if (!body.is_null()) {
      req.body = body.dump();
      req.content_type = "application/json";
    }
    std::optional<WatchRequest> watch;
    return handler_->handle(req, watch);
  }
  Json csr(const std::string& name, const std::string& pem) {
    return {{"apiVersion", "certificates.k8s.io/v1"},
            {"kind", "CertificateSigningRequest"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"request", base64_encode(pem)},
              {"signerName", "kubernetes.io/kube-apiserver-client-kubelet"},
              {"usages", {"digital signature", "client auth"}},
              {"username", "someone-else"},
              {"groups", {"system:masters"}}}},
            {"status", {{"certificate", "Zm9v"}}}};
  }
  static Json body(const HttpResponse& r) { return Json::parse(r.body, nullptr, false); }

  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::unique_ptr<ApiHandler> handler_;
  std::string request_;
};

TEST_F(CertificateRequestApi, CreateStampsTheRequesterAndDropsStatus) {
  auto made = call("boot", "POST", kCsrs, csr("node-csr-1", request_));
  ASSERT_EQ(made.code, 201) << made.body;
  const Json out = body(made);
  EXPECT_EQ(out["spec"]["username"], "system:bootstrap:abcdef");
  EXPECT_EQ(out["spec"]["groups"],
            Json({"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"}));
  EXPECT_FALSE(out.contains("status"));
  EXPECT_FALSE(out["metadata"].value("uid", "").empty());
  // The bootstrapper may read its request back, and list and watch them (system:node-bootstrapper).
  EXPECT_EQ(call("boot", "GET", std::string(kCsrs) + "/node-csr-1").code, 200);
  EXPECT_EQ(call("boot", "GET", kCsrs).code, 200);
  EXPECT_EQ(call("admintoken", "GET", std::string(kCsrs) + "/node-csr-1").code, 200);
  const auto generated = call("boot", "POST", kCsrs, [&] {
    Json c = csr("", request_);
    c["metadata"] = {{"generateName", "csr-"}};
    return c;
  }());
  ASSERT_EQ(generated.code, 201) << generated.body;
  EXPECT_THAT(body(generated)["metadata"].value("name", ""), ::testing::StartsWith("csr-"));
}

TEST_F(CertificateRequestApi, ValidationInUpstreamsWords) {
  Json bad = csr("bad", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  bad["spec"]["signerName"] = "nodomain";
  bad["spec"]["usages"] = {"client auth", "client auth", "flying"};
  bad["spec"]["expirationSeconds"] = 60;
  auto r = call("boot", "POST", kCsrs, bad);
  ASSERT_EQ(r.code, 422) << r.body;
  const std::string message = body(r).value("message", "");
  EXPECT_THAT(message, HasSubstr("CertificateSigningRequest.certificates.k8s.io \"bad\" is invalid: ["));
  EXPECT_THAT(message, HasSubstr("spec.request: Invalid value: \"<request>\": PEM block type must be CERTIFICATE REQUEST"));
  EXPECT_THAT(message, HasSubstr("spec.signerName: Invalid value: \"nodomain\": must be a fully qualified domain and path of the form "
                                 "'example.com/signer-name'"));
  EXPECT_THAT(message, HasSubstr("spec.usages[1]: Duplicate value: \"client auth\""));
  EXPECT_THAT(message, HasSubstr("spec.usages[2]: Unsupported value: \"flying\""));
  EXPECT_THAT(message,
              HasSubstr("spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)"));
  Json none = csr("none", request_);
  none["spec"].erase("usages");
  none["spec"].erase("signerName");
  EXPECT_THAT(body(call("boot", "POST", kCsrs, none)).value("message", ""),
              HasSubstr("[spec.signerName: Required value, spec.usages: Required value]"));
}

TEST_F(CertificateRequestApi, ApprovalAndIssuingNeedTheirVerbsOnTheSigner) {
  ASSERT_EQ(call("boot", "POST", kCsrs, csr("c1", request_)).code, 201);
  Json current = body(call("admintoken", "GET", std::string(kCsrs) + "/c1"));
  Json approved = current;
  approved["status"]["conditions"] = {{{"type", "Approved"}, {"status", "True"}, {"reason", "Test"}, {"message", "ok"}}};
  // A bootstrapper cannot approve its own request (RBAC: no update on /approval); a user who may
  // write /approval still needs the approve verb on the signer.
  auto boot = call("boot", "PUT", std::string(kCsrs) + "/c1/approval", approved);
  ASSERT_EQ(boot.code, 403) << boot.body;
  EXPECT_THAT(body(boot).value("message", ""), HasSubstr("cannot update resource \"certificatesigningrequests/approval\""));
  auto denied = call("approver", "PUT", std::string(kCsrs) + "/c1/approval", approved);
  ASSERT_EQ(denied.code, 403) << denied.body;
  EXPECT_EQ(body(denied).value("message", ""),
            "certificatesigningrequests.certificates.k8s.io \"c1\" is forbidden: user not permitted to approve requests with signerName "
            "\"kubernetes.io/kube-apiserver-client-kubelet\"");
  auto ok = call("admintoken", "PUT", std::string(kCsrs) + "/c1/approval", approved);
  ASSERT_EQ(ok.code, 200) << ok.body;
  const Json after = body(ok);
  ASSERT_EQ(after["status"]["conditions"].size(), 1u);
  EXPECT_FALSE(after["status"]["conditions"][0].value("lastUpdateTime", "").empty());
  // /approval never writes a certificate, and a PUT of the object changes only metadata.
  Json sneaky = after;
  sneaky["status"]["certificate"] = base64_encode("x");
  sneaky["spec"]["username"] = "system:admin";
  sneaky["metadata"]["labels"] = {{"a", "b"}};
  auto put = call("admintoken", "PUT", std::string(kCsrs) + "/c1", sneaky);
  ASSERT_EQ(put.code, 200) << put.body;
  EXPECT_EQ(body(put)["spec"]["username"], "system:bootstrap:abcdef");
  EXPECT_EQ(body(put)["metadata"]["labels"]["a"], "b");
  EXPECT_FALSE(body(put)["status"].contains("certificate"));
  // Approved and Denied exclude each other; an approval is never taken back.
  Json both = body(put);
  both["status"]["conditions"].push_back({{"type", "Denied"}, {"status", "True"}});
  EXPECT_THAT(body(call("admintoken", "PUT", std::string(kCsrs) + "/c1/approval", both)).value("message", ""),
              HasSubstr("Approved and Denied conditions are mutually exclusive"));
  Json removed = body(put);
  removed["status"]["conditions"] = Json::array();
  EXPECT_THAT(body(call("admintoken", "PUT", std::string(kCsrs) + "/c1/approval", removed)).value("message", ""),
              HasSubstr("status.conditions: Forbidden: updates may not remove a condition of type \"Approved\""));
  // Issuing: without the sign verb, no; the admin may, with a real certificate.
  Json issued = body(put);
  issued["status"]["certificate"] = base64_encode("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  auto node_sign = call("approver", "PUT", std::string(kCsrs) + "/c1/status", issued);
  EXPECT_EQ(node_sign.code, 403) << node_sign.body;
  EXPECT_THAT(body(node_sign).value("message", ""), HasSubstr("user not permitted to sign requests with signerName"));
  auto signed_ = call("admintoken", "PUT", std::string(kCsrs) + "/c1/status", issued);
  ASSERT_EQ(signed_.code, 200) << signed_.body;
  EXPECT_EQ(body(signed_)["status"]["conditions"][0]["type"], "Approved");  // /status keeps the approval
  Json changed = body(signed_);
  changed["status"]["certificate"] = base64_encode("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
  EXPECT_THAT(body(call("admintoken", "PUT", std::string(kCsrs) + "/c1/status", changed)).value("message", ""),
              HasSubstr("updates may not modify existing certificate content"));
}

TEST_F(CertificateRequestApi, ACertificateOnlyOnceApproved) {
  ASSERT_EQ(call("boot", "POST", kCsrs, csr("c2", request_)).code, 201);
  Json current = body(call("admintoken", "GET", std::string(kCsrs) + "/c2"));
  current["status"]["certificate"] = base64_encode("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  auto r = call("admintoken", "PUT", std::string(kCsrs) + "/c2/status", current);
  EXPECT_EQ(r.code, 422) << r.body;
  EXPECT_THAT(body(r).value("message", ""), HasSubstr("certificate can only be set on an approved request"));
}

TEST_F(CertificateRequestApi, NoClientCertificateForSystemMasters) {
  auto masters = make_key_and_request("mallory", {"system:masters"});
  ASSERT_TRUE(masters);
  Json c = csr("m1", masters->request_pem);
  c["spec"]["signerName"] = "kubernetes.io/kube-apiserver-client";
  auto r = call("admintoken", "POST", kCsrs, c);
  EXPECT_EQ(r.code, 403) << r.body;
  EXPECT_EQ(body(r).value("message", ""),
            "certificatesigningrequests.certificates.k8s.io \"m1\" is forbidden: use of kubernetes.io/kube-apiserver-client signer with "
            "system:masters group is not allowed");
}

TEST_F(CertificateRequestApi, DiscoveryListsTheResourceAndItsSubresources) {
  const Json list = body(call("admintoken", "GET", "/apis/certificates.k8s.io/v1"));
  std::vector<std::string> names;
  for (const auto& r : list["resources"]) names.push_back(r["name"]);
  EXPECT_THAT(names, ::testing::ElementsAre("certificatesigningrequests", "certificatesigningrequests/approval",
                                            "certificatesigningrequests/status"));
}

TEST_F(CertificateRequestApi, ClusterInfoIsTheOnlyAnonymousRead) {
  HttpRequest req;
  req.method = "GET";
  req.target = "/api/v1/namespaces/kube-public/configmaps/cluster-info";
  EXPECT_TRUE(handler_->authorized(req));
  std::optional<WatchRequest> watch;
  // Anonymous, and no Role grants it yet: 403 for system:anonymous (not 401).
  auto r = handler_->handle(req, watch);
  EXPECT_EQ(r.code, 403) << r.body;
  EXPECT_THAT(body(r).value("message", ""), HasSubstr("User \"system:anonymous\" cannot get resource \"configmaps\""));
  req.target = "/api/v1/namespaces/kube-public/configmaps/other";
  EXPECT_FALSE(handler_->authorized(req));
  EXPECT_EQ(handler_->handle(req, watch).code, 401);
}

}  // namespace
}  // namespace switchyard::apiserver
