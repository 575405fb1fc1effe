// Test support: a real etcd (Debian's etcd-server, /usr/bin/etcd) on free loopback ports, with
// its data in a temporary directory. Killed (SIGKILL) and removed when the object goes away,
// and, through PR_SET_PDEATHSIG, when the test process dies without running destructors.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "orchestrator/store/store_test_support.h"

namespace switchyard::store::testing {

class EtcdProcess {
 public:
  // Starts etcd and waits until it serves requests; nullptr and `error` set on failure.
  static std::unique_ptr<EtcdProcess> start(std::string& error, std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  std::string client_url() const;  // http://127.0.0.1:PORT
  void kill_now();                 // SIGKILL and reap; idempotent
  // kill_now(), then start again on the same ports with the same data.
  bool restart(std::string& error, std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));
  std::string log_tail() const;

 private:
  EtcdProcess() = default;
  bool spawn(std::string& error);
  bool wait_ready(std::string& error, std::chrono::milliseconds timeout);

  TempDir dir_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int client_port_ = 0;
};

}  // namespace switchyard::store::testing
