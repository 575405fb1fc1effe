// PersistentVolumeClaims with the default class on `switchyard up` (its own containerd, in a node
// namespace of its own, the busybox test image): the local-path StorageClass made at bootstrap,
// WaitForFirstConsumer (the claim waits for its pod; the scheduler picks the node and annotates
// the claim; the kubelet's local-path provisioner makes the directory and the volume; the binder
// binds them), data written by one pod read back by the next, and reclaim Delete removing the
// directory and the volume once the claim is deleted; a StatefulSet's volumeClaimTemplate giving
// each ordinal its own claim, kept across the pod's replacement, deleted with a pod scaled away
// (whenScaled: Delete) and kept when the set is deleted (whenDeleted: Retain).
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
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using testing::run;
using testing::wait_until;

constexpr const char* kNodeIp = "10.85.0.2";

class LocalPath : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::path("/tmp") / ("sy-localpath-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    netns_ = new testing::NetworkNamespace("localpath");
    auto link = run("ip -n " + netns_->name() + " link add sy-lp-a type veth peer name sy-lp-b && ip -n " + netns_->name() + " addr add " +
                    kNodeIp + "/24 dev sy-lp-a && ip -n " + netns_->name() + " link set sy-lp-a up && ip -n " + netns_->name() +
                    " link set sy-lp-b up && ip -n " + netns_->name() + " link set lo up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
    up_ = new ChildProcess(
        {"nsenter", "--net=/run/netns/" + netns_->name(), SWITCHYARD_BINARY, "up", "--data-dir", (dir_ / "cluster").string(), "--node-name",
         "node-lp", "--node-ip", kNodeIp, "--healthz-bind-address", "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
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
  static std::string pod(const std::string& name, const std::string& command, const std::string& claim = "data") {
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
           "}\nspec:\n  terminationGracePeriodSeconds: 0\n  restartPolicy: Never\n  containers:\n  - name: main\n"
           "    image: switchyard.local/busybox:1\n    command: [sh, -c, '" +
           command +
           "']\n    volumeMounts: [{name: data, mountPath: /data}]\n  volumes: [{name: data, persistentVolumeClaim: {claimName: " + claim +
           "}}]\n";
  }
  static std::string phase(const std::string& object) { return kubectl("get " + object + " -o jsonpath={.status.phase}").output; }

  static inline fs::path dir_;
  static inline testing::NetworkNamespace* netns_ = nullptr;
  static inline ChildProcess* up_ = nullptr;
};

TEST_F(LocalPath, ADefaultClassClaimFollowsItsPodKeepsItsDataAndIsDeletedWithTheClaim) {
  EXPECT_THAT(kubectl("get sc", 27).output,
              ContainsRegex("\nlocal-path \\(default\\) +rancher.io/local-path +Delete +WaitForFirstConsumer +false +"));
  ASSERT_THAT(apply("pvc.yaml",
                    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n"
                    "  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 64Mi}}\n"),
              HasSubstr("persistentvolumeclaim/data created"));
  EXPECT_EQ(kubectl("get pvc data -o jsonpath={.spec.storageClassName}").output, "local-path");
  // WaitForFirstConsumer: no pod, no volume.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(phase("pvc/data"), "Pending");
  EXPECT_EQ(kubectl("get pv -o name").output, "");

  ASSERT_THAT(apply("writer.yaml", pod("writer", "echo kept-$(hostname) > /data/file && sync")), HasSubstr("pod/writer created"));
  ASSERT_TRUE(wait_until(60, [] { return phase("pvc/data") == "Bound"; }))
      << kubectl("describe pvc data").output << kubectl("describe pod writer").output << up_output();
  EXPECT_EQ(kubectl("get pvc data -o jsonpath='{.metadata.annotations.volume\\.kubernetes\\.io/selected-node}'").output, "node-lp");
  const std::string volume = kubectl("get pvc data -o jsonpath={.spec.volumeName}").output;
  ASSERT_THAT(volume, ::testing::StartsWith("pvc-"));
  EXPECT_THAT(kubectl("get pvc data").output, ContainsRegex("\ndata +Bound +" + volume + " +64Mi +RWO +local-path +"));
  EXPECT_THAT(kubectl("get pv " + volume).output, ContainsRegex(volume + " +64Mi +RWO +Delete +Bound +default/data +local-path +"));
  EXPECT_EQ(
      kubectl("get pv " + volume + " -o jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}").output,
      "node-lp");
  const std::string path = kubectl("get pv " + volume + " -o jsonpath={.spec.hostPath.path}").output;
  EXPECT_EQ(path, (dir_ / "cluster" / "storage" / (volume + "_default_data")).string());
  ASSERT_TRUE(wait_until(60, [] { return phase("pod/writer") == "Succeeded"; })) << kubectl("describe pod writer").output;
  std::ifstream written(fs::path(path) / "file");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(written), {}), "kept-writer\n");

  // The data outlives the pod: the next pod on the claim reads it.
  EXPECT_EQ(kubectl("delete pod writer").exit_code, 0);
  ASSERT_THAT(apply("reader.yaml", pod("reader", "cat /data/file")), HasSubstr("pod/reader created"));
  ASSERT_TRUE(wait_until(60, [] { return phase("pod/reader") == "Succeeded"; })) << kubectl("describe pod reader").output;
  EXPECT_EQ(kubectl("logs reader").output, "kept-writer\n");

  // Reclaim Delete: the claim's deletion (after its pod) removes the directory and the volume.
  EXPECT_EQ(kubectl("delete pod reader").exit_code, 0);
  EXPECT_EQ(kubectl("delete pvc data").output, "persistentvolumeclaim \"data\" deleted\n");
  EXPECT_TRUE(wait_until(60, [&] { return kubectl("get pv " + volume + " -o name").exit_code != 0; }))
      << kubectl("get pv " + volume + " -o yaml").output << up_output();
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(LocalPath, APodOnAMissingClaimWaitsAndNothingIsMadeOnTheNode) {
  ASSERT_THAT(apply("orphan.yaml", pod("orphan", "true", "nope")), HasSubstr("pod/orphan created"));
  EXPECT_TRUE(wait_until(30, [] {
    return kubectl("get events --field-selector involvedObject.name=orphan").output.find("persistentvolumeclaim \"nope\" not found") !=
           std::string::npos;
  })) << kubectl("describe pod orphan").output;
  EXPECT_EQ(phase("pod/orphan"), "Pending");
  EXPECT_EQ(kubectl("get pod orphan -o jsonpath={.spec.nodeName}").output, "");
  EXPECT_EQ(kubectl("delete pod orphan").exit_code, 0);
}

TEST_F(LocalPath, AStatefulSetClaimPerOrdinalOutlivesItsPodGoesWithScaleDownAndStaysAfterTheSet) {
  // Each start appends the hostname, so a second line means the data outlived the first pod.
  ASSERT_THAT(apply("sts.yaml",
                    "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec:\n  serviceName: web\n  replicas: 2\n"
                    "  selector: {matchLabels: {app: web}}\n"
                    "  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Delete}\n"
                    "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      terminationGracePeriodSeconds: 0\n"
                    "      containers:\n      - name: main\n        image: switchyard.local/busybox:1\n"
                    "        command: [sh, -c, 'hostname >> /data/file && exec sleep 3600']\n"
                    "        volumeMounts: [{name: data, mountPath: /data}]\n"
                    "  volumeClaimTemplates:\n  - metadata: {name: data}\n"
                    "    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 64Mi}}}\n"),
              HasSubstr("statefulset.apps/web created"));
  auto file_of = [](const std::string& claim) {
    const std::string volume = kubectl("get pvc " + claim + " -o jsonpath={.spec.volumeName}").output;
    std::ifstream in(fs::path(kubectl("get pv " + volume + " -o jsonpath={.spec.hostPath.path}").output) / "file");
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ASSERT_TRUE(wait_until(90, [&] { return file_of("data-web-0") == "web-0\n" && file_of("data-web-1") == "web-1\n"; }))
      << kubectl("get sts,pod,pvc,pv").output << kubectl("describe pod web-1").output << up_output();
  EXPECT_THAT(kubectl("get pvc").output, ContainsRegex("\ndata-web-1 +Bound +pvc-[-0-9a-f]+ +64Mi +RWO +local-path +"));
  EXPECT_EQ(kubectl("get pvc data-web-0 -o jsonpath={.metadata.labels.app}").output, "web");
  EXPECT_EQ(kubectl("get pod web-0 -o jsonpath={.spec.volumes[0].persistentVolumeClaim.claimName}").output, "data-web-0");
  EXPECT_THAT(
      kubectl("describe sts web", 27).output,
      ContainsRegex("Volume Claims:\n +Name: +data\n +StorageClass: *\n +Labels: +<none>\n +Annotations: +<none>\n +Capacity: +64Mi\n "
                    "+Access Modes: +\\[ReadWriteOnce\\]\n"));

  // A replaced pod gets the same claim back, with its data.
  const std::string volume0 = kubectl("get pvc data-web-0 -o jsonpath={.spec.volumeName}").output;
  EXPECT_EQ(kubectl("delete pod web-0").exit_code, 0);
  EXPECT_TRUE(wait_until(60, [&] { return file_of("data-web-0") == "web-0\nweb-0\n"; })) << kubectl("get pod,pvc").output;
  EXPECT_EQ(kubectl("get pvc data-web-0 -o jsonpath={.spec.volumeName}").output, volume0);

  // whenScaled Delete: web-1's claim goes with web-1, and reclaim Delete removes its directory.
  const std::string volume1 = kubectl("get pvc data-web-1 -o jsonpath={.spec.volumeName}").output;
  const std::string path1 = kubectl("get pv " + volume1 + " -o jsonpath={.spec.hostPath.path}").output;
  ASSERT_TRUE(fs::exists(path1));
  EXPECT_EQ(kubectl("scale sts web --replicas=1").exit_code, 0);
  EXPECT_TRUE(wait_until(
      60, [&] { return kubectl("get pvc,pv -o name").output == "persistentvolumeclaim/data-web-0\npersistentvolume/" + volume0 + "\n"; }))
      << kubectl("get pod,pvc,pv").output << kubectl("get pvc data-web-1 -o yaml").output;
  EXPECT_FALSE(fs::exists(path1));

  // whenDeleted Retain: deleting the set leaves web-0's claim and its data.
  EXPECT_EQ(kubectl("delete sts web").exit_code, 0);
  EXPECT_TRUE(wait_until(60, [] { return kubectl("get pod web-0 -o name").exit_code != 0; })) << kubectl("get pod").output;
  EXPECT_EQ(phase("pvc/data-web-0"), "Bound");
  EXPECT_EQ(file_of("data-web-0"), "web-0\nweb-0\n");
  EXPECT_EQ(kubectl("delete pvc data-web-0").exit_code, 0);
  EXPECT_TRUE(wait_until(60, [&] { return kubectl("get pv -o name").output.empty(); })) << kubectl("get pv").output;
}

}  // namespace
}  // namespace switchyard
