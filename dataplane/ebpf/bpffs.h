// The bpf filesystem our pins live on. A fresh host often has none mounted (nothing but
// systemd or Cilium mounts it), so, as Cilium does, we mount it at /sys/fs/bpf ourselves when
// statfs says something else is there, and create the pin directories under it.
#pragma once

#include <string>

#include "dataplane/backend.h"

namespace switchyard::dataplane::ebpf {

inline constexpr const char* kDefaultBpffsMount = "/sys/fs/bpf";

// Makes `pin_dir` exist on a bpf filesystem. When the directory (or its nearest existing
// ancestor) is not on one, a bpffs is mounted at /sys/fs/bpf if `pin_dir` is under it, else at
// `pin_dir` itself; `mounted` (optional) says where a mount was made ("" when none was needed).
// Fails with a message naming the mount point and the cause only when mounting really fails.
Result<void> ensure_bpffs_pin_dir(const std::string& pin_dir, std::string* mounted = nullptr);

// Whether `path` is on a bpf filesystem (statfs magic BPF_FS_MAGIC).
bool on_bpffs(const std::string& path);

}  // namespace switchyard::dataplane::ebpf
