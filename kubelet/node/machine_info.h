// What the kubelet reports about its machine in the Node's status: capacity (CPUs it may use,
// memory, the root filesystem's size) and the system info `kubectl describe node` shows.
#pragma once

#include <cstdint>
#include <string>

#include "orchestrator/base/error.h"

namespace switchyard::kubelet::node {

struct MachineInfo {
  std::int64_t cpus = 0;                         // sched_getaffinity: what this process may run on
  std::int64_t memory_bytes = 0;                 // /proc/meminfo MemTotal
  std::int64_t ephemeral_storage_bytes = 0;      // statfs of the root dir
  std::string kernel_version;                    // uname -r
  std::string os_image;                          // /etc/os-release PRETTY_NAME
  std::string machine_id, boot_id, system_uuid;  // empty when unreadable
};

// `root_dir`: the filesystem whose size is the node's ephemeral storage (the kubelet's root dir).
Result<MachineInfo> read_machine_info(const std::string& root_dir);

// A value of os-release's KEY="value" format; empty when absent.
std::string os_release_value(const std::string& text, const std::string& key);

}  // namespace switchyard::kubelet::node
