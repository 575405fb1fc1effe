// The CronJob controller against a real registry over HTTP, driven by a fake clock: the test
// calls sync() itself after moving the clock, and finishes Jobs through jobs/status.
#include <gtest/gtest.h>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/cronjob_controller.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;
using namespace std::chrono_literals;

class CronJobControllerTest : public ::testing::Test {
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
    create(res("", "namespaces"), "", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"cron"}})");
    informers_ = std::make_unique<client::SharedInformerFactory>(connection_);
    CronJobControllerOptions o;
    o.now = [this] { return now_; };
    cronjobs_ = std::make_unique<CronJobController>(*informers_, connection_, o);
    informers_->start();  // no workers: the test syncs
    ASSERT_TRUE(informers_->wait_for_cache_sync(std::chrono::seconds(10)));
  }
  void TearDown() override {
    cronjobs_.reset();
    informers_->stop();
  }
  static const apiserver::ResourceInfo& res(const std::string& group, const std::string& plural) {
    return *apiserver::find_resource(group, "v1", plural);
  }
  Json create(const apiserver::ResourceInfo& r, const std::string& ns, const std::string& body) {
    std::vector<std::string> warnings;
    auto out = registry_->create(r, ns, Json::parse(body), apiserver::FieldValidation::Strict, warnings);
    EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().status.dump());
    return out ? *out : Json();
  }
  std::vector<std::string> jobs() {
    auto l = registry_->list(res("batch", "jobs"), "cron", {});
    std::vector<std::string> out;
    for (const auto& i : (*l)["items"])
      if (!i["metadata"].contains("deletionTimestamp")) out.push_back(i["metadata"]["name"]);
    return out;
  }
  Json cronjob() { return *registry_->get(res("batch", "cronjobs"), "cron", "tick"); }
  void finish(const std::string& job, const std::string& type) {
    Json j = *registry_->get(res("batch", "jobs"), "cron", job);
    j["status"]["conditions"] = {{{"type", type}, {"status", "True"}}};
    j["status"]["startTime"] = format_rfc3339(now_);
    if (type == "Complete") j["status"]["completionTime"] = format_rfc3339(now_);
    std::vector<std::string> warnings;
    ASSERT_TRUE(registry_->update(res("batch", "jobs"), "cron", job, j, true, apiserver::FieldValidation::Ignore, warnings));
  }
  // Waits for the caches to show what the registry says, then syncs at `at`.
  void sync_at(WallTime at) {
    now_ = at;
    std::this_thread::sleep_for(300ms);
    auto r = cronjobs_->sync("cron/tick");
    ASSERT_TRUE(r) << r.error().describe();
    std::this_thread::sleep_for(300ms);
  }
  WallTime created_at() { return *parse_rfc3339(cronjob()["metadata"]["creationTimestamp"]); }
  void make(const std::string& policy, const std::string& extra = "") {
    create(res("batch", "cronjobs"), "cron",
           R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"tick"},"spec":{"schedule":"* * * * *","concurrencyPolicy":")" +
               policy + R"(",)" + extra +
               R"("jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}})");
    // The first whole minute after creation.
    base_ = std::chrono::time_point_cast<std::chrono::minutes>(created_at()) + 1min;
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<CronJobController> cronjobs_;
  WallTime now_{}, base_{};
};

TEST_F(CronJobControllerTest, AllowStartsOneJobPerMinuteAndKeepsHistoryLimits) {
  make("Allow", R"("successfulJobsHistoryLimit":2,)");
  sync_at(base_ - 30s);
  EXPECT_TRUE(jobs().empty());
  sync_at(base_ + 5s);
  const std::string first = cronjob_job_name("tick", base_);
  EXPECT_EQ(jobs(), std::vector<std::string>{first});
  EXPECT_EQ(cronjob()["status"]["lastScheduleTime"], format_rfc3339(base_));
  EXPECT_EQ(cronjob()["status"]["active"][0]["name"], first);
  // The same minute again (a restart, a resync): no second Job.
  sync_at(base_ + 20s);
  EXPECT_EQ(jobs().size(), 1U);
  // Allow: a new Job each minute though the first still runs.
  sync_at(base_ + 1min + 5s);
  EXPECT_EQ(jobs().size(), 2U);
  EXPECT_EQ(cronjob()["status"]["active"].size(), 2U);
  // Three succeed over time; only the newest two are kept.
  for (int i = 2; i <= 3; ++i) sync_at(base_ + std::chrono::minutes(i) + 5s);
  for (const auto& j : jobs()) finish(j, "Complete");
  sync_at(base_ + 3min + 30s);
  EXPECT_EQ(jobs(), (std::vector<std::string>{cronjob_job_name("tick", base_ + 2min), cronjob_job_name("tick", base_ + 3min)}));
  EXPECT_FALSE(cronjob()["status"].contains("active"));
  EXPECT_TRUE(cronjob()["status"].contains("lastSuccessfulTime"));
}

TEST_F(CronJobControllerTest, ForbidSkipsWhileOneRuns) {
  make("Forbid");
  sync_at(base_ + 5s);
  ASSERT_EQ(jobs().size(), 1U);
  sync_at(base_ + 1min + 5s);
  sync_at(base_ + 2min + 5s);
  EXPECT_EQ(jobs().size(), 1U) << "Forbid: no second Job while the first runs";
  finish(jobs()[0], "Complete");
  sync_at(base_ + 2min + 10s);
  EXPECT_EQ(jobs().size(), 2U);
  EXPECT_EQ(jobs()[1], cronjob_job_name("tick", base_ + 2min));
}

TEST_F(CronJobControllerTest, ReplaceDeletesTheRunningJob) {
  make("Replace");
  sync_at(base_ + 5s);
  const auto first = jobs();
  ASSERT_EQ(first.size(), 1U);
  sync_at(base_ + 1min + 5s);
  EXPECT_EQ(jobs(), std::vector<std::string>{cronjob_job_name("tick", base_ + 1min)});
  EXPECT_EQ(cronjob()["status"]["active"].size(), 1U);
}

TEST_F(CronJobControllerTest, SuspendedStartsNothing) {
  make("Allow", R"("suspend":true,)");
  sync_at(base_ + 5s);
  EXPECT_TRUE(jobs().empty());
}

TEST_F(CronJobControllerTest, MissedStartingDeadlineIsSkipped) {
  make("Allow", R"("startingDeadlineSeconds":10,)");
  // 40 s late for the minute, with a 10 s window: skipped, nothing started.
  sync_at(base_ + 40s);
  EXPECT_TRUE(jobs().empty());
  sync_at(base_ + 1min + 2s);
  EXPECT_EQ(jobs().size(), 1U);
}

}  // namespace
}  // namespace switchyard::controllers
