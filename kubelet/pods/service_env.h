// The service environment variables the kubelet gives every container (pkg/kubelet/envvars and
// getServiceEnvVarMap): for the `kubernetes` Service of the default namespace always, and for
// every Service of the pod's own namespace when enableServiceLinks is not false, if it has a
// cluster IP: NAME_SERVICE_HOST, NAME_SERVICE_PORT(_PORTNAME) and the Docker-link variables
// NAME_PORT, NAME_PORT_<port>_<PROTO>(_PROTO, _PORT, _ADDR). This is how in-cluster clients find
// the API server (KUBERNETES_SERVICE_HOST/PORT).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kubelet/volumes/volume_types.h"

namespace switchyard::kubelet {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// The variables of these Services, sorted by name.
EnvVars service_env_vars(const std::vector<api::Service>& services);

// The Services a pod's containers see, from the lookup (an error: not read yet).
Result<EnvVars> pod_service_env(const api::Pod& pod, const ConfigLookup& lookup);

}  // namespace switchyard::kubelet
