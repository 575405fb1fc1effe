#include "bench/packet/bench_topology.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace switchyard::bench {
namespace {

using dataplane::testing::NetworkNamespace;
constexpr const char* kGateway = "169.254.1.1";

std::expected<void, std::string> must(const dataplane::testing::CommandResult& r, const std::string& what) {
  if (!r.ok()) return std::unexpected(what + ": " + r.output);
  return {};
}

std::expected<NetworkNamespace, std::string> make(const std::string& role) {
  return NetworkNamespace::create(NetworkNamespace::unique_name("sy-pkt", role));
}

}  // namespace

std::expected<BenchTopology, std::string> BenchTopology::create(int pods, const std::string& load_tool) {
  auto node = make("node");
  if (!node) return std::unexpected(node.error());
  auto client = make("client");
  if (!client) return std::unexpected(client.error());
  auto external = make("ext");
  if (!external) return std::unexpected(external.error());
  BenchTopology t(std::move(*node), std::move(*client), std::move(*external));
  if (auto ok = must(t.node_.run("sysctl -qw net.ipv4.ip_forward=1"), "forwarding in node"); !ok) return std::unexpected(ok.error());
  if (auto ok = t.add_routed_pod(t.client_, "vclient", kClientPodIp); !ok) return std::unexpected(ok.error());
  // The client's sequential connections close with RST, but give it the whole port range anyway.
  (void)t.client_.run("sysctl -qw net.ipv4.ip_local_port_range='1024 65535'");
  if (auto ok = must(t.node_.run(std::string("ip link add ") + kExternalInterface + " type veth peer name eth0 netns " +
                                 t.external_.name() + " && ip addr add " + kNodeExternalIp + "/24 dev " + kExternalInterface +
                                 " && ip link set " + kExternalInterface + " up"),
                     "external veth");
      !ok)
    return std::unexpected(ok.error());
  if (auto ok = must(t.external_.run(std::string("ip addr add ") + kExternalClientIp + "/24 dev eth0 && ip link set eth0 up" +
                                     " && ip route add default via " + kNodeExternalIp),
                     "external side");
      !ok)
    return std::unexpected(ok.error());
  for (int i = 0; i < pods; ++i) {
    auto pod = make("pod" + std::to_string(i));
    if (!pod) return std::unexpected(pod.error());
    const std::string ip = "10.244.0." + std::to_string(11 + i);
    if (auto ok = t.add_routed_pod(*pod, "vpod" + std::to_string(i), ip); !ok) return std::unexpected(ok.error());
    auto server = pod->spawn({load_tool, "serve", "--udp=" + std::to_string(BenchPorts::kUdp), "--crr=" + std::to_string(BenchPorts::kCrr),
                              "--bulk=" + std::to_string(BenchPorts::kBulk)});
    if (!server) return std::unexpected(server.error());
    t.server_pids_.push_back(*server);
    t.pod_ips_.push_back(ip);
    t.pods_.push_back(std::move(*pod));
  }
  // Servers are up when each pod answers a connection from the client.
  for (const auto& ip : t.pod_ips_) {
    bool up = false;
    for (int attempt = 0; attempt < 100 && !up; ++attempt) {
      up = t.client_.run(load_tool + " crr " + ip + " " + std::to_string(BenchPorts::kCrr) + " 0.01 | grep -qv '\"connections\":0,'").ok();
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!up) return std::unexpected("server in pod " + ip + " does not answer the client");
  }
  return t;
}

std::expected<void, std::string> BenchTopology::add_routed_pod(NetworkNamespace& pod, const std::string& veth, const std::string& ip) {
  if (auto ok = must(node_.run("ip link add " + veth + " type veth peer name eth0 netns " + pod.name() + " && ip addr add " + kGateway +
                               "/32 dev " + veth + " && ip link set " + veth + " up && ip route add " + ip + "/32 dev " + veth),
                     "node side of " + veth);
      !ok)
    return ok;
  return must(pod.run("ip addr add " + ip + "/32 dev eth0 && ip link set eth0 up && ip route add " + kGateway +
                      " dev eth0 && ip route add default via " + kGateway + " dev eth0"),
              "pod side of " + veth);
}

std::uint64_t BenchTopology::udp_delivered() const {
  std::uint64_t total = 0;
  for (pid_t pid : server_pids_) {
    // Two "Udp:" lines: the field names, then the values; InDatagrams is the first value.
    std::ifstream snmp("/proc/" + std::to_string(pid) + "/net/snmp");
    std::string line;
    int udp_lines = 0;
    while (std::getline(snmp, line))
      if (line.starts_with("Udp:") && ++udp_lines == 2) {
        std::istringstream in(line.substr(4));
        std::uint64_t delivered = 0;
        in >> delivered;
        total += delivered;
      }
  }
  return total;
}

}  // namespace switchyard::bench
