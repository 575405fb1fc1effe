// PersistentVolumes, PersistentVolumeClaims and StorageClasses through real kubectl (1.27 and
// 1.33) against the API server's registry, admission and HTTP transport with the binder running
// beside it (in process, as `switchyard apiserver` runs them; no scheduler, no kubelet): the
// tables' columns, the DefaultStorageClass admission, static binding (the smallest volume that
// fits), Retain and Delete reclaim, the protection finalizers, and kube-apiserver's 422s.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/process.h"
#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/persistent_volume_controller.h"
#include "orchestrator/store/sqlite_store.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

class StorageWithKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    dir_ = std::filesystem::temp_directory_path() / ("sy-storage-" + GetParam() + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    auto s = store::SqliteStore::open((dir_ / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    // No admin token and no token file: every request is the admin (kubectl sends no token over plain HTTP).
    handler_ = std::make_unique<ApiHandler>(*registry_, "");
    auto server = HttpServer::start(*handler_, {"127.0.0.1:0", "", ""});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    std::ofstream(dir_ / "kubeconfig") << "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"http://127.0.0.1:"
                                       << server_->port()
                                       << "\"}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: x\n  context: {cluster: c, user: "
                                          "u}\ncurrent-context: x\n";
    const client::ClusterConnection connection{"127.0.0.1", std::to_string(server_->port()), "", "", false};
    informers_ = std::make_unique<client::SharedInformerFactory>(connection);
    binder_ = std::make_unique<controllers::PersistentVolumeController>(*informers_, connection);
    binder_->start();
    id_ = std::to_string(getpid());
    ns_ = "st-" + id_;
    ASSERT_EQ(k("create namespace " + ns_).exit_code, 0) << k("create namespace " + ns_).output;
  }
  void TearDown() override {
    if (binder_) binder_->stop();
    if (informers_) informers_->stop();
    binder_.reset();
    informers_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  testing::CommandResult k(const std::string& args) {
    return run(kubectl_ + " --kubeconfig " + (dir_ / "kubeconfig").string() + " " + args);
  }
  testing::CommandResult kn(const std::string& args) { return k(args + " -n " + ns_); }
  std::string jsonpath(const std::string& object, const std::string& path) {
    return kn("get " + object + " -o jsonpath='" + path + "'").output;
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  // A hostPath volume of `size` in class `cls` with reclaim `policy`.
  std::string volume(const std::string& name, const std::string& size, const std::string& cls, const std::string& policy = "Retain") {
    return "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: " + name + ", labels: {size: \"" + size +
           "\"}}\nspec:\n  capacity: {storage: " + size + "}\n  accessModes: [ReadWriteOnce]\n  persistentVolumeReclaimPolicy: " + policy +
           "\n  storageClassName: " + cls + "\n  hostPath: {path: /tmp/" + name + "}\n---\n";
  }
  std::string claim(const std::string& name, const std::string& size, const std::string& cls_line) {
    return "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: " + name + "}\nspec:\n  accessModes: [ReadWriteOnce]\n" +
           cls_line + "  resources: {requests: {storage: " + size + "}}\n---\n";
  }
  bool phase_is(const std::string& object, const std::string& phase) {
    return wait_until(20, [&] { return jsonpath(object, "{.status.phase}") == phase; });
  }

  std::string kubectl_, ns_, id_;
  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<controllers::PersistentVolumeController> binder_;
};

TEST_P(StorageWithKubectl, StaticBindingPicksTheSmallestVolumeThatFitsAndTheTablesShowIt) {
  const std::string cls = "manual-" + id_;
  const std::string small = "small-" + id_, big = "big-" + id_, tiny = "tiny-" + id_;
  ASSERT_EQ(k("create -f " + file("pvs.yaml", volume(big, "5Gi", cls) + volume(small, "1Gi", cls) + volume(tiny, "100Mi", cls))).exit_code,
            0);
  EXPECT_TRUE(wait_until(20, [&] { return jsonpath("pv/" + small, "{.status.phase}") == "Available"; }));
  ASSERT_EQ(kn("create -f " + file("pvc.yaml", claim("data", "500Mi", "  storageClassName: " + cls + "\n"))).output,
            "persistentvolumeclaim/data created\n");
  ASSERT_TRUE(phase_is("pvc/data", "Bound")) << kn("describe pvc data").output;
  // 100Mi is too small, 5Gi too big: the 1Gi volume is the smallest that fits.
  EXPECT_EQ(jsonpath("pvc/data", "{.spec.volumeName}"), small);
  EXPECT_EQ(jsonpath("pv/" + small, "{.spec.claimRef.name}"), "data");
  EXPECT_EQ(jsonpath("pv/" + small, "{.status.phase}"), "Bound");
  EXPECT_EQ(jsonpath("pvc/data", "{.metadata.finalizers[0]}"), "kubernetes.io/pvc-protection");
  EXPECT_EQ(jsonpath("pv/" + small, "{.metadata.finalizers[0]}"), "kubernetes.io/pv-protection");

  EXPECT_THAT(kn("get pvc").output,
              ContainsRegex("^NAME +STATUS +VOLUME +CAPACITY +ACCESS MODES +STORAGECLASS +VOLUMEATTRIBUTESCLASS +AGE\n"
                            "data +Bound +" +
                            small + " +1Gi +RWO +" + cls + " +<unset> +[0-9]+s\n$"));
  EXPECT_THAT(
      k("get pv " + small + " " + big).output,
      ContainsRegex("^NAME +CAPACITY +ACCESS MODES +RECLAIM POLICY +STATUS +CLAIM +STORAGECLASS +VOLUMEATTRIBUTESCLASS +REASON +AGE\n"
                    "(" +
                    small + " +1Gi +RWO +Retain +Bound +" + ns_ + "/data +" + cls + " +<unset> +[0-9]+s\n)?" + big +
                    " +5Gi +RWO +Retain +Available +" + cls + " +<unset> +[0-9]+s\n"));
  EXPECT_THAT(k("get pv " + small + " -o wide").output, ContainsRegex("VOLUMEMODE\n" + small + " .* Filesystem\n"));
  EXPECT_THAT(kn("describe pvc data").output, ContainsRegex("Status: +Bound"));

  // Retain: the claim's deletion leaves the volume Released, its claimRef still there.
  EXPECT_EQ(kn("delete pvc data").output, "persistentvolumeclaim \"data\" deleted\n");
  EXPECT_TRUE(wait_until(20, [&] { return jsonpath("pv/" + small, "{.status.phase}") == "Released"; }));
  EXPECT_THAT(k("get pv " + small).output, ContainsRegex(small + " +1Gi +RWO +Retain +Released +" + ns_ + "/data +"));
  // An unbound volume can be deleted: pv-protection lets it go.
  EXPECT_EQ(k("delete pv " + big).output, "persistentvolume \"" + big + "\" deleted\n");
}

TEST_P(StorageWithKubectl, StorageClassesAndTheDefaultClass) {
  const std::string fast = "fast-" + id_, slow = "slow-" + id_;
  ASSERT_EQ(k("create -f " + file("sc.yaml", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: " + fast +
                                                 "}\nprovisioner: example.com/fast\nallowVolumeExpansion: true\nreclaimPolicy: Retain\n"
                                                 "---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: " +
                                                 slow +
                                                 "\n  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}\n"
                                                 "provisioner: example.com/slow\nvolumeBindingMode: WaitForFirstConsumer\n"))
                .exit_code,
            0);
  EXPECT_THAT(k("get sc").output, ContainsRegex("^NAME +PROVISIONER +RECLAIMPOLICY +VOLUMEBINDINGMODE +ALLOWVOLUMEEXPANSION +AGE\n" + fast +
                                                " +example.com/fast +Retain +Immediate +true +[0-9]+s\n" + slow +
                                                " \\(default\\) +example.com/slow +Delete +WaitForFirstConsumer +false +[0-9]+s\n$"));
  EXPECT_EQ(k("get storageclass " + fast + " -o jsonpath='{.volumeBindingMode}'").output, "Immediate");
  // DefaultStorageClass: no class named gets the default; "" asks for none and keeps it.
  ASSERT_EQ(kn("create -f " + file("pvc.yaml", claim("defaulted", "1Gi", "") + claim("classless", "1Gi", "  storageClassName: \"\"\n")))
                .exit_code,
            0);
  EXPECT_EQ(jsonpath("pvc/defaulted", "{.spec.storageClassName}"), slow);
  EXPECT_EQ(jsonpath("pvc/classless", "{.spec.storageClassName}"), "");
  // WaitForFirstConsumer: nothing binds until a pod is scheduled.
  EXPECT_TRUE(wait_until(20, [&] {
    return kn("get events --field-selector involvedObject.name=defaulted").output.find("WaitForFirstConsumer") != std::string::npos;
  }));
  EXPECT_EQ(jsonpath("pvc/defaulted", "{.status.phase}"), "Pending");
  // A StorageClass's provisioner and parameters cannot change.
  EXPECT_THAT(k("patch sc " + fast + " --type=merge -p '{\"provisioner\":\"example.com/other\"}'").output,
              HasSubstr("The StorageClass \"" + fast + "\" is invalid: provisioner: Forbidden: updates to provisioner are forbidden."));
}

TEST_P(StorageWithKubectl, BadClaimsGetTheRealAnswers) {
  // No storage request: 422 naming the field.
  const auto no_size = kn("create -v=6 -f " + file("nosize.yaml",
                                                   "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: nosize}\n"
                                                   "spec: {accessModes: [ReadWriteOnce]}\n"));
  EXPECT_NE(no_size.exit_code, 0);
  EXPECT_THAT(no_size.output, HasSubstr("422 Unprocessable Entity"));
  EXPECT_THAT(no_size.output, HasSubstr("The PersistentVolumeClaim \"nosize\" is invalid: spec.resources[storage]: Required value"));
  const auto no_modes = kn("create -f " + file("nomodes.yaml",
                                               "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: nomodes}\n"
                                               "spec: {resources: {requests: {storage: 1Gi}}}\n"));
  EXPECT_THAT(no_modes.output, HasSubstr("spec.accessModes: Required value: at least 1 access mode is required"));
  EXPECT_THAT(kn("get pvc nosize nomodes").output, Not(HasSubstr("Pending")));
  const auto bad_pv = k("create -f " + file("badpv.yaml", "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: bad-" + id_ +
                                                              "}\nspec: {accessModes: [ReadWriteOnce], hostPath: {path: /tmp/x}}\n"));
  EXPECT_THAT(bad_pv.output, HasSubstr("spec.capacity: Required value"));

  // A class that does not exist is accepted, as upstream, and the claim stays Pending with an Event.
  ASSERT_EQ(kn("create -f " + file("nope.yaml", claim("nope", "1Gi", "  storageClassName: nope-" + id_ + "\n"))).exit_code, 0);
  EXPECT_TRUE(wait_until(20, [&] {
    return kn("get events --field-selector involvedObject.name=nope")
               .output.find("storageclass.storage.k8s.io \"nope-" + id_ + "\" not found") != std::string::npos;
  })) << kn("get events").output;
  EXPECT_THAT(kn("get events --field-selector involvedObject.name=nope").output, HasSubstr("ProvisioningFailed"));
  EXPECT_EQ(jsonpath("pvc/nope", "{.status.phase}"), "Pending");

  // The spec is immutable, except a bound claim's storage request.
  EXPECT_THAT(kn("patch pvc nope --type=merge -p '{\"spec\":{\"accessModes\":[\"ReadWriteMany\"]}}'").output,
              HasSubstr("The PersistentVolumeClaim \"nope\" is invalid: spec: Forbidden: spec is immutable after creation except "
                        "resources.requests and volumeAttributesClassName for bound claims"));
}

TEST_P(StorageWithKubectl, AClaimInUseWaitsForItsPodAndDeleteReclaimFailsForAStaticVolume) {
  const std::string cls = "manual-" + id_, pv = "del-" + id_;
  ASSERT_EQ(k("create -f " + file("pv.yaml", volume(pv, "1Gi", cls, "Delete"))).exit_code, 0);
  ASSERT_EQ(kn("create -f " + file("pvc.yaml", claim("used", "1Gi", "  storageClassName: " + cls + "\n"))).exit_code, 0);
  ASSERT_TRUE(phase_is("pvc/used", "Bound"));
  // A pod (never scheduled: no scheduler runs here) that uses the claim holds it while it exists.
  ASSERT_EQ(kn("create -f " + file("pod.yaml",
                                   "apiVersion: v1\nkind: Pod\nmetadata: {name: user}\nspec:\n  containers: [{name: c, image: "
                                   "busybox}]\n  volumes: [{name: d, persistentVolumeClaim: {claimName: used}}]\n"))
                .exit_code,
            0);
  EXPECT_EQ(kn("delete pvc used --wait=false").exit_code, 0);
  EXPECT_THAT(kn("get pvc used").output, ContainsRegex("\nused +Terminating +" + pv + " +1Gi +RWO +"));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(kn("get pvc used -o name").output, "persistentvolumeclaim/used\n");
  EXPECT_EQ(kn("delete pod user --grace-period=0 --force").exit_code, 0);
  EXPECT_TRUE(wait_until(20, [&] { return kn("get pvc used -o name").exit_code != 0; })) << kn("get pvc used -o yaml").output;
  // Delete on a static hostPath volume: no deleter here, as upstream with no deleter plugin.
  EXPECT_TRUE(wait_until(20, [&] { return jsonpath("pv/" + pv, "{.status.phase}") == "Failed"; }));
  EXPECT_THAT(k("get pv " + pv + " -o jsonpath='{.status.message}'").output,
              HasSubstr("error getting deleter volume plugin for volume \"" + pv + "\": no deletable volume plugin matched"));
}

INSTANTIATE_TEST_SUITE_P(OldestAndNewestKubectl, StorageWithKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + info.param.substr(0, 1) + "_" + info.param.substr(2); });

}  // namespace
}  // namespace switchyard::apiserver
