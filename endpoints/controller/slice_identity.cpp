#include "endpoints/controller/slice_identity.h"

#include <algorithm>

namespace switchyard::slice_controller {
namespace {

// Fields are joined with separators that cannot occur in the values they separate
// (IP addresses, DNS names, port names, protocols).
constexpr char kField = '\x1f';
constexpr char kItem = '\x1e';

api::ObjectReference without_resource_version(api::ObjectReference r) {
  r.resource_version.clear();
  return r;
}

}  // namespace

std::string endpoint_identity(const api::SliceEndpoint& ep) {
  std::vector<std::string> addresses = ep.addresses;
  std::sort(addresses.begin(), addresses.end());
  std::string key;
  for (const auto& a : addresses) key += a + kItem;
  key += kField;
  key += ep.hostname.value_or("");
  key += kField;
  if (ep.target_ref) key += ep.target_ref->namespace_ + kField + ep.target_ref->name;
  return key;
}

bool same_beyond_identity(const api::SliceEndpoint& a, const api::SliceEndpoint& b) {
  if (a.node_name != b.node_name || a.zone != b.zone || a.conditions != b.conditions) return false;
  if (a.target_ref.has_value() != b.target_ref.has_value()) return false;
  return !a.target_ref || without_resource_version(*a.target_ref) == without_resource_version(*b.target_ref);
}

std::string port_set_key(const std::vector<api::SlicePort>& ports) {
  std::vector<std::string> items;
  items.reserve(ports.size());
  for (const auto& p : ports) {
    std::string item = p.name.value_or("");
    item += kField;
    item += p.protocol.value_or("TCP");
    item += kField;
    item += p.port ? std::to_string(*p.port) : "-";
    item += kField;
    item += p.app_protocol ? "=" + *p.app_protocol : "-";
    items.push_back(std::move(item));
  }
  std::sort(items.begin(), items.end());
  std::string key;
  for (const auto& item : items) key += item + kItem;
  return key;
}

}  // namespace switchyard::slice_controller
