// The sync loop against a recording backend that can be told to fail, with a fake clock: which
// syncs are full or partial, what survives a failure, what observers, metrics and health see.
#include "dataplane/sync_loop.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataplane/iptables/test_cluster.h"

namespace switchyard::dataplane {
namespace {

using namespace std::chrono_literals;
using namespace test_cluster;
using ::testing::HasSubstr;

class FakeClock final : public RunnerClock {
 public:
  time_point now() const override { return now_; }
  void advance(std::chrono::steady_clock::duration d) { now_ += d; }

 private:
  time_point now_ = time_point(1000h);
};

// Records what it was asked to program; fails while `fail` is set.
class RecordingBackend final : public Backend {
 public:
  struct Call {
    bool full;
    std::uint64_t generation;
    std::size_t changes;
  };
  Result<void> sync(const endpoints::Snapshot&, const endpoints::Snapshot& after, const endpoints::SnapshotDiff& diff) override {
    calls.push_back({false, after.generation(), diff.changes.size()});
    return outcome(after);
  }
  Result<void> full_sync(const endpoints::Snapshot& s) override {
    calls.push_back({true, s.generation(), 0});
    return outcome(s);
  }
  Result<void> cleanup() override { return {}; }
  BackendStats stats() const override { return stats_; }

  std::vector<Call> calls;
  bool fail = false;
  std::uint64_t kernel_generation = 0;  // what "the kernel" holds

 private:
  Result<void> outcome(const endpoints::Snapshot& s) {
    if (fail) {
      ++stats_.failed_syncs;
      return std::unexpected(Error{ErrorCode::Internal, "nftables commit: chain ip switchyard service-x: Device or resource busy"});
    }
    kernel_generation = s.generation();
    stats_.rules = s.service_ports().size() * 3;
    return {};
  }
  BackendStats stats_;
};

class SyncLoopTest : public ::testing::Test {
 protected:
  SyncLoopTest() {
    state_.upsert(service("web", "10.96.0.10"));
    state_.upsert(slice("web", {{"10.244.0.11", "node-a"}}));
    snapshot_ = state_.build();
  }
  SyncLoop make_loop() {
    return SyncLoop(
        backend_, [this] { return ready_ ? snapshot_ : nullptr; },
        {.min_sync_period = 1s, .sync_period = 30s, .full_sync_period = 60s, .retry_interval = 5s, .burst = 1}, &health_, clock_);
  }
  void change_endpoints(std::vector<std::pair<std::string, std::string>> eps) {
    state_.upsert(slice("web", eps));
    snapshot_ = state_.build();
  }

  FakeClock clock_;
  std::chrono::system_clock::time_point wall_ = std::chrono::system_clock::time_point(std::chrono::hours(490000));
  ProxyHealth health_{60s, [this] { return wall_; }};
  RecordingBackend backend_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
  bool ready_ = true;
};

TEST_F(SyncLoopTest, FirstSyncIsFullThenOnlyChangesArePartialSyncs) {
  SyncLoop loop(
      backend_, [this] { return snapshot_; }, {.full_sync_period = 60s}, nullptr, clock_);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> observed;  // before, after generations
  loop.add_observer([&](const SyncEvent& e) { observed.emplace_back(e.before.generation(), e.after.generation()); });
  loop.sync_now();
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_TRUE(backend_.calls[0].full);
  loop.sync_now();  // nothing changed: the backend is not called
  EXPECT_EQ(backend_.calls.size(), 1u);
  change_endpoints({{"10.244.0.11", "node-a"}, {"10.244.0.12", "node-b"}});
  loop.sync_now();
  ASSERT_EQ(backend_.calls.size(), 2u);
  EXPECT_FALSE(backend_.calls[1].full);
  EXPECT_EQ(backend_.calls[1].changes, 1u);
  EXPECT_EQ(loop.programmed(), snapshot_);
  ASSERT_EQ(observed.size(), 2u);
  EXPECT_EQ(observed[0].first, 0u);  // the first sync starts from nothing
  EXPECT_EQ(observed[1], std::make_pair(observed[0].second, snapshot_->generation()));
}

TEST_F(SyncLoopTest, AFailedSyncKeepsTheLastProgrammedSnapshotAndRetriesWithAFullSync) {
  SyncLoop loop = make_loop();
  int observed = 0;
  loop.add_observer([&](const SyncEvent&) { ++observed; });
  loop.sync_now();
  const auto first = loop.programmed();
  change_endpoints({{"10.244.0.12", "node-b"}});
  backend_.fail = true;
  loop.sync_now();
  EXPECT_TRUE(loop.last_sync_failed());
  EXPECT_EQ(loop.programmed(), first);                     // not the Snapshot that failed
  EXPECT_EQ(observed, 1);                                  // observers only hear of success
  EXPECT_EQ(loop.runner().next_run(), clock_.now() + 5s);  // the retry
  EXPECT_THAT(loop.metrics().prometheus_text(), HasSubstr("kubeproxy_sync_proxy_rules_nftables_sync_failures_total 1\n"));

  backend_.fail = false;
  clock_.advance(5s);
  EXPECT_TRUE(loop.runner().run_if_due());
  ASSERT_EQ(backend_.calls.size(), 3u);
  EXPECT_TRUE(backend_.calls[2].full);  // after a failure nothing partial is trusted
  EXPECT_EQ(backend_.kernel_generation, snapshot_->generation());
  EXPECT_FALSE(loop.last_sync_failed());
  EXPECT_EQ(observed, 2);
}

TEST_F(SyncLoopTest, APeriodicSyncIsFullOnceTheFullSyncPeriodPassed) {
  SyncLoop loop = make_loop();
  loop.sync_now();
  clock_.advance(30s);
  ASSERT_TRUE(loop.runner().run_if_due());  // max interval, nothing changed: no backend call
  EXPECT_EQ(backend_.calls.size(), 1u);
  clock_.advance(30s);
  ASSERT_TRUE(loop.runner().run_if_due());
  ASSERT_EQ(backend_.calls.size(), 2u);
  EXPECT_TRUE(backend_.calls[1].full);  // 60 s since the last full sync
}

TEST_F(SyncLoopTest, NothingIsProgrammedUntilTheSourceIsReady) {
  ready_ = false;
  SyncLoop loop = make_loop();
  loop.sync_now();
  EXPECT_TRUE(backend_.calls.empty());
  EXPECT_EQ(loop.programmed()->generation(), 0u);
  EXPECT_EQ(loop.runner().next_run(), clock_.now() + 5s);
  ready_ = true;
  clock_.advance(5s);
  EXPECT_TRUE(loop.runner().run_if_due());
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_TRUE(backend_.calls[0].full);
}

TEST_F(SyncLoopTest, RequestsAreRateLimitedByMinSyncPeriod) {
  SyncLoop loop = make_loop();
  loop.request_sync();
  EXPECT_TRUE(loop.runner().run_if_due());
  change_endpoints({{"10.244.0.12", "node-b"}});
  loop.request_sync();
  change_endpoints({{"10.244.0.13", "node-b"}});
  loop.request_sync();
  EXPECT_FALSE(loop.runner().run_if_due());
  clock_.advance(1s);
  EXPECT_TRUE(loop.runner().run_if_due());
  ASSERT_EQ(backend_.calls.size(), 2u);  // two changes, one partial sync of the latest
  EXPECT_EQ(backend_.calls[1].generation, snapshot_->generation());
}

TEST_F(SyncLoopTest, HealthTurnsUnhealthyWhenAQueuedChangeWaitsPastTheTimeout) {
  SyncLoop loop = make_loop();
  EXPECT_EQ(health_.healthz().status, 200);  // starting up
  EXPECT_FALSE(health_.synced_once());
  loop.request_sync();
  backend_.fail = true;
  loop.sync_now();
  wall_ += 59s;
  EXPECT_EQ(health_.healthz().status, 200);
  wall_ += 1s;
  auto h = health_.healthz();
  EXPECT_EQ(h.status, 503);
  EXPECT_THAT(h.body, HasSubstr("\"nodeEligible\": true"));
  EXPECT_EQ(health_.livez().status, 503);
  backend_.fail = false;
  loop.sync_now();
  EXPECT_TRUE(health_.synced_once());
  h = health_.healthz();
  EXPECT_EQ(h.status, 200);
  EXPECT_THAT(h.body, HasSubstr("\"lastUpdated\": \"" + go_time_string(wall_) + "\""));
  health_.set_node_eligible(false);  // node being deleted: drain it, but the proxy is alive
  EXPECT_EQ(health_.healthz().status, 503);
  EXPECT_EQ(health_.livez().status, 200);
}

TEST_F(SyncLoopTest, MetricsCountSyncsAndChangesUnderKubeProxyNames) {
  SyncLoop loop = make_loop();
  loop.sync_now();
  change_endpoints({{"10.244.0.12", "node-b"}});
  loop.sync_now();
  const auto text = loop.metrics().prometheus_text();
  EXPECT_THAT(text, HasSubstr("# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("kubeproxy_sync_proxy_rules_duration_seconds_count 2\n"));
  EXPECT_THAT(text, HasSubstr("kubeproxy_sync_full_proxy_rules_duration_seconds_count 1\n"));
  EXPECT_THAT(text, HasSubstr("kubeproxy_sync_partial_proxy_rules_duration_seconds_count 1\n"));
  EXPECT_THAT(text, HasSubstr("kubeproxy_sync_proxy_rules_endpoint_changes_total 2\n"));  // added once, changed once
  EXPECT_THAT(text, HasSubstr("kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("switchyard_dataplane_rules 3\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("kubeproxy_sync_proxy_rules_last_timestamp_seconds 0\n")));
}

TEST(Histogram, RendersCumulativeBucketsSumAndCount) {
  Histogram h({0.1, 1, 10});
  h.observe(0.05);
  h.observe(0.1);  // on a bound: counted in that bucket (le is "less or equal")
  h.observe(5.0);
  h.observe(100.0);
  std::string text;
  h.render(text, "sync_seconds", "How long");
  EXPECT_EQ(text,
            "# HELP sync_seconds How long\n"
            "# TYPE sync_seconds histogram\n"
            "sync_seconds_bucket{le=\"0.1\"} 2\n"
            "sync_seconds_bucket{le=\"1\"} 2\n"
            "sync_seconds_bucket{le=\"10\"} 3\n"
            "sync_seconds_bucket{le=\"+Inf\"} 4\n"
            "sync_seconds_sum 105.15\n"
            "sync_seconds_count 4\n");
}

TEST(Histogram, KubeProxySyncBuckets) {
  Histogram h = Histogram::sync_duration();
  h.observe(0.003);
  std::string text;
  h.render(text, "d", "help");
  EXPECT_THAT(text, HasSubstr("d_bucket{le=\"0.001\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("d_bucket{le=\"0.004\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_bucket{le=\"16.384\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_sum 0.003\n"));
  EXPECT_EQ(h.count(), 1u);
}

TEST(SyncMetrics, NetworkProgrammingLatencyUsesKubeProxysBuckets) {
  SyncMetrics m("nftables");
  const auto now = std::chrono::system_clock::now();
  m.record_network_programming(now - 1500ms, now);
  m.record_network_programming(now - 70s, now);
  const auto text = m.prometheus_text();
  EXPECT_THAT(text, HasSubstr("kubeproxy_network_programming_duration_seconds_bucket{le=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("kubeproxy_network_programming_duration_seconds_bucket{le=\"2\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("kubeproxy_network_programming_duration_seconds_bucket{le=\"70\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("kubeproxy_network_programming_duration_seconds_count 2\n"));
}

TEST(GoTimeString, MatchesGosTimeFormat) {
  using namespace std::chrono;
  const auto t = sys_days(year(2024) / 3 / 9) + 7h + 5min + 2s + 120ms;
  EXPECT_EQ(go_time_string(t), "2024-03-09 07:05:02.12 +0000 UTC");
  EXPECT_EQ(go_time_string(sys_days(year(2024) / 3 / 9)), "2024-03-09 00:00:00 +0000 UTC");
}

}  // namespace
}  // namespace switchyard::dataplane
