// What only the embedded backend promises: durability across close, crash (SIGKILL) and
// reopen; exclusive ownership of the file; slow watches catching up from disk.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::store {
namespace {

using testing::EventRecorder;
using testing::TempDir;

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir_.path() / "store.db").string(); }
  TempDir dir_;
};

TEST_F(SqliteStoreTest, DataSurvivesCloseAndReopen) {
  Revision a, b, compacted;
  {
    auto s = SqliteStore::open(db_path());
    ASSERT_TRUE(s) << s.error().message;
    a = (*s)->create("/a", "1").value();
    b = (*s)->create("/b", "1").value();
    compacted = (*s)->update("/a", "2", a).value();
    ASSERT_TRUE((*s)->remove("/b", b));
    ASSERT_TRUE((*s)->compact(compacted));
  }
  auto s = SqliteStore::open(db_path());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->current_revision().value(), compacted + 1);
  EXPECT_EQ((*s)->compacted_revision().value(), compacted);
  EXPECT_EQ((*s)->get("/a").value(), (KeyValue{"/a", "2", a, compacted}));
  EXPECT_FALSE((*s)->get("/b").value().has_value());
  EXPECT_EQ((*s)->create("/c", "1").value(), compacted + 2);
  EXPECT_FALSE((*s)->list("/", 0, "", compacted - 1).has_value());
}

TEST_F(SqliteStoreTest, ASecondOpenOfTheSameFileIsUnavailable) {
  auto first = SqliteStore::open(db_path());
  ASSERT_TRUE(first) << first.error().message;
  auto second = SqliteStore::open(db_path());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, StoreErrorCode::Unavailable);
  EXPECT_NE(second.error().message.find("store.db.lock"), std::string::npos) << second.error().message;
}

// A child writes keys and reports each acknowledged write on a pipe; it is killed with SIGKILL
// in the middle of writing. Every acknowledged key must be there, with its revision.
TEST_F(SqliteStoreTest, AcknowledgedWritesSurviveSigkill) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto s = SqliteStore::open(db_path());
    if (!s) ::_exit(2);
    for (int i = 0;; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "/k/%06d", i);
      auto r = (*s)->create(key, std::string(100, 'x'));
      if (!r) ::_exit(3);
      char line[64];
      int n = std::snprintf(line, sizeof line, "%s %lld\n", key, static_cast<long long>(*r));
      if (::write(fds[1], line, static_cast<std::size_t>(n)) != n) ::_exit(4);
    }
  }
  ::close(fds[1]);
  FILE* acks = ::fdopen(fds[0], "r");
  ASSERT_NE(acks, nullptr);
  std::map<std::string, Revision> acknowledged;
  char key[64];
  long long rev = 0;
  while (acknowledged.size() < 200 && std::fscanf(acks, "%63s %lld", key, &rev) == 2) acknowledged[key] = rev;
  ::kill(child, SIGKILL);
  // Acks already in the pipe were acknowledged too.
  while (std::fscanf(acks, "%63s %lld", key, &rev) == 2) acknowledged[key] = rev;
  std::fclose(acks);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited with status " << status;
  ASSERT_GE(acknowledged.size(), 200u);

  auto s = SqliteStore::open(db_path());
  ASSERT_TRUE(s) << s.error().message;
  for (const auto& [k, r] : acknowledged) {
    auto kv = (*s)->get(k);
    ASSERT_TRUE(kv) << kv.error().message;
    ASSERT_TRUE(kv->has_value()) << k << " was acknowledged at revision " << r << " but is missing";
    EXPECT_EQ((*kv)->mod_revision, r) << k;
    EXPECT_EQ((*kv)->create_revision, r) << k;
  }
  // Revisions carry on after the last one that made it to disk.
  auto current = (*s)->current_revision().value();
  EXPECT_GE(current, acknowledged.rbegin()->second);
  EXPECT_EQ((*s)->create("/after", "x").value(), current + 1);
}

// A watch whose callback stalls overflows its queue, drops it and catches up from the
// database: it still sees every event exactly once, in order.
TEST_F(SqliteStoreTest, ASlowWatchCatchesUpFromTheDatabase) {
  SqliteStore::Options options;
  options.watch_queue_limit = 8;
  auto s = SqliteStore::open(db_path(), options);
  ASSERT_TRUE(s) << s.error().message;
  std::mutex gate;
  std::unique_lock held(gate);
  EventRecorder recorder;
  auto record = recorder.callback();
  auto watch = (*s)->watch("/", 0, [&](const StoreResult<Event>& e) {
    std::lock_guard wait_for_gate(gate);
    record(e);
  });
  ASSERT_TRUE(watch) << watch.error().message;
  constexpr int kWrites = 100;
  for (int i = 0; i < kWrites; ++i) ASSERT_TRUE((*s)->create("/k" + std::to_string(i), "v"));
  held.unlock();
  ASSERT_TRUE(recorder.wait_for(kWrites));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), static_cast<std::size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i) {
    EXPECT_EQ(events[i].kv.key, "/k" + std::to_string(i));
    EXPECT_EQ(events[i].kv.mod_revision, i + 1);
  }
  EXPECT_TRUE(recorder.errors().empty());
}

// Writes that arrive together are committed together (group commit), yet each keeps its own
// outcome: compare-and-swap increments from many threads lose no update, racing creates of one
// key let exactly one through, refused writes take no revision, and a watch sees every
// acknowledged write once, in revision order with no gaps.
TEST_F(SqliteStoreTest, ConcurrentWritesKeepTheirOwnOutcomes) {
  auto s = SqliteStore::open(db_path());
  ASSERT_TRUE(s) << s.error().message;
  EventRecorder recorder;
  auto watch = (*s)->watch("/", 0, recorder.callback());
  ASSERT_TRUE(watch) << watch.error().message;
  ASSERT_TRUE((*s)->create("/counter", "0"));
  constexpr int kThreads = 8, kIncrements = 25;
  std::atomic<int> created{0}, refused_creates{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      if (auto c = (*s)->create("/contested", "x"))
        ++created;
      else if (c.error().code == StoreErrorCode::AlreadyExists)
        ++refused_creates;
      for (int done = 0; done < kIncrements;) {
        auto kv = (*s)->get("/counter");
        if (!kv || !*kv) return;
        const int value = std::stoi((*kv)->value);
        auto r = (*s)->update("/counter", std::to_string(value + 1), (*kv)->mod_revision);
        if (r)
          ++done;
        else if (r.error().code == StoreErrorCode::Conflict)
          ++conflicts;
        else
          return;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(refused_creates.load(), kThreads - 1);
  auto counter = (*s)->get("/counter");
  ASSERT_TRUE(counter && *counter);
  EXPECT_EQ((*counter)->value, std::to_string(kThreads * kIncrements));
  // The counter's create, the contested create, and every increment: nothing else took a revision.
  const Revision writes = 2 + kThreads * kIncrements;
  EXPECT_EQ((*s)->current_revision().value_or(0), writes);
  ASSERT_TRUE(recorder.wait_for(static_cast<std::size_t>(writes)));
  const auto events = recorder.events();
  ASSERT_EQ(events.size(), static_cast<std::size_t>(writes));
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].kv.mod_revision, static_cast<Revision>(i + 1));
  EXPECT_TRUE(recorder.errors().empty());
  std::printf("%d compare-and-swap conflicts among %d threads\n", conflicts.load(), kThreads);
}

}  // namespace
}  // namespace switchyard::store
