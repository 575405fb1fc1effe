// Client certificates for API servers (kubeconfig's client-certificate(-data) and
// client-key(-data)): the user is the certificate's CN, its groups its O. A joined node speaks as
// system:node:NAME this way. Every ApiClient made without a bearer token for a server that has
// one registered presents it.
//
// Kept in this process-wide table, keyed by server, rather than as ClusterConnection fields:
// that struct is in nearly every component's headers, and one process has one identity per
// server. (Moving it into ClusterConnection is a mechanical follow-up.)
#pragma once

#include <optional>
#include <string>

namespace switchyard::client {

struct ClientCertificate {
  std::string cert_pem, key_pem;
};

void register_client_certificate(const std::string& host, const std::string& port, ClientCertificate certificate);
std::optional<ClientCertificate> client_certificate_for(const std::string& host, const std::string& port);

}  // namespace switchyard::client
