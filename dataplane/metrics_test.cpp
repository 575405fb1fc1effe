#include "dataplane/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace switchyard::dataplane {
namespace {

using ::testing::HasSubstr;

TEST(Histogram, RendersCumulativeBucketsSumAndCount) {
  Histogram h({0.1, 1, 10});
  h.observe(0.05);
  h.observe(0.1);  // on a bound: counted in that bucket (le is "less or equal")
  h.observe(5.0);
  h.observe(100.0);
  EXPECT_EQ(h.render("sync_seconds", "How long"),
            "# HELP sync_seconds How long\n"
            "# TYPE sync_seconds histogram\n"
            "sync_seconds_bucket{le=\"0.1\"} 2\n"
            "sync_seconds_bucket{le=\"1\"} 2\n"
            "sync_seconds_bucket{le=\"10\"} 3\n"
            "sync_seconds_bucket{le=\"+Inf\"} 4\n"
            "sync_seconds_sum 105.15\n"
            "sync_seconds_count 4\n");
}

TEST(Histogram, KubeProxyBucketsAndDurations) {
  auto h = Histogram::sync_duration_seconds();
  h.observe(std::chrono::milliseconds(3));
  const auto text = h.render("d", "h");
  EXPECT_THAT(text, HasSubstr("d_bucket{le=\"0.001\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("d_bucket{le=\"0.004\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_bucket{le=\"16.384\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_sum 0.003\n"));
  EXPECT_EQ(h.count(), 1u);
}

TEST(Histogram, RefusesUnsortedBounds) { EXPECT_THROW(Histogram({1, 0.5}), std::invalid_argument); }

TEST(SyncDurationMetrics, FullAndPartialGoToTheirOwnHistogramAndToAll) {
  SyncDurationMetrics m;
  m.observe(true, std::chrono::seconds(2));
  m.observe(false, std::chrono::milliseconds(2));
  m.observe(false, std::chrono::milliseconds(2));
  EXPECT_EQ(m.all.count(), 3u);
  EXPECT_EQ(m.full.count(), 1u);
  EXPECT_EQ(m.partial.count(), 2u);
  EXPECT_THAT(m.render(), HasSubstr("kubeproxy_sync_partial_proxy_rules_duration_seconds_count 2\n"));
}

TEST(BackendStatsMetrics, CountsAndLastSyncTime) {
  BackendStats s;
  s.rules = 1200;
  s.map_elements = 40;
  s.failed_syncs = 1;
  const auto without_sync = render_backend_stats(s, "nftables");
  EXPECT_THAT(without_sync, HasSubstr("switchyard_dataplane_rules{backend=\"nftables\"} 1200\n"));
  EXPECT_THAT(without_sync, HasSubstr("# TYPE switchyard_dataplane_failed_syncs_total counter\n"));
  EXPECT_THAT(without_sync, ::testing::Not(HasSubstr("last_timestamp")));
  s.last_successful_sync = std::chrono::system_clock::time_point(std::chrono::seconds(1764400000));
  EXPECT_THAT(render_backend_stats(s, "nftables"),
              HasSubstr("kubeproxy_sync_proxy_rules_last_timestamp_seconds{backend=\"nftables\"} 1764400000\n"));
}

}  // namespace
}  // namespace switchyard::dataplane
