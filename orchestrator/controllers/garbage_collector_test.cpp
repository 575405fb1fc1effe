// The garbage collector and the namespace controller against a real registry and store behind
// the API server's HTTP transport (no kubelet: unbound pods are deleted at once), plus the owner
// graph on its own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/garbage_collector.h"
#include "orchestrator/controllers/namespace_controller.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;
using apiserver::PropagationPolicy;
using ::testing::HasSubstr;

// ---- the graph alone ----------------------------------------------------------------------

ObjectMetadata object(const std::string& uid, std::vector<OwnerLink> owners = {}) {
  return ObjectMetadata{"v1", "Pod", "shop", "p-" + uid, uid, std::move(owners), {}, false};
}
OwnerLink owner_link(const std::string& uid, bool block = false) { return OwnerLink{"apps/v1", "ReplicaSet", "rs-" + uid, uid, block}; }

TEST(OwnerGraph, AnOwnerKnownOnlyByReferenceIsCheckedAndItsRemovalReachesItsDependents) {
  OwnerGraph g;
  auto work = g.upsert(object("d1", {owner_link("o1")}));
  EXPECT_EQ(work.to_delete, std::vector<std::string>{"o1"});  // virtual: does it exist?
  ASSERT_TRUE(g.node("o1"));
  EXPECT_FALSE(g.node("o1")->observed);
  ASSERT_EQ(g.node("o1")->dependents.size(), 1u);
  work = g.remove("o1");
  EXPECT_EQ(work.to_delete, std::vector<std::string>{"d1"});
}

TEST(OwnerGraph, ForegroundAndOrphanDeletionsQueueTheirWork) {
  OwnerGraph g;
  g.upsert(object("o1"));
  g.upsert(object("d1", {owner_link("o1", true)}));
  g.upsert(object("d2", {owner_link("o1")}));
  auto going = object("o1");
  going.being_deleted = true;
  going.finalizers = {"foregroundDeletion"};
  auto work = g.upsert(going);
  EXPECT_THAT(work.to_delete, ::testing::UnorderedElementsAre("d1", "d2", "o1"));
  EXPECT_TRUE(g.node("o1")->deleting_dependents);
  // A dependent that goes brings the waiting owner back.
  EXPECT_THAT(g.remove("d1").to_delete, ::testing::ElementsAre("o1"));
  going.finalizers = {"orphan"};
  work = g.upsert(going);
  EXPECT_EQ(work.to_orphan, std::vector<std::string>{"o1"});
  EXPECT_FALSE(g.node("o1")->deleting_dependents);
}

TEST(OwnerGraph, DroppingAReferenceUnlinksTheOwner) {
  OwnerGraph g;
  g.upsert(object("o1"));
  g.upsert(object("d1", {owner_link("o1")}));
  ASSERT_EQ(g.node("o1")->dependents.size(), 1u);
  g.upsert(object("d1"));
  EXPECT_TRUE(g.node("o1")->dependents.empty());
}

// ---- against the API server -----------------------------------------------------------------

class GarbageCollection : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<apiserver::ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    handler_ = std::make_unique<apiserver::ApiHandler>(*registry_, "t0ken");
    auto server = apiserver::HttpServer::start(*handler_, {"127.0.0.1:0", "", ""});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    connection_ = {"127.0.0.1", std::to_string(server_->port()), "", "t0ken", false};
    create(ns_res(), "", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})");
  }
  void TearDown() override {
    if (gc_) gc_->stop();
    if (namespaces_) namespaces_->stop();
    if (informers_) informers_->stop();
  }
  void start_gc() {
    gc_ = std::make_unique<GarbageCollector>(connection_,
                                             GarbageCollectorOptions{.workers = 2, .rediscovery_period = std::chrono::seconds(30)});
    gc_->start();
    ASSERT_TRUE(eventually([&] { return gc_->synced(); }));
  }
  static const apiserver::ResourceInfo& ns_res() { return *apiserver::find_resource("", "v1", "namespaces"); }
  static const apiserver::ResourceInfo& pods() { return *apiserver::find_resource("", "v1", "pods"); }
  static const apiserver::ResourceInfo& services() { return *apiserver::find_resource("", "v1", "services"); }
  static const apiserver::ResourceInfo& rs_res() { return *apiserver::find_resource("apps", "v1", "replicasets"); }

  Json create(const apiserver::ResourceInfo& r, const std::string& ns, const std::string& body) {
    std::vector<std::string> warnings;
    auto out = registry_->create(r, ns, Json::parse(body), apiserver::FieldValidation::Strict, warnings);
    EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().status.dump());
    return out ? *out : Json();
  }
  Json owner(const std::string& name) {
    return create(
        rs_res(), "shop",
        R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":")" + name +
            R"("},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}})");
  }
  // A pod owned by each of `owners` (blockOwnerDeletion as a controller sets it), with `finalizers`.
  Json dependent(const std::string& name, const std::vector<Json>& owners, const std::vector<std::string>& finalizers = {}) {
    Json pod = Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{},"spec":{"containers":[{"name":"c","image":"i"}]}})");
    pod["metadata"]["name"] = name;
    for (const auto& o : owners)
      pod["metadata"]["ownerReferences"].push_back({{"apiVersion", "apps/v1"},
                                                    {"kind", "ReplicaSet"},
                                                    {"name", o["metadata"]["name"]},
                                                    {"uid", o["metadata"]["uid"]},
                                                    {"blockOwnerDeletion", true}});
    if (!finalizers.empty()) pod["metadata"]["finalizers"] = finalizers;
    return create(pods(), "shop", pod.dump());
  }
  std::optional<Json> get(const apiserver::ResourceInfo& r, const std::string& name, const std::string& ns = "shop") {
    auto g = registry_->get(r, ns, name);
    if (!g) return std::nullopt;
    return *g;
  }
  void modify(const apiserver::ResourceInfo& r, const std::string& name, const std::function<void(Json&)>& change) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto obj = get(r, name);
      ASSERT_TRUE(obj);
      change(*obj);
      std::vector<std::string> warnings;
      auto u = registry_->update(r, "shop", name, *obj, false, apiserver::FieldValidation::Ignore, warnings);
      if (u) return;
      ASSERT_EQ(u.error().code, 409) << u.error().status.dump();
    }
    FAIL() << "could not update " << name;
  }
  apiserver::ApiResult<Json> remove(const apiserver::ResourceInfo& r, const std::string& name, std::optional<PropagationPolicy> policy) {
    return registry_->remove(r, "shop", name, apiserver::DeleteOptions{"", std::nullopt, policy});
  }
  bool eventually(const std::function<bool()>& f, int seconds = 10) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f();
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
  std::unique_ptr<GarbageCollector> gc_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<NamespaceController> namespaces_;
};

TEST_F(GarbageCollection, BackgroundDeletesTheOwnerAtOnceAndItsDependentsAfter) {
  start_gc();
  Json rs = owner("web");
  dependent("web-1", {rs});
  dependent("web-2", {rs});
  ASSERT_TRUE(remove(rs_res(), "web", std::nullopt));
  EXPECT_FALSE(get(rs_res(), "web"));  // gone at once: Background is the default
  EXPECT_TRUE(eventually([&] { return !get(pods(), "web-1") && !get(pods(), "web-2"); }));
}

TEST_F(GarbageCollection, ForegroundKeepsTheOwnerUntilItsBlockingDependentsAreGone) {
  start_gc();
  Json rs = owner("web");
  dependent("web-1", {rs});
  dependent("held", {rs}, {"example.com/hold"});
  auto marked = remove(rs_res(), "web", PropagationPolicy::Foreground);
  ASSERT_TRUE(marked) << marked.error().status.dump();
  EXPECT_EQ((*marked)["metadata"]["finalizers"], Json::array({"foregroundDeletion"}));
  EXPECT_TRUE((*marked)["metadata"].contains("deletionTimestamp"));
  ASSERT_TRUE(eventually([&] { return !get(pods(), "web-1"); }));
  // The held dependent is being deleted, and the owner waits for it.
  ASSERT_TRUE(eventually([&] { return get(pods(), "held") && (*get(pods(), "held"))["metadata"].contains("deletionTimestamp"); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(get(rs_res(), "web"));
  modify(pods(), "held", [](Json& p) { p["metadata"].erase("finalizers"); });
  EXPECT_TRUE(eventually([&] { return !get(pods(), "held") && !get(rs_res(), "web"); }));
}

TEST_F(GarbageCollection, OrphanLeavesTheDependentsWithoutTheReference) {
  start_gc();
  Json rs = owner("web");
  Json other = owner("other");
  dependent("web-1", {rs});
  dependent("web-2", {rs, other});
  auto marked = remove(rs_res(), "web", PropagationPolicy::Orphan);
  ASSERT_TRUE(marked);
  EXPECT_EQ((*marked)["metadata"]["finalizers"], Json::array({"orphan"}));
  ASSERT_TRUE(eventually([&] { return !get(rs_res(), "web"); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(get(pods(), "web-1"));
  EXPECT_FALSE((*get(pods(), "web-1"))["metadata"].contains("ownerReferences"));
  ASSERT_TRUE(get(pods(), "web-2"));
  ASSERT_EQ((*get(pods(), "web-2"))["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ((*get(pods(), "web-2"))["metadata"]["ownerReferences"][0]["name"], "other");
}

TEST_F(GarbageCollection, DeleteOptionsAreReadAsKubeApiserverReadsThem) {
  start_gc();
  Json rs = owner("web");
  dependent("web-1", {rs});
  client::ApiClient api(connection_);
  const std::string path = "/apis/apps/v1/namespaces/shop/replicasets/web";
  auto both = api.send("DELETE", path, R"({"orphanDependents":true,"propagationPolicy":"Foreground"})", "application/json");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->status, 422);
  EXPECT_EQ(Json::parse(both->body)["message"],
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Foreground\": orphanDependents and "
            "deletionPropagation cannot be both set");
  auto odd = api.send("DELETE", path + "?propagationPolicy=Sideways", "", "");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->status, 422);
  EXPECT_EQ(Json::parse(odd->body)["message"],
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: "
            "\"Foreground\", \"Background\", \"Orphan\", \"nil\"");
  // The legacy orphanDependents: true is the Orphan policy.
  auto legacy = api.send("DELETE", path, R"({"orphanDependents":true})", "application/json");
  ASSERT_TRUE(legacy);
  ASSERT_EQ(legacy->status, 200) << legacy->body;
  EXPECT_EQ(Json::parse(legacy->body)["metadata"]["finalizers"], Json::array({"orphan"}));
  ASSERT_TRUE(eventually([&] { return !get(rs_res(), "web"); }));
  ASSERT_TRUE(get(pods(), "web-1"));
  EXPECT_FALSE((*get(pods(), "web-1"))["metadata"].contains("ownerReferences"));
}

TEST_F(GarbageCollection, ADependentWithAnotherLiveOwnerOnlyLosesTheReference) {
  start_gc();
  Json rs = owner("web");
  Json other = owner("other");
  dependent("shared", {rs, other});
  ASSERT_TRUE(remove(rs_res(), "web", PropagationPolicy::Background));
  ASSERT_TRUE(eventually([&] {
    auto p = get(pods(), "shared");
    return p && (*p)["metadata"]["ownerReferences"].size() == 1;
  }));
  EXPECT_EQ((*get(pods(), "shared"))["metadata"]["ownerReferences"][0]["uid"], other["metadata"]["uid"]);
}

TEST_F(GarbageCollection, DependentsOfAnOwnerDeletedWhileItWasDownAreCollectedAfterARestart) {
  Json rs = owner("web");
  dependent("web-1", {rs});
  ASSERT_TRUE(remove(rs_res(), "web", std::nullopt));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(get(pods(), "web-1"));  // nobody collects it yet
  start_gc();
  EXPECT_TRUE(eventually([&] { return !get(pods(), "web-1"); }));
}

TEST_F(GarbageCollection, KindsAddedAfterStartAreMonitoredToo) {
  // Services own pods here only to show that the graph is not limited to workload kinds.
  start_gc();
  Json svc = create(services(), "shop", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}})");
  Json pod =
      Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"by-svc"},"spec":{"containers":[{"name":"c","image":"i"}]}})");
  pod["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"}, {"kind", "Service"}, {"name", "s"}, {"uid", svc["metadata"]["uid"]}}};
  create(pods(), "shop", pod.dump());
  ASSERT_TRUE(remove(services(), "s", std::nullopt));
  EXPECT_TRUE(eventually([&] { return !get(pods(), "by-svc"); }));
}

TEST_F(GarbageCollection, NamespaceIsEmptiedByItsControllerThenDeleted) {
  informers_ = std::make_unique<client::SharedInformerFactory>(connection_);
  namespaces_ = std::make_unique<NamespaceController>(*informers_, connection_,
                                                      NamespaceControllerOptions{.workers = 1, .recheck = std::chrono::milliseconds(200)});
  namespaces_->start();
  Json ns = *get(ns_res(), "shop", "");
  EXPECT_EQ(ns["spec"]["finalizers"], Json::array({"kubernetes"}));
  owner("web");
  dependent("held", {}, {"example.com/hold"});
  auto terminating = registry_->remove(ns_res(), "", "shop");
  ASSERT_TRUE(terminating) << terminating.error().status.dump();
  EXPECT_EQ((*terminating)["status"]["phase"], "Terminating");
  // No new content in a namespace being terminated, in kube-apiserver's words.
  std::vector<std::string> warnings;
  auto refused = registry_->create(
      services(), "shop", Json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"late"},"spec":{"ports":[{"port":80}]}})"),
      apiserver::FieldValidation::Strict, warnings);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, 403);
  EXPECT_EQ(refused.error().status["message"],
            "services \"late\" is forbidden: unable to create new content in namespace shop because it is being terminated");
  // Deleted again while content remains: 409, as upstream.
  auto again = registry_->remove(ns_res(), "", "shop");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, 409);
  EXPECT_THAT(again.error().status["message"].get<std::string>(),
              HasSubstr("The system is ensuring all content is removed from this namespace"));
  // The ReplicaSet goes; the held pod stays, and the conditions say why.
  ASSERT_TRUE(eventually([&] { return !get(rs_res(), "web"); }));
  ASSERT_TRUE(eventually([&] {
    auto n = get(ns_res(), "shop", "");
    return n && (*n)["status"].contains("conditions") && (*n)["status"]["conditions"].size() == 5 &&
           (*n)["status"]["conditions"][4]["status"] == "True";
  }));
  Json conditions = (*get(ns_res(), "shop", ""))["status"]["conditions"];
  EXPECT_EQ(conditions[0]["type"], "NamespaceDeletionDiscoveryFailure");
  EXPECT_EQ(conditions[0]["message"], "All resources successfully discovered");
  EXPECT_EQ(conditions[3]["type"], "NamespaceContentRemaining");
  EXPECT_EQ(conditions[3]["message"], "Some resources are remaining: pods. has 1 resource instances");
  EXPECT_EQ(conditions[4]["message"], "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances");
  ASSERT_TRUE(get(ns_res(), "shop", ""));
  modify(pods(), "held", [](Json& p) { p["metadata"].erase("finalizers"); });
  EXPECT_TRUE(eventually([&] { return !get(ns_res(), "shop", ""); }));
}

TEST_F(GarbageCollection, TheFinalizeSubresourceAloneChangesSpecFinalizers) {
  Json ns = *get(ns_res(), "shop", "");
  ns["spec"]["finalizers"] = Json::array();
  std::vector<std::string> warnings;
  auto main = registry_->update(ns_res(), "", "shop", ns, false, apiserver::FieldValidation::Strict, warnings);
  ASSERT_TRUE(main);
  EXPECT_EQ((*main)["spec"]["finalizers"], Json::array({"kubernetes"}));  // ignored on the main resource
  ns = *main;
  ns["spec"]["finalizers"] = Json::array();
  auto finalized = registry_->finalize_namespace("shop", ns, apiserver::FieldValidation::Strict, warnings);
  ASSERT_TRUE(finalized) << finalized.error().status.dump();
  EXPECT_FALSE((*finalized)["spec"].contains("finalizers"));
}

}  // namespace
}  // namespace switchyard::controllers
