// Garbage collection and namespace deletion through real kubectl (1.27 and 1.33) against a
// real `switchyard apiserver` process, whose control plane runs the garbage collector, the
// namespace controller and the workload controllers. No kubelet: pods stay unbound, so their
// deletion is immediate and nothing here waits on containers.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

class GarbageCollectionWithKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    dir_ = std::filesystem::temp_directory_path() / ("sy-gc-" + GetParam() + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    const std::string port = std::to_string(switchyard::testing::free_loopback_port());
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "data").string(), "--listen", "127.0.0.1:" + port},
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(15, [&] { return k("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + (dir_ / "apiserver.log").string()).output;
    ns_ = "gc-" + std::to_string(getpid());
    ASSERT_EQ(k("create namespace " + ns_).exit_code, 0);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  testing::CommandResult k(const std::string& args) {
    return run(kubectl_ + " --kubeconfig " + (dir_ / "data" / "kubeconfig").string() + " " + args);
  }
  testing::CommandResult kn(const std::string& args) { return k(args + " -n " + ns_); }
  std::vector<std::string> names(const std::string& what) {
    std::vector<std::string> out;
    std::istringstream in(kn("get " + what + " -o name").output);
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) out.push_back(l);
    return out;
  }
  // A Deployment of two (unbound) pods, its ReplicaSet and pods all there.
  void deploy() {
    ASSERT_EQ(kn("create deployment web --image=nginx:1.25 --replicas=2").exit_code, 0);
    ASSERT_TRUE(wait_until(20, [&] { return names("rs").size() == 1 && names("pods").size() == 2; })) << kn("get all").output;
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  std::string kubectl_, ns_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_P(GarbageCollectionWithKubectl, DeleteDeploymentCollectsItsReplicaSetsAndPods) {
  deploy();
  // The controllers' Events, as describe shows them.
  const std::string rs = names("rs").at(0).substr(std::string("replicaset.apps/").size());
  EXPECT_TRUE(wait_until(10, [&] {
    return kn("describe deployment web").output.find("Scaled up replica set " + rs + " to 2 from 0") != std::string::npos;
  })) << kn("describe deployment web").output;
  EXPECT_THAT(kn("describe deployment web").output,
              ::testing::ContainsRegex("Normal +ScalingReplicaSet +.* +deployment-controller +Scaled up"));
  EXPECT_THAT(kn("describe rs " + rs).output,
              ::testing::ContainsRegex("Normal +SuccessfulCreate +.* +replicaset-controller +Created pod: " + rs + "-"));
  EXPECT_EQ(kn("delete deployment web").output, "deployment.apps \"web\" deleted\n");
  EXPECT_TRUE(wait_until(15, [&] { return names("rs").empty() && names("pods").empty(); })) << kn("get all").output;
}

TEST_P(GarbageCollectionWithKubectl, CascadeOrphanLeavesThemWithoutTheReference) {
  deploy();
  const std::string rs = names("rs").at(0);
  EXPECT_EQ(kn("delete deployment web --cascade=orphan").output, "deployment.apps \"web\" deleted\n");
  EXPECT_THAT(kn("get deployment web").output, HasSubstr("not found"));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the collector had its chance
  ASSERT_EQ(names("rs"), std::vector<std::string>{rs});
  EXPECT_EQ(kn("get " + rs + " -o jsonpath='{.metadata.ownerReferences}'").output, "");
  EXPECT_EQ(names("pods").size(), 2u);
  // The pods keep their own owner, the ReplicaSet: deleting it now takes them.
  EXPECT_EQ(kn("get pods -o jsonpath='{.items[*].metadata.ownerReferences[0].kind}'").output, "ReplicaSet ReplicaSet");
  ASSERT_EQ(kn("delete " + rs).exit_code, 0);
  EXPECT_TRUE(wait_until(15, [&] { return names("pods").empty(); })) << kn("get all").output;
}

TEST_P(GarbageCollectionWithKubectl, CascadeForegroundReturnsOnceTheDependentsAreGone) {
  deploy();
  // kubectl waits for the Deployment to go; in the foreground it goes after its dependents.
  EXPECT_EQ(kn("delete deployment web --cascade=foreground --timeout=30s").output, "deployment.apps \"web\" deleted\n");
  EXPECT_TRUE(names("rs").empty()) << kn("get all").output;
  EXPECT_TRUE(names("pods").empty()) << kn("get all").output;
}

TEST_P(GarbageCollectionWithKubectl, DeleteNamespaceEmptiesItAndOnlyThenDeletesIt) {
  deploy();
  // A Service that a finalizer of someone else's holds: the namespace must wait for it.
  ASSERT_EQ(kn("create -f " + file("held.yaml",
                                   "apiVersion: v1\nkind: Service\nmetadata: {name: held, finalizers: [example.com/hold]}\n"
                                   "spec:\n  ports: [{port: 80}]\n"))
                .exit_code,
            0);
  EXPECT_EQ(k("delete namespace " + ns_ + " --wait=false").output, "namespace \"" + ns_ + "\" deleted\n");
  EXPECT_EQ(k("get ns " + ns_ + " -o jsonpath='{.status.phase}'").output, "Terminating");
  ASSERT_TRUE(wait_until(15, [&] { return names("deployments").empty() && names("rs").empty() && names("pods").empty(); }))
      << kn("get all").output;
  const std::string remaining = "-o jsonpath='{.status.conditions[?(@.type==\"NamespaceContentRemaining\")].message}'";
  ASSERT_TRUE(wait_until(10, [&] { return k("get ns " + ns_ + " " + remaining).output.find("services.") != std::string::npos; }));
  EXPECT_EQ(k("get ns " + ns_ + " " + remaining).output, "Some resources are remaining: services. has 1 resource instances");
  EXPECT_THAT(kn("create deployment late --image=nginx").output,
              HasSubstr("deployments.apps \"late\" is forbidden: unable to create new content in namespace " + ns_ +
                        " because it is being terminated"));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(k("get ns " + ns_ + " -o name").output, "namespace/" + ns_ + "\n");  // still there, held
  ASSERT_EQ(kn("patch svc held --type=merge -p '{\"metadata\":{\"finalizers\":null}}'").exit_code, 0);
  EXPECT_TRUE(wait_until(15, [&] { return k("get ns " + ns_).output.find("not found") != std::string::npos; }))
      << k("get ns " + ns_ + " -o yaml").output;
}

TEST_P(GarbageCollectionWithKubectl, DeleteNamespaceWaitsUntilItIsGone) {
  deploy();
  EXPECT_EQ(k("delete namespace " + ns_ + " --timeout=30s").output, "namespace \"" + ns_ + "\" deleted\n");
  EXPECT_THAT(k("get ns " + ns_).output, HasSubstr("namespaces \"" + ns_ + "\" not found"));
}

INSTANTIATE_TEST_SUITE_P(OldestAndNewestKubectl, GarbageCollectionWithKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + info.param.substr(0, 1) + "_" + info.param.substr(2); });

}  // namespace
}  // namespace switchyard::apiserver
