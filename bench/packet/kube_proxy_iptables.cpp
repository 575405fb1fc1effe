#include "bench/packet/kube_proxy_iptables.h"

#include <openssl/sha.h>

#include <cstdio>
#include <set>

namespace switchyard::bench {
namespace {

std::string base32(const unsigned char* data, std::size_t size) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  return out;
}

std::string port_name(const KubeProxyServicePort& p) { return p.namespace_ + "/" + p.name + ":" + p.port_name; }
std::string endpoint_string(const KubeProxyEndpoint& e) { return e.ip + ":" + std::to_string(e.port); }

std::string match(const KubeProxyServicePort& p) { return "-m " + p.protocol + " -p " + p.protocol; }

const std::string kMasqMark = "0x4000";

void declare(std::string& out, const std::string& chain) { out += ":" + chain + " - [0:0]\n"; }

void services_rules(std::string& out, const std::vector<KubeProxyServicePort>& ports) {
  for (const auto& p : ports)
    out += "-A KUBE-SERVICES -m comment --comment \"" + port_name(p) + " cluster IP\" " + match(p) + " -d " + p.cluster_ip +
           "/32 --dport " + std::to_string(p.port) + " -j " + kube_chain("KUBE-SVC-", p) + "\n";
  out +=
      "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this "
      "chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n";
}

void node_ports_rules(std::string& out, const std::vector<KubeProxyServicePort>& ports) {
  for (const auto& p : ports)
    if (p.node_port != 0)
      out += "-A KUBE-NODEPORTS -m comment --comment " + port_name(p) + " " + match(p) + " --dport " + std::to_string(p.node_port) +
             " -j " + kube_chain("KUBE-EXT-", p) + "\n";
}

// KUBE-SVC (and KUBE-EXT) of one port: declarations go to `chains`, rules to `rules`.
void service_chains(std::string& chains, std::string& rules, const KubeProxyServicePort& p, const std::string& cluster_cidr) {
  const std::string svc = kube_chain("KUBE-SVC-", p);
  declare(chains, svc);
  rules += "-A " + svc + " -m comment --comment \"" + port_name(p) + " cluster IP\" " + match(p) + " -d " + p.cluster_ip + "/32 --dport " +
           std::to_string(p.port) + " ! -s " + cluster_cidr + " -j KUBE-MARK-MASQ\n";
  const std::size_t n = p.endpoints.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::string sep = kube_chain("KUBE-SEP-", p, endpoint_string(p.endpoints[i]));
    rules += "-A " + svc + " -m comment --comment \"" + port_name(p) + " -> " + endpoint_string(p.endpoints[i]) + "\"";
    if (i + 1 < n) {
      char probability[32];
      std::snprintf(probability, sizeof probability, "%0.10f", 1.0 / static_cast<double>(n - i));
      rules += std::string(" -m statistic --mode random --probability ") + probability;
    }
    rules += " -j " + sep + "\n";
  }
  for (const auto& e : p.endpoints) {
    const std::string sep = kube_chain("KUBE-SEP-", p, endpoint_string(e));
    declare(chains, sep);
    rules += "-A " + sep + " -m comment --comment " + port_name(p) + " -s " + e.ip + "/32 -j KUBE-MARK-MASQ\n";
    rules +=
        "-A " + sep + " -m comment --comment " + port_name(p) + " " + match(p) + " -j DNAT --to-destination " + endpoint_string(e) + "\n";
  }
  if (p.node_port != 0) {
    const std::string ext = kube_chain("KUBE-EXT-", p);
    declare(chains, ext);
    rules +=
        "-A " + ext + " -m comment --comment \"masquerade traffic for " + port_name(p) + " external destinations\" -j KUBE-MARK-MASQ\n";
    rules += "-A " + ext + " -j " + svc + "\n";
  }
}

void top_level_nat(std::string& chains, std::string& rules, const std::vector<KubeProxyServicePort>& ports) {
  for (const char* c : {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"}) declare(chains, c);
  services_rules(rules, ports);
  node_ports_rules(rules, ports);
  rules += "-A KUBE-POSTROUTING -m mark ! --mark " + kMasqMark + "/" + kMasqMark + " -j RETURN\n";
  rules += "-A KUBE-POSTROUTING -j MARK --xor-mark " + kMasqMark + "\n";
  rules += "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n";
  rules += "-A KUBE-MARK-MASQ -j MARK --or-mark " + kMasqMark + "\n";
}

std::string filter_table() {
  std::string out = "*filter\n";
  for (const char* c : {"KUBE-FORWARD", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"})
    declare(out, c);
  out += "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n";
  out +=
      "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark " + kMasqMark + "/" + kMasqMark + " -j ACCEPT\n";
  out +=
      "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate "
      "RELATED,ESTABLISHED -j ACCEPT\n";
  out += "COMMIT\n";
  return out;
}

}  // namespace

std::string kube_chain(const std::string& prefix, const KubeProxyServicePort& port, const std::string& endpoint) {
  const std::string key = port_name(port) + port.protocol + endpoint;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return prefix + base32(digest, sizeof digest).substr(0, 16);
}

std::string kube_proxy_full_restore(const std::vector<KubeProxyServicePort>& ports, const std::string& cluster_cidr) {
  std::string chains, rules;
  top_level_nat(chains, rules, ports);
  for (const auto& p : ports) service_chains(chains, rules, p, cluster_cidr);
  return filter_table() + "*nat\n" + chains + rules + "COMMIT\n";
}

std::string kube_proxy_partial_restore(const std::vector<KubeProxyServicePort>& ports, const KubeProxyServicePort& changed,
                                       const std::vector<KubeProxyEndpoint>& removed, const std::string& cluster_cidr) {
  std::string chains, rules;
  top_level_nat(chains, rules, ports);
  service_chains(chains, rules, changed, cluster_cidr);
  std::string deletions;
  for (const auto& e : removed) {
    const std::string sep = kube_chain("KUBE-SEP-", changed, endpoint_string(e));
    declare(chains, sep);  // flushed first: a chain still holding rules could not be deleted
    deletions += "-X " + sep + "\n";
  }
  return filter_table() + "*nat\n" + chains + rules + deletions + "COMMIT\n";
}

std::vector<std::string> kube_proxy_jump_commands() {
  return {
      "iptables -w -t filter -I INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible "
      "service portals\" -j KUBE-EXTERNAL-SERVICES",
      "iptables -w -t filter -I FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
      "iptables -w -t filter -I FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" "
      "-j KUBE-SERVICES",
      "iptables -w -t filter -I OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" "
      "-j KUBE-SERVICES",
      "iptables -w -t nat -I PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
      "iptables -w -t nat -I OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
      "iptables -w -t nat -I POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
  };
}

}  // namespace switchyard::bench
