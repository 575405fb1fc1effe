// Network namespaces for tests: created with a unique name, removed (with every process the test
// started in them) when the object goes away, even when an assertion failed. Nothing here
// touches the namespace the test itself runs in.
#pragma once

#include <sys/types.h>

#include <expected>
#include <functional>
#include <string>
#include <vector>

namespace switchyard::dataplane::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  bool ok() const { return exit_code == 0; }
};

class NetworkNamespace {
 public:
  // "sy-nft-<pid>-<n>-<role>": unique per test process and call.
  static std::string unique_name(const std::string& prefix, const std::string& role);
  static std::expected<NetworkNamespace, std::string> create(std::string name);

  NetworkNamespace(NetworkNamespace&& other) noexcept;
  NetworkNamespace& operator=(NetworkNamespace&&) = delete;
  ~NetworkNamespace();

  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  // Runs `sh -c command` inside the namespace (nsenter keeps the host's mounts).
  CommandResult run(const std::string& command) const;
  // Starts a long-running process inside; it is killed when the namespace is removed.
  std::expected<pid_t, std::string> spawn(const std::vector<std::string>& argv);
  // Calls fn on a thread that entered the namespace: sockets it opens belong to the namespace.
  std::expected<void, std::string> enter(const std::function<void()>& fn) const;

 private:
  explicit NetworkNamespace(std::string name) : name_(std::move(name)) {}
  std::string name_;
  std::vector<pid_t> children_;
};

std::string shell_quote(const std::string& s);
CommandResult run_on_host(const std::string& command);  // for `ip netns` / `ip link` plumbing only

}  // namespace switchyard::dataplane::testing
