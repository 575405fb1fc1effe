#include "orchestrator/client/client_certificates.h"

#include <map>
#include <mutex>

namespace switchyard::client {

namespace {

std::mutex& table_mutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, ClientCertificate>& table() {
  static std::map<std::string, ClientCertificate> certificates;
  return certificates;
}

}  // namespace

void register_client_certificate(const std::string& host, const std::string& port, ClientCertificate certificate) {
  std::lock_guard lock(table_mutex());
  table()[host + " " + port] = std::move(certificate);
}

std::optional<ClientCertificate> client_certificate_for(const std::string& host, const std::string& port) {
  std::lock_guard lock(table_mutex());
  auto it = table().find(host + " " + port);
  if (it == table().end()) return std::nullopt;
  return it->second;
}

}  // namespace switchyard::client
