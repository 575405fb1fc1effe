// Test support: a real `switchyard apiserver` process on a loopback port with its own PKI, and
// the real kubectl against it. Everything lives under one directory named after the test and
// the pid, removed (and the server stopped) when this goes away, whether the test passed or not.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "netns-tests/support/process.h"

namespace switchyard::testing {

class ApiserverProcess {
 public:
  // `binary`: the switchyard executable; `purpose` goes into the directory name.
  // `extra_args`: more flags for `switchyard apiserver` ("--event-ttl", "3").
  // `credentials_from`: another server's data directory whose pki/ and admin.token this one starts
  // with, as the API servers of one cluster on one etcd share them.
  ApiserverProcess(const std::string& binary, const std::string& purpose, const std::vector<std::string>& extra_args = {},
                   const std::filesystem::path& credentials_from = {})
      : dir_(std::filesystem::temp_directory_path() / ("sy-" + purpose + "-" + std::to_string(getpid()))) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (!credentials_from.empty()) {
      std::filesystem::create_directories(dir_ / "data");
      std::filesystem::permissions(dir_ / "data", std::filesystem::perms::owner_all);
      std::filesystem::copy(credentials_from / "pki", dir_ / "data" / "pki", std::filesystem::copy_options::recursive);
      std::filesystem::copy_file(credentials_from / "admin.token", dir_ / "data" / "admin.token");
    }
    port_ = std::to_string(free_loopback_port());
    std::vector<std::string> argv{binary, "apiserver", "--data-dir", (dir_ / "data").string(), "--listen", "127.0.0.1:" + port_};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    server_ = std::make_unique<ChildProcess>(argv, (dir_ / "apiserver.log").string());
  }
  ~ApiserverProcess() {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  ApiserverProcess(const ApiserverProcess&) = delete;
  ApiserverProcess& operator=(const ApiserverProcess&) = delete;

  // Waits until kubectl can read the default namespace.
  bool wait_ready(const std::string& kubectl) {
    return wait_until(15, [&] {
      return std::filesystem::exists(kubeconfig()) && run_kubectl(kubectl, "get ns default -o name").output == "namespace/default\n";
    });
  }
  std::string kubeconfig() const { return (dir_ / "data" / "kubeconfig").string(); }
  CommandResult run_kubectl(const std::string& kubectl, const std::string& args) const {
    return run(kubectl + " --kubeconfig " + kubeconfig() + " " + args);
  }
  std::string log() const { return run("cat " + (dir_ / "apiserver.log").string()).output; }
  std::string file(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  const std::string& port() const { return port_; }
  ChildProcess& process() { return *server_; }

 private:
  std::filesystem::path dir_;
  std::string port_;
  std::unique_ptr<ChildProcess> server_;
};

}  // namespace switchyard::testing
