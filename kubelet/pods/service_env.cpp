#include "kubelet/pods/service_env.h"

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace switchyard::kubelet {

namespace {

constexpr const char* kMasterNamespace = "default";
constexpr const char* kMasterService = "kubernetes";

// makeEnvVariableName: upper case, '-' → '_'.
std::string env_name(const std::string& s) {
  std::string out = s;
  for (auto& c : out) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool has_cluster_ip(const api::Service& s) { return !s.spec.cluster_ip.empty() && s.spec.cluster_ip != "None"; }

}  // namespace

EnvVars service_env_vars(const std::vector<api::Service>& services) {
  std::map<std::string, std::string> vars;
  for (const auto& s : services) {
    if (!has_cluster_ip(s)) continue;
    const std::string name = env_name(s.metadata.name);
    const std::string& ip = s.spec.cluster_ip;
    vars[name + "_SERVICE_HOST"] = ip;
    const auto& ports = s.spec.ports;
    if (ports.empty()) continue;
    vars[name + "_SERVICE_PORT"] = std::to_string(ports[0].port);
    for (const auto& p : ports)
      if (!p.name.empty()) vars[name + "_SERVICE_PORT_" + env_name(p.name)] = std::to_string(p.port);
    // net.JoinHostPort: an IPv6 address in brackets.
    const std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const std::string protocol = ports[i].protocol.empty() ? "TCP" : ports[i].protocol;
      const std::string prefix = fmt::format("{}_PORT_{}_{}", name, ports[i].port, protocol);
      const std::string url = fmt::format("{}://{}:{}", lower(protocol), host, ports[i].port);
      if (i == 0) vars[name + "_PORT"] = url;
      vars[prefix] = url;
      vars[prefix + "_PROTO"] = lower(protocol);
      vars[prefix + "_PORT"] = std::to_string(ports[i].port);
      vars[prefix + "_ADDR"] = ip;
    }
  }
  return EnvVars(vars.begin(), vars.end());
}

Result<EnvVars> pod_service_env(const api::Pod& pod, const ConfigLookup& lookup) {
  bool links = true;
  if (auto it = pod.spec.passthrough.find("enableServiceLinks"); it != pod.spec.passthrough.end()) links = it->second != "false";
  std::map<std::string, api::Service> chosen;  // by name: the pod's namespace wins over `default`
  auto master = lookup.services(kMasterNamespace);
  if (!master) return fail(master.error());
  for (auto& s : *master)
    if (s.metadata.name == kMasterService) chosen[s.metadata.name] = std::move(s);
  if (links) {
    auto own = lookup.services(pod.metadata.namespace_);
    if (!own) return fail(own.error());
    for (auto& s : *own)
      if (pod.metadata.namespace_ != kMasterNamespace || s.metadata.name != kMasterService) chosen[s.metadata.name] = std::move(s);
  }
  std::vector<api::Service> services;
  for (auto& [_, s] : chosen) services.push_back(std::move(s));
  return service_env_vars(services);
}

}  // namespace switchyard::kubelet
