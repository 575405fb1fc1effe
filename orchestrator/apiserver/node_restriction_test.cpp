// NodeRestriction through the request handler: a node changes its own Node and the pods bound
// to it, and nothing of another node's, in upstream's words.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/apiserver/api_handler.h"
#include "orchestrator/apiserver/rbac_bootstrap.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

class NodeRestriction : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    handler_ = std::make_unique<ApiHandler>(*registry_, "admintoken");
    ASSERT_TRUE(handler_->access().authenticator().add_tokens("node1,system:node:n1,,\"system:nodes\"\n", "test"));
    ASSERT_TRUE(ensure_bootstrap_rbac(*registry_));
    ASSERT_EQ(
        call("admintoken", "POST", "/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "y"}}}}).code,
        201);
    for (const char* n : {"n1", "n2"})
      ASSERT_EQ(call("admintoken", "POST", "/api/v1/nodes", {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", n}}}}).code,
                201);
    for (const auto& [pod, node] : {std::pair{"p1", "n1"}, std::pair{"p2", "n2"}})
      ASSERT_EQ(call("admintoken", "POST", "/api/v1/namespaces/y/pods",
                     {{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", {{"name", pod}}},
                      {"spec", {{"nodeName", node}, {"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}})
                    .code,
                201);
  }
  HttpResponse call(const std::string& token, const std::string& method, const std::string& target, const Json& body = nullptr,
                    const std::string& content_type = "application/json") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.authorization = "Bearer " + token;
    if (!body.is_null()) {
      req.body = body.dump();
      req.content_type = content_type;
    }
    std::optional<WatchRequest> watch;
    return handler_->handle(req, watch);
  }
  static std::string message(const HttpResponse& r) { return Json::parse(r.body, nullptr, false).value("message", ""); }

  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::unique_ptr<ApiHandler> handler_;
};

TEST_F(NodeRestriction, ItsOwnNodeOnly) {
  const Json label = {{"metadata", {{"labels", {{"a", "b"}}}}}};
  EXPECT_EQ(call("node1", "PATCH", "/api/v1/nodes/n1", label, "application/merge-patch+json").code, 200);
  auto other = call("node1", "PATCH", "/api/v1/nodes/n2", label, "application/merge-patch+json");
  EXPECT_EQ(other.code, 403);
  EXPECT_EQ(message(other), "nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"");
  EXPECT_EQ(call("node1", "DELETE", "/api/v1/nodes/n2").code, 403);
  EXPECT_EQ(call("node1", "POST", "/api/v1/nodes", {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n3"}}}}).code, 403);
  EXPECT_EQ(call("node1", "GET", "/api/v1/nodes/n2").code, 200);  // reading is the node rules' (any node)
}

TEST_F(NodeRestriction, PodsBoundToItOnly) {
  const Json status = {{"status", {{"message", "x"}}}};
  EXPECT_EQ(call("node1", "PATCH", "/api/v1/namespaces/y/pods/p1/status", status, "application/merge-patch+json").code, 200);
  auto other = call("node1", "PATCH", "/api/v1/namespaces/y/pods/p2/status", status, "application/merge-patch+json");
  EXPECT_EQ(other.code, 403);
  EXPECT_EQ(message(other), "pods \"p2\" is forbidden: node \"n1\" can only update pod status for pods with spec.nodeName set to itself");
  auto deleted = call("node1", "DELETE", "/api/v1/namespaces/y/pods/p2");
  EXPECT_EQ(deleted.code, 403);
  EXPECT_EQ(message(deleted), "pods \"p2\" is forbidden: node \"n1\" can only delete pods with spec.nodeName set to itself");
  auto made = call("node1", "POST", "/api/v1/namespaces/y/pods",
                   {{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"metadata", {{"name", "p3"}}},
                    {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}});
  EXPECT_EQ(made.code, 403);
  EXPECT_EQ(message(made),
            "pods is forbidden: pod does not have \"kubernetes.io/config.mirror\" annotation, node \"n1\" can only create mirror pods");
  EXPECT_EQ(call("node1", "DELETE", "/api/v1/namespaces/y/pods/p1").code, 200);
}

}  // namespace
}  // namespace switchyard::apiserver
