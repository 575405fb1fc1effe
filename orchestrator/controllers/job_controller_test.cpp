// The Job controller against a real registry and store behind the API server's HTTP transport,
// with no kubelet: the test finishes pods through pods/status (phase Succeeded or Failed), as a
// kubelet would. Failure back-off is shortened to 200 ms.
#include <gtest/gtest.h>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/garbage_collector.h"
#include "orchestrator/controllers/job_controller.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;

class JobControllerTest : public ::testing::Test {
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
    create(ns_res(), "", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"batch"}})");
    start_controller();
  }
  void start_controller() {
    informers_ = std::make_unique<client::SharedInformerFactory>(connection_);
    JobControllerOptions o;
    o.failure_backoff_base = std::chrono::milliseconds(200);
    jobs_ = std::make_unique<JobController>(*informers_, connection_, o);
    jobs_->start();
  }
  void stop_controller() {
    jobs_->stop();
    informers_->stop();
    jobs_.reset();
    informers_.reset();
  }
  void TearDown() override {
    if (jobs_) stop_controller();
  }
  static const apiserver::ResourceInfo& ns_res() { return *apiserver::find_resource("", "v1", "namespaces"); }
  static const apiserver::ResourceInfo& pods_res() { return *apiserver::find_resource("", "v1", "pods"); }
  static const apiserver::ResourceInfo& jobs_res() { return *apiserver::find_resource("batch", "v1", "jobs"); }

  Json create(const apiserver::ResourceInfo& r, const std::string& ns, const std::string& body) {
    std::vector<std::string> warnings;
    auto out = registry_->create(r, ns, Json::parse(body), apiserver::FieldValidation::Strict, warnings);
    EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().status.dump());
    return out ? *out : Json();
  }
  std::vector<Json> pods(const std::string& job) {
    apiserver::ListOptions o;
    o.label_selector = "batch.kubernetes.io/job-name=" + job;
    auto l = registry_->list(pods_res(), "batch", o);
    std::vector<Json> out;
    for (const auto& i : (*l)["items"]) out.push_back(i);
    return out;
  }
  std::vector<Json> running(const std::string& job) {
    std::vector<Json> out;
    for (auto& p : pods(job))
      if (p["status"].value("phase", "") == "Pending" && !p["metadata"].contains("deletionTimestamp")) out.push_back(p);
    return out;
  }
  Json job(const std::string& name) {
    auto g = registry_->get(jobs_res(), "batch", name);
    return g ? *g : Json();
  }
  // The kubelet's word: the pod ran to `phase`.
  void finish(Json pod, const std::string& phase) {
    pod["status"]["phase"] = phase;
    std::vector<std::string> warnings;
    auto r = registry_->update(pods_res(), "batch", pod["metadata"]["name"], pod, true, apiserver::FieldValidation::Ignore, warnings);
    ASSERT_TRUE(r) << r.error().status.dump();
  }
  bool eventually(const std::function<bool()>& f, int seconds = 10) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f();
  }
  std::string condition(const std::string& name) {
    for (const auto& c : job(name)["status"].value("conditions", Json::array()))
      if (c.value("status", "") == "True") return c.value("type", "") + "/" + c.value("reason", "");
    return "";
  }
  static std::string job_body(const std::string& name, const std::string& extra_spec) {
    return R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + name + R"("},"spec":{)" + extra_spec +
           R"("template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})";
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<JobController> jobs_;
};

TEST_F(JobControllerTest, RunsCompletionsWithParallelismAndCompletes) {
  create(jobs_res(), "batch", job_body("sum", R"("completions":5,"parallelism":2,)"));
  int finished = 0;
  while (finished < 5) {
    ASSERT_TRUE(eventually([&] { return static_cast<int>(running("sum").size()) == std::min(2, 5 - finished); })) << finished;
    // Never more than parallelism at once.
    EXPECT_LE(running("sum").size(), 2U);
    finish(running("sum").front(), "Succeeded");
    ++finished;
    ASSERT_TRUE(eventually([&] { return job("sum")["status"].value("succeeded", 0) == finished; })) << job("sum").dump();
  }
  ASSERT_TRUE(eventually([&] { return condition("sum") == "Complete/"; })) << job("sum")["status"].dump();
  const Json st = job("sum")["status"];
  EXPECT_EQ(st.value("succeeded", 0), 5);
  EXPECT_FALSE(st.contains("active"));
  EXPECT_TRUE(st.contains("completionTime"));
  // Every pod counted once and let go: no tracking finalizer is left behind.
  EXPECT_EQ(pods("sum").size(), 5U);
  for (const auto& p : pods("sum")) EXPECT_FALSE(p["metadata"].contains("finalizers")) << p["metadata"].dump();
}

TEST_F(JobControllerTest, IndexedJobRunsEachIndexOnce) {
  create(jobs_res(), "batch", job_body("idx", R"("completions":4,"parallelism":2,"completionMode":"Indexed",)"));
  std::set<std::string> done;
  while (done.size() < 4) {
    ASSERT_TRUE(eventually([&] { return !running("idx").empty(); }));
    Json p = running("idx").front();
    const std::string index = p["metadata"]["annotations"].value("batch.kubernetes.io/job-completion-index", "");
    EXPECT_EQ(p["metadata"]["labels"].value("batch.kubernetes.io/job-completion-index", ""), index);
    EXPECT_EQ(p["spec"].value("hostname", ""), "idx-" + index);
    EXPECT_EQ(p["spec"]["containers"][0]["env"][0], (Json{{"name", "JOB_COMPLETION_INDEX"}, {"value", index}}));
    EXPECT_TRUE(done.insert(index).second) << "index " << index << " ran twice";
    finish(p, "Succeeded");
    ASSERT_TRUE(eventually([&] { return job("idx")["status"].value("succeeded", 0) == static_cast<int>(done.size()); }));
  }
  ASSERT_TRUE(eventually([&] { return condition("idx") == "Complete/"; }));
  EXPECT_EQ(job("idx")["status"].value("completedIndexes", ""), "0-3");
  EXPECT_EQ(pods("idx").size(), 4U);
}

TEST_F(JobControllerTest, StopsAtBackoffLimitWithFailedCondition) {
  create(jobs_res(), "batch", job_body("flaky", R"("backoffLimit":2,)"));
  for (int failures = 1; failures <= 3; ++failures) {
    ASSERT_TRUE(eventually([&] { return running("flaky").size() == 1; })) << failures;
    finish(running("flaky").front(), "Failed");
    ASSERT_TRUE(eventually([&] { return job("flaky")["status"].value("failed", 0) == failures; })) << job("flaky").dump();
  }
  ASSERT_TRUE(eventually([&] { return condition("flaky") == "Failed/BackoffLimitExceeded"; })) << job("flaky")["status"].dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_TRUE(running("flaky").empty());
  EXPECT_EQ(pods("flaky").size(), 3U);  // backoffLimit 2: the first try and two retries
}

TEST_F(JobControllerTest, ActiveDeadlineFailsTheJobAndRemovesItsPods) {
  create(jobs_res(), "batch", job_body("slow", R"("activeDeadlineSeconds":1,"parallelism":2,"completions":2,)"));
  ASSERT_TRUE(eventually([&] { return running("slow").size() == 2; }));
  ASSERT_TRUE(eventually([&] { return condition("slow") == "Failed/DeadlineExceeded"; }, 5)) << job("slow")["status"].dump();
  ASSERT_TRUE(eventually([&] { return pods("slow").empty(); }));
}

TEST_F(JobControllerTest, SuspendStopsPodsAndResumeRestartsThem) {
  create(jobs_res(), "batch", job_body("nap", R"("suspend":true,)"));
  ASSERT_TRUE(eventually([&] { return condition("nap") == "Suspended/JobSuspended"; }));
  EXPECT_TRUE(pods("nap").empty());
  for (int attempt = 0; attempt < 20; ++attempt) {
    Json j = job("nap");
    j["spec"]["suspend"] = false;
    std::vector<std::string> warnings;
    if (registry_->update(jobs_res(), "batch", "nap", j, false, apiserver::FieldValidation::Strict, warnings)) break;
  }
  ASSERT_TRUE(eventually([&] { return running("nap").size() == 1; }));
  EXPECT_EQ(condition("nap"), "");
}

TEST_F(JobControllerTest, TtlAfterFinishedDeletesTheJob) {
  create(jobs_res(), "batch", job_body("brief", R"("ttlSecondsAfterFinished":1,)"));
  ASSERT_TRUE(eventually([&] { return running("brief").size() == 1; }));
  finish(running("brief").front(), "Succeeded");
  ASSERT_TRUE(eventually([&] { return condition("brief") == "Complete/"; }));
  ASSERT_TRUE(eventually([&] { return job("brief").is_null(); }, 6));
}

TEST_F(JobControllerTest, DeletingARunningJobLetsItsPodsGo) {
  create(jobs_res(), "batch", job_body("gone", R"("parallelism":2,"completions":4,)"));
  ASSERT_TRUE(eventually([&] { return running("gone").size() == 2; }));
  // The garbage collector deletes the owned pods (as kube-controller-manager's does); the Job
  // controller takes its tracking finalizer off so they go.
  GarbageCollector gc(connection_);
  gc.start();
  ASSERT_TRUE(registry_->remove(jobs_res(), "batch", "gone"));
  ASSERT_TRUE(eventually([&] { return pods("gone").empty(); })) << pods("gone").size() << " " << pods("gone")[0].dump();
}

// podFailurePolicy, end to end through the API: the kubelet's failed status carries the exit
// code (and the eviction's DisruptionTarget condition).
class JobFailurePolicyTest : public JobControllerTest {
 protected:
  void fail_with(Json pod, int exit_code, bool disrupted = false) {
    pod["status"]["containerStatuses"] = Json::array({{{"name", "c"},
                                                       {"ready", false},
                                                       {"restartCount", 0},
                                                       {"image", "busybox"},
                                                       {"imageID", ""},
                                                       {"state", {{"terminated", {{"exitCode", exit_code}, {"reason", "Error"}}}}}}});
    if (disrupted)
      pod["status"]["conditions"] = Json::array({{{"type", "DisruptionTarget"}, {"status", "True"}, {"reason", "EvictionByEvictionAPI"}}});
    finish(std::move(pod), "Failed");
  }
  static constexpr const char* kPolicy =
      R"("podFailurePolicy":{"rules":[{"action":"FailJob","onExitCodes":{"containerName":"c","operator":"In","values":[42]}},)"
      R"({"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"True"}]},)"
      R"({"action":"FailIndex","onExitCodes":{"operator":"In","values":[3]}}]},)";
};

TEST_F(JobFailurePolicyTest, FailJobRuleFailsTheJobWithUpstreamsReasonAndMessage) {
  create(
      jobs_res(), "batch",
      job_body(
          "fatal",
          std::string(R"("completions":3,"parallelism":2,"backoffLimit":6,)") +
              R"("podFailurePolicy":{"rules":[{"action":"FailJob","onExitCodes":{"containerName":"c","operator":"In","values":[42]}}]},)"));
  ASSERT_TRUE(eventually([&] { return running("fatal").size() == 2; }));
  const Json victim = running("fatal").front();
  fail_with(victim, 42);
  ASSERT_TRUE(eventually([&] { return condition("fatal") == "FailureTarget/PodFailurePolicy"; })) << job("fatal")["status"].dump();
  ASSERT_TRUE(eventually([&] {
    for (const auto& c : job("fatal")["status"].value("conditions", Json::array()))
      if (c["type"] == "Failed") return true;
    return false;
  }));
  const Json st = job("fatal")["status"];
  bool failed = false;
  for (const auto& c : st["conditions"])
    if (c["type"] == "Failed") {
      failed = true;
      EXPECT_EQ(c["reason"], "PodFailurePolicy");
      EXPECT_EQ(c["message"], "Container c for pod batch/" + victim["metadata"]["name"].get<std::string>() +
                                  " failed with exit code 42 matching FailJob rule at index 0");
    }
  EXPECT_TRUE(failed);
  EXPECT_EQ(st.value("failed", 0), 1);
  // The other pod is stopped and nothing replaces the failed one, well inside backoffLimit.
  ASSERT_TRUE(eventually([&] { return running("fatal").empty(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LE(pods("fatal").size(), 2U);
}

TEST_F(JobFailurePolicyTest, IgnoredDisruptionsDoNotCountAgainstBackoffLimit) {
  // FailIndex needs backoffLimitPerIndex: without it the same rules minus that one.
  create(jobs_res(), "batch",
         job_body("evicted", R"("backoffLimit":0,"podFailurePolicy":{"rules":[)"
                             R"({"action":"FailJob","onExitCodes":{"containerName":"c","operator":"In","values":[42]}},)"
                             R"({"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"True"}]}]},)"));
  // Three evictions in a row with backoffLimit 0: each is replaced, none counted.
  for (int round = 1; round <= 3; ++round) {
    ASSERT_TRUE(eventually([&] { return running("evicted").size() == 1; })) << round;
    fail_with(running("evicted").front(), 137, true);
    ASSERT_TRUE(eventually([&] { return static_cast<int>(pods("evicted").size()) == round + 1; })) << round << job("evicted").dump();
  }
  ASSERT_TRUE(eventually([&] { return running("evicted").size() == 1; }));
  Json st = job("evicted")["status"];
  EXPECT_EQ(st.value("failed", 0), 0) << st.dump();
  EXPECT_EQ(condition("evicted"), "");
  // Ignored pods are let go at once (no tracking finalizer left on them).
  for (const auto& p : pods("evicted"))
    if (p["status"].value("phase", "") == "Failed") {
      EXPECT_FALSE(p["metadata"].contains("finalizers"));
    }
  // A failure no rule matches counts as usual: backoffLimit 0 fails the Job.
  fail_with(running("evicted").front(), 1);
  ASSERT_TRUE(eventually([&] { return condition("evicted") == "Failed/BackoffLimitExceeded"; })) << job("evicted")["status"].dump();
  EXPECT_EQ(job("evicted")["status"].value("failed", 0), 1);
}

TEST_F(JobFailurePolicyTest, FailIndexMarksTheIndexFailedAndTheJobFailsWithFailedIndexes) {
  create(jobs_res(), "batch",
         job_body("perindex",
                  std::string(R"("completions":3,"parallelism":3,"completionMode":"Indexed","backoffLimitPerIndex":1,)") + kPolicy));
  ASSERT_TRUE(eventually([&] { return running("perindex").size() == 3; }));
  auto by_index = [&](const std::string& i) {
    for (auto& p : running("perindex"))
      if (p["metadata"]["annotations"].value("batch.kubernetes.io/job-completion-index", "") == i) return p;
    return Json();
  };
  EXPECT_EQ(by_index("0")["metadata"]["annotations"].value("batch.kubernetes.io/job-index-failure-count", ""), "0");
  // Index 0 fails once (counted, retried with its count), index 1 hits the FailIndex rule.
  fail_with(by_index("0"), 1);
  ASSERT_TRUE(eventually([&] {
    return by_index("0").is_object() &&
           by_index("0")["metadata"]["annotations"].value("batch.kubernetes.io/job-index-failure-count", "") == "1";
  })) << job("perindex")["status"].dump();
  fail_with(by_index("1"), 3);
  ASSERT_TRUE(eventually([&] { return job("perindex")["status"].value("failedIndexes", "") == "1"; })) << job("perindex")["status"].dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_TRUE(by_index("1").is_null());  // a failed index is not retried
  finish(by_index("0"), "Succeeded");
  finish(by_index("2"), "Succeeded");
  ASSERT_TRUE(eventually([&] { return condition("perindex") == "Failed/FailedIndexes"; })) << job("perindex")["status"].dump();
  const Json st = job("perindex")["status"];
  EXPECT_EQ(st.value("completedIndexes", ""), "0,2");
  EXPECT_EQ(st.value("failed", 0), 2);
}

TEST_F(JobControllerTest, RestartedControllerNeitherRecreatesNorRecounts) {
  create(jobs_res(), "batch", job_body("steady", R"("completions":3,"parallelism":3,)"));
  ASSERT_TRUE(eventually([&] { return running("steady").size() == 3; }));
  finish(running("steady").front(), "Succeeded");
  ASSERT_TRUE(eventually([&] { return job("steady")["status"].value("succeeded", 0) == 1; }));
  stop_controller();
  // While no controller runs, a second pod finishes.
  finish(running("steady").front(), "Succeeded");
  start_controller();
  ASSERT_TRUE(eventually([&] { return job("steady")["status"].value("succeeded", 0) == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(pods("steady").size(), 3U);  // nothing created twice
  EXPECT_EQ(job("steady")["status"].value("succeeded", 0), 2);
  finish(running("steady").front(), "Succeeded");
  ASSERT_TRUE(eventually([&] { return condition("steady") == "Complete/"; }));
  EXPECT_EQ(job("steady")["status"].value("succeeded", 0), 3);
}

}  // namespace
}  // namespace switchyard::controllers
