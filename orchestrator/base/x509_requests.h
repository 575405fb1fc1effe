// PKCS#10 certificate requests and the client certificates made from them, with OpenSSL: what
// the CertificateSigningRequest API validates, what its signing controller issues, and what a
// joining node (kubelet TLS bootstrap) generates. Also kubeadm's CA pin (--discovery-token-ca-cert-hash).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard {

// What a request asks for.
struct CertificateRequestInfo {
  std::string common_name;
  std::vector<std::string> organizations, dns_names, email_addresses, ip_addresses, uris;
};
// Parses a PEM "CERTIFICATE REQUEST" and checks its self-signature; errors in upstream's words
// ("PEM block type must be CERTIFICATE REQUEST").
Result<CertificateRequestInfo> parse_certificate_request(std::string_view pem);

struct KeyAndRequest {
  std::string key_pem, request_pem;
};
// A new EC P-256 key and a request signed by it for CN=`common_name`, O=`organizations`.
Result<KeyAndRequest> make_key_and_request(const std::string& common_name, const std::vector<std::string>& organizations);

// A client certificate (clientAuth, digitalSignature) for the request's subject and key, issued
// by the CA, valid from 5 minutes ago for `duration_seconds` (capped at the CA's own expiry).
Result<std::string> sign_client_certificate(std::string_view request_pem, std::string_view ca_cert_pem, std::string_view ca_key_pem,
                                            std::int64_t duration_seconds);

// "sha256:<hex>" of the DER SubjectPublicKeyInfo of the first certificate in `cert_pem`, as
// kubeadm pins a CA.
Result<std::string> public_key_pin(std::string_view cert_pem);

// The subject CN and O of the first certificate in `cert_pem`.
Result<CertificateRequestInfo> certificate_subject(std::string_view cert_pem);

}  // namespace switchyard
