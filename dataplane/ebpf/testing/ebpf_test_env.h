// What an eBPF backend test needs so that it touches nothing of the host's: a cgroup of its own
// (the test process moves in, so curl and every child it starts are inside, and moves back
// out at the end) and a private bpf filesystem to pin under. Both carry the pid in their names
// and are removed by the destructors, also when an assertion failed.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "dataplane/ebpf/ebpf_backend.h"

namespace switchyard::dataplane::ebpf::testing {

class TestCgroup {
 public:
  static std::expected<std::unique_ptr<TestCgroup>, std::string> create_and_enter();
  // A cgroup the test process stays out of: processes go in through `enter_command()`.
  static std::expected<std::unique_ptr<TestCgroup>, std::string> create();
  ~TestCgroup();  // moves the process back where it was (if it entered) and removes the cgroup
  // A shell prefix that moves the shell into this cgroup before it runs what follows.
  std::string enter_command() const { return "echo $$ > " + path_ + "/cgroup.procs && "; }
  const std::string& path() const { return path_; }

 private:
  TestCgroup(std::string path, std::string previous) : path_(std::move(path)), previous_(std::move(previous)) {}
  std::string path_, previous_;
};

class TestBpffs {
 public:
  static std::expected<std::unique_ptr<TestBpffs>, std::string> mount();
  ~TestBpffs();  // unmounts (dropping any pin left behind) and removes the directory
  const std::string& path() const { return path_; }

 private:
  explicit TestBpffs(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Both, plus options for a backend that pins and attaches only there.
struct EbpfTestEnv {
  std::unique_ptr<TestBpffs> bpffs;
  std::unique_ptr<TestCgroup> cgroup;

  static std::expected<EbpfTestEnv, std::string> create();
  EbpfBackendOptions options(const std::string& node_name) const;
};

}  // namespace switchyard::dataplane::ebpf::testing
