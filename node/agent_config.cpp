#include "node/agent_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace switchyard::node {

namespace {

// kube-proxy fields we have no use for (other modes, platforms, logging): accepted and reported.
const std::set<std::string> kIgnoredTopLevel = {"featureGates",
                                                "hostnameOverride",
                                                "iptables",
                                                "ipvs",
                                                "winkernel",
                                                "logging",
                                                "oomScoreAdj",
                                                "portRange",
                                                "configSyncPeriod",
                                                "detectLocalMode",
                                                "detectLocal",
                                                "showHiddenMetricsForVersion",
                                                "enableProfiling",
                                                "windowsRunAsService",
                                                "linux"};

Result<std::chrono::seconds> seconds_field(const YAML::Node& n, const std::string& where) {
  auto d = parse_go_duration(n.as<std::string>());
  if (!d) return fail(with_context(d.error(), where));
  return std::chrono::duration_cast<std::chrono::seconds>(*d);
}

std::vector<std::string> cidr_list(const YAML::Node& n) {
  // clusterCIDR is one string, comma-separated for dual stack; nodePortAddresses a list.
  std::vector<std::string> out;
  auto split = [&](const std::string& s) {
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ','))
      if (!item.empty()) out.push_back(item);
  };
  if (n.IsSequence())
    for (const auto& item : n) split(item.as<std::string>());
  else if (n.IsScalar())
    split(n.as<std::string>());
  return out;
}

}  // namespace

Result<std::chrono::milliseconds> parse_go_duration(std::string_view text) {
  if (text.empty()) return fail(ErrorCode::Invalid, "empty duration");
  if (text == "0") return std::chrono::milliseconds(0);
  double total_ms = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::size_t i = 0;
    while (i < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[i])) || rest[i] == '.')) ++i;
    if (i == 0) return fail(ErrorCode::Invalid, fmt::format("duration \"{}\": expected a number at \"{}\"", text, rest));
    double value = 0;
    if (auto r = std::from_chars(rest.data(), rest.data() + i, value); r.ec != std::errc() || r.ptr != rest.data() + i)
      return fail(ErrorCode::Invalid, fmt::format("duration \"{}\": bad number \"{}\"", text, rest.substr(0, i)));
    rest.remove_prefix(i);
    std::size_t u = 0;
    while (u < rest.size() && std::isalpha(static_cast<unsigned char>(rest[u]))) ++u;
    const std::string_view unit = rest.substr(0, u);
    rest.remove_prefix(u);
    double factor;
    if (unit == "h")
      factor = 3600e3;
    else if (unit == "m")
      factor = 60e3;
    else if (unit == "s")
      factor = 1e3;
    else if (unit == "ms")
      factor = 1;
    else if (unit == "us" || unit == "µs")
      factor = 1e-3;
    else if (unit == "ns")
      factor = 1e-6;
    else
      return fail(ErrorCode::Invalid, fmt::format("duration \"{}\": unknown unit \"{}\" (h, m, s, ms, us, ns)", text, unit));
    total_ms += value * factor;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms + 0.5));
}

Result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text, std::uint16_t default_port) {
  std::string host = text, port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("address \"{}\": missing ']'", text));
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return fail(ErrorCode::Invalid, fmt::format("address \"{}\": expected ':' after ']'", text));
      port = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
  }
  if (host.empty()) host = "0.0.0.0";  // ":10256" as Go's net.Listen reads it
  if (port.empty()) return std::pair{host, default_port};
  unsigned value = 0;
  auto r = std::from_chars(port.data(), port.data() + port.size(), value);
  if (r.ec != std::errc() || r.ptr != port.data() + port.size() || value > 65535)
    return fail(ErrorCode::Invalid, fmt::format("address \"{}\": bad port \"{}\"", text, port));
  return std::pair{host, static_cast<std::uint16_t>(value)};
}

Result<void> parse_kube_proxy_configuration(std::string_view yaml, AgentConfig& c) {
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) return fail(ErrorCode::Invalid, "expected a KubeProxyConfiguration object");
    if (auto kind = root["kind"]; kind && kind.as<std::string>() != "KubeProxyConfiguration")
      return fail(ErrorCode::Invalid, fmt::format("kind \"{}\": expected KubeProxyConfiguration", kind.as<std::string>()));
    if (auto v = root["apiVersion"]; v && v.as<std::string>() != "kubeproxy.config.k8s.io/v1alpha1")
      return fail(ErrorCode::Invalid, fmt::format("apiVersion \"{}\": expected kubeproxy.config.k8s.io/v1alpha1", v.as<std::string>()));
    // Mode-specific sync periods (older files) first; top-level ones (1.31+) win.
    if (auto nft = root["nftables"]; nft && nft.IsMap())
      for (const char* key : {"syncPeriod", "minSyncPeriod"})
        if (nft[key]) {
          auto d = parse_go_duration(nft[key].as<std::string>());
          if (!d) return fail(with_context(d.error(), fmt::format("nftables.{}", key)));
          (std::string_view(key) == "syncPeriod" ? c.sync_period : c.min_sync_period) = *d;
        }
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "apiVersion" || key == "kind" || key == "nftables") continue;
      if (key == "mode") {
        const auto mode = v.as<std::string>();
        if (mode != "nftables" && mode != "ebpf")
          return fail(ErrorCode::Invalid, fmt::format("mode \"{}\": switchyard runs nftables or ebpf", mode));
        c.mode = mode;
      } else if (key == "clusterCIDR") {
        c.cluster_cidrs = cidr_list(v);
      } else if (key == "nodePortAddresses") {
        c.node_port_addresses = cidr_list(v);
      } else if (key == "syncPeriod" || key == "minSyncPeriod") {
        auto d = parse_go_duration(v.as<std::string>());
        if (!d) return fail(with_context(d.error(), key));
        (key == "syncPeriod" ? c.sync_period : c.min_sync_period) = *d;
      } else if (key == "bindAddress") {
        c.bind_address = v.as<std::string>();
      } else if (key == "healthzBindAddress") {
        c.healthz_bind_address = v.as<std::string>();
      } else if (key == "metricsBindAddress") {
        c.metrics_bind_address = v.as<std::string>();
      } else if (key == "clientConnection") {
        if (v["kubeconfig"]) c.kubeconfig = v["kubeconfig"].as<std::string>();
      } else if (key == "conntrack") {
        for (const auto& f : v) {
          const auto name = f.first.as<std::string>();
          const YAML::Node& fv = f.second;
          if (fv.IsNull()) continue;
          std::optional<std::chrono::seconds>* timeout = name == "tcpEstablishedTimeout" ? &c.conntrack.tcp_established_timeout
                                                         : name == "tcpCloseWaitTimeout" ? &c.conntrack.tcp_close_wait_timeout
                                                         : name == "udpTimeout"          ? &c.conntrack.udp_timeout
                                                         : name == "udpStreamTimeout"    ? &c.conntrack.udp_stream_timeout
                                                                                         : nullptr;
          if (timeout) {
            auto d = seconds_field(fv, "conntrack." + name);
            if (!d) return fail(d.error());
            if (d->count() > 0) *timeout = *d;  // 0: leave the kernel's value, as kube-proxy
          } else if (name == "maxPerCore") {
            if (auto v = fv.as<std::int64_t>(); v > 0) c.conntrack.max_per_core = v;
          } else if (name == "min") {
            if (auto v = fv.as<std::int64_t>(); v > 0) c.conntrack.min = v;
          } else if (name == "tcpBeLiberal") {
            c.ignored_fields.push_back("conntrack." + name);
          } else {
            return fail(ErrorCode::Invalid, fmt::format("conntrack.{}: unknown field", name));
          }
        }
      } else if (kIgnoredTopLevel.contains(key)) {
        c.ignored_fields.push_back(key);
      } else {
        return fail(ErrorCode::Invalid, fmt::format("{}: unknown field of KubeProxyConfiguration", key));
      }
    }
  } catch (const YAML::Exception& e) {  // also a scalar where a map was expected, a bad integer
    return fail(ErrorCode::Invalid, std::string("YAML: ") + e.what());
  }
  return {};
}

Result<void> read_kube_proxy_configuration(const std::string& path, AgentConfig& into) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::NotFound, fmt::format("--config {}: cannot read the file", path));
  std::stringstream text;
  text << in.rdbuf();
  if (auto ok = parse_kube_proxy_configuration(text.str(), into); !ok)
    return fail(with_context(ok.error(), fmt::format("--config {}", path)));
  return {};
}

}  // namespace switchyard::node
