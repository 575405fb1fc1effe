#include "kubelet/pods/pod_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "kubelet/pods/service_env.h"

namespace switchyard::kubelet {

using nlohmann::json;

json passthrough_field(const api::Passthrough& passthrough, const std::string& field) {
  auto it = passthrough.find(field);
  if (it == passthrough.end()) return nullptr;
  json parsed = json::parse(it->second, nullptr, false);
  return parsed.is_discarded() ? json(nullptr) : parsed;
}

namespace {

// The number and its multiplier: "1.5Gi" → 1.5 × 2^30. Nothing for malformed text.
std::optional<long double> parse_quantity(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::size_t end = 0;
  while (end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.' || text[end] == '+' || (text[end] == '-' && end == 0)))
    ++end;
  if (end == 0) return std::nullopt;
  long double value = 0;
  try {
    value = std::stold(text.substr(0, end));
  } catch (...) {
    return std::nullopt;
  }
  const std::string suffix = text.substr(end);
  static const std::map<std::string, long double> multipliers = {{"", 1},
                                                                 {"m", 1e-3},
                                                                 {"k", 1e3},
                                                                 {"M", 1e6},
                                                                 {"G", 1e9},
                                                                 {"T", 1e12},
                                                                 {"P", 1e15},
                                                                 {"E", 1e18},
                                                                 {"Ki", 1024.0L},
                                                                 {"Mi", 1048576.0L},
                                                                 {"Gi", 1073741824.0L},
                                                                 {"Ti", 1099511627776.0L},
                                                                 {"Pi", 1125899906842624.0L},
                                                                 {"Ei", 1152921504606846976.0L}};
  if (auto it = multipliers.find(suffix); it != multipliers.end()) return value * it->second;
  if (!suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E')) {
    try {
      return value * std::pow(10.0L, std::stoi(suffix.substr(1)));
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string quantity_of(const json& resources, const char* kind, const char* name) {
  if (!resources.is_object() || !resources.contains(kind) || !resources[kind].is_object()) return "";
  const json& v = resources[kind].value(name, json());
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  return "";
}

json container_resources(const api::Container& c) { return passthrough_field(c.passthrough, "resources"); }

std::vector<std::string> split_words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

cri::DnsConfig host_dns(const NodeSettings& node) {
  cri::DnsConfig dns;
  std::ifstream in(node.resolv_conf);
  for (std::string line; std::getline(in, line);) {
    auto words = split_words(line);
    if (words.empty() || words[0][0] == '#' || words[0][0] == ';') continue;
    if (words[0] == "nameserver" && words.size() > 1) dns.servers.push_back(words[1]);
    if (words[0] == "search" || words[0] == "domain") dns.searches.assign(words.begin() + 1, words.end());
    if (words[0] == "options") dns.options.insert(dns.options.end(), words.begin() + 1, words.end());
  }
  return dns;
}

// $(VAR) expands to VAR's value when VAR is known; $$ is a literal $ (kubelet's expansion rules).
std::string expand(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] == '(') {
      auto close = text.find(')', i + 2);
      if (close != std::string::npos) {
        auto name = text.substr(i + 2, close - i - 2);
        if (auto it = vars.find(name); it != vars.end()) {
          out += it->second;
          i = close;
          continue;
        }
        out += text.substr(i, close - i + 1);
        i = close;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// metadata.labels['key'] → the key.
std::optional<std::string> bracket_key(const std::string& path, const std::string& prefix) {
  if (!path.starts_with(prefix + "['") || !path.ends_with("']")) return std::nullopt;
  return path.substr(prefix.size() + 2, path.size() - prefix.size() - 4);
}

Result<std::string> field_ref(const api::Pod& pod, const std::string& path, const RuntimeFacts& facts, const NodeSettings& node) {
  const auto& m = pod.metadata;
  if (path == "metadata.name") return m.name;
  if (path == "metadata.namespace") return m.namespace_;
  if (path == "metadata.uid") return m.uid;
  if (path == "spec.nodeName") return pod.spec.node_name.empty() ? node.node_name : pod.spec.node_name;
  if (path == "spec.serviceAccountName") return pod.spec.service_account_name;
  if (path == "status.hostIP" || path == "status.hostIPs") return node.node_ip;
  if (path == "status.podIP") return pod.spec.host_network ? node.node_ip : facts.pod_ip;
  if (path == "status.podIPs") {
    if (pod.spec.host_network) return node.node_ip;
    std::string joined;
    for (const auto& ip : facts.pod_ips) joined += (joined.empty() ? "" : ",") + ip;
    return joined.empty() ? facts.pod_ip : joined;
  }
  if (auto key = bracket_key(path, "metadata.labels")) return m.labels.contains(*key) ? m.labels.at(*key) : "";
  if (auto key = bracket_key(path, "metadata.annotations")) return m.annotations.contains(*key) ? m.annotations.at(*key) : "";
  return fail(ErrorCode::Invalid, fmt::format("unsupported fieldRef fieldPath \"{}\"", path));
}

// Kubelet's rounding: the value divided by the divisor, rounded up, at least 1 for a non-zero value.
Result<std::string> resource_ref(const api::Pod& pod, const api::Container& self, const json& ref, const NodeSettings& node) {
  const std::string resource = ref.value("resource", "");
  const std::string name = ref.value("containerName", "");
  const api::Container* c = &self;
  if (!name.empty()) {
    c = nullptr;
    for (const auto& x : pod.spec.containers)
      if (x.name == name) c = &x;
    for (const auto& x : pod.spec.init_containers)
      if (x.name == name) c = &x;
    if (!c) return fail(ErrorCode::Invalid, fmt::format("resourceFieldRef: no container named \"{}\"", name));
  }
  const json res = container_resources(*c);
  auto dot = resource.find('.');
  if (dot == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("unsupported resourceFieldRef resource \"{}\"", resource));
  std::string kind = resource.substr(0, dot), what = resource.substr(dot + 1);
  std::string text = quantity_of(res, kind.c_str(), what.c_str());
  if (text.empty() && kind == "requests") text = quantity_of(res, "limits", what.c_str());
  long double value = 0;
  if (!text.empty()) {
    auto q = parse_quantity(text);
    if (!q) return fail(ErrorCode::Invalid, fmt::format("resourceFieldRef {}: quantity \"{}\"", resource, text));
    value = *q;
  } else if (kind == "limits") {  // an unset limit is the node's allocatable
    value = what == "cpu" ? node.node_cpu_millis / 1000.0L : static_cast<long double>(node.node_memory_bytes);
  }
  long double divisor = 1;
  if (ref.contains("divisor")) {
    const json& d = ref["divisor"];
    auto q = parse_quantity(d.is_string() ? d.get<std::string>() : d.dump());
    if (!q || *q <= 0) return fail(ErrorCode::Invalid, fmt::format("resourceFieldRef {}: bad divisor", resource));
    divisor = *q;
  }
  long double n = std::ceil(value / divisor - 1e-12L);
  if (value > 0 && n < 1) n = 1;
  return fmt::format("{}", static_cast<std::int64_t>(n));
}

std::optional<std::int64_t> int_field(const json& object, const char* name) {
  if (object.is_object() && object.contains(name) && object[name].is_number_integer()) return object[name].get<std::int64_t>();
  return std::nullopt;
}

std::optional<bool> bool_field(const json& object, const char* name) {
  if (object.is_object() && object.contains(name) && object[name].is_boolean()) return object[name].get<bool>();
  return std::nullopt;
}

std::int64_t node_memory(const NodeSettings& node) {
  if (node.node_memory_bytes > 0) return node.node_memory_bytes;
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::int64_t kb = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") return kb * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

// A configMapKeyRef or secretKeyRef: the value, nullopt when optional and missing, or the
// kubelet's error (CreateContainerConfigError).
Result<std::optional<std::string>> key_ref(const api::Pod& pod, const json& ref, bool secret, const RuntimeFacts& facts) {
  const std::string name = ref.value("name", ""), key = ref.value("key", "");
  const bool optional = ref.value("optional", false);
  const auto& ns = pod.metadata.namespace_;
  std::optional<std::map<std::string, std::string>> bytes;
  if (facts.config) {
    if (secret) {
      auto s = facts.config->secret(ns, name);
      if (!s) return fail(s.error());
      if (*s) bytes = secret_bytes(**s);
    } else {
      auto cm = facts.config->config_map(ns, name);
      if (!cm) return fail(cm.error());
      if (*cm) bytes = config_map_bytes(**cm);
    }
  }
  if (!bytes) {
    if (optional) return std::optional<std::string>();
    return fail(ErrorCode::Invalid, fmt::format("{} \"{}\" not found", secret ? "secret" : "configmap", name));
  }
  auto it = bytes->find(key);
  if (it == bytes->end()) {
    if (optional) return std::optional<std::string>();
    return fail(ErrorCode::Invalid, fmt::format("couldn't find key {} in {} {}/{}", key, secret ? "Secret" : "ConfigMap", ns, name));
  }
  return std::optional<std::string>(it->second);
}

// One envFrom entry: its object's keys, prefixed; keys that cannot be variable names are skipped.
Result<std::vector<std::pair<std::string, std::string>>> env_from_source(const api::Pod& pod, const json& source,
                                                                         const RuntimeFacts& facts) {
  std::vector<std::pair<std::string, std::string>> out;
  const bool secret = source.contains("secretRef");
  const json ref = secret ? source["secretRef"] : source.value("configMapRef", json::object());
  const std::string name = ref.value("name", ""), prefix = source.value("prefix", "");
  std::optional<std::map<std::string, std::string>> bytes;
  if (facts.config) {
    if (secret) {
      auto s = facts.config->secret(pod.metadata.namespace_, name);
      if (!s) return fail(s.error());
      if (*s) bytes = secret_bytes(**s);
    } else {
      auto cm = facts.config->config_map(pod.metadata.namespace_, name);
      if (!cm) return fail(cm.error());
      if (*cm) bytes = config_map_bytes(**cm);
    }
  }
  if (!bytes) {
    if (ref.value("optional", false)) return out;
    return fail(ErrorCode::Invalid, fmt::format("{} \"{}\" not found", secret ? "secret" : "configmap", name));
  }
  for (const auto& [key, value] : *bytes) {
    const std::string var = prefix + key;
    if (var.empty() || var.find('=') != std::string::npos) continue;
    out.emplace_back(var, value);
  }
  return out;
}

// volumeMounts -> CRI mounts over the prepared volumes; subPath stays inside its volume.
Result<> add_volume_mounts(const api::Container& container, const RuntimeFacts& facts, std::vector<cri::Mount>& mounts) {
  const json vms = passthrough_field(container.passthrough, "volumeMounts");
  if (!vms.is_array()) return {};
  for (const auto& vm : vms) {
    const std::string name = vm.value("name", "");
    auto it = facts.volumes.find(name);
    if (it == facts.volumes.end())
      return fail(ErrorCode::Invalid, fmt::format("cannot find volume \"{}\" to mount into container \"{}\"", name, container.name));
    std::string host = it->second.host_path;
    const std::string sub = vm.value("subPath", "");
    if (!sub.empty()) {
      if (sub.front() == '/' || sub == ".." || sub.starts_with("../") || sub.find("/../") != std::string::npos || sub.ends_with("/.."))
        return fail(ErrorCode::Invalid, fmt::format("subPath \"{}\" of volume \"{}\" must be a relative path inside it", sub, name));
      host += "/" + sub;
    }
    const std::string propagation = vm.value("mountPropagation", "");
    mounts.push_back({.container_path = vm.value("mountPath", ""),
                      .host_path = host,
                      .readonly = it->second.read_only || vm.value("readOnly", false),
                      .selinux_relabel = false,
                      .propagation = propagation == "Bidirectional"     ? cri::MountPropagation::Bidirectional
                                     : propagation == "HostToContainer" ? cri::MountPropagation::HostToContainer
                                                                        : cri::MountPropagation::Private});
  }
  return {};
}

}  // namespace

Result<std::string> pod_field_value(const api::Pod& pod, const std::string& path, const RuntimeFacts& facts, const NodeSettings& node) {
  return field_ref(pod, path, facts, node);
}

Result<std::string> container_resource_value(const api::Pod& pod, const std::string& container_name, const json& ref,
                                             const NodeSettings& node) {
  const api::Container* self = pod.spec.containers.empty() ? nullptr : &pod.spec.containers.front();
  if (!self) return fail(ErrorCode::Invalid, "resourceFieldRef: the pod has no containers");
  json named = ref;
  named["containerName"] = container_name;
  return resource_ref(pod, *self, container_name.empty() ? ref : named, node);
}

std::optional<std::int64_t> parse_cpu_millis(const std::string& quantity) {
  auto q = parse_quantity(quantity);
  if (!q || *q < 0) return std::nullopt;
  return static_cast<std::int64_t>(std::ceil(*q * 1000 - 1e-9L));
}

std::optional<std::int64_t> parse_bytes(const std::string& quantity) {
  auto q = parse_quantity(quantity);
  if (!q || *q < 0) return std::nullopt;
  return static_cast<std::int64_t>(std::ceil(*q - 1e-9L));
}

std::string qos_class(const api::Pod& pod) {
  bool any = false, guaranteed = true;
  auto visit = [&](const api::Container& c) {
    const json res = container_resources(c);
    for (const char* name : {"cpu", "memory"}) {
      std::string req = quantity_of(res, "requests", name), lim = quantity_of(res, "limits", name);
      if (!req.empty() || !lim.empty()) any = true;
      if (lim.empty()) {
        guaranteed = false;
        continue;
      }
      if (!req.empty()) {
        auto a = parse_quantity(req), b = parse_quantity(lim);
        if (!a || !b || *a != *b) guaranteed = false;
      }
    }
  };
  for (const auto& c : pod.spec.init_containers) visit(c);
  for (const auto& c : pod.spec.containers) visit(c);
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

std::string pod_log_directory(const api::Pod& pod, const NodeSettings& node) {
  return fmt::format("{}/pods/{}_{}_{}", node.root_dir, pod.metadata.namespace_, pod.metadata.name, pod.metadata.uid);
}

std::string pod_full_name(const api::Pod& pod) { return pod.metadata.name + "_" + pod.metadata.namespace_; }

Result<std::optional<cri::DnsConfig>> pod_dns_config(const api::Pod& pod, const NodeSettings& node) {
  std::string policy = pod.spec.dns_policy.empty() ? "ClusterFirst" : pod.spec.dns_policy;
  cri::DnsConfig dns;
  bool cluster = (policy == "ClusterFirst" && !pod.spec.host_network) || policy == "ClusterFirstWithHostNet";
  if (cluster && node.cluster_dns.empty()) cluster = false;  // no cluster DNS configured: the node's resolvers
  if (policy == "None") {
  } else if (cluster) {
    const std::string& d = node.cluster_domain;
    dns.servers = {node.cluster_dns};
    dns.searches = {pod.metadata.namespace_ + ".svc." + d, "svc." + d, d};
    dns.options = {"ndots:5"};
  } else if (policy == "Default" || policy == "ClusterFirst" || policy == "ClusterFirstWithHostNet") {
    if (pod.spec.host_network && policy != "ClusterFirstWithHostNet" && policy != "None" && !pod.spec.passthrough.contains("dnsConfig"))
      return std::optional<cri::DnsConfig>{};  // the host's own /etc/resolv.conf, untouched
    dns = host_dns(node);
  } else {
    return fail(ErrorCode::Invalid, fmt::format("unsupported dnsPolicy \"{}\"", policy));
  }
  const json extra = passthrough_field(pod.spec.passthrough, "dnsConfig");
  if (extra.is_object()) {
    for (const auto& s : extra.value("nameservers", json::array()))
      if (s.is_string()) dns.servers.push_back(s.get<std::string>());
    for (const auto& s : extra.value("searches", json::array()))
      if (s.is_string() && std::ranges::find(dns.searches, s.get<std::string>()) == dns.searches.end())
        dns.searches.push_back(s.get<std::string>());
    for (const auto& o : extra.value("options", json::array())) {
      if (!o.is_object() || !o.contains("name")) continue;
      std::string name = o.value("name", "");
      std::string text = o.contains("value") && o["value"].is_string() ? name + ":" + o["value"].get<std::string>() : name;
      std::erase_if(dns.options, [&](const std::string& x) { return x == name || x.starts_with(name + ":"); });
      dns.options.push_back(text);
    }
  }
  if (dns.servers.size() > 3) dns.servers.resize(3);  // the resolver reads three
  return std::optional<cri::DnsConfig>{dns};
}

Result<cri::PodSandboxConfig> make_sandbox_config(const api::Pod& pod, const NodeSettings& node, std::uint32_t attempt) {
  cri::PodSandboxConfig c;
  c.metadata = {.name = pod.metadata.name, .uid = pod.metadata.uid, .namespace_ = pod.metadata.namespace_, .attempt = attempt};
  // As kubelet: a host-network pod keeps the node's UTS namespace, so no hostname of its own
  // (runc refuses to set one without a private UTS namespace).
  if (!pod.spec.host_network) c.hostname = pod.spec.hostname.empty() ? pod.metadata.name : pod.spec.hostname;
  if (c.hostname.size() > 63) c.hostname.resize(63);
  while (!c.hostname.empty() && (c.hostname.back() == '-' || c.hostname.back() == '.')) c.hostname.pop_back();
  c.log_directory = pod_log_directory(pod, node);
  auto dns = pod_dns_config(pod, node);
  if (!dns) return fail(dns.error());
  c.dns_config = *dns;
  for (const auto& container : pod.spec.containers)
    for (const auto& p : container.ports)
      if (p.host_port > 0)
        c.port_mappings.push_back({.protocol = p.protocol == "UDP" ? cri::Protocol::Udp : cri::Protocol::Tcp,
                                   .container_port = p.container_port,
                                   .host_port = p.host_port,
                                   .host_ip = p.host_ip});
  c.labels = pod.metadata.labels;
  c.labels[kPodUidLabel] = pod.metadata.uid;
  c.labels[kPodNameLabel] = pod.metadata.name;
  c.labels[kPodNamespaceLabel] = pod.metadata.namespace_;
  c.annotations = pod.metadata.annotations;
  if (pod.spec.host_network) c.namespace_options.network = cri::NamespaceMode::Node;
  const json sc = passthrough_field(pod.spec.passthrough, "securityContext");
  c.run_as_user = int_field(sc, "runAsUser");
  c.run_as_group = int_field(sc, "runAsGroup");
  if (sc.is_object())
    for (const auto& g : sc.value("supplementalGroups", json::array()))
      if (g.is_number_integer()) c.supplemental_groups.push_back(g.get<std::int64_t>());
  if (auto fs_group = int_field(sc, "fsGroup")) c.supplemental_groups.push_back(*fs_group);
  // containerd refuses a privileged container in a sandbox that is not.
  auto privileged = [](const api::Container& x) {
    return bool_field(passthrough_field(x.passthrough, "securityContext"), "privileged").value_or(false);
  };
  for (const auto& x : pod.spec.containers) c.privileged = c.privileged || privileged(x);
  for (const auto& x : pod.spec.init_containers) c.privileged = c.privileged || privileged(x);
  return c;
}

Result<cri::ContainerConfig> make_container_config(const api::Pod& pod, const api::Container& container, std::int32_t restart_count,
                                                   const RuntimeFacts& facts, const NodeSettings& node) {
  cri::ContainerConfig c;
  c.metadata = {.name = container.name, .attempt = static_cast<std::uint32_t>(restart_count)};
  c.image = container.image;
  c.working_dir = container.working_dir;
  c.log_path = fmt::format("{}/{}.log", container.name, restart_count);

  // env in order: each value may refer to those before it (and to the service variables); then
  // command and args to all of them.
  std::map<std::string, std::string> vars;
  EnvVars service_vars;
  if (facts.config) {
    auto found = pod_service_env(pod, *facts.config);
    if (!found) return fail(found.error());
    service_vars = std::move(*found);
  }
  for (const auto& [name, value] : service_vars) vars[name] = value;
  // envFrom first: every key of each ConfigMap or Secret (with its prefix); env then overrides.
  const json env_from = passthrough_field(container.passthrough, "envFrom");
  if (env_from.is_array()) {
    for (const auto& source : env_from) {
      auto values = env_from_source(pod, source, facts);
      if (!values) return fail(values.error());
      for (auto& [name, value] : *values) {
        vars[name] = value;
        std::erase_if(c.envs, [&](const auto& kv) { return kv.first == name; });
        c.envs.emplace_back(name, std::move(value));
      }
    }
  }
  const json env = passthrough_field(container.passthrough, "env");
  if (env.is_array()) {
    for (const auto& e : env) {
      const std::string name = e.value("name", "");
      std::string value;
      if (e.contains("value") && e["value"].is_string()) {
        value = expand(e["value"].get<std::string>(), vars);
      } else if (e.contains("valueFrom") && e["valueFrom"].is_object()) {
        const json& from = e["valueFrom"];
        if (from.contains("fieldRef")) {
          auto v = field_ref(pod, from["fieldRef"].value("fieldPath", ""), facts, node);
          if (!v) return fail(ErrorCode::Invalid, fmt::format("env {}: {}", name, v.error().message));
          value = *v;
        } else if (from.contains("resourceFieldRef")) {
          auto v = resource_ref(pod, container, from["resourceFieldRef"], node);
          if (!v) return fail(ErrorCode::Invalid, fmt::format("env {}: {}", name, v.error().message));
          value = *v;
        } else if (from.contains("secretKeyRef") || from.contains("configMapKeyRef")) {
          const bool secret = from.contains("secretKeyRef");
          auto v = key_ref(pod, secret ? from["secretKeyRef"] : from["configMapKeyRef"], secret, facts);
          if (!v) return fail(v.error());
          if (!*v) continue;  // optional, and not there
          value = **v;
        }
      }
      vars[name] = value;
      std::erase_if(c.envs, [&](const auto& kv) { return kv.first == name; });
      c.envs.emplace_back(name, value);
    }
  }
  // The service variables come after the container's own, which win over them.
  for (const auto& [name, value] : service_vars)
    if (std::ranges::none_of(c.envs, [&](const auto& kv) { return kv.first == name; })) c.envs.emplace_back(name, value);
  for (const auto& s : container.command) c.command.push_back(expand(s, vars));
  for (const auto& s : container.args) c.args.push_back(expand(s, vars));

  c.labels = {{kPodUidLabel, pod.metadata.uid},
              {kPodNameLabel, pod.metadata.name},
              {kPodNamespaceLabel, pod.metadata.namespace_},
              {kContainerNameLabel, container.name}};
  std::string message_path = "/dev/termination-log";
  if (auto it = container.passthrough.find("terminationMessagePath"); it != container.passthrough.end()) {
    json p = json::parse(it->second, nullptr, false);
    if (p.is_string() && !p.get<std::string>().empty()) message_path = p.get<std::string>();
  }
  json policy = passthrough_field(container.passthrough, "terminationMessagePolicy");
  c.annotations = {{kRestartCountAnnotation, std::to_string(restart_count)},
                   {kContainerHashAnnotation, container_hash(container)},
                   {kTerminationMessageAnnotation, message_path},
                   {kTerminationPolicyAnnotation, policy.is_string() ? policy.get<std::string>() : "File"},
                   {kGraceAnnotation, std::to_string(termination_grace(pod).count())}};
  // The message file: a host file bind-mounted at terminationMessagePath (created by the caller).
  c.mounts.push_back({.container_path = message_path,
                      .host_path = fmt::format("{}/{}/{}.termination-log", pod_log_directory(pod, node), container.name, restart_count),
                      .readonly = false,
                      .selinux_relabel = false,
                      .propagation = cri::MountPropagation::Private});
  if (auto mounted = add_volume_mounts(container, facts, c.mounts); !mounted) return fail(mounted.error());

  // securityContext: the container's fields over the pod's.
  const json pod_sc = passthrough_field(pod.spec.passthrough, "securityContext");
  const json sc = passthrough_field(container.passthrough, "securityContext");
  c.run_as_user = int_field(sc, "runAsUser");
  if (!c.run_as_user) c.run_as_user = int_field(pod_sc, "runAsUser");
  c.run_as_group = int_field(sc, "runAsGroup");
  if (!c.run_as_group) c.run_as_group = int_field(pod_sc, "runAsGroup");
  // The process's own groups: the pod's supplementalGroups and its fsGroup (the volumes' group),
  // as the kubelet's determineEffectiveSecurityContext gives every container.
  if (pod_sc.is_object())
    for (const auto& g : pod_sc.value("supplementalGroups", json::array()))
      if (g.is_number_integer()) c.supplemental_groups.push_back(g.get<std::int64_t>());
  if (auto fs_group = int_field(pod_sc, "fsGroup")) c.supplemental_groups.push_back(*fs_group);
  c.privileged = bool_field(sc, "privileged").value_or(false);
  c.readonly_rootfs = bool_field(sc, "readOnlyRootFilesystem").value_or(false);
  c.no_new_privs = !bool_field(sc, "allowPrivilegeEscalation").value_or(true);
  if (sc.is_object() && sc.contains("capabilities") && sc["capabilities"].is_object()) {
    for (const auto& cap : sc["capabilities"].value("add", json::array()))
      if (cap.is_string()) c.add_capabilities.push_back(cap.get<std::string>());
    for (const auto& cap : sc["capabilities"].value("drop", json::array()))
      if (cap.is_string()) c.drop_capabilities.push_back(cap.get<std::string>());
  }
  if (pod.spec.host_network) c.namespace_options.network = cri::NamespaceMode::Node;

  // requests and limits → cgroup settings, as kubelet computes them.
  const json res = container_resources(container);
  cri::LinuxResources lr;
  std::string cpu_request = quantity_of(res, "requests", "cpu"), cpu_limit = quantity_of(res, "limits", "cpu");
  if (cpu_request.empty()) cpu_request = cpu_limit;
  if (!cpu_request.empty()) {
    auto m = parse_cpu_millis(cpu_request);
    if (!m) return fail(ErrorCode::Invalid, fmt::format("resources: cpu quantity \"{}\"", cpu_request));
    lr.cpu_shares = std::max<std::int64_t>(2, *m * 1024 / 1000);
  } else {
    lr.cpu_shares = 2;
  }
  if (!cpu_limit.empty()) {
    auto m = parse_cpu_millis(cpu_limit);
    if (!m) return fail(ErrorCode::Invalid, fmt::format("resources: cpu quantity \"{}\"", cpu_limit));
    lr.cpu_period = 100000;
    lr.cpu_quota = std::max<std::int64_t>(1000, *m * 100000 / 1000);
  }
  std::string mem_limit = quantity_of(res, "limits", "memory"), mem_request = quantity_of(res, "requests", "memory");
  if (!mem_limit.empty()) {
    auto b = parse_bytes(mem_limit);
    if (!b) return fail(ErrorCode::Invalid, fmt::format("resources: memory quantity \"{}\"", mem_limit));
    lr.memory_limit_in_bytes = *b;
  }
  const std::string qos = qos_class(pod);
  if (qos == "Guaranteed") {
    lr.oom_score_adj = -997;
  } else if (qos == "BestEffort") {
    lr.oom_score_adj = 1000;
  } else {
    if (mem_request.empty()) mem_request = mem_limit;
    std::int64_t request = mem_request.empty() ? 0 : parse_bytes(mem_request).value_or(0);
    std::int64_t capacity = node_memory(node);
    std::int64_t adj = capacity > 0 ? 1000 - (1000 * request) / capacity : 1000;
    lr.oom_score_adj = std::clamp<std::int64_t>(adj, 2, 999);
  }
  c.resources = lr;
  return c;
}

std::string container_hash(const api::Container& container) {
  // FNV-1a over the fields that define what runs: stable across kubelet restarts.
  std::string text = container.name + '\0' + container.image + '\0' + container.working_dir;
  for (const auto& s : container.command) text += '\0' + s;
  text += '\1';
  for (const auto& s : container.args) text += '\0' + s;
  for (const char* field : {"env", "resources", "securityContext", "volumeMounts"})
    if (auto it = container.passthrough.find(field); it != container.passthrough.end()) text += std::string("\2") + field + it->second;
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ULL;
  return fmt::format("{:x}", h);
}

std::chrono::seconds termination_grace(const api::Pod& pod) {
  if (pod.metadata.deletion_grace_period_seconds)
    return std::chrono::seconds(std::max<std::int64_t>(0, *pod.metadata.deletion_grace_period_seconds));
  if (pod.spec.termination_grace_period_seconds)
    return std::chrono::seconds(std::max<std::int64_t>(0, *pod.spec.termination_grace_period_seconds));
  return std::chrono::seconds(30);
}

}  // namespace switchyard::kubelet
