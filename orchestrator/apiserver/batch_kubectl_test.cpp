// Jobs and CronJobs through real kubectl (1.27 and 1.33) against a real `switchyard apiserver`
// process, whose control plane runs the Job controller. There is no kubelet: the test finishes
// pods through pods/status (kubectl patch --subresource=status), as a kubelet would.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

class JobsWithKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    dir_ = std::filesystem::temp_directory_path() / ("sy-batch-" + GetParam() + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    const std::string port = std::to_string(switchyard::testing::free_loopback_port());
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "data").string(), "--listen", "127.0.0.1:" + port},
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(15, [&] { return k("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + (dir_ / "apiserver.log").string()).output;
    ns_ = "batch-" + std::to_string(getpid());
    ASSERT_EQ(k("create namespace " + ns_).exit_code, 0);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  testing::CommandResult k(const std::string& args) {
    return run(kubectl_ + " --kubeconfig " + (dir_ / "data" / "kubeconfig").string() + " " + args);
  }
  testing::CommandResult kn(const std::string& args) { return k("-n " + ns_ + " " + args); }
  std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) out.push_back(l);
    return out;
  }
  // The job's pods that have not finished.
  std::vector<std::string> pending(const std::string& job) {
    return lines(kn("get pods -l batch.kubernetes.io/job-name=" + job + " --field-selector=status.phase=Pending -o name").output);
  }
  // What a kubelet would report: the pod ran to `phase`.
  void finish(const std::string& pod, const std::string& phase) {
    auto r = kn("patch " + pod + " --subresource=status --type=merge -p '{\"status\":{\"phase\":\"" + phase + "\"}}'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  std::string jsonpath(const std::string& object, const std::string& path) {
    return kn("get " + object + " -o jsonpath='" + path + "'").output;
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  std::string kubectl_, ns_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_P(JobsWithKubectl, CreateJobRunsItsPodAndWaitSeesItComplete) {
  ASSERT_EQ(kn("create job pi --image=busybox -- echo hi").output, "job.batch/pi created\n");
  ASSERT_TRUE(wait_until(15, [&] { return pending("pi").size() == 1; })) << kn("get pods").output;
  EXPECT_THAT(kn("get jobs").output, ContainsRegex("^NAME +STATUS +COMPLETIONS +DURATION +AGE\npi +Running +0/1 +[0-9]+s +[0-9]+s\n"));
  EXPECT_THAT(kn("get jobs -o wide").output,
              ContainsRegex("CONTAINERS +IMAGES +SELECTOR\npi .* pi +busybox +batch.kubernetes.io/controller-uid="));
  EXPECT_EQ(jsonpath("job/pi", "{.spec.template.metadata.labels.job-name}"), "pi");
  // kubectl wait on a Job that is still running times out.
  EXPECT_NE(kn("wait --for=condition=complete job/pi --timeout=1s").exit_code, 0);
  finish(pending("pi")[0], "Succeeded");
  auto waited = kn("wait --for=condition=complete job/pi --timeout=20s");
  EXPECT_EQ(waited.output, "job.batch/pi condition met\n");
  EXPECT_THAT(kn("get jobs").output, ContainsRegex("\npi +Complete +1/1 +[0-9]+s +[0-9]+s\n"));
  EXPECT_EQ(jsonpath("job/pi", "{.status.succeeded}"), "1");
  // Deleting the Job takes its pod along.
  EXPECT_EQ(kn("delete job pi").output, "job.batch \"pi\" deleted\n");
  EXPECT_TRUE(wait_until(15, [&] { return lines(kn("get pods -o name").output).empty(); })) << kn("get pods").output;
}

TEST_P(JobsWithKubectl, IndexedJobOfFiveWithParallelismTwoRunsEachIndexOnce) {
  const auto manifest = file("indexed.yaml", R"(apiVersion: batch/v1
kind: Job
metadata:
  name: idx
spec:
  completions: 5
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
        command: ["sh", "-c", "echo $JOB_COMPLETION_INDEX"]
)");
  ASSERT_EQ(kn("apply -f " + manifest).output, "job.batch/idx created\n");
  std::set<std::string> seen;
  while (seen.size() < 5) {
    ASSERT_TRUE(wait_until(15, [&] { return !pending("idx").empty(); })) << kn("get pods").output;
    ASSERT_LE(pending("idx").size(), 2u);
    const std::string pod = pending("idx")[0];
    const std::string index = jsonpath(pod, "{.metadata.annotations.batch\\.kubernetes\\.io/job-completion-index}");
    EXPECT_EQ(jsonpath(pod, "{.spec.containers[0].env[?(@.name==\"JOB_COMPLETION_INDEX\")].value}"), index);
    EXPECT_EQ(jsonpath(pod, "{.spec.hostname}"), "idx-" + index);
    EXPECT_TRUE(seen.insert(index).second) << "index " << index << " twice";
    finish(pod, "Succeeded");
    ASSERT_TRUE(wait_until(15, [&] { return jsonpath("job/idx", "{.status.succeeded}") == std::to_string(seen.size()); }));
  }
  EXPECT_EQ(kn("wait --for=condition=complete job/idx --timeout=20s").exit_code, 0);
  EXPECT_EQ(jsonpath("job/idx", "{.status.completedIndexes}"), "0-4");
  EXPECT_THAT(kn("get job idx").output, ContainsRegex("\nidx +Complete +5/5 +"));
}

TEST_P(JobsWithKubectl, FailingJobStopsAtItsBackoffLimit) {
  const auto manifest = file("fail.yaml", R"(apiVersion: batch/v1
kind: Job
metadata:
  name: doomed
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
)");
  ASSERT_EQ(kn("apply -f " + manifest).exit_code, 0);
  ASSERT_TRUE(wait_until(15, [&] { return pending("doomed").size() == 1; }));
  finish(pending("doomed")[0], "Failed");
  EXPECT_EQ(kn("wait --for=condition=failed job/doomed --timeout=20s").output, "job.batch/doomed condition met\n");
  EXPECT_EQ(jsonpath("job/doomed", "{.status.conditions[?(@.type==\"Failed\")].reason}"), "BackoffLimitExceeded");
  EXPECT_THAT(kn("get job doomed").output, ContainsRegex("\ndoomed +Failed +0/1 +"));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_TRUE(pending("doomed").empty()) << "no retry past backoffLimit 0";
}

TEST_P(JobsWithKubectl, CronJobCreateListAndJobFromCronJob) {
  ASSERT_EQ(kn("create cronjob tick --image=busybox --schedule='*/1 * * * *' -- date").output, "cronjob.batch/tick created\n");
  EXPECT_THAT(
      kn("get cronjobs").output,
      ContainsRegex(
          "^NAME +SCHEDULE +TIMEZONE +SUSPEND +ACTIVE +LAST SCHEDULE +AGE\ntick +\\*/1 \\* \\* \\* \\* +<none> +False +0 +<none> +"));
  EXPECT_EQ(jsonpath("cronjob/tick", "{.spec.concurrencyPolicy}/{.spec.successfulJobsHistoryLimit}/{.spec.failedJobsHistoryLimit}"),
            "Allow/3/1");
  EXPECT_EQ(kn("create job once --from=cronjob/tick").output, "job.batch/once created\n");
  EXPECT_EQ(jsonpath("job/once", "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}"), "CronJob/tick");
  EXPECT_EQ(jsonpath("job/once", "{.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate}"), "manual");
  ASSERT_TRUE(wait_until(15, [&] { return pending("once").size() == 1; })) << kn("get pods").output;
  EXPECT_EQ(jsonpath(pending("once")[0], "{.spec.containers[0].image}"), "busybox");
}

TEST_P(JobsWithKubectl, BadInputGetsTheRealServersStatus) {
  auto bad_schedule = kn("create cronjob bad --image=busybox --schedule='61 * * * *'");
  EXPECT_NE(bad_schedule.exit_code, 0);
  EXPECT_THAT(bad_schedule.output, HasSubstr("CronJob.batch \"bad\" is invalid: spec.schedule: Invalid value: \"61 * * * *\": end of range "
                                             "(61) above maximum (59): 61"));
  const auto tz = file("tz.yaml", R"(apiVersion: batch/v1
kind: CronJob
metadata:
  name: tz
spec:
  schedule: "0 9 * * *"
  timeZone: Mars/Olympus_Mons
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: c
            image: busybox
)");
  EXPECT_THAT(
      kn("apply -f " + tz).output,
      HasSubstr("The CronJob \"tz\" is invalid: spec.timeZone: Invalid value: \"Mars/Olympus_Mons\": unknown time zone Mars/Olympus_Mons"));
  const auto always = file("always.yaml", R"(apiVersion: batch/v1
kind: Job
metadata:
  name: always
spec:
  completionMode: Indexed
  parallelism: 2
  template:
    spec:
      restartPolicy: Always
      containers:
      - name: c
        image: busybox
)");
  auto r = kn("apply -f " + always);
  EXPECT_THAT(r.output, HasSubstr("The Job \"always\" is invalid: "));
  EXPECT_THAT(r.output, HasSubstr("spec.completions: Required value: when completion mode is Indexed"));
  EXPECT_THAT(r.output,
              HasSubstr("spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""));
  // podFailurePolicy: kube-apiserver's field paths for each rule, and restartPolicy Never only.
  const auto policy = file("policy.yaml", R"(apiVersion: batch/v1
kind: Job
metadata:
  name: policy
spec:
  podFailurePolicy:
    rules:
    - action: Explode
      onExitCodes: {containerName: c, operator: In, values: [42]}
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget, status: Maybe}]
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - name: c
        image: busybox
)");
  auto bad_policy = kn("apply -f " + policy);
  EXPECT_THAT(bad_policy.output, HasSubstr("spec.podFailurePolicy.rules[0].action: Unsupported value: \"Explode\": supported values: "
                                           "\"Count\", \"FailIndex\", \"FailJob\", \"Ignore\""));
  EXPECT_THAT(bad_policy.output, HasSubstr("spec.podFailurePolicy.rules[1].onPodConditions[0].status: Unsupported value: \"Maybe\": "
                                           "supported values: \"False\", \"True\", \"Unknown\""));
  EXPECT_THAT(bad_policy.output, HasSubstr("spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is "
                                           "supported when podFailurePolicy is specified"));
  // completions is immutable.
  ASSERT_EQ(kn("create job fixed --image=busybox").exit_code, 0);
  auto patched = kn("patch job fixed --type=merge -p '{\"spec\":{\"completions\":3}}'");
  EXPECT_THAT(patched.output, HasSubstr("spec.completions: Invalid value: 3: field is immutable"));
}

INSTANTIATE_TEST_SUITE_P(OldestAndNewestKubectl, JobsWithKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "kubectl_" + info.param.substr(0, 1) + "_" + info.param.substr(2); });

}  // namespace
}  // namespace switchyard::apiserver
