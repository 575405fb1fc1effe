#include "kubelet/node/machine_info.h"

#include <sched.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace switchyard::kubelet::node {

namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

std::string whole_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string os_release_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(key + "=")) continue;
    std::string v = line.substr(key.size() + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    return v;
  }
  return "";
}

Result<MachineInfo> read_machine_info(const std::string& root_dir) {
  MachineInfo m;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return fail(ErrorCode::Internal, fmt::format("sched_getaffinity: {}", std::strerror(errno)));
  m.cpus = CPU_COUNT(&set);
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::int64_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemTotal:") {
      m.memory_bytes = kib * 1024;
      break;
    }
    meminfo.ignore(1 << 10, '\n');
  }
  if (m.memory_bytes == 0) return fail(ErrorCode::Internal, "/proc/meminfo: no MemTotal");
  struct statfs fs {};
  if (statfs(root_dir.c_str(), &fs) != 0) return fail(ErrorCode::Internal, fmt::format("statfs {}: {}", root_dir, std::strerror(errno)));
  m.ephemeral_storage_bytes = static_cast<std::int64_t>(fs.f_blocks) * static_cast<std::int64_t>(fs.f_frsize ? fs.f_frsize : fs.f_bsize);
  utsname u{};
  if (uname(&u) == 0) m.kernel_version = u.release;
  m.os_image = os_release_value(whole_file("/etc/os-release"), "PRETTY_NAME");
  if (m.os_image.empty()) m.os_image = "Linux";
  m.machine_id = first_line("/etc/machine-id");
  m.boot_id = first_line("/proc/sys/kernel/random/boot_id");
  m.system_uuid = first_line("/sys/class/dmi/id/product_uuid");  // root only; empty otherwise
  return m;
}

}  // namespace switchyard::kubelet::node
