// Deployments on `switchyard up` with real containers (containerd, busybox httpd) in a node
// namespace of its own, through kubectl 1.27 and 1.33: create, self-healing, set image and
// rollout status/undo/pause/resume, scale to 0 and back, delete with the garbage collector
// (background and orphan) and namespace deletion. Then a client pod sends requests in a loop
// through a Service's ClusterIP while `kubectl rollout restart` replaces all 5 replicas: with the
// kubelet's endpoint hand-off no request fails, with the agent's default 10 ms sync, and with
// kube-proxy's 1 s minSyncPeriod and the hand-off set above it (2 s); with the hand-off disabled
// (`--endpoint-handoff-delay=0`, what upstream's kubelet does) and the 1 s dataplane, the
// requests that reach a stopping pod fail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

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

// A web server that stops on SIGTERM: as PID 1 busybox httpd would ignore it (the kernel drops
// signals PID 1 has no handler for) and every pod would take its whole 30 s grace period.
const std::string kServe = "sh -c 'trap \"exit 0\" TERM; httpd -f -p 8080 -h /www & wait'";

int lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

class DeploymentsOnUp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::path("/tmp") / ("sy-deploy-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    netns_ = new testing::NetworkNamespace("deploy");
    auto link = run("ip -n " + netns_->name() + " link add sy-dp-a type veth peer name sy-dp-b && ip -n " + netns_->name() +
                    " addr add 10.84.0.2/24 dev sy-dp-a && ip -n " + netns_->name() + " link set sy-dp-a up && ip -n " + netns_->name() +
                    " link set sy-dp-b up && ip -n " + netns_->name() + " link set lo up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
    start_up({});
  }
  static void TearDownTestSuite() {
    up_.reset();  // SIGTERM, then SIGKILL: up stops its containerd
    kubelet::runtime::ContainerdOptions ours;
    ours.data_dir = kubelet::runtime::node_containerd_dir(dir_ / "cluster");
    if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) ADD_FAILURE() << r.error().message;
    if (auto r = kubelet::runtime::unmount_all_under(dir_); !r) ADD_FAILURE() << r.error().message;  // pods' volumes
    delete netns_;
    netns_ = nullptr;
    std::error_code ec;
    if (!failed_) fs::remove_all(dir_, ec);
  }
  void TearDown() override { failed_ |= HasFailure(); }

  // (Re)starts up on the same data dir; the kubelet adopts the pods that run.
  static void start_up(const std::vector<std::string>& extra) {
    if (up_) {
      up_->kill_now(SIGINT);
      ASSERT_EQ(up_->wait_exit(60), 0) << output();
      up_.reset();
    }
    std::ofstream(dir_ / "up.log", std::ios::trunc);
    std::vector<std::string> argv{"nsenter",
                                  "--net=/run/netns/" + netns_->name(),
                                  SWITCHYARD_BINARY,
                                  "up",
                                  "--data-dir",
                                  (dir_ / "cluster").string(),
                                  "--node-name",
                                  "node-deploy",
                                  "--node-ip",
                                  "10.84.0.2",
                                  "--healthz-bind-address",
                                  "127.0.0.1:10256",
                                  "--images-dir",
                                  SWITCHYARD_TEST_IMAGES_DIR};
    argv.insert(argv.end(), extra.begin(), extra.end());
    up_ = std::make_unique<ChildProcess>(argv, (dir_ / "up.log").string());
    ASSERT_TRUE(wait_until(90, [&] { return output().find("Container runtime:") != std::string::npos; })) << output();
  }
  static std::string output() {
    std::ifstream in(dir_ / "up.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static testing::CommandResult kv(const std::string& version, const std::string& args) {
    return run("nsenter --net=/run/netns/" + netns_->name() + " /usr/lib/google-cloud-sdk/bin/kubectl." + version + " --kubeconfig " +
               (dir_ / "cluster" / "kubeconfig").string() + " " + args + " 2>&1");
  }
  static testing::CommandResult k(const std::string& args) { return kv("1.33", args); }
  static std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  static inline fs::path dir_;
  static inline testing::NetworkNamespace* netns_ = nullptr;
  static inline std::unique_ptr<ChildProcess> up_;
  static inline bool failed_ = false;
};

class DeploymentLifecycle : public DeploymentsOnUp, public ::testing::WithParamInterface<const char*> {};

TEST_P(DeploymentLifecycle, CreateHealRolloutUndoPauseScaleAndDelete) {
  const std::string v = GetParam();
  const std::string ns = "web-" + std::regex_replace(v, std::regex("\\."), "");
  auto kn = [&](const std::string& args) { return kv(v, "-n " + ns + " " + args); };
  auto images = [&] { return kn("get pods -l app=web -o jsonpath={.items[*].spec.containers[0].image}").output; };
  auto ready_pods = [&](int want) {
    return wait_until(90, [&] {
      // Exactly `want` pods, every one Running and ready (a Terminating one fails the match).
      const auto out = kn("get pods -l app=web --no-headers").output;
      static const std::regex running("1/1 +Running");
      const auto matches = std::distance(std::sregex_iterator(out.begin(), out.end(), running), std::sregex_iterator());
      return lines(out) == want && matches == want;
    });
  };
  ASSERT_EQ(kv(v, "create namespace " + ns).exit_code, 0);

  auto created = kn("create deployment web --image=switchyard.local/busybox:1 --replicas=3 --port=8080 -- " + kServe);
  ASSERT_EQ(created.output, "deployment.apps/web created\n");
  auto status = kn("rollout status deployment/web --timeout=120s");
  ASSERT_THAT(status.output, HasSubstr("deployment \"web\" successfully rolled out")) << kn("get pods -o wide").output << output();
  ASSERT_TRUE(ready_pods(3)) << kn("get pods").output;
  EXPECT_THAT(kn("get deployment web").output, ::testing::ContainsRegex("\nweb +3/3 +3 +3 +"));

  // Self-healing: a deleted pod is replaced.
  const auto first = kn("get pods -l app=web -o jsonpath={.items[0].metadata.name}").output;
  ASSERT_EQ(kn("delete pod " + first).exit_code, 0);
  ASSERT_TRUE(ready_pods(3)) << kn("get pods").output;
  EXPECT_THAT(kn("get pods -l app=web -o name").output, ::testing::Not(HasSubstr(first)));

  // set image rolls out; undo goes back.
  ASSERT_EQ(kn("set image deployment/web busybox=switchyard.local/busybox:2").output, "deployment.apps/web image updated\n");
  status = kn("rollout status deployment/web --timeout=120s");
  ASSERT_THAT(status.output, HasSubstr("successfully rolled out")) << kn("get pods").output;
  ASSERT_TRUE(ready_pods(3)) << kn("get pods").output;
  EXPECT_EQ(images(), "switchyard.local/busybox:2 switchyard.local/busybox:2 switchyard.local/busybox:2");
  EXPECT_THAT(kn("rollout history deployment/web").output, ::testing::ContainsRegex("REVISION +CHANGE-CAUSE\n1 +<none>\n2 +<none>\n"));
  ASSERT_EQ(kn("rollout undo deployment/web").output, "deployment.apps/web rolled back\n");
  ASSERT_THAT(kn("rollout status deployment/web --timeout=120s").output, HasSubstr("successfully rolled out"));
  ASSERT_TRUE(ready_pods(3)) << kn("get pods").output;
  EXPECT_EQ(images(), "switchyard.local/busybox:1 switchyard.local/busybox:1 switchyard.local/busybox:1");
  auto unknown = kn("rollout undo deployment/web --to-revision=99");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.output, HasSubstr("unable to find specified revision 99 in history"));

  // Paused, a template change makes no new ReplicaSet; resumed, it rolls out.
  ASSERT_EQ(kn("rollout pause deployment/web").output, "deployment.apps/web paused\n");
  const int replica_sets = lines(kn("get rs --no-headers").output);
  ASSERT_EQ(kn("set image deployment/web busybox=switchyard.local/busybox:2").exit_code, 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(lines(kn("get rs --no-headers").output), replica_sets) << kn("get rs").output;
  EXPECT_EQ(images(), "switchyard.local/busybox:1 switchyard.local/busybox:1 switchyard.local/busybox:1");
  ASSERT_EQ(kn("rollout resume deployment/web").output, "deployment.apps/web resumed\n");
  ASSERT_THAT(kn("rollout status deployment/web --timeout=120s").output, HasSubstr("successfully rolled out"));
  ASSERT_TRUE(ready_pods(3)) << kn("get pods").output;
  EXPECT_EQ(images(), "switchyard.local/busybox:2 switchyard.local/busybox:2 switchyard.local/busybox:2");

  // Scale to 0 and up to 5.
  ASSERT_EQ(kn("scale deployment/web --replicas=0").output, "deployment.apps/web scaled\n");
  ASSERT_TRUE(wait_until(60, [&] { return kn("get pods -l app=web -o name").output.empty(); })) << kn("get pods").output;
  ASSERT_EQ(kn("scale deployment/web --replicas=5").output, "deployment.apps/web scaled\n");
  ASSERT_THAT(kn("rollout status deployment/web --timeout=120s").output, HasSubstr("successfully rolled out"));
  ASSERT_TRUE(ready_pods(5)) << kn("get pods").output;

  // Deleting the Deployment collects its ReplicaSets and pods (the garbage collector).
  ASSERT_EQ(kn("delete deployment web").output, "deployment.apps \"web\" deleted\n");
  EXPECT_TRUE(wait_until(60, [&] {
    return kn("get rs -o name").output.find("replicaset.apps/web-") == std::string::npos && kn("get pods -o name").output.empty();
  })) << kn("get rs,pods").output;

  // --cascade=orphan leaves them, without their owner.
  ASSERT_EQ(kn("create deployment kept --image=switchyard.local/busybox:1 --replicas=2 -- " + kServe).exit_code, 0);
  ASSERT_THAT(kn("rollout status deployment/kept --timeout=120s").output, HasSubstr("successfully rolled out"));
  ASSERT_EQ(kn("delete deployment kept --cascade=orphan").output, "deployment.apps \"kept\" deleted\n");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(lines(kn("get pods -l app=kept --no-headers").output), 2);
  EXPECT_EQ(kn("get rs -l app=kept -o jsonpath={.items[*].metadata.ownerReferences}").output, "");
  EXPECT_THAT(kn("get rs -l app=kept --no-headers").output, ::testing::ContainsRegex("^kept-[a-z0-9]+ +2 +2 +2 +"));

  // Deleting the namespace empties it, and only then removes it.
  ASSERT_EQ(kv(v, "delete namespace " + ns + " --wait=false").output, "namespace \"" + ns + "\" deleted\n");
  EXPECT_THAT(kv(v, "get namespace " + ns + " --no-headers").output, ::testing::ContainsRegex("^" + ns + " +Terminating +"));
  EXPECT_TRUE(wait_until(90, [&] { return kv(v, "get namespace " + ns).exit_code != 0; })) << kn("get all").output;
  EXPECT_THAT(kv(v, "get namespace " + ns).output, HasSubstr("namespaces \"" + ns + "\" not found"));
  EXPECT_EQ(k("get pods -A -l app=kept --no-headers").output, "No resources found\n");
}

INSTANTIATE_TEST_SUITE_P(Kubectl, DeploymentLifecycle, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return std::regex_replace(std::string("kubectl_") + info.param, std::regex("\\."), "_"); });

struct Counts {
  long ok = -1, failed = -1;
};

constexpr int kClientLoops = 3;

// The sums of "OK FAILED" as the client's loops last wrote them (read again when a read met a
// file between its truncation and the write).
Counts client_counts(const std::function<testing::CommandResult(const std::string&)>& kn) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::istringstream in(kn("exec client -- sh -c 'cat /tmp/counts.*'").output);
    Counts sum{0, 0};
    int loops = 0;
    for (long ok = 0, failed = 0; in >> ok >> failed; ++loops) sum.ok += ok, sum.failed += failed;
    if (loops == kClientLoops) return sum;
  }
  return Counts{};
}

// One rollout restart of the 5-replica Deployment under a client's steady requests: the
// requests sent during it and how many failed.
Counts restart_under_load(const std::function<testing::CommandResult(const std::string&)>& kn, const std::string& why) {
  Counts before = client_counts(kn);
  EXPECT_GE(before.ok, 0) << why << kn("logs client").output;
  EXPECT_EQ(kn("rollout restart deployment/web").output, "deployment.apps/web restarted\n");
  EXPECT_THAT(kn("rollout status deployment/web --timeout=180s").output, HasSubstr("successfully rolled out")) << why;
  // The old pods are gone (each waited out its hand-off and grace) before the count is read.
  EXPECT_TRUE(wait_until(60, [&] { return lines(kn("get pods -l app=web --no-headers").output) == 5; })) << kn("get pods").output;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Counts after = client_counts(kn);
  Counts during{after.ok - before.ok, after.failed - before.failed};
  std::cout << why << ": " << during.ok + during.failed << " requests during the rollout restart, " << during.failed << " failed\n";
  return during;
}

TEST_F(DeploymentsOnUp, RolloutRestartUnderSteadyLoadFailsNoRequest) {
  const std::string ns = "steady";
  auto kn = [&](const std::string& args) { return k("-n " + ns + " " + args); };
  ASSERT_EQ(k("create namespace " + ns).exit_code, 0);
  const auto manifest = file("steady.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 5
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: httpd
        image: switchyard.local/busybox:1
        command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
)");
  ASSERT_EQ(kn("apply -f " + manifest).exit_code, 0);
  ASSERT_THAT(kn("rollout status deployment/web --timeout=120s").output, HasSubstr("successfully rolled out")) << output();
  const auto cluster_ip = kn("get service web -o jsonpath={.spec.clusterIP}").output;
  ASSERT_FALSE(cluster_ip.empty());
  // The client: loops of one request at a time, each a new connection, counting answers and
  // failures (busybox 1.35's static wget crashes with -T, hence the timeout applet).
  const auto loop = "for i in $(seq " + std::to_string(kClientLoops) +
                    "); do (ok=0; failed=0; while true; do if timeout 2 wget -q -O /dev/null http://" + cluster_ip +
                    "/; then ok=$((ok+1)); else failed=$((failed+1)); fi; echo \"$ok $failed\" > /tmp/counts.$i; done) & done; wait";
  ASSERT_EQ(kn("run client --image=switchyard.local/busybox:1 --restart=Never --command -- sh -c '" + loop + "'").exit_code, 0);
  ASSERT_TRUE(wait_until(90, [&] { return client_counts(kn).ok > 20; }))
      << kn("exec client -- sh -c 'cat /tmp/counts.*'").output << kn("get pods,endpointslices -o wide").output;

  const Counts with = restart_under_load(kn, "with the endpoint hand-off");
  EXPECT_GT(with.ok, 100) << "the client kept sending";
  EXPECT_EQ(with.failed, 0);
  EXPECT_THAT(output(), HasSubstr("event=pod_torn_down pod=steady/web-"));

  // A dataplane that takes up to a second to program (kube-proxy's default minSyncPeriod; a busy
  // or remote node): a hand-off longer than that still loses nothing. up restarts for each
  // setting; its pods keep running and are adopted.
  auto restart_with = [&](const std::vector<std::string>& flags) {
    start_up(flags);
    EXPECT_TRUE(wait_until(60, [&] {
      return client_counts(kn).ok > 0 &&
             kn("get endpointslices -l kubernetes.io/service-name=web -o jsonpath={.items[*].endpoints[*].conditions.ready}").output ==
                 "true true true true true";
    })) << kn("get pods").output;
  };
  restart_with({"--min-sync-period=1s", "--endpoint-handoff-delay=2s"});
  const Counts slow = restart_under_load(kn, "with a 2 s hand-off, a 1 s dataplane");
  EXPECT_GT(slow.ok, 100);
  EXPECT_EQ(slow.failed, 0);

  // Upstream's kubelet: preStop and SIGTERM as soon as the pod is deleted, while the dataplanes
  // still send it connections.
  restart_with({"--min-sync-period=1s", "--endpoint-handoff-delay=0"});
  const Counts without = restart_under_load(kn, "without the hand-off, a 1 s dataplane");
  // Without the hand-off the rollout is over sooner, so fewer requests fall in it (78 to 200 seen).
  EXPECT_GT(without.ok, 20);
  EXPECT_GT(without.failed, 0) << "the hand-off is what keeps requests from failing";
  ASSERT_EQ(k("delete namespace " + ns + " --wait=false").exit_code, 0);
}

}  // namespace
}  // namespace switchyard
