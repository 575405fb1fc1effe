// kube-controller-manager's csrapproving and csrsigning controllers
// (pkg/controller/certificates/approver and .../signer) for kubelet client certificates:
//
// - The approver approves a CertificateSigningRequest for signer
//   kubernetes.io/kube-apiserver-client-kubelet that is a node client request (O=[system:nodes],
//   CN=system:node:NAME, no subjectAltNames, usages digital signature + client auth, optionally
//   key encipherment) when a SubjectAccessReview says its requester (spec.username/groups) may
//   create certificatesigningrequests/selfnodeclient (the request is for its own name) or
//   .../nodeclient (a bootstrap token: kubeadm binds that ClusterRole to its token group).
// - The signer issues approved requests of that signer (and kubernetes.io/kube-apiserver-client)
//   with the cluster CA, for min(--cluster-signing-duration, spec.expirationSeconds); a request
//   that breaks its signer's rules gets a Failed condition instead.
//
// Requests are kept as JSON by the API server, so both loops list them every `interval` (the
// approval is seen on the next pass) rather than through a typed informer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "orchestrator/base/error.h"
#include "orchestrator/base/x509_requests.h"
#include "orchestrator/client/api_client.h"

namespace switchyard::controllers {

inline constexpr std::string_view kKubeletClientSignerName = "kubernetes.io/kube-apiserver-client-kubelet";
inline constexpr std::string_view kApiserverClientSignerName = "kubernetes.io/kube-apiserver-client";

// Why a request is not a kubelet client request (ValidateKubeletClientCSR), or "" if it is.
std::string kubelet_client_problem(const CertificateRequestInfo& request, const nlohmann::json& usages);

// The approver's decision for one request: nullopt when it does not apply (not a kubelet client
// request, already approved or denied, the requester lacks the permission); otherwise the
// Approved condition to add. `may_create` answers the SubjectAccessReview for a subresource.
using SubjectAccess = std::function<Result<bool>(const nlohmann::json& csr, const std::string& subresource)>;
Result<std::optional<nlohmann::json>> approval_for(const nlohmann::json& csr, const SubjectAccess& may_create);

struct SigningCa {
  std::string cert_pem, key_pem;
  std::chrono::seconds duration{365 * 24 * 3600};  // --cluster-signing-duration (8760h)
};

// What the signer writes into status: {"certificate": base64} or a Failed condition
// ({"conditions": [...]}); nullopt when the request is not for it or not ready (unapproved,
// denied, failed, already issued).
Result<std::optional<nlohmann::json>> signing_for(const nlohmann::json& csr, const SigningCa& ca);

class CertificateRequestControllers {
 public:
  // `ca` empty: the approver only (no signing key given).
  CertificateRequestControllers(client::ClusterConnection connection, std::optional<SigningCa> ca,
                                std::chrono::milliseconds interval = std::chrono::milliseconds(500));
  ~CertificateRequestControllers();
  CertificateRequestControllers(const CertificateRequestControllers&) = delete;
  CertificateRequestControllers& operator=(const CertificateRequestControllers&) = delete;
  void start();
  void stop();
  // One pass over every request: approve, then sign.
  Result<void> sync_all(client::ApiClient& api);

 private:
  void loop();
  client::ClusterConnection connection_;
  std::optional<SigningCa> ca_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace switchyard::controllers
