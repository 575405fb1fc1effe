// Where an API server is and how to authenticate to it: the current context of a kubeconfig, or
// the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT, token and CA files), as
// client-go's clientcmd and rest.InClusterConfig read them.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::client {

struct ClusterConnection {
  std::string host;  // IP or name
  std::string port;
  std::string ca_pem;  // empty: system roots
  std::string token;
  bool tls = true;
  // Ask for application/vnd.kubernetes.protobuf (client-go's ContentType): lists and watches
  // come in protobuf where the server has it, JSON otherwise.
  bool protobuf = false;
  // More API servers of the same cluster (same CA and credentials), as "https://HOST:PORT": a
  // client moves to the next one when the one it uses cannot be reached.
  std::vector<std::string> other_servers;
};

// The kubeconfig's (or, with none, the in-cluster) connection; `servers`, when given, replaces
// its server with one or more (set_servers), as kube-controller-manager's --master overrides it.
Result<ClusterConnection> load_connection(const std::string& kubeconfig, const std::string& servers);

// Points `c` at `servers` ("https://a:6443,https://b:6443"): the first is host and port, the
// rest other_servers. Invalid: a malformed URL, or none given.
Result<void> set_servers(ClusterConnection& c, const std::string& servers);

// The current-context cluster and user of a kubeconfig (token auth, CA data or file).
// Errors: NotFound (no such file, context or cluster), Invalid (malformed YAML or server URL).
Result<ClusterConnection> load_kubeconfig(const std::string& path);
// KUBERNETES_SERVICE_HOST/PORT and the service-account token and CA files.
Result<ClusterConnection> load_in_cluster(const std::string& secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace switchyard::client
