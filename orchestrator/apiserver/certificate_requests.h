// certificates.k8s.io/v1 CertificateSigningRequests, as kube-apiserver's registry
// (pkg/registry/certificates/certificates) stores them: on create the requester's identity is
// written into spec.username/uid/groups and status is dropped; a PUT of the object changes
// metadata only; /approval changes only status.conditions (Approved, Denied) and /status only
// status.certificate and the Failed condition. Validation follows
// pkg/apis/certificates/validation: a PEM "CERTIFICATE REQUEST" with a valid signature, a
// qualified signerName, known usages without duplicates, expirationSeconds >= 600, Approved and
// Denied never together and never removed, a certificate only once approved.
//
// The objects are kept as JSON (no typed form in orchestrator/api): reads, lists, watches and
// deletes go through the ObjectRegistry like any other kind; writes come here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/apiserver/authentication.h"
#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/base/x509_requests.h"

namespace switchyard::apiserver {

inline constexpr std::string_view kKubeletClientSigner = "kubernetes.io/kube-apiserver-client-kubelet";
inline constexpr std::string_view kApiserverClientSigner = "kubernetes.io/kube-apiserver-client";

// A CSR's spec.request, base64-decoded ("" if absent or not base64).
std::string csr_request_pem(const Json& csr);
// Whether the CSR carries a condition of `type` with status True.
bool csr_has_condition(const Json& csr, std::string_view type);

class CertificateRequests {
 public:
  explicit CertificateRequests(ObjectRegistry& registry) : registry_(registry) {}
  ApiResult<Json> create(const Json& body, const UserInfo& requester, bool dry_run);
  // subresource "": metadata only; "approval"; "status".
  ApiResult<Json> update(const std::string& name, const Json& body, std::string_view subresource, bool dry_run);

 private:
  ObjectRegistry& registry_;
};

}  // namespace switchyard::apiserver
