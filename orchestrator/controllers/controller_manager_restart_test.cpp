// `switchyard controller-manager` killed with SIGKILL in the middle of work, against a
// `switchyard apiserver --no-controllers` process, with the real kubectl 1.33 and no kubelet:
// the test plays the kubelet through pods/status (Succeeded; Running + Ready) and watches every
// pod event, so a pod created twice (even one deleted again at once) or a completion lost shows.
// - a Job of 20 completions, parallelism 5 (NonIndexed and Indexed): killed three times while
//   pods finish; it completes with succeeded 20, each index once, exactly 20 pods ever made;
// - a StatefulSet of 3 rolling out a new image: killed mid-rollout; every pod ends on the new
//   revision, updated from the highest ordinal down, each ordinal replaced once, never two
//   pods of one ordinal at a time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::controllers {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::ChildProcess;
using switchyard::testing::wait_until;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != '\'' && c != '\r') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// One pod watch event: "ADDED web-0 UID REVISION-OR-INDEX".
struct PodEvent {
  std::string type, name, uid, tag;
};

class ControllerManagerRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ =
        std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "cm-restart", std::vector<std::string>{"--no-controllers", "--no-scheduler"});
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
    start_manager();
    // The ServiceAccount controller runs in the controller manager: pods can be made once it did.
    ASSERT_TRUE(wait_until(15, [&] { return k("get serviceaccount default -o name").output == "serviceaccount/default\n"; }))
        << manager_log();
  }
  void TearDown() override {
    watch_.reset();
    manager_.reset();
    if (HasFailure()) std::cerr << "controller-manager logs:\n" << manager_log() << "\n";
  }

  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  std::string get(const std::string& what, const std::string& path) { return k("get " + what + " -o jsonpath='" + path + "'").output; }
  void create(const std::string& name, const std::string& yaml) {
    auto r = k("create -f " + server_->file(name + ".yaml", yaml));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  void start_manager() {
    const std::string log = (server_->dir() / ("controller-manager-" + std::to_string(++manager_runs_) + ".log")).string();
    manager_ = std::make_unique<ChildProcess>(
        // Leader election stays on (its default): a restarted process waits until the killed one's
        // Lease expires, kept short here.
        std::vector<std::string>{SWITCHYARD_BINARY, "controller-manager", "--kubeconfig", server_->kubeconfig(),
                                 "--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s",
                                 "--leader-elect-retry-period=500ms"},
        log);
  }
  // kill -9, then a new process, as a supervisor would restart it.
  void kill_and_restart(const std::function<void()>& while_down = {}) {
    manager_->kill_now(SIGKILL);
    ASSERT_EQ(manager_->wait_exit(5), 128 + SIGKILL);
    manager_.reset();
    ++kills_;
    if (while_down) while_down();
    start_manager();
  }
  std::string manager_log() {
    std::string out;
    for (int i = 1; i <= manager_runs_; ++i)
      out += testing::run("tail -n 30 " + (server_->dir() / ("controller-manager-" + std::to_string(i) + ".log")).string()).output;
    return out;
  }

  // Every pod event of `selector` from now on, `tag_path` (a jsonpath under the pod) in each line.
  void watch_pods(const std::string& selector, const std::string& tag_path) {
    watch_log_ = (server_->dir() / "pod-watch.log").string();
    watch_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kubectl_, "--kubeconfig", server_->kubeconfig(), "get", "pods", "-l", selector, "--watch",
                                 "--output-watch-events", "-o",
                                 "jsonpath={.type} {.object.metadata.name} {.object.metadata.uid} {.object" + tag_path + "}{\"\\n\"}"},
        watch_log_);
  }
  std::vector<PodEvent> events() {
    std::vector<PodEvent> out;
    for (const auto& line : split(testing::run("cat " + watch_log_).output, '\n')) {
      std::istringstream in(line);
      PodEvent e;
      in >> e.type >> e.name >> e.uid >> e.tag;
      if (!e.uid.empty()) out.push_back(e);
    }
    return out;
  }
  // Distinct pods (uids) the watch has seen created.
  std::set<std::string> created_uids() {
    std::set<std::string> out;
    for (const auto& e : events())
      if (e.type == "ADDED") out.insert(e.uid);
    return out;
  }

  // The kubelet's word through pods/status.
  testing::CommandResult set_status(const std::string& pod, const std::string& status_json) {
    return k("patch pod " + pod + " --subresource=status --type=merge -p '{\"status\":" + status_json + "}'");
  }
  // Pods of `selector` not yet finished and not being deleted.
  std::vector<std::string> unfinished(const std::string& selector) {
    return split(get("pods -l " + selector, "{range .items[?(@.status.phase==\"Pending\")]}{.metadata.name}{\"\\n\"}{end}"), '\n');
  }

  // Marks `n` unfinished pods of the Job Succeeded; how many it marked.
  int succeed(const std::string& job, int n) {
    int done = 0;
    for (const auto& pod : unfinished("batch.kubernetes.io/job-name=" + job)) {
      if (done == n) break;
      auto r = set_status(pod, R"({"phase":"Succeeded"})");
      EXPECT_EQ(r.exit_code, 0) << r.output;
      done += r.exit_code == 0;
    }
    return done;
  }

  // Runs the Job to the end, killing the controller manager right after the 5th, 10th and 15th
  // completions (while it counts them) and finishing two more pods while it is down.
  void run_job_with_kills(const std::string& name) {
    int finished = 0;
    std::set<int> kill_after = {5, 10, 15};
    while (finished < 20) {
      // No more than parallelism at once, never more than what is left.
      ASSERT_TRUE(wait_until(30, [&] { return !unfinished("batch.kubernetes.io/job-name=" + name).empty(); }))
          << finished << " " << k("get job " + name + " -o yaml").output << manager_log();
      EXPECT_LE(unfinished("batch.kubernetes.io/job-name=" + name).size(), 5U);
      const int marked = succeed(name, 1);
      finished += marked;
      if (kill_after.contains(finished)) {
        ASSERT_NO_FATAL_FAILURE(kill_and_restart([&] { finished += succeed(name, 2); }));
      }
    }
  }
  void expect_job_complete(const std::string& name) {
    ASSERT_TRUE(wait_until(30, [&] { return get("job " + name, "{.status.conditions[?(@.type==\"Complete\")].status}") == "True"; }))
        << k("get job " + name + " -o yaml").output << manager_log();
    EXPECT_EQ(get("job " + name, "{.status.succeeded}"), "20");
    EXPECT_EQ(get("job " + name, "{.status.failed}"), "");
    EXPECT_EQ(get("job " + name, "{.status.active}"), "");
    // Every pod the controller ever made, seen by the watch: exactly one per completion.
    ASSERT_TRUE(wait_until(5, [&] { return created_uids().size() >= 20; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(created_uids().size(), 20U);
    EXPECT_EQ(split(k("get pods -l batch.kubernetes.io/job-name=" + name + " -o name").output, '\n').size(), 20U);
    // And each let go of its tracking finalizer.
    EXPECT_EQ(get("pods -l batch.kubernetes.io/job-name=" + name, "{.items[*].metadata.finalizers}"), "");
    EXPECT_EQ(kills_, 3);
  }

  const std::string kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
  std::unique_ptr<ApiserverProcess> server_;
  std::unique_ptr<ChildProcess> manager_, watch_;
  std::string watch_log_;
  int manager_runs_ = 0, kills_ = 0;
};

std::string job_yaml(const std::string& name, const std::string& extra) {
  return "apiVersion: batch/v1\nkind: Job\nmetadata: {name: " + name + "}\nspec:\n  completions: 20\n  parallelism: 5\n" + extra +
         "  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox}]\n";
}

TEST_F(ControllerManagerRestart, JobKilledWhileCountingCompletesWithEachCompletionOnce) {
  watch_pods("batch.kubernetes.io/job-name=count", ".metadata.name");
  create("count", job_yaml("count", ""));
  ASSERT_NO_FATAL_FAILURE(run_job_with_kills("count"));
  ASSERT_NO_FATAL_FAILURE(expect_job_complete("count"));
}

TEST_F(ControllerManagerRestart, IndexedJobKilledWhileCountingCompletesEachIndexOnce) {
  watch_pods("batch.kubernetes.io/job-name=indexed", ".metadata.annotations.batch\\.kubernetes\\.io/job-completion-index");
  create("indexed", job_yaml("indexed", "  completionMode: Indexed\n"));
  ASSERT_NO_FATAL_FAILURE(run_job_with_kills("indexed"));
  ASSERT_NO_FATAL_FAILURE(expect_job_complete("indexed"));
  EXPECT_EQ(get("job indexed", "{.status.completedIndexes}"), "0-19");
  // Each index ran in exactly one pod.
  std::map<std::string, std::set<std::string>> uids_by_index;
  for (const auto& e : events())
    if (e.type == "ADDED") uids_by_index[e.tag].insert(e.uid);
  EXPECT_EQ(uids_by_index.size(), 20U);
  for (const auto& [index, uids] : uids_by_index) EXPECT_EQ(uids.size(), 1U) << "index " << index;
}

TEST_F(ControllerManagerRestart, StatefulSetRolloutKilledMidwayFinishesInOrdinalOrder) {
  watch_pods("app=web", ".metadata.labels.controller-revision-hash");
  create("web", R"(apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 3
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: "busybox:1"}]
)");
  // The kubelet's part: every pod of the set Running and Ready, all the time.
  std::atomic<bool> stop_kubelet{false};
  std::thread kubelet([&] {
    while (!stop_kubelet) {
      const auto names =
          split(get("pods -l app=web", "{range .items[?(@.status.phase==\"Pending\")]}{.metadata.name}{\"\\n\"}{end}"), '\n');
      for (const auto& pod : names) set_status(pod, R"({"phase":"Running","conditions":[{"type":"Ready","status":"True"}]})");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Join() {
      stop = true;
      t.join();
    }
  } join{stop_kubelet, kubelet};

  ASSERT_TRUE(wait_until(60, [&] { return get("sts web", "{.status.readyReplicas}") == "3"; }))
      << k("get pods -o wide").output << manager_log();
  const std::string old_revision = get("sts web", "{.status.currentRevision}");
  const std::size_t before = events().size();
  ASSERT_EQ(k("set image statefulset/web c=busybox:2").exit_code, 0);
  ASSERT_TRUE(wait_until(10, [&] {
    const auto r = get("sts web", "{.status.updateRevision}");
    return !r.empty() && r != old_revision;
  }));
  const std::string new_revision = get("sts web", "{.status.updateRevision}");
  // Kill it once web-2 is on the new revision and web-1's replacement is under way.
  ASSERT_TRUE(wait_until(30, [&] {
    const auto seen = events();
    for (std::size_t i = before; i < seen.size(); ++i)
      if (seen[i].name == "web-1" && seen[i].type == "DELETED") return true;
    return false;
  })) << manager_log();
  ASSERT_NO_FATAL_FAILURE(kill_and_restart());
  ASSERT_TRUE(wait_until(60,
                         [&] {
                           return get("sts web", "{.status.currentRevision}") == new_revision &&
                                  get("sts web", "{.status.updatedReplicas}") == "3" && get("sts web", "{.status.readyReplicas}") == "3";
                         }))
      << k("get sts web -o yaml").output << manager_log();
  for (const auto& pod : {"web-0", "web-1", "web-2"}) {
    EXPECT_EQ(get(std::string("pod ") + pod, "{.metadata.labels.controller-revision-hash}"), new_revision) << pod;
    EXPECT_EQ(get(std::string("pod ") + pod, "{.spec.containers[0].image}"), "busybox:2") << pod;
  }
  // What the watch saw after the update began: per ordinal, one old pod deleted and then one new
  // pod added (never a second pod of that name while the first lived), from web-2 down to web-0.
  const auto all = events();
  std::vector<std::string> added_order;
  std::map<std::string, std::string> live;  // name -> uid
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& e = all[i];
    if (e.type == "ADDED" || e.type == "MODIFIED") {
      if (live.contains(e.name)) EXPECT_EQ(live[e.name], e.uid) << "two pods named " << e.name << " at once";
      live[e.name] = e.uid;
      if (e.type == "ADDED" && i >= before) {
        added_order.push_back(e.name);
        EXPECT_EQ(e.tag, new_revision) << e.name;
      }
    } else if (e.type == "DELETED") {
      live.erase(e.name);
    }
  }
  EXPECT_EQ(added_order, (std::vector<std::string>{"web-2", "web-1", "web-0"}));
  EXPECT_EQ(kills_, 1);
}

}  // namespace
}  // namespace switchyard::controllers
