// A pod's volumes on the node, as the kubelet's volume manager makes them ready before the
// pod's sandbox starts and keeps them up to date while it runs:
//  - emptyDir: a directory under <root>/pods/<uid>/volumes, or a tmpfs (medium: Memory) of
//    sizeLimit;
//  - hostPath, with its type checks (DirectoryOrCreate, Directory, FileOrCreate, File, Socket,
//    CharDevice, BlockDevice);
//  - configMap, secret, downwardAPI and projected: files written through AtomicWriter, so that
//    each prepare() (every pod sync) brings them up to date atomically; secret and projected
//    volumes sit on a tmpfs, as the kubelet keeps secrets off the disk;
//  - persistentVolumeClaim: the bound PersistentVolume's hostPath or local directory.
// Mounting into containers is CRI's: the result maps each volume to its host path.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kubelet/pods/pod_config.h"
#include "kubelet/volumes/volume_types.h"

namespace switchyard::kubelet {

class PodVolumes {
 public:
  PodVolumes(const ConfigLookup& lookup, NodeSettings node) : lookup_(lookup), node_(std::move(node)) {}

  // Every volume of the pod ready; the error names the volume as the kubelet's FailedMount
  // Event does: `MountVolume.SetUp failed for volume "v" : configmap "c" not found`.
  Result<std::map<std::string, PreparedVolume>> prepare(const api::Pod& pod);

  // Unmounts what prepare() mounted and removes the pod's volume directories.
  Result<> teardown(const std::string& uid);

  std::string pod_dir(const std::string& uid) const;
  // The uids that have a volume directory on this node.
  std::vector<std::string> pod_uids_on_disk() const;

 private:
  Result<PreparedVolume> prepare_one(const api::Pod& pod, const nlohmann::json& volume);
  Result<PreparedVolume> prepare_claim(const api::Pod& pod, const nlohmann::json& source);

  const ConfigLookup& lookup_;
  NodeSettings node_;
};

}  // namespace switchyard::kubelet
