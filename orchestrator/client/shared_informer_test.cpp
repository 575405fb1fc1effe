// The shared informer over an in-memory ListerWatcher: the cache and its indices follow lists
// and watch events, handlers hear of every change, a failed list changes nothing, a relist
// finds deletions, and the factory hands out one informer per resource.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/testing/faulty_lister_watcher.h"

namespace switchyard::client {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// An API server in memory: a list, and a watch that delivers what a test pushes.
struct FakeServer {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json> items;
  std::deque<WatchEvent> events;
  bool end_watch_with_410 = false;
  int lists = 0, watches = 0;

  void push(WatchEventType type, json object) {
    std::lock_guard lock(mu);
    events.push_back({type, std::move(object)});
    cv.notify_all();
  }
  void expire_watch() {
    std::lock_guard lock(mu);
    end_watch_with_410 = true;
    cv.notify_all();
  }
};

class FakeListerWatcher final : public ListerWatcher {
 public:
  FakeListerWatcher(std::shared_ptr<FakeServer> server, std::string path) : server_(std::move(server)), path_(std::move(path)) {}
  Result<ObjectList> list() override {
    std::lock_guard lock(server_->mu);
    ++server_->lists;
    server_->end_watch_with_410 = false;
    return ObjectList{server_->items, "1"};
  }
  Result<void> watch(const std::string&, const std::function<bool(WatchEvent&&)>& on_event) override {
    std::unique_lock lock(server_->mu);
    ++server_->watches;
    while (true) {
      server_->cv.wait(lock, [&] { return aborted_ || server_->end_watch_with_410 || !server_->events.empty(); });
      if (aborted_) return fail(ErrorCode::Unavailable, "aborted");
      if (server_->end_watch_with_410) return fail(ErrorCode::Compacted, "410");
      WatchEvent e = std::move(server_->events.front());
      server_->events.pop_front();
      lock.unlock();
      const bool more = on_event(std::move(e));
      lock.lock();
      if (!more) return {};
    }
  }
  void abort() override {
    std::lock_guard lock(server_->mu);
    aborted_ = true;
    server_->cv.notify_all();
  }
  void resume() override {
    std::lock_guard lock(server_->mu);
    aborted_ = false;
  }
  const std::string& describe() const override { return path_; }

 private:
  std::shared_ptr<FakeServer> server_;
  std::string path_;
  bool aborted_ = false;
};

json pod(const std::string& ns, const std::string& name, const std::string& node, const std::string& app = "web") {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"labels", {{"app", app}}}}},
          {"spec", {{"nodeName", node}, {"containers", {{{"name", "c"}, {"image", "x"}}}}}}};
}

bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 300; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

struct Recorder {
  std::mutex mu;
  std::vector<std::string> seen;
  void note(const std::string& s) {
    std::lock_guard lock(mu);
    seen.push_back(s);
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mu);
    return seen;
  }
  ResourceEventHandlers<api::Pod> handlers() {
    return {
        [this](const ObjectPtr<api::Pod>& p) { note("add " + object_key(p->metadata)); },
        [this](const ObjectPtr<api::Pod>&, const ObjectPtr<api::Pod>& p) { note("update " + object_key(p->metadata)); },
        [this](const ObjectPtr<api::Pod>& p, bool unknown) { note(std::string(unknown ? "lost " : "delete ") + object_key(p->metadata)); },
        [this] { note("listed"); }};
  }
};

InformerOptions fast() { return {.reflector = {.initial_backoff = 10ms, .max_backoff = 40ms}}; }

std::vector<std::string> names(const std::vector<ObjectPtr<api::Pod>>& pods) {
  std::vector<std::string> out;
  for (const auto& p : pods) out.push_back(p->metadata.name);
  std::ranges::sort(out);
  return out;
}

TEST(SharedIndexInformer, TheCacheAndItsIndicesFollowTheListAndTheWatch) {
  auto server = std::make_shared<FakeServer>();
  server->items = {pod("shop", "web-0", "node-a"), pod("shop", "web-1", "node-b"), pod("batch", "job", "node-a", "job")};
  SharedIndexInformer<api::Pod> informer(std::make_unique<FakeListerWatcher>(server, "/api/v1/pods"), fast());
  informer.ensure_index("spec.nodeName", [](const api::Pod& p) { return std::vector<std::string>{p.spec.node_name}; });
  informer.ensure_index("app", index_by_label<api::Pod>("app"));
  Recorder recorder;
  informer.add_event_handler(recorder.handlers());
  EXPECT_FALSE(informer.has_synced());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  auto& cache = informer.indexer();
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(names(cache.in_namespace("shop")), (std::vector<std::string>{"web-0", "web-1"}));
  EXPECT_EQ(names(cache.by_index("spec.nodeName", "node-a")), (std::vector<std::string>{"job", "web-0"}));
  EXPECT_EQ(names(cache.by_index("app", "job")), (std::vector<std::string>{"job"}));
  EXPECT_EQ(cache.get("shop/web-1")->spec.node_name, "node-b");

  server->push(WatchEventType::Modified, pod("shop", "web-1", "node-a"));  // moved (say)
  server->push(WatchEventType::Deleted, pod("batch", "job", "node-a", "job"));
  server->push(WatchEventType::Added, pod("shop", "web-2", "node-c"));
  ASSERT_TRUE(eventually([&] { return cache.size() == 3u && cache.get("shop/web-2"); }));
  EXPECT_EQ(names(cache.by_index("spec.nodeName", "node-a")), (std::vector<std::string>{"web-0", "web-1"}));
  EXPECT_TRUE(cache.by_index("spec.nodeName", "node-b").empty());
  EXPECT_TRUE(cache.in_namespace("batch").empty());
  ASSERT_TRUE(eventually([&] { return recorder.get().size() == 7u; }));
  auto seen = recorder.get();
  // A list's adds come in no particular order, then on_list, then the watch's events in order.
  EXPECT_THAT(std::vector<std::string>(seen.begin(), seen.begin() + 3),
              ::testing::UnorderedElementsAre("add batch/job", "add shop/web-0", "add shop/web-1"));
  EXPECT_THAT(std::vector<std::string>(seen.begin() + 3, seen.end()),
              ::testing::ElementsAre("listed", "update shop/web-1", "delete batch/job", "add shop/web-2"));
  informer.stop();
}

TEST(SharedIndexInformer, AFailedListLeavesTheCacheAndSyncedFlagAsTheyWere) {
  auto server = std::make_shared<FakeServer>();
  server->items = {pod("shop", "web-0", "node-a")};
  auto faults = std::make_shared<testing::FaultyListerWatcher::Faults>();
  faults->fail_lists = true;
  SharedIndexInformer<api::Pod> informer(
      std::make_unique<testing::FaultyListerWatcher>(std::make_unique<FakeListerWatcher>(server, "/api/v1/pods"), faults), fast());
  Recorder recorder;
  informer.add_event_handler(recorder.handlers());
  informer.start();
  ASSERT_TRUE(eventually([&] { return faults->lists_failed >= 3; }));
  EXPECT_FALSE(informer.has_synced());  // never "synced with nothing"
  EXPECT_EQ(informer.indexer().size(), 0u);
  EXPECT_TRUE(recorder.get().empty());
  EXPECT_GE(informer.failed_lists(), 3u);

  faults->fail_lists = false;
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  EXPECT_EQ(informer.indexer().size(), 1u);

  // Synced, then the watch is refused (410) and every relist fails: the cache keeps the last
  // state and the informer stays synced.
  const int failed_before = faults->lists_failed;
  faults->fail_lists = true;
  faults->expire_watches = true;
  server->expire_watch();
  ASSERT_TRUE(eventually([&] { return faults->lists_failed >= failed_before + 3; }));
  EXPECT_TRUE(informer.has_synced());
  EXPECT_EQ(informer.indexer().size(), 1u);
  EXPECT_THAT(recorder.get(), ::testing::ElementsAre("add shop/web-0", "listed"));

  // The server comes back with web-0 gone and web-1 new: the relist's difference is delivered,
  // the deletion as one whose final state is unknown.
  {
    std::lock_guard lock(server->mu);
    server->items = {pod("shop", "web-1", "node-a")};
  }
  faults->expire_watches = false;
  faults->fail_lists = false;
  ASSERT_TRUE(eventually([&] { return informer.indexer().get("shop/web-1") != nullptr; }));
  ASSERT_TRUE(eventually([&] { return recorder.get().size() == 5u; }));
  EXPECT_THAT(recorder.get(), ::testing::ElementsAre("add shop/web-0", "listed", "add shop/web-1", "lost shop/web-0", "listed"));
  EXPECT_EQ(informer.lists(), 2u);
  informer.stop();
}

TEST(SharedIndexInformer, AHandlerAddedLateGetsWhatIsCachedAsAdds) {
  auto server = std::make_shared<FakeServer>();
  server->items = {pod("shop", "web-0", "node-a")};
  SharedIndexInformer<api::Pod> informer(std::make_unique<FakeListerWatcher>(server, "/api/v1/pods"), fast());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  Recorder late;
  informer.add_event_handler(late.handlers());
  EXPECT_THAT(late.get(), ::testing::ElementsAre("add shop/web-0", "listed"));
}

TEST(SharedIndexInformer, ResyncHandsEveryObjectToUpdateAgain) {
  auto server = std::make_shared<FakeServer>();
  server->items = {pod("shop", "web-0", "node-a")};
  InformerOptions options = fast();
  options.resync_period = 20ms;
  SharedIndexInformer<api::Pod> informer(std::make_unique<FakeListerWatcher>(server, "/api/v1/pods"), options);
  Recorder recorder;
  informer.add_event_handler(recorder.handlers());
  informer.start();
  EXPECT_TRUE(eventually([&] { return std::ranges::count(recorder.get(), std::string("update shop/web-0")) >= 2; }));
  informer.stop();
}

// The agent's informers (issue #25): the handler gets each new object whole, the informer keeps
// only its key, and the handler's old and last-known objects carry only that key.
TEST(SharedIndexInformer, KeepingKeysOnlyStillHandsNewObjectsWholeAndFindsDeletions) {
  auto server = std::make_shared<FakeServer>();
  server->items = {pod("shop", "web-0", "node-a"), pod("shop", "web-1", "node-b")};
  SharedIndexInformer<api::Pod> informer(std::make_unique<FakeListerWatcher>(server, "/api/v1/pods"), fast());
  ASSERT_TRUE(informer.keep_keys_only());
  Recorder recorder;
  informer.add_event_handler({
      [&](const ObjectPtr<api::Pod>& p) { recorder.note("add " + p->metadata.name + " on " + p->spec.node_name); },
      [&](const ObjectPtr<api::Pod>& old, const ObjectPtr<api::Pod>& p) {
        recorder.note("update " + old->metadata.name + " on '" + old->spec.node_name + "' to " + p->spec.node_name);
      },
      [&](const ObjectPtr<api::Pod>& p, bool unknown) {
        recorder.note(std::string(unknown ? "lost " : "delete ") + p->metadata.name + " on '" + p->spec.node_name + "'");
      },
      nullptr,
  });
  // A second user would be handed keys as objects.
  EXPECT_THROW(informer.add_event_handler(Recorder{}.handlers()), std::logic_error);
  informer.start();
  EXPECT_FALSE(informer.keep_keys_only());  // too late once started
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  EXPECT_EQ(informer.indexer().size(), 0u);  // no objects kept

  server->push(WatchEventType::Modified, pod("shop", "web-1", "node-c"));
  server->push(WatchEventType::Deleted, pod("shop", "web-1", "node-c"));
  ASSERT_TRUE(eventually([&] { return recorder.get().size() == 4u; }));
  {
    std::lock_guard lock(server->mu);
    server->items = {pod("shop", "web-2", "node-a")};
  }
  server->expire_watch();  // the relist finds web-0 gone
  ASSERT_TRUE(eventually([&] { return recorder.get().size() == 6u; }));
  const auto seen = recorder.get();
  EXPECT_THAT(std::vector<std::string>(seen.begin(), seen.begin() + 2),
              ::testing::UnorderedElementsAre("add web-0 on node-a", "add web-1 on node-b"));
  EXPECT_THAT(std::vector<std::string>(seen.begin() + 2, seen.end()),
              ::testing::ElementsAre("update web-1 on '' to node-c", "delete web-1 on ''", "add web-2 on node-a", "lost web-0 on ''"));
  informer.stop();
}

TEST(SharedInformerFactory, OneInformerPerResourceAndSelector) {
  auto server = std::make_shared<FakeServer>();
  std::vector<std::string> paths;
  SharedInformerFactory factory(
      [&](const std::string& path) {
        paths.push_back(path);
        return std::make_unique<FakeListerWatcher>(server, path);
      },
      fast());
  auto& pods = factory.informer<api::Pod>();
  EXPECT_EQ(&pods, &factory.informer<api::Pod>());
  auto& node_pods = factory.informer<api::Pod>("spec.nodeName=node-a");
  EXPECT_NE(&pods, &node_pods);
  (void)factory.informer<api::EndpointSlice>();
  (void)factory.informer<api::Service>();
  EXPECT_THAT(paths, ::testing::ElementsAre("/api/v1/pods", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a",
                                            "/apis/discovery.k8s.io/v1/endpointslices", "/api/v1/services"));
  EXPECT_FALSE(factory.has_synced());
  factory.start();
  EXPECT_TRUE(factory.wait_for_cache_sync(5s));
  // An informer made after start() runs at once.
  auto& nodes = factory.informer<api::Node>();
  EXPECT_TRUE(eventually([&] { return nodes.has_synced(); }));
  factory.stop();
}

}  // namespace
}  // namespace switchyard::client
