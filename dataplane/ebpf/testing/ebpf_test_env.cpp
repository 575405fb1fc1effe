#include "dataplane/ebpf/testing/ebpf_test_env.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace switchyard::dataplane::ebpf::testing {
namespace {

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  return std::to_string(getpid()) + "-" + std::to_string(counter++);
}

bool write_pid(const std::string& cgroup) {
  std::ofstream procs(cgroup + "/cgroup.procs");
  procs << getpid() << std::flush;
  return procs.good();
}

// This process's cgroup v2 path, from the "0::/path" line of /proc/self/cgroup.
std::string own_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("0::")) return line.substr(3);
  return "/";
}

}  // namespace

std::expected<std::unique_ptr<TestCgroup>, std::string> TestCgroup::create() {
  const std::string root = cgroup2_mount();
  if (root.empty()) return std::unexpected("no cgroup v2 mount");
  const std::string path = root + "/sy-ebpf-test-" + unique_suffix();
  if (::mkdir(path.c_str(), 0755) != 0) return std::unexpected("mkdir " + path + ": " + std::strerror(errno));
  return std::unique_ptr<TestCgroup>(new TestCgroup(path, ""));
}

std::expected<std::unique_ptr<TestCgroup>, std::string> TestCgroup::create_and_enter() {
  auto cgroup = create();
  if (!cgroup) return cgroup;
  (*cgroup)->previous_ = cgroup2_mount() + own_cgroup();
  if (!write_pid((*cgroup)->path_)) return std::unexpected("moving the test process into " + (*cgroup)->path_ + " failed");
  return cgroup;
}

TestCgroup::~TestCgroup() {
  if (!previous_.empty()) write_pid(previous_);
  // Children that ended moments ago may still count for a few milliseconds.
  for (int attempt = 0; attempt < 50 && ::rmdir(path_.c_str()) != 0 && errno == EBUSY; ++attempt) usleep(20000);
}

std::expected<std::unique_ptr<TestBpffs>, std::string> TestBpffs::mount() {
  const std::string path = "/tmp/sy-ebpf-bpffs-" + unique_suffix();
  if (::mkdir(path.c_str(), 0700) != 0) return std::unexpected("mkdir " + path + ": " + std::strerror(errno));
  if (::mount("bpf", path.c_str(), "bpf", 0, nullptr) != 0) {
    const int err = errno;
    ::rmdir(path.c_str());
    return std::unexpected("mount -t bpf at " + path + ": " + std::strerror(err));
  }
  return std::unique_ptr<TestBpffs>(new TestBpffs(path));
}

TestBpffs::~TestBpffs() {
  ::umount2(path_.c_str(), MNT_DETACH);
  ::rmdir(path_.c_str());
}

std::expected<EbpfTestEnv, std::string> EbpfTestEnv::create() {
  EbpfTestEnv env;
  auto bpffs = TestBpffs::mount();
  if (!bpffs) return std::unexpected(bpffs.error());
  env.bpffs = std::move(*bpffs);
  auto cgroup = TestCgroup::create_and_enter();
  if (!cgroup) return std::unexpected(cgroup.error());
  env.cgroup = std::move(*cgroup);
  return env;
}

EbpfBackendOptions EbpfTestEnv::options(const std::string& node_name) const {
  EbpfBackendOptions o;
  o.node_name = node_name;
  o.pin_root = bpffs->path() + "/switchyard";
  o.cgroup_root = cgroup->path();
  // Small maps: tests program a handful of services.
  o.sizes = {.service_entries = 4096, .backends = 1024, .maglev_services = 64, .affinity_entries = 1024, .reverse_entries = 4096};
  return o;
}

}  // namespace switchyard::dataplane::ebpf::testing
