// Start-up failures of the supervised containerd reach the caller with their cause (no root,
// no real containerd: a stand-in program plays the failing one).
#include "kubelet/runtime/containerd_supervisor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace switchyard::kubelet::runtime {
namespace {

using ::testing::HasSubstr;

class SupervisorStartup : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/sy-supervisor-test-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    options_.data_dir = dir_ / "data";
    options_.pod_cidr = "10.85.0.0/24";
    options_.ready_timeout = std::chrono::seconds(5);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string stand_in(const std::string& body) {
    auto path = dir_ / "fake-containerd";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path.string();
  }
  std::filesystem::path dir_;
  ContainerdOptions options_;
};

TEST_F(SupervisorStartup, AContainerdThatExitsAtOnceIsReportedWithWhatItLogged) {
  options_.containerd_binary = stand_in("echo 'failed to load TOML: boom' >&2; exit 1");
  auto started = ContainerdSupervisor::start(options_);
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(started.error().message, HasSubstr("exited during start-up"));
  EXPECT_THAT(started.error().message, HasSubstr("failed to load TOML: boom"));
}

TEST_F(SupervisorStartup, AContainerdThatNeverAnswersTimesOutAndIsStopped) {
  options_.containerd_binary = stand_in("echo started; exec sleep 30");
  options_.ready_timeout = std::chrono::milliseconds(700);
  auto begin = std::chrono::steady_clock::now();
  auto started = ContainerdSupervisor::start(options_);
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::Timeout);
  EXPECT_THAT(started.error().message, HasSubstr("did not answer CRI Version"));
  EXPECT_THAT(started.error().message, HasSubstr("started"));  // the log's tail
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5)) << "the stand-in was not stopped with SIGTERM";
}

TEST_F(SupervisorStartup, AMissingBinaryOrNamespaceIsNotFound) {
  options_.containerd_binary = (dir_ / "no-such-containerd").string();
  EXPECT_EQ(ContainerdSupervisor::start(options_).error().code, ErrorCode::NotFound);
  options_.containerd_binary = stand_in("exec sleep 30");
  options_.netns_path = "/run/netns/sy-no-such-namespace";
  auto started = ContainerdSupervisor::start(options_);
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::NotFound);
  EXPECT_THAT(started.error().message, HasSubstr("/run/netns/sy-no-such-namespace"));
}

}  // namespace
}  // namespace switchyard::kubelet::runtime
