// Loads image archives (OCI layout or `docker save` tarballs) into a containerd's k8s.io
// namespace, the one its CRI plugin serves. CRI has no import call, so this runs containerd's
// own client, `ctr images import`, and then checks over CRI (ImageStatus) that the runtime
// sees each image: an import the kubelet cannot use is reported as a failure.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::kubelet::runtime {

struct ImportedImage {
  std::string name;  // "switchyard.local/busybox:1"
  std::string id;    // the image id CRI reports ("sha256:…")
};

// Imports each archive; the images named in them, in order. `endpoint` is containerd's socket.
Result<std::vector<ImportedImage>> import_images(const std::string& endpoint, const std::vector<std::filesystem::path>& archives,
                                                 const std::string& ctr_binary = "/usr/bin/ctr");

// The archives (*.tar) directly in `dir`, sorted by name: what `up --images-dir` imports at
// start (k3s's air-gap images directory works the same way). Compressed archives are left out:
// containerd 1.6's importer reads plain tar only.
Result<std::vector<std::filesystem::path>> image_archives_in(const std::filesystem::path& dir);

}  // namespace switchyard::kubelet::runtime
