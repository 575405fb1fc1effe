// What only the etcd backend has to handle: a member that goes away and comes back.
#include <gtest/gtest.h>

#include "orchestrator/store/etcd_process.h"
#include "orchestrator/store/etcd_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::store {
namespace {

using testing::EtcdProcess;
using testing::EventRecorder;

class EtcdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    etcd_ = EtcdProcess::start(error);
    ASSERT_TRUE(etcd_) << error;
  }
  std::unique_ptr<EtcdProcess> etcd_;  // declared first: outlives the stores and watches
};

TEST_F(EtcdStoreTest, WatchResumesAfterEtcdRestartsWithoutLosingOrRepeatingEvents) {
  auto s = EtcdStore::connect(etcd_->client_url());
  ASSERT_TRUE(s) << s.error().message;
  Revision start = (*s)->current_revision().value();
  EventRecorder recorder;
  auto watch = (*s)->watch("/w/", start, recorder.callback());
  ASSERT_TRUE(watch) << watch.error().message;
  Revision a = (*s)->create("/w/a", "1").value();
  ASSERT_TRUE(recorder.wait_for(1));

  std::string error;
  ASSERT_TRUE(etcd_->restart(error)) << error;
  // Written while the watch may still be reconnecting: replayed from its resume revision.
  auto b = (*s)->create("/w/b", "1");
  ASSERT_TRUE(b) << b.error().message;
  auto c = (*s)->update("/w/a", "2", a);
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(recorder.wait_for(3, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kv.mod_revision, a);
  EXPECT_EQ(events[1].kv.mod_revision, *b);
  EXPECT_EQ(events[2].kv.mod_revision, *c);
  EXPECT_TRUE(recorder.errors().empty());
}

TEST_F(EtcdStoreTest, EtcdGoneForGoodIsUnavailable) {
  EtcdStore::Options options;
  options.request_timeout = std::chrono::milliseconds(1000);
  options.watch_reconnect_window = std::chrono::milliseconds(1000);
  auto s = EtcdStore::connect(etcd_->client_url(), options);
  ASSERT_TRUE(s) << s.error().message;
  EventRecorder recorder;
  auto watch = (*s)->watch("/w/", (*s)->current_revision().value(), recorder.callback());
  ASSERT_TRUE(watch) << watch.error().message;

  etcd_->kill_now();
  ASSERT_TRUE(recorder.wait_for_error(std::chrono::seconds(15)));
  EXPECT_EQ(recorder.errors()[0].code, StoreErrorCode::Unavailable) << recorder.errors()[0].message;

  auto get = (*s)->get("/w/a");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code, StoreErrorCode::Unavailable);
  EXPECT_NE(get.error().message.find("/w/a"), std::string::npos) << get.error().message;
  auto again = (*s)->watch("/w/", 0, recorder.callback());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, StoreErrorCode::Unavailable);
}

}  // namespace
}  // namespace switchyard::store
