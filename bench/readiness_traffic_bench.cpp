// From a container's readiness probe passing to the first request through its Service's
// ClusterIP reaching it: `switchyard up` (API server, kubelet on its own containerd, agent with
// the nftables dataplane) in a network namespace of its own, a web pod whose readiness probe
// passes once /tmp/ready exists, and a client in the node's namespace that asks the ClusterIP
// every millisecond. Each flip creates the file, takes the time the kubelet logged the probe
// passing (event=probe_result, to the millisecond) and the time of the client's first answer,
// then removes the file and waits for the traffic to stop.
//
//   ./build/bench/readiness_traffic_bench [--flips 20]
//
// Root. The namespace and the data directory under /tmp are removed at the end (KEEP=1 keeps the
// directory, up.log included, for a look at the timeline). For scale:
// kube-proxy's default minSyncPeriod alone is 1 s.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "netns-tests/support/process.h"

namespace {

namespace fs = std::filesystem;
using namespace switchyard;
using SystemClock = std::chrono::system_clock;

const char* const kNodeIp = "10.82.0.2";

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The time of the last log line holding `needle` ("2026-12-07T07:50:01.123Z info event=…").
std::optional<SystemClock::time_point> last_logged(const std::string& log, const std::string& needle) {
  const auto at = log.rfind(needle);
  if (at == std::string::npos) return std::nullopt;
  const auto line = log.rfind('\n', at);
  const std::string stamp = log.substr(line == std::string::npos ? 0 : line + 1, 24);
  std::tm tm{};
  const char* rest = strptime(stamp.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest || *rest != '.') return std::nullopt;
  return SystemClock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(std::atoi(rest + 1));
}

const std::string kPassed = "probe=readiness success=true";

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// One GET through the ClusterIP: true when the pod answered 200.
bool ask(const std::string& ip) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(80);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string request = "GET /index.html HTTP/1.0\r\n\r\n";
    char buf[64] = {};
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()) &&
        ::recv(fd, buf, sizeof buf - 1, 0) > 0)
      ok = std::strstr(buf, " 200 ") != nullptr;
  }
  ::close(fd);
  return ok;
}

// Asks the ClusterIP in a loop from inside the node's namespace; remembers when the answers
// started and stopped.
class Client {
 public:
  Client(const std::string& netns, std::string ip) : ip_(std::move(ip)) {
    thread_ = std::thread([this, netns] {
      const int fd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        std::cerr << "cannot enter the node's namespace\n";
        std::exit(1);
      }
      ::close(fd);
      bool last = false;
      while (!stop_) {
        const bool ok = ask(ip_);
        if (ok != last) {
          std::lock_guard lock(mu_);
          (ok ? started_ : stopped_).push_back(SystemClock::now());
          last = ok;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  ~Client() {
    stop_ = true;
    thread_.join();
  }
  std::size_t starts() {
    std::lock_guard lock(mu_);
    return started_.size();
  }
  std::size_t stops() {
    std::lock_guard lock(mu_);
    return stopped_.size();
  }
  SystemClock::time_point last_start() {
    std::lock_guard lock(mu_);
    return started_.back();
  }

 private:
  std::string ip_;
  std::mutex mu_;
  std::vector<SystemClock::time_point> started_, stopped_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  int flips = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--flips" && i + 1 < argc)
      flips = std::max(1, std::atoi(argv[++i]));
    else {
      std::cerr << "usage: readiness_traffic_bench [--flips N]\n";
      return 2;
    }
  }
  testing::NetworkNamespace netns("rtraffic");
  const std::string ns = netns.name();
  const fs::path dir = fs::path("/tmp") / fmt::format("sy-rtraffic-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto link =
      testing::run(fmt::format("ip -n {0} link add sy-rt-a type veth peer name sy-rt-b && ip -n {0} addr add {1}/24 dev sy-rt-a && "
                               "ip -n {0} link set sy-rt-a up && ip -n {0} link set sy-rt-b up && ip -n {0} link set lo up && "
                               // A node has a default route: locally sent packets to a ClusterIP are routed
                               // before the output hook's DNAT sends them to the pod.
                               "ip -n {0} route add default via 10.82.0.1 dev sy-rt-a 2>&1",
                               ns, kNodeIp));
  if (link.exit_code != 0) {
    std::cerr << link.output;
    return 1;
  }
  int status = 0;
  {
    testing::ChildProcess up(
        {"nsenter", "--net=/run/netns/" + ns, SWITCHYARD_BINARY, "up", "--data-dir", (dir / "cluster").string(), "--node-name", "node-rt",
         "--node-ip", kNodeIp, "--healthz-bind-address", "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
        (dir / "up.log").string());
    const auto kubectl = [&](const std::string& args) {
      return testing::run(fmt::format("nsenter --net=/run/netns/{} /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig {} {} 2>&1", ns,
                                      (dir / "cluster" / "kubeconfig").string(), args));
    };
    const auto up_log = [&] { return read_file(dir / "up.log"); };
    std::ofstream(dir / "rt.yaml") << R"(apiVersion: v1
kind: Pod
metadata: {name: rt, labels: {app: rt}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: switchyard.local/busybox:1
    imagePullPolicy: Never
    command: [httpd, -f, -p, '80', -h, /www]
    readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: rt}
spec:
  selector: {app: rt}
  ports: [{port: 80}]
)";
    std::string cluster_ip;
    if (!testing::wait_until(90, [&] { return up_log().find("Container runtime:") != std::string::npos; }) ||
        kubectl("apply -f " + (dir / "rt.yaml").string()).exit_code != 0 ||
        !testing::wait_until(90, [&] { return kubectl("get pod rt --no-headers").output.find("0/1   Running") != std::string::npos; }) ||
        (cluster_ip = kubectl("get service rt -o jsonpath={.spec.clusterIP}").output).empty()) {
      std::cerr << "the cluster or the pod did not come up:\n" << kubectl("describe pod rt").output << up_log();
      status = 1;
    } else {
      Client client(ns, cluster_ip);
      std::vector<double> latencies;
      for (int i = 0; i < flips && status == 0; ++i) {
        const std::size_t starts = client.starts(), stops = client.stops();
        const std::size_t passes = occurrences(up_log(), kPassed);
        kubectl("exec rt -- touch /tmp/ready");
        if (!testing::wait_until(15, [&] { return client.starts() > starts; })) {
          std::cerr
              << "flip " << i << ": the traffic never started\n"
              << kubectl("get pod rt -o wide").output << kubectl("get endpointslices -o wide").output
              << testing::run(fmt::format("nsenter --net=/run/netns/{} curl -sS -m 2 http://{}/index.html 2>&1", ns, cluster_ip)).output;
          status = 1;
          break;
        }
        testing::wait_until(5, [&] { return occurrences(up_log(), kPassed) > passes; });  // the log line may trail the traffic
        const std::string log = up_log();
        const auto passed = occurrences(log, kPassed) > passes ? last_logged(log, kPassed) : std::nullopt;
        if (!passed) {
          std::cerr << "no event=probe_result line in up's log\n";
          status = 1;
          break;
        }
        latencies.push_back(std::chrono::duration<double, std::milli>(client.last_start() - *passed).count());
        kubectl("exec rt -- rm /tmp/ready");
        if (!testing::wait_until(15, [&] { return client.stops() > stops; })) {
          std::cerr << "flip " << i << ": the traffic never stopped\n";
          status = 1;
        }
      }
      if (!latencies.empty())
        std::cout << fmt::format(
            "readiness probe passing -> first request through ClusterIP {} answered by the pod (nftables dataplane, `switchyard up`):\n"
            "  {} flips: p50 {:.1f} ms, p99 {:.1f} ms, min {:.1f} ms, max {:.1f} ms (log timestamps: 1 ms resolution; client asks every ~1 "
            "ms)\n",
            cluster_ip, latencies.size(), percentile(latencies, 50), percentile(latencies, 99),
            *std::min_element(latencies.begin(), latencies.end()), *std::max_element(latencies.begin(), latencies.end()));
    }
    kubectl("delete pod rt --grace-period=0 --force --wait=false");
  }  // up stops (SIGTERM), and its containerd with it
  kubelet::runtime::ContainerdOptions ours;
  ours.data_dir = kubelet::runtime::node_containerd_dir(dir / "cluster");
  if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) std::cerr << r.error().message << "\n";
  std::error_code ec;
  if (!std::getenv("KEEP")) fs::remove_all(dir, ec);
  return status;
}
