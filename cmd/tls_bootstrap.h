// How `switchyard join` becomes system:node:NAME, as kubeadm join's discovery and the kubelet's
// TLS bootstrap do:
//
// 1. discovery: GET kube-public/cluster-info without credentials and without trusting the
//    server yet; the CA in it must have the public-key pin given (--ca-cert-hash sha256:…),
//    else nothing more is sent (the token never reaches a server that is not the cluster's);
// 2. with the bootstrap token (now over TLS verified with that CA): POST a
//    CertificateSigningRequest for CN=system:node:NAME, O=system:nodes, signer
//    kubernetes.io/kube-apiserver-client-kubelet, and wait until the approver approves it and
//    the signer issues the certificate (or it is denied, or fails);
// 3. DIR/kubelet.kubeconfig with the CA, the client certificate and its key (0600): the node's
//    credential from then on. A later start reuses it (no token needed) while it is valid for
//    the server, names this node and does not expire within a day.
#pragma once

#include <chrono>
#include <string>

#include "orchestrator/base/error.h"
#include "orchestrator/client/cluster_connection.h"

namespace switchyard::cmd {

struct TlsBootstrapOptions {
  std::string server;        // https://HOST:PORT, or several API servers of the cluster, comma-separated
  std::string token;         // <id>.<secret>
  std::string ca_cert_hash;  // sha256:<hex>
  std::string node_name;
  std::string data_dir;
  std::chrono::seconds timeout{120};  // for the certificate to be issued
};

// Errors say what the user can do: Invalid (a flag), Forbidden/Unauthenticated (the token was
// refused), Conflict (the CA does not match the pin), Unavailable (no server, no certificate in time).
Result<client::ClusterConnection> node_credentials(const TlsBootstrapOptions& o);

}  // namespace switchyard::cmd
