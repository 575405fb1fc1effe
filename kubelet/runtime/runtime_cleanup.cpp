#include "kubelet/runtime/runtime_cleanup.h"

#include <dirent.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "kubelet/runtime/command.h"

namespace switchyard::kubelet::runtime {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCniResultsDir = "/var/lib/cni/results";

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_path(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every process: pid → (parent pid, NUL-separated command line).
struct ProcessInfo {
  pid_t parent = 0;
  std::string cmdline;
};

std::map<pid_t, ProcessInfo> list_processes() {
  std::map<pid_t, ProcessInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = std::stoi(name);
    std::string stat = read_file(entry.path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    char state = 0;
    pid_t parent = 0;
    fields >> state >> parent;
    out[pid] = ProcessInfo{parent, read_file(entry.path() / "cmdline")};
  }
  return out;
}

void collect_descendants(const std::map<pid_t, ProcessInfo>& processes, pid_t root, std::vector<pid_t>& out) {
  for (const auto& [pid, info] : processes) {
    if (info.parent == root) {
      collect_descendants(processes, pid, out);
      out.push_back(pid);
    }
  }
}

// libcni caches each attachment's result in a fixed host directory, whatever the instance; a
// sandbox that was killed rather than removed (no CNI DEL) leaves its files there.
void remove_cni_results(const std::string& id) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kCniResultsDir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.find("-" + id + "-") != std::string::npos) fs::remove(entry.path(), ec);
  }
}

}  // namespace

std::vector<std::string> mounts_under(const fs::path& dir) {
  std::vector<std::string> out;
  std::string prefix = dir.string();
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  std::istringstream lines(read_file("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, devices, root, mount_point;
    fields >> id >> parent >> devices >> root >> mount_point;
    mount_point = unescape_mount_path(mount_point);
    if (mount_point == prefix || mount_point.starts_with(prefix + "/")) out.push_back(mount_point);
  }
  // Deepest first; a path mounted twice is listed twice and unmounted twice.
  std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

Result<> unmount_all_under(const fs::path& dir) {
  Result<> first = {};
  for (const auto& mount_point : mounts_under(dir)) {
    if (::umount2(mount_point.c_str(), MNT_DETACH) == 0 || errno == EINVAL || errno == ENOENT) continue;
    const std::string why = "umount " + mount_point + ": " + std::strerror(errno);
    spdlog::warn("runtime cleanup: {}", why);
    if (first) first = fail(ErrorCode::Internal, why);
  }
  return first;
}

Result<> remove_runtime_leftovers(const ContainerdOptions& options) {
  ContainerdPaths paths(options.data_dir);
  Result<> first = {};
  auto note = [&first](Error e) {
    spdlog::warn("runtime cleanup: {}", e.message);
    if (first) first = fail(std::move(e));
  };

  // 1. Containers, through runc with our Root: kills their processes and removes their cgroups.
  std::error_code ec;
  if (fs::exists(paths.runc_root, ec)) {
    for (const auto& ns : fs::directory_iterator(paths.runc_root, ec)) {
      if (!ns.is_directory()) continue;
      for (const auto& container : fs::directory_iterator(ns.path(), ec)) {
        if (!container.is_directory()) continue;
        remove_cni_results(container.path().filename().string());  // a sandbox's pause container has its id
        auto r = run_command({options.runc_binary, "--root", ns.path().string(), "delete", "--force", container.path().filename().string()},
                             std::chrono::seconds(20));
        if (!r)
          note(r.error());
        else if (r->exit_code != 0)
          note(Error{ErrorCode::Internal, "runc delete " + container.path().filename().string() + ": " + r->output});
      }
    }
  }

  // 2. Shims serving our socket (their command line names it), with whatever they still hold.
  const std::string socket = paths.socket.string();
  auto processes = list_processes();
  std::vector<pid_t> victims;
  for (const auto& [pid, info] : processes) {
    if (info.cmdline.find("containerd-shim") == std::string::npos) continue;
    // Arguments are NUL-separated, the last one NUL-terminated: "-address\0SOCKET\0".
    if (info.cmdline.find(std::string(1, '\0') + socket + std::string(1, '\0')) == std::string::npos) continue;
    collect_descendants(processes, pid, victims);
    victims.push_back(pid);
  }
  for (pid_t pid : victims) ::kill(pid, SIGKILL);
  for (int i = 0; i < 50 && !victims.empty(); ++i) {  // wait (up to 5 s) until they are gone
    std::erase_if(victims, [](pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; });
    if (!victims.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!victims.empty()) note(Error{ErrorCode::Internal, std::to_string(victims.size()) + " shim processes did not die"});

  // 3. Mounts below the data dir, deepest first.
  if (auto unmounted = unmount_all_under(paths.data_dir); !unmounted && first) first = unmounted;
  return first;
}

}  // namespace switchyard::kubelet::runtime
