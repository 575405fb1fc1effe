#include "dataplane/testing/network_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

extern char** environ;

namespace switchyard::dataplane::testing {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CommandResult run_on_host(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string NetworkNamespace::unique_name(const std::string& prefix, const std::string& role) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + role;
}

std::expected<NetworkNamespace, std::string> NetworkNamespace::create(std::string name) {
  auto r = run_on_host("ip netns add " + shell_quote(name));
  if (!r.ok()) return std::unexpected("ip netns add " + name + ": " + r.output);
  NetworkNamespace ns(std::move(name));
  if (auto lo = ns.run("ip link set lo up"); !lo.ok()) return std::unexpected("lo up in " + ns.name_ + ": " + lo.output);
  return ns;
}

NetworkNamespace::NetworkNamespace(NetworkNamespace&& other) noexcept
    : name_(std::move(other.name_)), children_(std::move(other.children_)) {
  other.name_.clear();
  other.children_.clear();
}

NetworkNamespace::~NetworkNamespace() {
  for (pid_t pid : children_) {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  }
  if (!name_.empty()) run_on_host("ip netns del " + shell_quote(name_));
}

CommandResult NetworkNamespace::run(const std::string& command) const {
  return run_on_host("nsenter --net=" + shell_quote(path()) + " sh -c " + shell_quote(command));
}

std::expected<pid_t, std::string> NetworkNamespace::spawn(const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"nsenter", "--net=" + path()};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (auto& a : full) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  if (int e = posix_spawnp(&pid, "nsenter", nullptr, nullptr, args.data(), environ); e != 0)
    return std::unexpected("spawn " + argv.front() + " in " + name_ + ": " + std::strerror(e));
  children_.push_back(pid);
  return pid;
}

std::expected<void, std::string> NetworkNamespace::enter(const std::function<void()>& fn) const {
  std::string error;
  std::thread t([&] {
    const int fd = open(path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      error = "setns " + name_ + ": " + std::strerror(errno);
      if (fd >= 0) close(fd);
      return;
    }
    close(fd);
    fn();
  });
  t.join();
  if (!error.empty()) return std::unexpected(error);
  return {};
}

}  // namespace switchyard::dataplane::testing
