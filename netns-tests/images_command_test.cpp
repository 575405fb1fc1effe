// `switchyard images import` and `images list` against a containerd run (by the test, with
// ContainerdSupervisor) in a namespace of its own: docker and OCI archives both load, an
// unreachable runtime and a file that is no image are errors a user can read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/containerd_supervisor.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::run;

class ImagesCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = fs::path("/tmp") / ("sy-images-cmd-" + std::to_string(::getpid()));
    options_.pod_cidr = "10.79.0.0/24";
    options_.netns_path = "/run/netns/" + netns_.name();
    auto started = kubelet::runtime::ContainerdSupervisor::start(options_);
    ASSERT_TRUE(started.has_value()) << started.error().message;
    containerd_ = std::move(*started);
  }
  void TearDown() override {
    if (containerd_) containerd_->stop();
    if (auto r = kubelet::runtime::remove_runtime_leftovers(options_); !r) ADD_FAILURE() << r.error().message;
    std::error_code ec;
    fs::remove_all(options_.data_dir, ec);
  }
  std::string images(const std::string& args) { return std::string(SWITCHYARD_BINARY) + " images " + args + " 2>&1"; }

  testing::NetworkNamespace netns_{"images"};
  kubelet::runtime::ContainerdOptions options_;
  std::unique_ptr<kubelet::runtime::ContainerdSupervisor> containerd_;
};

TEST_F(ImagesCommand, ImportsDockerAndOciArchivesThatCriThenLists) {
  const std::string images_dir = SWITCHYARD_TEST_IMAGES_DIR;
  const std::string oci = options_.data_dir.string() + "/busybox-oci.tar";
  auto converted = run("skopeo --insecure-policy copy --quiet docker-archive:" + images_dir + "/busybox.tar oci-archive:" + oci +
                       ":switchyard.local/busybox:oci 2>&1");
  ASSERT_EQ(converted.exit_code, 0) << converted.output;

  auto imported =
      run(images("import --container-runtime-endpoint unix://" + containerd_->endpoint() + " " + images_dir + "/busybox.tar " + oci));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_THAT(imported.output, ::testing::MatchesRegex("imported switchyard.local/busybox:1 \\(sha256:[0-9a-f]{64}\\)\n"
                                                       "imported switchyard.local/busybox:oci \\(sha256:[0-9a-f]{64}\\)\n"));

  auto client = kubelet::cri::CriClient::connect(containerd_->endpoint());
  ASSERT_TRUE(client.has_value());
  for (const char* name : {"switchyard.local/busybox:1", "switchyard.local/busybox:oci"}) {
    auto status = (*client)->image_status(name);
    ASSERT_TRUE(status.has_value()) << status.error().message;
    EXPECT_TRUE(status->has_value()) << name << " is not visible over CRI";
  }

  // `up --data-dir D` runs its containerd under D/containerd: --data-dir finds that socket.
  auto up_dir = options_.data_dir.parent_path() / ("sy-images-cmd-node-" + std::to_string(::getpid()));
  fs::create_directories(up_dir);
  fs::create_symlink(options_.data_dir, up_dir / "containerd");
  auto listed = run(images("list --data-dir " + up_dir.string()));
  fs::remove_all(up_dir);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("switchyard.local/busybox:1 "));
  EXPECT_THAT(listed.output, HasSubstr("switchyard.local/busybox:oci "));
}

TEST_F(ImagesCommand, ErrorsNameTheCause) {
  auto unreachable = run(images("import --container-runtime-endpoint /tmp/sy-no-runtime-" + std::to_string(::getpid()) + ".sock " +
                                SWITCHYARD_TEST_IMAGES_DIR + "/busybox.tar"));
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_THAT(unreachable.output, HasSubstr("error: importing images: CRI Version at /tmp/sy-no-runtime-"));

  const std::string not_an_image = options_.data_dir.string() + "/notes.tar";
  run("echo hello > " + not_an_image);
  auto bad = run(images("import --container-runtime-endpoint " + containerd_->endpoint() + " " + not_an_image));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("error: importing " + not_an_image));

  auto no_runtime = run(images("list"));
  EXPECT_EQ(no_runtime.exit_code, 2);
  EXPECT_THAT(no_runtime.output, HasSubstr("--container-runtime-endpoint"));
}

}  // namespace
}  // namespace switchyard
