// What the kubelet's volumes and env references read and produce: the ConfigMaps and Secrets a
// pod refers to (through a lookup the kubelet backs with its informers), the files a configMap,
// secret, downwardAPI or projected volume holds, and a volume made ready on the node.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "orchestrator/api/types.h"
#include "orchestrator/base/error.h"

namespace switchyard::kubelet {

class ConfigLookup {
 public:
  virtual ~ConfigLookup() = default;
  // nullopt: no such object. An error: the kubelet cannot tell yet (its cache has not synced).
  virtual Result<std::optional<api::ConfigMap>> config_map(const std::string& ns, const std::string& name) const = 0;
  virtual Result<std::optional<api::Secret>> secret(const std::string& ns, const std::string& name) const = 0;
  // persistentVolumeClaim volumes: the claim, then the volume it is bound to.
  virtual Result<std::optional<api::PersistentVolumeClaim>> claim(const std::string& ns, const std::string& name) const {
    return fail(ErrorCode::Unavailable, fmt::format("no PersistentVolumeClaim lookup for {}/{}", ns, name));
  }
  virtual Result<std::optional<api::PersistentVolume>> volume(const std::string& name) const {
    return fail(ErrorCode::Unavailable, fmt::format("no PersistentVolume lookup for {}", name));
  }
  // A projected serviceAccountToken: a token of the pod's ServiceAccount, bound to the pod
  // (`audience` empty: the API server's), from the kubelet's token manager.
  virtual Result<std::string> service_account_token(const api::Pod& pod, const std::string& /*audience*/,
                                                    std::int64_t /*expiration_seconds*/) const {
    return fail(ErrorCode::Unavailable, fmt::format("no service-account token source for pod {}", pod.metadata.name));
  }
  // The Services of a namespace, for the containers' service environment variables (an error:
  // the kubelet has not read them yet). None unless the kubelet has them.
  virtual Result<std::vector<api::Service>> services(const std::string& /*ns*/) const { return std::vector<api::Service>{}; }
};

// key -> bytes: a ConfigMap's data and binaryData, a Secret's data, decoded.
std::map<std::string, std::string> config_map_bytes(const api::ConfigMap& cm);
std::map<std::string, std::string> secret_bytes(const api::Secret& s);

struct FileProjection {
  std::string data;
  std::uint32_t mode = 0644;
  bool operator==(const FileProjection&) const = default;
};
// Relative path ("key", "dir/key") -> content, as the kubelet's AtomicWriter takes it.
using Payload = std::map<std::string, FileProjection>;

struct PreparedVolume {
  std::string host_path;
  bool read_only = false;  // configMap, secret, downwardAPI, projected: always mounted read-only
};

}  // namespace switchyard::kubelet
