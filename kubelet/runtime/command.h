// Runs a helper program (ctr, runc) to completion and collects what it printed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::kubelet::runtime {

struct CommandOutput {
  int exit_code = -1;  // 128 + signal when killed
  std::string output;  // stdout and stderr together
};

// argv[0] is an absolute path. Killed (SIGKILL) and a Timeout error past `timeout`.
Result<CommandOutput> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace switchyard::kubelet::runtime
