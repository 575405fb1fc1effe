// ConfigMaps and Secrets in running pods, end to end on `switchyard up` (its own containerd, in
// a node namespace of its own, the busybox test image): a pod reads a ConfigMap as env and as
// files, and a Secret mounted with mode 0400; a change to the ConfigMap reaches the file within
// a minute, swapped atomically (a reader in the pod never sees anything else); a missing key
// keeps the pod from starting with the kubelet's Event and nothing made on the node; a missing
// ConfigMap volume waits with FailedMount; deleting the pods unmounts and removes their volumes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::run;
using testing::wait_until;

constexpr const char* kNodeIp = "10.84.0.2";

class ConfigVolumes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::path("/tmp") / ("sy-cfgvol-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    netns_ = new testing::NetworkNamespace("cfgvol");
    auto link = run("ip -n " + netns_->name() + " link add sy-cv-a type veth peer name sy-cv-b && ip -n " + netns_->name() + " addr add " +
                    kNodeIp + "/24 dev sy-cv-a && ip -n " + netns_->name() + " link set sy-cv-a up && ip -n " + netns_->name() +
                    " link set sy-cv-b up && ip -n " + netns_->name() + " link set lo up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
    up_ = new ChildProcess(
        {"nsenter", "--net=/run/netns/" + netns_->name(), SWITCHYARD_BINARY, "up", "--data-dir", (dir_ / "cluster").string(), "--node-name",
         "node-cv", "--node-ip", kNodeIp, "--healthz-bind-address", "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
        (dir_ / "up.log").string());
    ASSERT_TRUE(wait_until(90, [] { return up_output().find("Container runtime:") != std::string::npos; })) << up_output();
    ASSERT_TRUE(wait_until(30, [] { return kubectl("get sa default -o name").output == "serviceaccount/default\n"; }))
        << kubectl("get sa").output;
  }

  static void TearDownTestSuite() {
    if (up_) {
      kubectl("delete pod --all --grace-period=0 --force --wait=false");
      delete up_;  // SIGTERM, then SIGKILL: up stops its containerd
      up_ = nullptr;
    }
    kubelet::runtime::ContainerdOptions ours;
    ours.data_dir = kubelet::runtime::node_containerd_dir(dir_ / "cluster");
    if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) ADD_FAILURE() << r.error().message;
    // Volumes of pods the kubelet had no time to tear down.
    run("grep -o ' " + dir_.string() + "/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null");
    delete netns_;
    netns_ = nullptr;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string up_output() {
    std::ifstream in(dir_ / "up.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static testing::CommandResult kubectl(const std::string& args, int minor = 33) {
    return run("nsenter --net=/run/netns/" + netns_->name() + " /usr/lib/google-cloud-sdk/bin/kubectl.1." + std::to_string(minor) +
               " --kubeconfig " + (dir_ / "cluster" / "kubeconfig").string() + " " + args + " 2>&1");
  }
  static std::string apply(const std::string& name, const std::string& yaml) {
    std::ofstream(dir_ / name) << yaml;
    return kubectl("apply -f " + (dir_ / name).string()).output;
  }
  static bool running(const std::string& pod) { return kubectl("get pod " + pod + " -o jsonpath={.status.phase}").output == "Running"; }
  static std::string pod_volume_mounts(const std::string& uid) {
    return run("grep -c '" + (dir_ / "cluster" / "kubelet" / "pods" / uid).string() + "' /proc/mounts").output;
  }

  static inline fs::path dir_;
  static inline testing::NetworkNamespace* netns_ = nullptr;
  static inline ChildProcess* up_ = nullptr;
};

TEST_F(ConfigVolumes, PodReadsConfigMapAndSecretAsEnvAndFilesAndSeesUpdates) {
  const std::string host_dir = (dir_ / "host-data").string();
  auto applied = apply("reader.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {mode: fast, greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: s3cr3t}
---
apiVersion: v1
kind: Pod
metadata: {name: reader, labels: {app: reader}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: switchyard.local/busybox:1
    command: [sh, -c, 'echo MODE=$MODE GREETING=$CFG_greeting PASS=$PASS; echo written > /host/out; exec sleep 3600']
    env:
    - {name: MODE, valueFrom: {configMapKeyRef: {name: app, key: mode}}}
    - {name: PASS, valueFrom: {secretKeyRef: {name: db, key: password}}}
    envFrom:
    - {prefix: CFG_, configMapRef: {name: app}}
    volumeMounts:
    - {name: cfg, mountPath: /etc/app}
    - {name: sec, mountPath: /etc/sec}
    - {name: info, mountPath: /etc/info}
    - {name: scratch, mountPath: /scratch}
    - {name: mem, mountPath: /mem}
    - {name: host, mountPath: /host}
  - name: watcher
    image: switchyard.local/busybox:1
    # Reads the file over and over while it is swapped: anything but fast or slow is a torn read.
    command: [sh, -c, 'while true; do v=$(cat /etc/app/mode); case "$v" in fast|slow) ;; *) echo "TORN:$v";; esac; usleep 20000; done']
    volumeMounts: [{name: cfg, mountPath: /etc/app}]
  volumes:
  - {name: cfg, configMap: {name: app}}
  - {name: sec, secret: {secretName: db, defaultMode: 0400}}
  - name: info
    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
  - {name: scratch, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
  - {name: host, hostPath: {path: )" + host_dir +
                                          R"(, type: DirectoryOrCreate}}
)");
  ASSERT_THAT(applied, HasSubstr("pod/reader created")) << applied;
  ASSERT_TRUE(wait_until(60, [] { return running("reader"); })) << kubectl("describe pod reader").output << up_output();

  // env: configMapKeyRef, secretKeyRef, envFrom with its prefix.
  ASSERT_TRUE(wait_until(10, [] { return kubectl("logs reader -c main").output.find("MODE=") != std::string::npos; }));
  EXPECT_EQ(kubectl("logs reader -c main").output, "MODE=fast GREETING=hello PASS=s3cr3t\n");
  // files: the ConfigMap's keys, the Secret at 0400 on a tmpfs, the downward API's labels.
  EXPECT_EQ(kubectl("exec reader -c main -- cat /etc/app/mode").output, "fast");
  EXPECT_EQ(kubectl("exec reader -c main -- cat /etc/app/greeting", 27).output, "hello");
  EXPECT_EQ(kubectl("exec reader -c main -- stat -L -c %a /etc/sec/password").output, "400\n");
  EXPECT_EQ(kubectl("exec reader -c main -- cat /etc/sec/password").output, "s3cr3t");
  EXPECT_THAT(kubectl("exec reader -c main -- ls -a /etc/app").output, HasSubstr("..data"));
  EXPECT_EQ(kubectl("exec reader -c main -- cat /etc/info/labels").output, "app=\"reader\"");
  EXPECT_THAT(kubectl("exec reader -c main -- sh -c 'touch /etc/app/x' ").output, HasSubstr("Read-only file system"));
  // emptyDir on disk and in memory (tmpfs of sizeLimit), hostPath created as a directory.
  EXPECT_EQ(kubectl("exec reader -c main -- sh -c 'echo x > /scratch/f && cat /scratch/f'").output, "x\n");
  EXPECT_THAT(kubectl("exec reader -c main -- grep ' /mem ' /proc/mounts").output, HasSubstr("tmpfs /mem tmpfs"));
  EXPECT_THAT(kubectl("exec reader -c main -- df -k /mem").output, HasSubstr(" 8192 "));
  EXPECT_EQ(run("cat " + host_dir + "/out").output, "written\n");
  const std::string uid = kubectl("get pod reader -o jsonpath={.metadata.uid}").output;
  const std::string secret_dir = (dir_ / "cluster" / "kubelet" / "pods" / uid / "volumes" / "kubernetes.io~secret" / "sec").string();
  EXPECT_THAT(run("grep ' " + secret_dir + " ' /proc/mounts").output, HasSubstr("tmpfs")) << "a Secret's files never touch the disk";

  // A change to the ConfigMap reaches the file within a minute.
  const auto changed_at = std::chrono::steady_clock::now();
  ASSERT_THAT(kubectl("patch configmap app --type=merge -p '{\"data\":{\"mode\":\"slow\"}}'").output, HasSubstr("patched"));
  ASSERT_TRUE(wait_until(60, [] { return kubectl("exec reader -c main -- cat /etc/app/mode").output == "slow"; }))
      << kubectl("exec reader -c main -- ls -la /etc/app /etc/app/..data").output;
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - changed_at);
  std::cout << "ConfigMap change visible in the pod's file after " << took.count() << " ms\n";
  EXPECT_THAT(kubectl("logs reader -c watcher").output, Not(HasSubstr("TORN"))) << "a reader saw a half-written update";
  // env is read once, at start (as Kubernetes does).
  EXPECT_EQ(kubectl("exec reader -c main -- sh -c 'echo $MODE'").output, "fast\n");

  // Deleting the pod unmounts its tmpfs volumes and removes its volume directories.
  ASSERT_EQ(kubectl("delete pod reader --grace-period=0 --force").exit_code, 0);
  ASSERT_TRUE(wait_until(30, [&] { return pod_volume_mounts(uid) == "0\n" && !fs::exists(dir_ / "cluster" / "kubelet" / "pods" / uid); }))
      << run("grep " + uid + " /proc/mounts").output;
}

TEST_F(ConfigVolumes, MissingKeyKeepsThePodFromStartingWithTheKubeletsEvent) {
  auto applied = apply("missing.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata: {name: partial}
data: {present: "1"}
---
apiVersion: v1
kind: Pod
metadata: {name: missing-key}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: switchyard.local/busybox:1
    command: [sh, -c, 'echo LATE=$LATE; exec sleep 3600']
    env: [{name: LATE, valueFrom: {configMapKeyRef: {name: partial, key: late}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: missing-volume}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: main, image: switchyard.local/busybox:1, command: [sleep, '3600'], volumeMounts: [{name: cfg, mountPath: /cfg}]}
  volumes: [{name: cfg, configMap: {name: absent}}]
)");
  ASSERT_THAT(applied, HasSubstr("pod/missing-key created")) << applied;
  ASSERT_TRUE(
      wait_until(30,
                 [] {
                   return kubectl("get events --field-selector involvedObject.name=missing-key").output.find("couldn't find key late") !=
                          std::string::npos;
                 }))
      << kubectl("get events").output << kubectl("get pod missing-key -o yaml").output;
  const auto events = kubectl("get events --field-selector involvedObject.name=missing-key").output;
  EXPECT_THAT(events, HasSubstr("Warning   Failed")) << events;
  EXPECT_THAT(events, HasSubstr("Error: couldn't find key late in ConfigMap default/partial")) << events;
  EXPECT_THAT(kubectl("get pod missing-key", 27).output, HasSubstr("0/1     CreateContainerConfigError"));
  EXPECT_EQ(kubectl("get pod missing-key -o jsonpath={.status.containerStatuses[0].state.waiting.message}").output,
            "couldn't find key late in ConfigMap default/partial");
  // Nothing on the node: no sandbox (no pod IP, no log directory).
  const std::string uid = kubectl("get pod missing-key -o jsonpath={.metadata.uid}").output;
  EXPECT_EQ(kubectl("get pod missing-key -o jsonpath={.status.podIP}").output, "");
  EXPECT_FALSE(fs::exists(dir_ / "cluster" / "kubelet" / "pods" / ("default_missing-key_" + uid)));

  // The missing ConfigMap volume: FailedMount, and the pod waits in ContainerCreating.
  ASSERT_TRUE(wait_until(30, [] {
    return kubectl("get events --field-selector involvedObject.name=missing-volume").output.find("FailedMount") != std::string::npos;
  })) << kubectl("get events").output;
  EXPECT_THAT(kubectl("get events --field-selector involvedObject.name=missing-volume").output,
              HasSubstr("MountVolume.SetUp failed for volume \"cfg\" : configmap \"absent\" not found"));
  EXPECT_THAT(kubectl("get pod missing-volume").output, HasSubstr("ContainerCreating"));

  // The key and the ConfigMap arrive: both pods start.
  ASSERT_THAT(kubectl("patch configmap partial --type=merge -p '{\"data\":{\"late\":\"now\"}}'").output, HasSubstr("patched"));
  ASSERT_THAT(kubectl("create configmap absent --from-literal=k=v").output, HasSubstr("created"));
  ASSERT_TRUE(wait_until(60, [] { return running("missing-key") && running("missing-volume"); }))
      << kubectl("get pods").output << kubectl("describe pod missing-key").output;
  ASSERT_TRUE(wait_until(10, [] { return kubectl("logs missing-key").output == "LATE=now\n"; })) << kubectl("logs missing-key").output;
  EXPECT_EQ(kubectl("exec missing-volume -- cat /cfg/k").output, "v");
  kubectl("delete pod missing-key missing-volume --grace-period=0 --force");
}

}  // namespace
}  // namespace switchyard
