#include "dataplane/testing/service_topology.h"

#include <chrono>
#include <sstream>
#include <thread>

namespace switchyard::dataplane::testing {
namespace {

constexpr const char* kGateway = "169.254.1.1";
constexpr const char* kGatewayIpv6 = "fe80::1";  // on every pod veth of the node

// A threaded HTTP server that answers "<name> <client address>".
constexpr const char* kServer = R"PY(
import http.server, socket, socketserver, sys
name, port = sys.argv[1], int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        client = self.client_address[0].removeprefix("::ffff:")  # IPv4 clients of the dual-stack socket
        body = f"{name} {client}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_INET6  # with IPV6_V6ONLY off (Linux default): IPv4 too
    allow_reuse_address = True
    daemon_threads = True
Server(("::", port), Handler).serve_forever()
)PY";

std::expected<void, std::string> must(const CommandResult& r, const std::string& what) {
  if (!r.ok()) return std::unexpected(what + ": " + r.output);
  return {};
}

}  // namespace

const char* ServiceTopology::http_server_script() { return kServer; }

std::expected<ServiceTopology, std::string> ServiceTopology::create(const std::vector<PodSpec>& pods) {
  auto node = NetworkNamespace::create(NetworkNamespace::unique_name("sy-nft", "node"));
  if (!node) return std::unexpected(node.error());
  auto client = NetworkNamespace::create(NetworkNamespace::unique_name("sy-nft", "client"));
  if (!client) return std::unexpected(client.error());
  ServiceTopology t(std::move(*node), std::move(*client));
  if (auto ok = must(t.node_.run("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1"), "forwarding in node"); !ok)
    return std::unexpected(ok.error());
  if (auto ok = t.wire_client(); !ok) return std::unexpected(ok.error());
  for (std::size_t i = 0; i < pods.size(); ++i)
    if (auto ok = t.add_pod(pods[i], static_cast<int>(i)); !ok) return std::unexpected(ok.error());
  // Servers are up when they answer locally.
  for (const auto& p : pods) {
    bool up = false;
    for (int attempt = 0; attempt < 100 && !up; ++attempt) {
      up = t.pods_.at(p.name).run("curl -s --max-time 1 http://127.0.0.1:" + std::to_string(p.port) + "/").ok();
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!up) return std::unexpected("server in pod " + p.name + " did not start");
  }
  return t;
}

std::expected<void, std::string> ServiceTopology::wire_client() {
  const std::string c = client_.name();
  if (auto ok = must(
          node_.run("ip link add vclient type veth peer name eth0 netns " + c + " && ip addr add " + std::string(kNodeIp) +
                    "/24 dev vclient && ip link set vclient up"
                    " && ip route add default via " +
                    kClientIp + " && ip -6 addr add " + kNodeIpv6 + "/64 dev vclient nodad && ip -6 route add default via " + kClientIpv6),
          "client veth on node");
      !ok)
    return ok;
  return must(
      client_.run(std::string("ip addr add ") + kClientIp + "/24 dev eth0 && ip link set eth0 up" + " && ip route add default via " +
                  kNodeIp + " && ip -6 addr add " + kClientIpv6 + "/64 dev eth0 nodad && ip -6 route add default via " + kNodeIpv6),
      "client side");
}

std::expected<void, std::string> ServiceTopology::add_pod(const PodSpec& pod, int index) {
  auto ns = NetworkNamespace::create(NetworkNamespace::unique_name("sy-nft", "pod" + std::to_string(index)));
  if (!ns) return std::unexpected(ns.error());
  const std::string veth = "vpod" + std::to_string(index);
  if (auto ok = must(node_.run("ip link add " + veth + " type veth peer name eth0 netns " + ns->name() + " && ip addr add " + kGateway +
                               "/32 dev " + veth + " && ip link set " + veth + " up" + " && ip route add " + pod.ip + "/32 dev " + veth),
                     "pod veth for " + pod.name);
      !ok)
    return ok;
  if (auto ok = must(ns->run("ip addr add " + pod.ip + "/32 dev eth0 && ip link set eth0 up && ip route add " + kGateway +
                             " dev eth0 && ip route add default via " + kGateway + " dev eth0"),
                     "pod side of " + pod.name);
      !ok)
    return ok;
  if (!pod.ipv6.empty()) {
    if (auto ok = must(node_.run("ip -6 addr add " + std::string(kGatewayIpv6) + "/64 dev " + veth + " nodad && ip -6 route add " +
                                 pod.ipv6 + "/128 dev " + veth),
                       "IPv6 on the node side of " + pod.name);
        !ok)
      return ok;
    if (auto ok =
            must(ns->run("ip -6 addr add " + pod.ipv6 + "/128 dev eth0 nodad && ip -6 route add default via " + kGatewayIpv6 + " dev eth0"),
                 "IPv6 in pod " + pod.name);
        !ok)
      return ok;
  }
  auto server = ns->spawn({"python3", "-c", kServer, pod.name, std::to_string(pod.port)});
  if (!server) return std::unexpected(server.error());
  pods_.emplace(pod.name, std::move(*ns));
  return {};
}

ServiceTopology::Reply ServiceTopology::get(NetworkNamespace& from, const std::string& host, int port, double timeout_seconds) {
  Reply reply;
  const auto start = std::chrono::steady_clock::now();
  const std::string authority = host.find(':') == std::string::npos ? host : "[" + host + "]";
  auto r = from.run("curl -sS --max-time " + std::to_string(timeout_seconds) + " http://" + authority + ":" + std::to_string(port) + "/");
  reply.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  reply.curl_exit = r.exit_code;
  if (!r.ok()) {
    reply.pod = r.output;  // curl's message, for assertion output
    return reply;
  }
  std::istringstream in(r.output);
  in >> reply.pod >> reply.seen_client;
  reply.ok = true;
  return reply;
}

std::map<std::string, int> ServiceTopology::spread(NetworkNamespace& from, const std::string& host, int port, int count) {
  std::map<std::string, int> out;
  for (int i = 0; i < count; ++i) {
    auto r = get(from, host, port);
    ++out[r.ok ? r.pod : "error: " + r.pod];
  }
  return out;
}

}  // namespace switchyard::dataplane::testing
