// The kubelet end to end: `switchyard up` (control plane and agent) and `switchyard kubelet` in
// a node network namespace of their own, on a containerd this test runs there, driven with the
// real kubectl. Pods run, serve, get Ready through their probes, restart by their policy with
// kubelet's backoff, report image errors, survive a kill -9 of the kubelet (adopted, not
// restarted) and are gone from CRI once deleted. Needs root; everything is removed at the end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/containerd_supervisor.h"
#include "kubelet/runtime/image_import.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ChildProcess;
using ::testing::HasSubstr;
using testing::run;
using testing::wait_until;

const std::string kNodeIp = "10.82.0.2";
const std::string kPodPrefix = "10.83.0.";
const std::string kNode = "node-kp";

struct Env {
  testing::NetworkNamespace netns{"kpods"};
  fs::path dir = fs::path("/tmp") / ("sy-kpods-" + std::to_string(::getpid()));
  kubelet::runtime::ContainerdOptions containerd_options;
  std::unique_ptr<kubelet::runtime::ContainerdSupervisor> containerd;
  std::unique_ptr<kubelet::cri::CriClient> cri;
  std::unique_ptr<ChildProcess> up, kubelet;
  std::string kubeconfig;

  std::string in_node(const std::string& command) const { return "nsenter --net=/run/netns/" + netns.name() + " " + command; }
  void start_kubelet() {
    kubelet = std::make_unique<ChildProcess>(
        std::vector<std::string>{"nsenter", "--net=/run/netns/" + netns.name(), SWITCHYARD_BINARY, "kubelet", "--node-name", kNode,
                                 "--node-ip", kNodeIp, "--kubeconfig", kubeconfig, "--container-runtime-endpoint", containerd->endpoint(),
                                 "--cluster-dns", "10.96.0.10", "--root-dir", (dir / "kubelet").string(), "--client-ca-file",
                                 (dir / "cluster" / "pki" / "ca.crt").string()},
        (dir / "kubelet.log").string());
  }
};
Env* env = nullptr;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class KubeletPods : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env = new Env();
    fs::remove_all(env->dir);
    fs::create_directories(env->dir);
    const std::string ns = env->netns.name();
    auto link = run("ip -n " + ns + " link add sy-kp-a type veth peer name sy-kp-b && ip -n " + ns + " addr add " + kNodeIp +
                    "/24 dev sy-kp-a && ip -n " + ns + " link set sy-kp-a up && ip -n " + ns + " link set sy-kp-b up && ip -n " + ns +
                    " link set lo up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
    env->containerd_options.data_dir = env->dir / "containerd";
    env->containerd_options.pod_cidr = kPodPrefix + "0/24";
    env->containerd_options.sandbox_image = "switchyard.local/pause:1";
    env->containerd_options.bridge_name = "sy-kp0";
    env->containerd_options.netns_path = "/run/netns/" + ns;
    auto started = kubelet::runtime::ContainerdSupervisor::start(env->containerd_options);
    ASSERT_TRUE(started.has_value()) << started.error().message;
    env->containerd = std::move(*started);
    auto imported = kubelet::runtime::import_images(env->containerd->endpoint(), {fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "busybox.tar",
                                                                                  fs::path(SWITCHYARD_TEST_IMAGES_DIR) / "pause.tar"});
    ASSERT_TRUE(imported.has_value()) << imported.error().message;
    auto client = kubelet::cri::CriClient::connect(env->containerd->endpoint());
    ASSERT_TRUE(client.has_value());
    env->cri = std::move(*client);

    env->up = std::make_unique<ChildProcess>(
        std::vector<std::string>{"nsenter", "--net=/run/netns/" + ns, SWITCHYARD_BINARY, "up", "--data-dir",
                                 (env->dir / "cluster").string(), "--node-name", kNode, "--node-ip", kNodeIp, "--healthz-bind-address",
                                 "127.0.0.1:10256", "--cluster-cidr", kPodPrefix + "0/24"},
        (env->dir / "up.log").string());
    ASSERT_TRUE(wait_until(60, [] { return read_file(env->dir / "up.log").find("ready (API server") != std::string::npos; }))
        << read_file(env->dir / "up.log");
    env->kubeconfig = (env->dir / "cluster" / "kubeconfig").string();
    env->start_kubelet();
  }
  static void TearDownTestSuite() {
    if (!env) return;
    env->kubelet.reset();
    env->up.reset();
    env->cri.reset();
    if (env->containerd) env->containerd->stop(std::chrono::seconds(10));
    if (auto r = kubelet::runtime::remove_runtime_leftovers(env->containerd_options); !r) ADD_FAILURE() << r.error().message;
    std::error_code ec;
    fs::remove_all(env->dir, ec);
    delete env;
    env = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(env && env->cri && env->kubelet) << "the suite's node did not start"; }
  void TearDown() override {
    if (HasFailure()) std::cerr << "--- kubelet log (tail) ---\n" << tail(read_file(env->dir / "kubelet.log")) << "\n";
  }
  static std::string tail(const std::string& s) { return s.size() > 6000 ? s.substr(s.size() - 6000) : s; }

  static testing::CommandResult kubectl(const std::string& args, const std::string& version = "1.33") {
    return run(
        env->in_node("/usr/lib/google-cloud-sdk/bin/kubectl." + version + " --kubeconfig " + env->kubeconfig + " " + args + " 2>&1"));
  }
  static void apply(const std::string& name, const std::string& yaml) {
    fs::path file = env->dir / (name + ".yaml");
    std::ofstream(file) << yaml;
    auto r = kubectl("apply -f " + file.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static json pod(const std::string& name) {
    auto r = kubectl("get pod " + name + " -o json");
    if (r.exit_code != 0) return json();
    json j = json::parse(r.output, nullptr, false);
    return j.is_discarded() ? json() : j;
  }
  // kubectl get pods' READY, STATUS, RESTARTS columns.
  static std::vector<std::string> row(const std::string& name, const std::string& version = "1.33") {
    auto r = kubectl("get pod " + name + " --no-headers", version);
    std::istringstream in(r.output);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    if (words.size() < 4 || words[0] != name) return {};
    return {words[1], words[2], words[3]};
  }
  static std::string columns(const std::string& name, const std::string& version = "1.33") {
    auto r = row(name, version);
    return r.empty() ? "" : r[0] + " " + r[1] + " " + r[2];
  }
  static bool wait_columns(const std::string& name, const std::string& want, double seconds) {
    return wait_until(seconds, [&] { return columns(name) == want; });
  }
  static std::string pod_yaml(const std::string& name, const std::string& containers, const std::string& extra_spec = "") {
    return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  labels: {app: " + name + "}\nspec:\n  nodeName: " + kNode +
           "\n  terminationGracePeriodSeconds: 1\n" + extra_spec + "  containers:\n" + containers;
  }
  static std::size_t sandboxes_of(const std::string& uid) {
    auto list = env->cri->list_pod_sandbox({.id = "", .state = std::nullopt, .label_selector = {{"io.kubernetes.pod.uid", uid}}});
    return list ? list->size() : 999;
  }
  static std::size_t containers_of(const std::string& uid) {
    auto list = env->cri->list_containers(
        {.id = "", .state = std::nullopt, .pod_sandbox_id = "", .label_selector = {{"io.kubernetes.pod.uid", uid}}});
    return list ? list->size() : 999;
  }
};

const std::string kHttpd = R"(  - name: httpd
    image: switchyard.local/busybox:1
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports: [{name: http, containerPort: 80}]
    readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1}
)";

TEST_F(KubeletPods, AnHttpdPodRunsIsReadyAndServes) {
  apply("web", pod_yaml("web", kHttpd) +
                   "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n");
  EXPECT_TRUE(wait_columns("web", "1/1 Running 0", 60)) << columns("web") << "\n" << kubectl("get pod web -o yaml").output;
  EXPECT_EQ(columns("web", "1.27"), "1/1 Running 0");
  json p = pod("web");
  const std::string ip = p["status"].value("podIP", "");
  EXPECT_TRUE(ip.starts_with(kPodPrefix)) << ip;
  EXPECT_EQ(p["status"].value("hostIP", ""), kNodeIp);
  EXPECT_EQ(p["status"].value("qosClass", ""), "BestEffort");
  EXPECT_FALSE(p["status"].value("startTime", "").empty());
  std::map<std::string, std::string> conditions;
  for (const auto& c : p["status"]["conditions"]) conditions[c["type"]] = c["status"];
  for (const char* type : {"PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"})
    EXPECT_EQ(conditions[type], "True") << type;
  const json& cs = p["status"]["containerStatuses"][0];
  EXPECT_TRUE(cs.value("containerID", "").starts_with("containerd://")) << cs.dump();
  EXPECT_EQ(cs["ready"], true);
  EXPECT_EQ(cs["started"], true);
  EXPECT_TRUE(cs["state"].contains("running"));
  auto page = run(env->in_node("curl -s -m 2 http://" + ip + "/index.html"));
  EXPECT_EQ(page.output, "hello from switchyard busybox\n");
  // The EndpointSlice controller saw the Ready pod.
  EXPECT_TRUE(wait_until(20, [&] {
    auto r = kubectl("get endpointslices -l kubernetes.io/service-name=web -o jsonpath={.items[*].endpoints[*].conditions.ready}");
    return r.output == "true";
  })) << kubectl("get endpointslices -o yaml").output;
  // dnsPolicy ClusterFirst: the cluster DNS Service, the namespace's search path, ndots:5.
  const std::string id = cs.value("containerID", "").substr(std::string("containerd://").size());
  auto resolv = env->cri->exec_sync(id, {"cat", "/etc/resolv.conf"}, std::chrono::seconds(5));
  ASSERT_TRUE(resolv.has_value()) << resolv.error().message;
  EXPECT_THAT(resolv->stdout_, HasSubstr("nameserver 10.96.0.10"));
  EXPECT_THAT(resolv->stdout_, HasSubstr("search default.svc.cluster.local svc.cluster.local cluster.local"));
  EXPECT_THAT(resolv->stdout_, HasSubstr("options ndots:5"));
  auto hostname = env->cri->exec_sync(id, {"hostname"}, std::chrono::seconds(5));
  ASSERT_TRUE(hostname.has_value());
  EXPECT_EQ(hostname->stdout_, "web\n");
  // The pod's own loopback is up (containerd's built-in loopback network; our chain has none).
  auto local = env->cri->exec_sync(id, {"timeout", "2", "wget", "-q", "-O", "-", "http://127.0.0.1/index.html"}, std::chrono::seconds(5));
  ASSERT_TRUE(local.has_value()) << local.error().message;
  EXPECT_EQ(local->stdout_, "hello from switchyard busybox\n");
  // The CRI log, where `kubectl logs` will read it.
  const std::string uid = p["metadata"]["uid"];
  EXPECT_TRUE(fs::exists(env->dir / "kubelet" / "pods" / ("default_web_" + uid) / "httpd" / "0.log"));
}

// The standalone kubelet's HTTPS endpoint (self-signed, serving the cluster CA's API server
// client): logs and exec through the API server.
TEST_F(KubeletPods, LogsAndExecReachTheStandaloneKubelet) {
  apply(
      "talker",
      pod_yaml("talker", "  - name: c\n    image: switchyard.local/busybox:1\n    command: [sh, -c, 'echo said once; exec sleep 3600']\n"));
  EXPECT_TRUE(wait_columns("talker", "1/1 Running 0", 60)) << columns("talker");
  EXPECT_EQ(kubectl("logs talker").output, "said once\n");
  auto exec = kubectl("exec talker -- sh -c 'hostname; exit 4'", "1.27");
  EXPECT_EQ(exec.output, "talker\ncommand terminated with exit code 4\n");
  EXPECT_EQ(exec.exit_code, 4);
  kubectl("delete pod talker --grace-period=0 --force");
}

TEST_F(KubeletPods, EnvFromFieldsAndResourcesAndHostNetwork) {
  apply("envs", pod_yaml("envs", R"yaml(  - name: c
    image: switchyard.local/busybox:1
    command: [sh, -c, 'echo "$POD_NAME $POD_IP $NODE $MEM_MI $GREETING" >/dev/termination-log; exit 0']
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: GREETING, value: "hi $(POD_NAME)"}
    resources: {limits: {memory: 64Mi, cpu: 250m}}
)yaml",
                         "  restartPolicy: Never\n"));
  apply("hostnet",
        pod_yaml("hostnet", "  - {name: c, image: switchyard.local/busybox:1, command: [sleep, '3600']}\n", "  hostNetwork: true\n"));
  EXPECT_TRUE(wait_columns("envs", "0/1 Completed 0", 60)) << kubectl("get pod envs -o yaml").output;
  json s = pod("envs")["status"];
  const std::string ip = s.value("podIP", "");
  EXPECT_EQ(s["containerStatuses"][0]["state"]["terminated"].value("message", ""), "envs " + ip + " " + kNode + " 64 hi envs\n");
  EXPECT_EQ(s.value("qosClass", ""), "Guaranteed");
  EXPECT_TRUE(wait_columns("hostnet", "1/1 Running 0", 60)) << kubectl("get pod hostnet -o yaml").output;
  EXPECT_EQ(pod("hostnet")["status"].value("podIP", ""), kNodeIp);
}

TEST_F(KubeletPods, InitContainersRunInOrderBeforeTheApp) {
  apply("init", pod_yaml("init", "  - {name: app, image: switchyard.local/busybox:1, command: [sleep, '3600']}\n",
                         "  initContainers:\n"
                         "  - {name: first, image: switchyard.local/busybox:1, command: [sh, -c, 'sleep 1']}\n"
                         "  - {name: second, image: switchyard.local/busybox:1, command: [sh, -c, 'sleep 1']}\n"));
  EXPECT_TRUE(wait_until(30, [] { return columns("init") == "0/1 Init:0/2 0" || columns("init") == "0/1 Init:1/2 0"; }))
      << kubectl("get pod init -o yaml").output;
  EXPECT_TRUE(wait_columns("init", "1/1 Running 0", 60)) << kubectl("get pod init -o yaml").output;
  json s = pod("init")["status"];
  ASSERT_EQ(s["initContainerStatuses"].size(), 2u) << s.dump();
  const json& first = s["initContainerStatuses"][0]["state"]["terminated"];
  const json& second = s["initContainerStatuses"][1]["state"]["terminated"];
  EXPECT_EQ(first["reason"], "Completed");
  EXPECT_EQ(second["exitCode"], 0);
  EXPECT_LE(first["finishedAt"].get<std::string>(), second["startedAt"].get<std::string>());
  EXPECT_LE(second["finishedAt"].get<std::string>(), s["containerStatuses"][0]["state"]["running"]["startedAt"].get<std::string>());
}

TEST_F(KubeletPods, RestartPolicyNeverEndsCompletedOrError) {
  apply("done-ok",
        pod_yaml("done-ok", "  - {name: c, image: switchyard.local/busybox:1, command: [sh, -c, 'exit 0']}\n", "  restartPolicy: Never\n"));
  apply("done-bad",
        pod_yaml("done-bad",
                 "  - {name: c, image: switchyard.local/busybox:1, command: [sh, -c, 'echo broken >/dev/termination-log; exit 1']}\n",
                 "  restartPolicy: Never\n"));
  EXPECT_TRUE(wait_columns("done-ok", "0/1 Completed 0", 60)) << kubectl("get pod done-ok -o yaml").output;
  EXPECT_TRUE(wait_columns("done-bad", "0/1 Error 0", 60)) << kubectl("get pod done-bad -o yaml").output;
  EXPECT_EQ(pod("done-ok")["status"]["phase"], "Succeeded");
  json bad = pod("done-bad")["status"];
  EXPECT_EQ(bad["phase"], "Failed");
  EXPECT_EQ(bad["containerStatuses"][0]["state"]["terminated"]["exitCode"], 1);
  EXPECT_EQ(bad["containerStatuses"][0]["state"]["terminated"].value("message", ""), "broken\n");
  // A finished pod's sandbox is stopped (its address goes back to the pool).
  const std::string uid = pod("done-ok")["metadata"]["uid"];
  EXPECT_TRUE(wait_until(10, [&] {
    auto list = env->cri->list_pod_sandbox(
        {.id = "", .state = kubelet::cri::SandboxState::Ready, .label_selector = {{"io.kubernetes.pod.uid", uid}}});
    return list && list->empty();
  }));
}

TEST_F(KubeletPods, ACrashingContainerBacksOffTenThenTwentySeconds) {
  apply("crash", pod_yaml("crash", "  - {name: c, image: switchyard.local/busybox:1, command: [sh, -c, 'exit 1']}\n"));
  // Times at which RESTARTS reached 1, 2, 3.
  std::vector<std::chrono::steady_clock::time_point> reached;
  bool saw_backoff = false;
  auto start = std::chrono::steady_clock::now();
  while (reached.size() < 3 && std::chrono::steady_clock::now() - start < std::chrono::seconds(90)) {
    auto r = row("crash");
    if (!r.empty()) {
      saw_backoff = saw_backoff || r[1] == "CrashLoopBackOff";
      int restarts = std::atoi(r[2].c_str());
      while (static_cast<int>(reached.size()) < restarts) reached.push_back(std::chrono::steady_clock::now());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_EQ(reached.size(), 3u) << columns("crash");
  EXPECT_TRUE(saw_backoff);
  auto gap = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  EXPECT_NEAR(gap(reached[0], reached[1]), 10.0, 3.0);
  EXPECT_NEAR(gap(reached[1], reached[2]), 20.0, 3.0);
  json cs = pod("crash")["status"]["containerStatuses"][0];
  EXPECT_EQ(cs["lastState"]["terminated"]["exitCode"], 1) << cs.dump();
  EXPECT_EQ(cs["lastState"]["terminated"]["reason"], "Error");
}

TEST_F(KubeletPods, ReadinessFlipsReadyAndLivenessRestarts) {
  apply("probed", pod_yaml("probed", R"(  - name: c
    image: switchyard.local/busybox:1
    command: [sh, -c, 'touch /tmp/alive; exec sleep 3600']
    readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1}
    livenessProbe: {exec: {command: [test, -f, /tmp/alive]}, periodSeconds: 1, failureThreshold: 2}
)"));
  EXPECT_TRUE(wait_columns("probed", "0/1 Running 0", 60)) << columns("probed");
  auto id = [] {
    std::string s = pod("probed")["status"]["containerStatuses"][0].value("containerID", "");
    return s.substr(s.find("://") + 3);
  };
  ASSERT_TRUE(env->cri->exec_sync(id(), {"touch", "/tmp/ready"}, std::chrono::seconds(5)).has_value());
  EXPECT_TRUE(wait_columns("probed", "1/1 Running 0", 10)) << columns("probed");
  ASSERT_TRUE(env->cri->exec_sync(id(), {"rm", "/tmp/ready"}, std::chrono::seconds(5)).has_value());
  EXPECT_TRUE(wait_columns("probed", "0/1 Running 0", 10)) << columns("probed");
  // Liveness: two failures in a row restart the container, and the status says why.
  ASSERT_TRUE(env->cri->exec_sync(id(), {"rm", "/tmp/alive"}, std::chrono::seconds(5)).has_value());
  EXPECT_TRUE(wait_until(20, [] { return row("probed").size() == 3 && row("probed")[2] == "1"; })) << columns("probed");
  json cs = pod("probed")["status"]["containerStatuses"][0];
  EXPECT_THAT(cs["lastState"]["terminated"].value("message", ""), HasSubstr("failed liveness probe")) << cs.dump();
  // Each failure is an Unhealthy Warning on the container, as the kubelet records it.
  EXPECT_TRUE(wait_until(10, [] {
    return kubectl("get events --field-selector involvedObject.name=probed,reason=Unhealthy -o jsonpath={.items[*].message}")
               .output.find("Liveness probe failed: command exited with 1") != std::string::npos;
  })) << kubectl("get events --field-selector involvedObject.name=probed").output;
  EXPECT_THAT(kubectl("describe pod probed").output, ::testing::ContainsRegex("Warning +Unhealthy .*Readiness probe failed: "));
}

TEST_F(KubeletPods, AProbeOnAnUndeclaredPortNameErrorsAndKeepsThePodUnready) {
  // The API server takes any well-formed port name (upstream too); the kubelet finds no such
  // port: the probe errors, the pod stays unready, and an Event says which port.
  apply("noport", pod_yaml("noport", R"(  - name: c
    image: switchyard.local/busybox:1
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: [{name: web, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
)"));
  EXPECT_TRUE(wait_columns("noport", "0/1 Running 0", 60)) << columns("noport");
  EXPECT_TRUE(wait_until(20, [] {
    return kubectl("get events --field-selector involvedObject.name=noport,reason=Unhealthy -o jsonpath={.items[*].message}").output ==
           "Readiness probe errored: couldn't find port: http in container c";
  })) << kubectl("get events --field-selector involvedObject.name=noport").output;
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(columns("noport"), "0/1 Running 0") << "never ready";
}

TEST_F(KubeletPods, AMissingImageSaysHowToImportIt) {
  apply("noimage", pod_yaml("noimage", "  - {name: c, image: switchyard.local/not-here:1}\n"));
  // ErrImagePull when a pull fails, ImagePullBackOff while the next one waits.
  std::set<std::string> seen;
  EXPECT_TRUE(wait_until(40, [&] {
    seen.insert(columns("noimage"));
    return seen.contains("0/1 ErrImagePull 0") && seen.contains("0/1 ImagePullBackOff 0");
  })) << ::testing::PrintToString(seen);
  std::string message = pod("noimage")["status"]["containerStatuses"][0]["state"]["waiting"].value("message", "");
  EXPECT_THAT(message, HasSubstr("switchyard.local/not-here:1"));
  EXPECT_THAT(message, HasSubstr("switchyard images import"));
  apply("never", pod_yaml("never", "  - {name: c, image: switchyard.local/not-here:1, imagePullPolicy: Never}\n"));
  EXPECT_TRUE(wait_until(30, [] { return columns("never") == "0/1 ErrImageNeverPull 0"; })) << columns("never");
}

TEST_F(KubeletPods, AKilledKubeletAdoptsItsPodsAndCleansUpDeletedOnes) {
  ASSERT_TRUE(wait_columns("web", "1/1 Running 0", 30)) << "runs after AnHttpdPodRunsIsReadyAndServes";
  json before = pod("web")["status"]["containerStatuses"][0];
  apply("doomed", pod_yaml("doomed", "  - {name: c, image: switchyard.local/busybox:1, command: [sleep, '3600']}\n"));
  ASSERT_TRUE(wait_columns("doomed", "1/1 Running 0", 60)) << columns("doomed");
  const std::string doomed_uid = pod("doomed")["metadata"]["uid"];

  env->kubelet->kill_now(SIGKILL);
  env->kubelet->wait_exit(10);
  // While it is down, a pod goes away: the next kubelet finds its sandbox and removes it.
  ASSERT_EQ(kubectl("delete pod doomed --wait=false").exit_code, 0);
  env->start_kubelet();
  EXPECT_TRUE(wait_until(30, [&] { return sandboxes_of(doomed_uid) == 0 && containers_of(doomed_uid) == 0; }))
      << sandboxes_of(doomed_uid) << " sandboxes left";
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a few relists and resyncs
  json after = pod("web")["status"]["containerStatuses"][0];
  EXPECT_EQ(after["containerID"], before["containerID"]) << "the container was restarted";
  EXPECT_EQ(after["restartCount"], before["restartCount"]);
  EXPECT_EQ(after["state"]["running"]["startedAt"], before["state"]["running"]["startedAt"]);
  EXPECT_EQ(columns("web"), "1/1 Running 0");
}

// A pod the API server keeps after the delete (here a finalizer holds it; graceful deletion does
// the same): the kubelet sees its deletionTimestamp, runs preStop, stops it and confirms.
TEST_F(KubeletPods, APodWithADeletionTimestampRunsPreStopAndIsStopped) {
  apply("held", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: held\n  finalizers: [switchyard.io/test-hold]\nspec:\n  nodeName: " + kNode +
                    "\n  terminationGracePeriodSeconds: 1\n  containers:\n"
                    "  - name: c\n    image: switchyard.local/busybox:1\n    command: [sleep, '3600']\n"
                    "    lifecycle: {preStop: {exec: {command: [sh, -c, 'echo leaving']}}}\n");
  ASSERT_TRUE(wait_columns("held", "1/1 Running 0", 60)) << columns("held");
  const std::string uid = pod("held")["metadata"]["uid"];
  ASSERT_EQ(kubectl("delete pod held --wait=false").exit_code, 0);
  EXPECT_TRUE(wait_until(30, [&] { return sandboxes_of(uid) == 0 && containers_of(uid) == 0; }));
  EXPECT_EQ(row("held").size() == 3 ? row("held")[1] : "", "Terminating");
  EXPECT_THAT(read_file(env->dir / "kubelet.log"), HasSubstr("event=pre_stop pod=held container=c ok=true"));
  ASSERT_EQ(kubectl("patch pod held --type=merge -p '{\"metadata\":{\"finalizers\":null}}'").exit_code, 0);
  EXPECT_TRUE(wait_until(10, [] { return pod("held").is_null(); }));
}

// hostPort through the CNI portmap plugin: the node's address and that port reach the pod; a
// second pod asking for the same port is not scheduled (the scheduler's NodePorts message), and
// gets the port once the first is gone; the last one leaves no DNAT rule behind.
TEST_F(KubeletPods, AHostPortReachesThePodAndATakenOneWaits) {
  const std::string container = R"(  - name: httpd
    image: switchyard.local/busybox:1
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports: [{containerPort: 80, hostPort: 18080}]
)";
  apply("hp1", pod_yaml("hp1", container));
  ASSERT_TRUE(wait_columns("hp1", "1/1 Running 0", 60)) << columns("hp1") << kubectl("describe pod hp1").output;
  const std::string url = "http://" + kNodeIp + ":18080/index.html";
  EXPECT_TRUE(wait_until(10, [&] { return run(env->in_node("curl -s -m 2 " + url)).output == "hello from switchyard busybox\n"; }))
      << run(env->in_node("curl -sS -m 2 " + url)).output << run(env->in_node("iptables-save")).output;
  // No nodeName: the scheduler places it, and the only node has the port taken.
  std::string second = pod_yaml("hp2", container);
  second.replace(second.find("  nodeName: " + kNode + "\n"), ("  nodeName: " + kNode + "\n").size(), "");
  apply("hp2", second);
  EXPECT_TRUE(wait_until(20, [] {
    return kubectl("get events --field-selector involvedObject.name=hp2,reason=FailedScheduling")
               .output.find("didn't have free ports for the requested pod ports") != std::string::npos;
  })) << kubectl("get events").output;
  EXPECT_EQ(columns("hp2"), "0/1 Pending 0");
  ASSERT_EQ(kubectl("delete pod hp1").exit_code, 0);
  EXPECT_TRUE(wait_columns("hp2", "1/1 Running 0", 60)) << columns("hp2") << kubectl("describe pod hp2").output;
  EXPECT_TRUE(wait_until(10, [&] { return run(env->in_node("curl -s -m 2 " + url)).output == "hello from switchyard busybox\n"; }));
  ASSERT_EQ(kubectl("delete pod hp2").exit_code, 0);
  EXPECT_TRUE(wait_until(20, [] { return run(env->in_node("iptables-save")).output.find("18080") == std::string::npos; }))
      << run(env->in_node("iptables-save")).output;
}

// A graceful delete, as a user sees it: `kubectl delete pod` waits until the pod is gone; the
// preStop hook runs to its end before the container gets SIGTERM, and the container's own TERM
// handling gets its time within the grace period.
TEST_F(KubeletPods, AGracefulDeleteRunsPreStopThenTermAndWaits) {
  std::string yaml = pod_yaml("graceful2", R"(  - name: c
    image: switchyard.local/busybox:1
    command: [sh, -c, "trap 'echo term >> /tmp/order; sleep 2; exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle: {preStop: {exec: {command: [sh, -c, 'echo prestop >> /tmp/order; sleep 1']}}}
)");
  const std::string short_grace = "terminationGracePeriodSeconds: 1\n";  // the suite's default: this one needs more
  yaml.replace(yaml.find(short_grace), short_grace.size(), "terminationGracePeriodSeconds: 10\n");
  apply("graceful2", yaml);
  ASSERT_TRUE(wait_columns("graceful2", "1/1 Running 0", 60)) << columns("graceful2");
  const std::string id = pod("graceful2")["status"]["containerStatuses"][0].value("containerID", "").substr(13);
  const auto asked = std::chrono::steady_clock::now();
  auto deleting = std::async(std::launch::async, [] { return kubectl("delete pod graceful2"); });
  std::string order;
  EXPECT_TRUE(wait_until(10, [&] {
    auto r = env->cri->exec_sync(id, {"cat", "/tmp/order"}, std::chrono::seconds(2));
    if (r) order = r->stdout_;
    return order.find("term") != std::string::npos;
  })) << order;
  EXPECT_EQ(order, "prestop\nterm\n");
  auto deleted = deleting.get();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  EXPECT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_EQ(deleted.output, "pod \"graceful2\" deleted\n");
  EXPECT_GE(seconds, 2.5) << "kubectl delete returned before preStop (1 s) and the TERM handler (2 s) were through";
  EXPECT_LT(seconds, 10.0) << "the container exited by itself: no need to wait out the grace period";
  EXPECT_TRUE(pod("graceful2").is_null()) << "gone once kubectl delete returned";
}

// A container over its memory limit is killed by the kernel, and the kubelet says so as a real
// cluster does: reason OOMKilled, exit code 137, the STATUS column.
TEST_F(KubeletPods, AContainerOverItsMemoryLimitIsOomKilled) {
  apply("hungry", pod_yaml("hungry", R"(  - name: c
    image: switchyard.local/busybox:1
    command: [dd, if=/dev/zero, of=/dev/null, bs=256M, count=1]
    resources: {limits: {memory: 32Mi}}
)",
                           "  restartPolicy: Never\n"));
  EXPECT_TRUE(wait_columns("hungry", "0/1 OOMKilled 0", 60)) << columns("hungry") << kubectl("get pod hungry -o yaml").output;
  const json terminated = pod("hungry")["status"]["containerStatuses"][0]["state"].value("terminated", json());
  EXPECT_EQ(terminated.value("reason", ""), "OOMKilled") << terminated.dump();
  EXPECT_EQ(terminated.value("exitCode", 0), 137) << terminated.dump();
  EXPECT_EQ(pod("hungry")["status"].value("phase", ""), "Failed");
  ASSERT_EQ(kubectl("delete pod hungry --wait=false").exit_code, 0);
}

// A startup probe holds the other probes back until it passes: started stays false and the pod
// unready while the server comes up, then tcpSocket readiness makes it Ready.
TEST_F(KubeletPods, AStartupProbeHoldsReadinessUntilTheServerIsUp) {
  apply("slow", pod_yaml("slow", R"(  - name: c
    image: switchyard.local/busybox:1
    command: [sh, -c, 'sleep 4; exec httpd -f -p 80 -h /www']
    ports: [{name: http, containerPort: 80}]
    startupProbe: {tcpSocket: {port: http}, periodSeconds: 1, failureThreshold: 30}
    readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 1}
    livenessProbe: {tcpSocket: {port: 80}, periodSeconds: 1, failureThreshold: 1}
)"));
  ASSERT_TRUE(wait_columns("slow", "0/1 Running 0", 30)) << columns("slow");
  const json early = pod("slow")["status"]["containerStatuses"][0];
  EXPECT_EQ(early.value("started", true), false) << early.dump();
  EXPECT_EQ(early.value("ready", true), false) << early.dump();
  // Ready once httpd listens; the liveness probe, which would have failed at once before that,
  // never ran early: no restart.
  EXPECT_TRUE(wait_columns("slow", "1/1 Running 0", 30)) << columns("slow") << kubectl("describe pod slow").output;
  EXPECT_EQ(pod("slow")["status"]["containerStatuses"][0].value("started", false), true);
  ASSERT_EQ(kubectl("delete pod slow --wait=false").exit_code, 0);
}

TEST_F(KubeletPods, ADeletedPodLeavesNothingInCri) {
  ASSERT_TRUE(wait_columns("web", "1/1 Running 0", 30));
  const std::string uid = pod("web")["metadata"]["uid"];
  ASSERT_EQ(sandboxes_of(uid), 1u);
  ASSERT_EQ(kubectl("delete pod web").exit_code, 0);
  EXPECT_TRUE(wait_until(30, [&] { return sandboxes_of(uid) == 0 && containers_of(uid) == 0; }));
  EXPECT_FALSE(fs::exists(env->dir / "kubelet" / "pods" / ("default_web_" + uid)));
  // Every other pod of the suite goes the same way.
  ASSERT_EQ(kubectl("delete pods --all --wait=false").exit_code, 0);
  EXPECT_TRUE(wait_until(60, [] {
    auto list = env->cri->list_pod_sandbox();
    return list && list->empty();
  }));
}

}  // namespace
}  // namespace switchyard
