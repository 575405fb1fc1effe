// Removes everything a containerd instance of ours left running or mounted under its data dir:
// its containers (through runc, with its Root), the shims serving its socket and whatever
// they still hold, then every mount below the data dir (the rootfs overlays, the sandboxes'
// /dev/shm and network-namespace bind mounts). For tests' teardown and for `switchyard up`
// deciding to start from nothing; run it after containerd itself has stopped.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "kubelet/runtime/containerd_config.h"
#include "orchestrator/base/error.h"

namespace switchyard::kubelet::runtime {

// Mount points at or below `dir`, deepest first (the order to unmount them).
std::vector<std::string> mounts_under(const std::filesystem::path& dir);
// Unmounts (lazily, deepest first) everything mounted below `dir`: the volumes of pods a stopped
// kubelet left running (their token's tmpfs among them), before a test removes its directory.
Result<> unmount_all_under(const std::filesystem::path& dir);

// Kills the instance's containers and shims and unmounts what is below its data dir. Does not
// delete the directory. Returns the first problem but always does all it can.
Result<> remove_runtime_leftovers(const ContainerdOptions& options);

}  // namespace switchyard::kubelet::runtime
