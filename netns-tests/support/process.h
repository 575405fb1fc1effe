// Test support: run commands and keep child processes, with cleanup that happens even when a
// test fails (RAII).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace switchyard::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command and waits for it.
CommandResult run(const std::string& command);

// A TCP port on 127.0.0.1 that nothing holds right now (the kernel's pick for port 0), for a
// server the test starts next. A fixed or pid-derived port can be an ephemeral port some other
// connection on the machine is using.
std::uint16_t free_loopback_port();

// A background process killed (SIGTERM, then SIGKILL) and reaped when this goes away.
class ChildProcess {
 public:
  // argv[0] is the program; stdout+stderr go to `log_path`.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  pid_t pid() const { return pid_; }
  bool running();
  void kill_now(int signal);
  // Waits up to `seconds` for the process to end: its exit code (128 + signal if killed), or
  // nothing if it is still running.
  std::optional<int> wait_exit(double seconds);

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// A network namespace with a name no other test run uses; deleted (with /etc/netns/NAME)
// when this goes away.
class NetworkNamespace {
 public:
  explicit NetworkNamespace(const std::string& purpose);
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;
  const std::string& name() const { return name_; }
  // "ip netns exec NAME " + command; `ip netns exec` binds /etc/netns/NAME/* over /etc.
  CommandResult exec(const std::string& command) const;
  // Writes /etc/netns/NAME/resolv.conf, seen by processes started with exec().
  void write_resolv_conf(const std::string& text) const;

 private:
  std::string name_;
};

// Waits until `predicate` holds, up to `seconds`.
bool wait_until(double seconds, const std::function<bool()>& predicate);

}  // namespace switchyard::testing
