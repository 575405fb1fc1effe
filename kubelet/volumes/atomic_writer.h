// Writes a volume's files as the kubelet's AtomicWriter does, so that a reader in a container
// never sees a half-written update: the files go into a fresh hidden directory `..<time>`, the
// symlink `..data` is swapped to it with one rename(2), and each top-level name is a symlink
// through `..data`. Old directories and names no longer in the payload are removed afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kubelet/volumes/volume_types.h"

namespace switchyard::kubelet {

// `dir` must exist. Returns whether anything changed (false: the payload is what is there).
// With `fs_group` (the pod's securityContext.fsGroup), as the kubelet's SetVolumeOwnership
// leaves a read-only volume: every file and directory in that group, files also readable by it
// (mode | 0440), directories setgid and searchable by it (| 02550).
Result<bool> write_atomically(const std::string& dir, const Payload& payload, std::optional<std::uint32_t> fs_group = std::nullopt);

// The payload's modes as they end up with `fs_group`: | 0440.
Payload with_group_read(Payload payload);

}  // namespace switchyard::kubelet
