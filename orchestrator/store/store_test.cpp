// One suite, every backend: the Store contract as the API server relies on it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <set>
#include <thread>

#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_backends.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::store {
namespace {

using testing::EventRecorder;

// Fails the test with the store's message when a result is an error.
#define ASSERT_OK(r) ASSERT_TRUE((r).has_value()) << (r).error().message
#define EXPECT_CODE(r, c)                                                      \
  do {                                                                         \
    auto&& r_ = (r);                                                           \
    ASSERT_FALSE(r_.has_value());                                              \
    EXPECT_EQ(to_string(r_.error().code), to_string(c)) << r_.error().message; \
    EXPECT_FALSE(r_.error().message.empty());                                  \
  } while (0)

template <class Backend>
class StoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { backend_ = std::make_unique<Backend>(); }
  static void TearDownTestSuite() { backend_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(backend_->ready()) << backend_->why_not_ready();
    auto s = backend_->make_store();
    ASSERT_OK(s);
    store_ = std::move(*s);
    // Backends may share one server between tests: every test works under its own prefix.
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("/registry/") + info->name() + "/";
  }
  void TearDown() override { store_.reset(); }

  std::string key(std::string_view name) const { return prefix_ + std::string(name); }

  Revision create(std::string_view name, std::string_view value) {
    auto r = store_->create(key(name), value);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r.value_or(0);
  }
  Revision update(std::string_view name, std::string_view value) {
    auto r = store_->update(key(name), value, 0);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r.value_or(0);
  }
  Revision remove(std::string_view name) {
    auto r = store_->remove(key(name), 0);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? r->revision : 0;
  }
  std::vector<std::string> names(const std::vector<KeyValue>& items) const {
    std::vector<std::string> out;
    for (auto& kv : items) out.push_back(kv.key.substr(prefix_.size()));
    return out;
  }

  static inline std::unique_ptr<Backend> backend_;
  std::unique_ptr<Store> store_;
  std::string prefix_;
};

using Backends = ::testing::Types<SqliteBackend, EtcdBackend>;
class BackendNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return T::name();
  }
};
TYPED_TEST_SUITE(StoreTest, Backends, BackendNames);

TYPED_TEST(StoreTest, CreateThenGet) {
  auto& s = *this->store_;
  auto rev = s.create(this->key("a"), "one");
  ASSERT_OK(rev);
  EXPECT_GT(*rev, 0);
  auto got = s.get(this->key("a"));
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, (KeyValue{this->key("a"), "one", *rev, *rev}));

  auto missing = s.get(this->key("nope"));
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());

  EXPECT_CODE(s.create(this->key("a"), "two"), StoreErrorCode::AlreadyExists);
  EXPECT_EQ(s.get(this->key("a"))->value().value, "one");
}

TYPED_TEST(StoreTest, ValuesAreBytes) {
  auto& s = *this->store_;
  std::string binary("\0\x01\xff{}\n", 6);
  ASSERT_OK(s.create(this->key("bin"), binary));
  ASSERT_OK(s.create(this->key("empty"), ""));
  EXPECT_EQ(s.get(this->key("bin"))->value().value, binary);
  auto empty = s.get(this->key("empty"));
  ASSERT_OK(empty);
  ASSERT_TRUE(empty->has_value());
  EXPECT_EQ((*empty)->value, "");
}

TYPED_TEST(StoreTest, UpdateIsCompareAndSwapOnModRevision) {
  auto& s = *this->store_;
  Revision created = this->create("a", "v1");
  auto updated = s.update(this->key("a"), "v2", created);
  ASSERT_OK(updated);
  EXPECT_GT(*updated, created);

  // The stale revision no longer matches.
  auto conflict = s.update(this->key("a"), "v3", created);
  EXPECT_CODE(conflict, StoreErrorCode::Conflict);
  auto kv = s.get(this->key("a"))->value();
  EXPECT_EQ(kv, (KeyValue{this->key("a"), "v2", created, *updated}));

  // 0: unconditional.
  auto forced = s.update(this->key("a"), "v4", 0);
  ASSERT_OK(forced);
  EXPECT_EQ(s.get(this->key("a"))->value().value, "v4");
  EXPECT_EQ(s.get(this->key("a"))->value().create_revision, created);

  EXPECT_CODE(s.update(this->key("missing"), "x", 0), StoreErrorCode::NotFound);
  EXPECT_CODE(s.update(this->key("missing"), "x", *forced), StoreErrorCode::NotFound);
}

TYPED_TEST(StoreTest, RemoveReturnsTheDeletedKeyAndHonoursModRevision) {
  auto& s = *this->store_;
  Revision created = this->create("a", "v1");
  Revision updated = this->update("a", "v2");
  EXPECT_CODE(s.remove(this->key("a"), created), StoreErrorCode::Conflict);

  auto removed = s.remove(this->key("a"), updated);
  ASSERT_OK(removed);
  EXPECT_EQ(removed->deleted, (KeyValue{this->key("a"), "v2", created, updated}));
  EXPECT_GT(removed->revision, updated);
  EXPECT_FALSE(s.get(this->key("a"))->has_value());
  EXPECT_CODE(s.remove(this->key("a"), 0), StoreErrorCode::NotFound);
  EXPECT_CODE(s.update(this->key("a"), "v3", 0), StoreErrorCode::NotFound);

  // A key can be created again after a delete, with a new create revision.
  Revision again = this->create("a", "v5");
  EXPECT_GT(again, removed->revision);
  EXPECT_EQ(s.get(this->key("a"))->value(), (KeyValue{this->key("a"), "v5", again, again}));
}

TYPED_TEST(StoreTest, RevisionsAreGlobalAndIncreaseByOnePerWrite) {
  auto& s = *this->store_;
  auto before = s.current_revision();
  ASSERT_OK(before);
  Revision r1 = this->create("x", "1");
  Revision r2 = this->create("y", "1");
  Revision r3 = this->update("x", "2");
  Revision r4 = this->remove("y");
  EXPECT_EQ(r1, *before + 1);
  EXPECT_EQ(r2, r1 + 1);
  EXPECT_EQ(r3, r2 + 1);
  EXPECT_EQ(r4, r3 + 1);
  EXPECT_EQ(s.current_revision().value_or(0), r4);
  // Failed writes do not use up a revision.
  EXPECT_FALSE(s.create(this->key("x"), "again"));
  EXPECT_FALSE(s.update(this->key("x"), "3", r1));
  EXPECT_EQ(s.current_revision().value_or(0), r4);
}

TYPED_TEST(StoreTest, ConcurrentWritersGetDistinctRevisions) {
  auto& s = *this->store_;
  constexpr int kThreads = 4, kPerThread = 20;
  std::vector<std::vector<Revision>> revisions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = s.create(this->key("t" + std::to_string(t) + "-" + std::to_string(i)), "v");
        revisions[t].push_back(r.value_or(-1));
      }
    });
  for (auto& th : threads) th.join();
  std::set<Revision> all;
  for (auto& per_thread : revisions) {
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    all.insert(per_thread.begin(), per_thread.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(all.count(-1), 0u);
  auto listed = s.list(this->prefix_, 0, "");
  ASSERT_OK(listed);
  EXPECT_EQ(listed->items.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TYPED_TEST(StoreTest, ListWithPrefixLimitAndContinue) {
  auto& s = *this->store_;
  for (auto n : {"pods/c", "pods/a", "pods/e", "pods/b", "pods/d", "podsx", "services/a"}) this->create(n, n);
  this->remove("pods/d");

  auto all = s.list(this->key("pods/"), 0, "");
  ASSERT_OK(all);
  EXPECT_EQ(this->names(all->items), (std::vector<std::string>{"pods/a", "pods/b", "pods/c", "pods/e"}));
  EXPECT_FALSE(all->more);
  EXPECT_EQ(all->revision, s.current_revision().value_or(0));
  EXPECT_EQ(all->items[0].value, "pods/a");

  auto page1 = s.list(this->key("pods/"), 2, "");
  ASSERT_OK(page1);
  EXPECT_EQ(this->names(page1->items), (std::vector<std::string>{"pods/a", "pods/b"}));
  EXPECT_TRUE(page1->more);

  // Writes between pages do not show in later pages listed at the first page's revision.
  this->create("pods/bb", "new");
  this->update("pods/c", "changed");
  auto page2 = s.list(this->key("pods/"), 2, page1->items.back().key, page1->revision);
  ASSERT_OK(page2);
  EXPECT_EQ(this->names(page2->items), (std::vector<std::string>{"pods/c", "pods/e"}));
  EXPECT_EQ(page2->items[0].value, "pods/c");
  EXPECT_EQ(page2->revision, page1->revision);
  EXPECT_FALSE(page2->more);

  // Now: the new key and the new value are there.
  auto now = s.list(this->key("pods/"), 0, this->key("pods/b"));
  ASSERT_OK(now);
  EXPECT_EQ(this->names(now->items), (std::vector<std::string>{"pods/bb", "pods/c", "pods/e"}));
  EXPECT_EQ(now->items[1].value, "changed");

  auto exact = s.list(this->key("pods/"), 4, "");
  ASSERT_OK(exact);
  EXPECT_EQ(exact->items.size(), 4u);
  EXPECT_TRUE(exact->more);
  auto none = s.list(this->key("nothing/"), 10, "");
  ASSERT_OK(none);
  EXPECT_TRUE(none->items.empty());
  EXPECT_FALSE(none->more);
}

TYPED_TEST(StoreTest, ListAtAPastRevisionSeesThatState) {
  auto& s = *this->store_;
  Revision r1 = this->create("a", "a1");
  this->create("b", "b1");
  Revision r2 = this->update("a", "a2");
  this->remove("b");
  this->create("c", "c1");

  auto at_r1 = s.list(this->prefix_, 0, "", r1);
  ASSERT_OK(at_r1);
  ASSERT_EQ(this->names(at_r1->items), (std::vector<std::string>{"a"}));
  EXPECT_EQ(at_r1->items[0], (KeyValue{this->key("a"), "a1", r1, r1}));
  EXPECT_EQ(at_r1->revision, r1);

  auto at_r2 = s.list(this->prefix_, 0, "", r2);
  ASSERT_OK(at_r2);
  EXPECT_EQ(this->names(at_r2->items), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(at_r2->items[0].value, "a2");

  auto now = s.list(this->prefix_, 0, "");
  ASSERT_OK(now);
  EXPECT_EQ(this->names(now->items), (std::vector<std::string>{"a", "c"}));

  EXPECT_CODE(s.list(this->prefix_, 0, "", now->revision + 100), StoreErrorCode::FutureRevision);
}

TYPED_TEST(StoreTest, WatchReplaysHistoryThenDeliversLiveEventsInOrder) {
  auto& s = *this->store_;
  Revision before = s.current_revision().value();
  Revision c = this->create("a", "1");
  Revision u = this->update("a", "2");
  Revision d = this->remove("a");

  EventRecorder recorder;
  auto watch = s.watch(this->prefix_, before, recorder.callback());
  ASSERT_OK(watch);
  ASSERT_TRUE(recorder.wait_for(3));
  Revision l1 = this->create("b", "live");
  Revision l2 = this->update("b", "live2");
  ASSERT_TRUE(recorder.wait_for(5));

  auto events = recorder.events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_TRUE(recorder.errors().empty());
  EXPECT_EQ(events[0].type, Event::Type::Put);
  EXPECT_EQ(events[0].kv, (KeyValue{this->key("a"), "1", c, c}));
  EXPECT_FALSE(events[0].prev_kv.has_value());
  EXPECT_EQ(events[1].type, Event::Type::Put);
  EXPECT_EQ(events[1].kv, (KeyValue{this->key("a"), "2", c, u}));
  ASSERT_TRUE(events[1].prev_kv.has_value());
  EXPECT_EQ(*events[1].prev_kv, (KeyValue{this->key("a"), "1", c, c}));
  EXPECT_EQ(events[2].type, Event::Type::Delete);
  EXPECT_EQ(events[2].kv.key, this->key("a"));
  EXPECT_EQ(events[2].kv.mod_revision, d);
  ASSERT_TRUE(events[2].prev_kv.has_value());
  EXPECT_EQ(*events[2].prev_kv, (KeyValue{this->key("a"), "2", c, u}));
  EXPECT_EQ(events[3].kv, (KeyValue{this->key("b"), "live", l1, l1}));
  EXPECT_EQ(events[4].kv, (KeyValue{this->key("b"), "live2", l1, l2}));

  // Starting later replays only what came after.
  EventRecorder later;
  auto watch2 = s.watch(this->prefix_, u, later.callback());
  ASSERT_OK(watch2);
  ASSERT_TRUE(later.wait_for(3));
  auto tail = later.events();
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[0].kv.mod_revision, d);
  EXPECT_EQ(tail[2].kv.mod_revision, l2);
}

TYPED_TEST(StoreTest, WatchFiltersByPrefix) {
  auto& s = *this->store_;
  EventRecorder recorder;
  auto watch = s.watch(this->key("pods/"), s.current_revision().value(), recorder.callback());
  ASSERT_OK(watch);
  this->create("services/a", "x");
  Revision p1 = this->create("pods/a", "x");
  this->create("podsx", "x");
  Revision p2 = this->create("pods/b", "x");
  this->update("services/a", "y");
  Revision p3 = this->remove("pods/a");
  ASSERT_TRUE(recorder.wait_for(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // nothing else may arrive
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kv.mod_revision, p1);
  EXPECT_EQ(events[1].kv.mod_revision, p2);
  EXPECT_EQ(events[2].kv.mod_revision, p3);
  EXPECT_EQ(events[2].type, Event::Type::Delete);
}

TYPED_TEST(StoreTest, WatchFromTheCurrentRevisionSeesOnlyNewEvents) {
  auto& s = *this->store_;
  this->create("old", "x");
  EventRecorder recorder;
  auto watch = s.watch(this->prefix_, s.current_revision().value(), recorder.callback());
  ASSERT_OK(watch);
  Revision r = this->create("new", "x");
  ASSERT_TRUE(recorder.wait_for(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.mod_revision, r);
}

template <class Condition>
bool wait_until(int seconds, Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// What watch bookmarks rely on: progress() never claims a revision whose event the callback has
// not finished with, and it follows the store once the watch has caught up, also past changes
// outside the prefix (a quiet watch's bookmarks still move: etcd's progress notifications, every
// second for the test's etcd).
TYPED_TEST(StoreTest, WatchProgressNeverRunsAheadOfTheCallback) {
  auto& s = *this->store_;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> delivered{0};
  const Revision start = s.current_revision().value();
  auto watch = s.watch(this->prefix_, start, [&](const StoreResult<Event>&) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });  // the first event's callback holds on
    ++delivered;
  });
  ASSERT_OK(watch);
  EXPECT_GE((*watch)->progress(), start);
  const Revision a = this->create("a", "x");
  const Revision b = this->create("b", "x");
  for (int i = 0; i < 20; ++i) {
    EXPECT_LT((*watch)->progress(), a) << "while the callback for revision " << a << " has not returned";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_TRUE(wait_until(5, [&] { return delivered == 2 && (*watch)->progress() >= b; })) << (*watch)->progress();
  // A change elsewhere: nothing for this watch to deliver, but its progress moves past it.
  auto elsewhere = s.create(this->prefix_.substr(0, this->prefix_.size() - 1) + "-elsewhere", "x");
  ASSERT_OK(elsewhere);
  EXPECT_TRUE(wait_until(5, [&] { return (*watch)->progress() >= *elsewhere; })) << (*watch)->progress() << " < " << *elsewhere;
  EXPECT_EQ(delivered, 2);
}

TYPED_TEST(StoreTest, DestroyedWatchDeliversNothingMore) {
  auto& s = *this->store_;
  EventRecorder recorder;
  auto watch = s.watch(this->prefix_, s.current_revision().value(), recorder.callback());
  ASSERT_OK(watch);
  this->create("a", "x");
  ASSERT_TRUE(recorder.wait_for(1));
  watch->reset();
  this->create("b", "x");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(recorder.events().size(), 1u);
}

TYPED_TEST(StoreTest, CompactionExpiresOldRevisions) {
  auto& s = *this->store_;
  Revision a1 = this->create("a", "a1");
  this->create("b", "b1");
  Revision a2 = this->update("a", "a2");
  this->remove("b");
  Revision a3 = this->update("a", "a3");
  Revision c1 = this->create("c", "c1");

  ASSERT_OK(s.compact(a2));
  EXPECT_EQ(s.compacted_revision().value_or(0), a2);

  EXPECT_CODE(s.list(this->prefix_, 0, "", a1), StoreErrorCode::Compacted);
  EXPECT_CODE(s.list(this->prefix_, 0, "", a2 - 1), StoreErrorCode::Compacted);
  EXPECT_CODE(s.watch(this->prefix_, a1, [](const StoreResult<Event>&) {}), StoreErrorCode::Compacted);
  EXPECT_CODE(s.compact(a2), StoreErrorCode::Compacted);
  EXPECT_CODE(s.compact(c1 + 100), StoreErrorCode::FutureRevision);

  // The state at the compacted revision and after it is intact.
  auto at = s.list(this->prefix_, 0, "", a2);
  ASSERT_OK(at);
  EXPECT_EQ(this->names(at->items), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(at->items[0], (KeyValue{this->key("a"), "a2", a1, a2}));
  auto now = s.list(this->prefix_, 0, "");
  ASSERT_OK(now);
  EXPECT_EQ(this->names(now->items), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(s.get(this->key("a"))->value(), (KeyValue{this->key("a"), "a3", a1, a3}));

  // A watch from the compacted revision replays everything after it, prev_kv included.
  EventRecorder recorder;
  auto watch = s.watch(this->prefix_, a2, recorder.callback());
  ASSERT_OK(watch);
  ASSERT_TRUE(recorder.wait_for(3));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, Event::Type::Delete);
  ASSERT_TRUE(events[0].prev_kv.has_value());
  EXPECT_EQ(events[0].prev_kv->value, "b1");
  EXPECT_EQ(events[1].kv, (KeyValue{this->key("a"), "a3", a1, a3}));
  EXPECT_EQ(events[2].kv.mod_revision, c1);
}

}  // namespace
}  // namespace switchyard::store
