// Jobs on `switchyard up` with real containers (containerd, busybox) in a node namespace of its
// own: an Indexed Job runs each index once with JOB_COMPLETION_INDEX set and completes
// (`kubectl wait --for=condition=complete`), and a Job whose container exits 3 stops at its
// backoffLimit with the Failed condition. CronJobs every minute keep their history limit,
// Forbid skips a run while the previous Job runs, and `kubectl create job --from=cronjob/` works.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using ::testing::HasSubstr;
using testing::run;
using testing::wait_until;

std::string fmt_line(int i) { return "index=" + std::to_string(i) + " square=" + std::to_string(i * i) + "\n"; }

class JobsOnUp : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path("/tmp") / ("sy-jobs-" + std::to_string(::getpid()));
    ASSERT_TRUE(kubelet::runtime::unmount_all_under(dir_).has_value());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto link = run("ip -n " + netns_.name() + " link add sy-jb-a type veth peer name sy-jb-b && ip -n " + netns_.name() +
                    " addr add 10.83.0.2/24 dev sy-jb-a && ip -n " + netns_.name() + " link set sy-jb-a up && ip -n " + netns_.name() +
                    " link set sy-jb-b up && ip -n " + netns_.name() + " link set lo up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
  }
  void TearDown() override {
    up_.reset();
    kubelet::runtime::ContainerdOptions ours;
    ours.data_dir = kubelet::runtime::node_containerd_dir(dir_ / "cluster");
    if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) ADD_FAILURE() << r.error().message;
    if (auto r = kubelet::runtime::unmount_all_under(dir_); !r) ADD_FAILURE() << r.error().message;  // pods' volumes
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
  }
  std::string output() {
    std::ifstream in(dir_ / "up.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  testing::CommandResult k(const std::string& args) {
    return run("nsenter --net=/run/netns/" + netns_.name() + " /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig " +
               (dir_ / "cluster" / "kubeconfig").string() + " " + args + " 2>&1");
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  testing::NetworkNamespace netns_{"jobs"};
  fs::path dir_;
  std::unique_ptr<ChildProcess> up_;
};

TEST_F(JobsOnUp, IndexedJobCompletesAndFailingJobStopsAtBackoffLimit) {
  up_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nsenter", "--net=/run/netns/" + netns_.name(), SWITCHYARD_BINARY, "up", "--data-dir",
                               (dir_ / "cluster").string(), "--node-name", "node-jobs", "--node-ip", "10.83.0.2", "--healthz-bind-address",
                               "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
      (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(90, [&] { return output().find("Container runtime:") != std::string::npos; })) << output();

  const auto indexed = file("indexed.yaml", R"y(apiVersion: batch/v1
kind: Job
metadata:
  name: squares
spec:
  completions: 3
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: switchyard.local/busybox:1
        imagePullPolicy: Never
        command: ["sh", "-c", "echo index=$JOB_COMPLETION_INDEX square=$((JOB_COMPLETION_INDEX * JOB_COMPLETION_INDEX))"]
)y");
  auto applied = k("apply -f " + indexed);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  auto waited = k("wait --for=condition=complete job/squares --timeout=120s");
  ASSERT_EQ(waited.output, "job.batch/squares condition met\n")
      << k("get pods -o wide").output << k("get job squares -o yaml").output << output();
  EXPECT_EQ(k("get job squares -o jsonpath={.status.succeeded}/{.status.completedIndexes}").output, "3/0-2");
  // Each index ran once, in a pod that carries it, and printed it.
  for (int i = 0; i < 3; ++i) {
    const auto pods = k("get pods -l batch.kubernetes.io/job-completion-index=" + std::to_string(i) + " -o name").output;
    ASSERT_EQ(std::count(pods.begin(), pods.end(), '\n'), 1) << pods;
    EXPECT_EQ(k("logs " + pods.substr(0, pods.size() - 1)).output, fmt_line(i)) << pods;
  }
  EXPECT_THAT(k("get job squares").output, ::testing::ContainsRegex("\nsquares +Complete +3/3 +"));

  const auto failing = file("failing.yaml", R"(apiVersion: batch/v1
kind: Job
metadata:
  name: doomed
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: switchyard.local/busybox:1
        imagePullPolicy: Never
        command: ["sh", "-c", "exit 3"]
)");
  ASSERT_EQ(k("apply -f " + failing).exit_code, 0);
  // backoffLimit 1: the first pod, one retry after the 10 s back-off, then Failed.
  auto failed = k("wait --for=condition=failed job/doomed --timeout=120s");
  ASSERT_EQ(failed.output, "job.batch/doomed condition met\n") << k("get pods -o wide").output << k("get job doomed -o yaml").output;
  EXPECT_EQ(k("get job doomed -o 'jsonpath={.status.failed}/{.status.conditions[?(@.type==\"Failed\")].reason}'").output,
            "2/BackoffLimitExceeded");
  const auto doomed_pods = k("get pods -l batch.kubernetes.io/job-name=doomed --no-headers").output;
  EXPECT_EQ(std::count(doomed_pods.begin(), doomed_pods.end(), '\n'), 2) << doomed_pods;
  EXPECT_THAT(doomed_pods, HasSubstr("Error"));

  up_->kill_now(SIGINT);
  EXPECT_EQ(up_->wait_exit(30), 0) << output();
}

// Seconds until the next minute boundary of the wall clock.
int seconds_to_next_minute() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return 60 - static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(now).count() % 60);
}

// Two CronJobs every minute on the real kubelet, over two minute boundaries (~2.5 minutes):
// one whose Jobs finish at once keeps only the latest (successfulJobsHistoryLimit 1); one with
// concurrencyPolicy Forbid whose Job sleeps past the next boundary skips that run, with upstream's
// JobAlreadyActive event. `kubectl create job --from=cronjob/` starts a Job from the template.
TEST_F(JobsOnUp, CronJobsEveryMinuteKeepHistoryAndForbidSkipsWhileOneRuns) {
  up_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nsenter", "--net=/run/netns/" + netns_.name(), SWITCHYARD_BINARY, "up", "--data-dir",
                               (dir_ / "cluster").string(), "--node-name", "node-jobs", "--node-ip", "10.83.0.2", "--healthz-bind-address",
                               "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
      (dir_ / "up.log").string());
  ASSERT_TRUE(wait_until(90, [&] { return output().find("Container runtime:") != std::string::npos; })) << output();
  auto cronjob = [](const std::string& name, const std::string& policy, const std::string& command) {
    return "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: " + name + "\nspec:\n  schedule: \"*/1 * * * *\"\n" +
           "  concurrencyPolicy: " + policy + "\n  successfulJobsHistoryLimit: 1\n  jobTemplate:\n    spec:\n      template:\n" +
           "        spec:\n          restartPolicy: Never\n          containers:\n          - name: work\n" +
           "            image: switchyard.local/busybox:1\n            imagePullPolicy: Never\n            command: [\"sh\", \"-c\", \"" +
           command + "\"]\n";
  };
  // Not too close to a boundary, so both CronJobs see the same ones.
  if (seconds_to_next_minute() < 8) std::this_thread::sleep_for(std::chrono::seconds(seconds_to_next_minute() + 1));
  ASSERT_EQ(k("apply -f " + file("tick.yaml", cronjob("tick", "Allow", "echo tick"))).exit_code, 0);
  ASSERT_EQ(k("apply -f " + file("hold.yaml", cronjob("hold", "Forbid", "sleep 100"))).exit_code, 0);

  // kubectl create job --from=cronjob/: a Job from the template, owned by the CronJob.
  auto manual = k("create job manual-tick --from=cronjob/tick");
  ASSERT_EQ(manual.output, "job.batch/manual-tick created\n");
  EXPECT_EQ(k("get job manual-tick -o 'jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/"
              "{.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate}'")
                .output,
            "CronJob/tick/manual");
  auto manual_done = k("wait --for=condition=complete job/manual-tick --timeout=60s");
  EXPECT_EQ(manual_done.output, "job.batch/manual-tick condition met\n") << k("get pods -o wide").output;

  auto scheduled_jobs = [&](const std::string& cj) {
    std::vector<std::string> out;
    std::string line;
    for (char c :
         k("get jobs -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].name==\"" + cj + "\")]}{.metadata.name}{\"\\n\"}{end}'")
             .output) {
      if (c != '\n') {
        line += c;
      } else if (!line.empty() && line != "manual-tick") {
        out.push_back(line);
        line.clear();
      } else {
        line.clear();
      }
    }
    return out;
  };
  // First boundary: one Job each.
  ASSERT_TRUE(wait_until(75, [&] { return scheduled_jobs("tick").size() == 1 && scheduled_jobs("hold").size() == 1; }))
      << k("get jobs,cronjobs").output;
  const std::string first_tick = scheduled_jobs("tick")[0], held = scheduled_jobs("hold")[0];
  ASSERT_EQ(k("wait --for=condition=complete job/" + first_tick + " --timeout=50s").exit_code, 0) << k("get pods -o wide").output;
  EXPECT_EQ(k("get cronjob hold -o jsonpath={.status.active[0].name}").output, held);
  // Second boundary: tick's new Job completes and the older one goes (history limit 1; the
  // manual one is over the limit as well); hold's Job still runs, so Forbid skips this run.
  ASSERT_TRUE(wait_until(75, [&] {
    const auto jobs = scheduled_jobs("tick");
    return jobs.size() == 1 && jobs[0] != first_tick;
  })) << k("get jobs").output;
  const std::string second_tick = scheduled_jobs("tick")[0];
  ASSERT_EQ(k("wait --for=condition=complete job/" + second_tick + " --timeout=50s").exit_code, 0) << k("get pods -o wide").output;
  EXPECT_TRUE(wait_until(10, [&] { return k("get job " + first_tick + " -o name").exit_code != 0; })) << k("get jobs").output;
  EXPECT_NE(k("get job manual-tick -o name").exit_code, 0) << k("get jobs").output;
  auto events = [&] {
    return k("get events -o jsonpath='{range .items[*]}{.involvedObject.kind}/{.involvedObject.name} {.reason}: {.message}{\"\\n\"}{end}'")
        .output;
  };
  EXPECT_TRUE(wait_until(10, [&] {
    return events().find(
               "CronJob/hold JobAlreadyActive: Not starting job because prior execution is running and concurrency policy is "
               "Forbid\n") != std::string::npos;
  })) << events();
  EXPECT_EQ(scheduled_jobs("hold"), std::vector<std::string>{held});
  EXPECT_EQ(k("get job " + held + " -o jsonpath={.status.active}").output, "1");
  EXPECT_EQ(k("get cronjob hold -o jsonpath={.status.active[*].name}").output, held);
  EXPECT_THAT(events(), HasSubstr("CronJob/tick SuccessfulCreate: Created job " + second_tick + "\n"));
  EXPECT_THAT(events(), HasSubstr("CronJob/tick SuccessfulDelete: Deleted job " + first_tick + "\n"));

  up_->kill_now(SIGINT);
  EXPECT_EQ(up_->wait_exit(30), 0) << output();
}

}  // namespace
}  // namespace switchyard
