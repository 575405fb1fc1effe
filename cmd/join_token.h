// What `switchyard up` prepares so that other hosts can `switchyard join`, as `kubeadm init` does:
//
// - a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) stored as the kube-system Secret
//   bootstrap-token-<id> (type bootstrap.kubernetes.io/token, usage-bootstrap-authentication,
//   auth-extra-groups system:bootstrappers:kubeadm:default-node-token, an expiration);
// - the kube-public ConfigMap cluster-info, a kubeconfig with the server and the CA, readable
//   without credentials (kubeadm's Role kubeadm:bootstrap-signer-clusterinfo for system:anonymous);
// - kubeadm's bindings: the token group may create CSRs (kubeadm:kubelet-bootstrap) and have its
//   node client CSRs approved (kubeadm:node-autoapprove-bootstrap); nodes may renew their own
//   (kubeadm:node-autoapprove-certificate-rotation); and a node's agent, which runs with the
//   node's credential, reads what `up`'s agent reads (switchyard:node-agent);
// - the CA's pin for --ca-cert-hash (sha256 of its SubjectPublicKeyInfo).
#pragma once

#include <chrono>
#include <string>

#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/base/error.h"

namespace switchyard::cmd {

inline constexpr std::string_view kDefaultNodeTokenGroup = "system:bootstrappers:kubeadm:default-node-token";

struct JoinCredentials {
  std::string token;         // <id>.<secret>
  std::string ca_cert_hash;  // sha256:<hex>
  std::string expiration;    // RFC 3339
};

// A new random bootstrap token (/dev/urandom, unbiased over [a-z0-9]).
Result<std::string> new_bootstrap_token();

// Creates the objects above (the token anew on every call; the rest when missing or outdated).
Result<JoinCredentials> prepare_join(apiserver::ObjectRegistry& registry, const std::string& server_url, const std::string& ca_pem,
                                     std::chrono::seconds token_ttl);

}  // namespace switchyard::cmd
