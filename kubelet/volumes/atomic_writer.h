// Writes a volume's files as the kubelet's AtomicWriter does, so that a reader in a container
// never sees a half-written update: the files go into a fresh hidden directory `..<time>`, the
// symlink `..data` is swapped to it with one rename(2), and each top-level name is a symlink
// through `..data`. Old directories and names no longer in the payload are removed afterwards.
#pragma once

#include <string>

#include "kubelet/volumes/volume_types.h"

namespace switchyard::kubelet {

// `dir` must exist. Returns whether anything changed (false: the payload is what is there).
Result<bool> write_atomically(const std::string& dir, const Payload& payload);

}  // namespace switchyard::kubelet
