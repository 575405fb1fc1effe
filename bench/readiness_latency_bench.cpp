// From a pod readiness change written to the API to the agent's Snapshot showing it: the whole
// endpoints path (API write -> store -> the API server's EndpointSlice controller -> slice write ->
// watch -> the agent's informer -> ClusterState -> Snapshot), with `switchyard apiserver` run as a
// process and the agent-side ClusterStateFeed in this one, as the agent runs it.
//
//   ./build/bench/readiness_latency_bench [--services 100] [--pods 10] [--flips 200]
//
// Each flip PATCHes one random pod's status (Ready True <-> False) through the status
// subresource, as a kubelet does, and polls the Snapshot until that endpoint's `ready` changed.
// Then Services are created one by one (--creates) and the cluster DNS server, fed from the same
// feed as the agent feeds it, is asked for each name until it answers with the address.
#include <algorithm>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "dns/server.h"
#include "dns/test_messages.h"
#include "endpoints/informer/cluster_state_feed.h"
#include "netns-tests/support/process.h"

namespace sy = switchyard;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int services = 100, pods = 10, flips = 200, creates = 100;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::stoi(argv[i + 1]);
    if (flag == "--services") o.services = value;
    else if (flag == "--pods") o.pods = value;
    else if (flag == "--flips") o.flips = value;
    else if (flag == "--creates") o.creates = value;
    else throw std::invalid_argument("unknown flag " + flag + " (--services N --pods N --flips N --creates N)");
  }
  return o;
}

std::string pod_ip(int service, int pod) { return fmt::format("10.{}.{}.{}", 64 + service / 250, service % 250, pod + 1); }

std::string status_patch(const std::string& ip, bool ready) {
  return fmt::format(R"({{"status":{{"phase":"Running","podIP":"{0}","podIPs":[{{"ip":"{0}"}}],"conditions":[{{"type":"Ready","status":"{1}"}}]}}}})",
                     ip, ready ? "True" : "False");
}

void must(const std::expected<sy::informer::HttpResult, std::string>& r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error());
  if (r->status >= 300) throw std::runtime_error(fmt::format("{}: HTTP {} {}", what, r->status, r->body));
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("sy-readiness-bench-{}", getpid());
  std::filesystem::remove_all(dir);
  const std::string port = std::to_string(46000 + getpid() % 5000);
  sy::testing::ChildProcess server({SWITCHYARD_BINARY, "apiserver", "--data-dir", dir.string(), "--listen", "127.0.0.1:" + port},
                                   dir.string() + ".log");
  std::expected<sy::informer::ClusterConnection, std::string> conn = std::unexpected("not started");
  sy::testing::wait_until(15, [&] {
    conn = sy::informer::load_kubeconfig((dir / "kubeconfig").string());
    return conn && sy::informer::ApiClient(*conn).get("/api/v1/namespaces/default").value_or(sy::informer::HttpResult{}).status == 200;
  });
  if (!conn) {
    std::fprintf(stderr, "the API server did not come up: %s\n", conn.error().c_str());
    return 1;
  }
  sy::informer::ApiClient api(*conn);
  const std::string json = "application/json", merge = "application/merge-patch+json";

  const auto setup_start = Clock::now();
  must(api.send("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}})", json), "namespace");
  for (const char* node : {"node-a", "node-b"})
    must(api.send("POST", "/api/v1/nodes", fmt::format(R"({{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{}"}}}})", node), json), node);
  for (int s = 0; s < o.services; ++s) {
    must(api.send("POST", "/api/v1/namespaces/bench/services",
                  fmt::format(R"({{"apiVersion":"v1","kind":"Service","metadata":{{"name":"svc-{0}"}},"spec":{{"selector":{{"app":"svc-{0}"}},"ports":[{{"name":"http","port":80,"targetPort":8080}}]}}}})", s),
                  json),
         "service");
    for (int p = 0; p < o.pods; ++p) {
      const std::string name = fmt::format("svc-{}-{}", s, p);
      must(api.send("POST", "/api/v1/namespaces/bench/pods",
                    fmt::format(R"({{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{}","labels":{{"app":"svc-{}"}}}},"spec":{{"nodeName":"node-{}","containers":[{{"name":"c","image":"x"}}]}}}})",
                                name, s, p % 2 ? "a" : "b"),
                    json),
           "pod " + name);
      must(api.send("PATCH", "/api/v1/namespaces/bench/pods/" + name + "/status", status_patch(pod_ip(s, p), true), merge), "status of " + name);
    }
  }
  const double setup_seconds = std::chrono::duration<double>(Clock::now() - setup_start).count();

  sy::informer::ClusterStateFeed feed(*conn, {.node_name = "node-a"});
  // The cluster DNS server, fed as the agent feeds it: a new Snapshot on every change.
  auto dns_server = sy::dns::DnsServer::create({.listen = {"127.0.0.1:0"}, .workers = 1});
  if (!dns_server) {
    std::fprintf(stderr, "dns server: %s\n", dns_server.error().message.c_str());
    return 1;
  }
  feed.set_on_change([&] {
    if (feed.synced()) (*dns_server)->set_snapshot(feed.snapshot());
  });
  const auto sync_start = Clock::now();
  feed.start();
  auto ready_in_snapshot = [&](int s, int p) -> std::optional<bool> {
    auto snap = feed.snapshot();
    const auto* port = snap->find(sy::endpoints::ServicePortName{"bench", fmt::format("svc-{}", s), "http", "TCP"});
    if (!port) return std::nullopt;
    const std::string ip = pod_ip(s, p);
    for (const auto& e : port->endpoints)
      if (e.ip == ip) return e.ready;
    return std::nullopt;
  };
  const bool synced = sy::testing::wait_until(120, [&] {
    if (!feed.synced()) return false;
    for (int s = 0; s < o.services; s += std::max(1, o.services / 10))
      if (ready_in_snapshot(s, o.pods - 1) != true) return false;
    return true;
  });
  const double sync_seconds = std::chrono::duration<double>(Clock::now() - sync_start).count();
  if (!synced) {
    std::fprintf(stderr, "the Snapshot never showed every endpoint\n");
    return 1;
  }

  std::mt19937 rng(42);
  std::vector<bool> ready(static_cast<std::size_t>(o.services * o.pods), true);
  std::vector<double> to_snapshot_ms, write_ms;
  int timeouts = 0;
  for (int i = 0; i < o.flips; ++i) {
    const int s = static_cast<int>(rng() % static_cast<unsigned>(o.services)), p = static_cast<int>(rng() % static_cast<unsigned>(o.pods));
    const std::size_t idx = static_cast<std::size_t>(s * o.pods + p);
    const bool want = !ready[idx];
    const auto t0 = Clock::now();
    must(api.send("PATCH", fmt::format("/api/v1/namespaces/bench/pods/svc-{}-{}/status", s, p), status_patch(pod_ip(s, p), want), merge), "flip");
    const auto t1 = Clock::now();
    bool seen = false;
    while (Clock::now() - t0 < std::chrono::seconds(10)) {
      if (ready_in_snapshot(s, p) == want) {
        seen = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const auto t2 = Clock::now();
    ready[idx] = want;
    if (!seen) {
      ++timeouts;
      continue;
    }
    write_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    to_snapshot_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
  }
  // Service created -> its name answered by the DNS server.
  std::vector<double> create_to_answer_ms;
  std::vector<std::uint8_t> out(4096);
  for (int i = 0; i < o.creates; ++i) {
    const std::string name = fmt::format("new-{}", i);
    const auto query = sy::dns::testing::make_query(name + ".bench.svc.cluster.local", sy::dns::kA);
    const auto t0 = Clock::now();
    must(api.send("POST", "/api/v1/namespaces/bench/services",
                  fmt::format(R"({{"apiVersion":"v1","kind":"Service","metadata":{{"name":"{}"}},"spec":{{"ports":[{{"port":80}}]}}}})", name), json),
         "service " + name);
    bool answered = false;
    while (Clock::now() - t0 < std::chrono::seconds(10)) {
      const std::size_t n = (*dns_server)->handle(query, out, out.size(), false);
      // NOERROR with one answer record.
      if (n >= 12 && (out[3] & 0x0f) == 0 && (out[6] << 8 | out[7]) > 0) {
        answered = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (answered) create_to_answer_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    else ++timeouts;
  }
  (*dns_server)->stop();
  feed.stop();
  server.kill_now(SIGKILL);
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir.string() + ".log");

  std::printf("services=%d pods_per_service=%d pods=%d setup=%.1fs initial_list_to_snapshot=%.2fs\n", o.services, o.pods,
              o.services * o.pods, setup_seconds, sync_seconds);
  if (to_snapshot_ms.empty()) {
    std::printf("no flip reached the Snapshot (timeouts=%d)\n", timeouts);
    return 1;
  }
  std::printf("readiness flips=%zu timeouts=%d\n", to_snapshot_ms.size(), timeouts);
  std::printf("status PATCH answered:         p50 %.2f ms  p99 %.2f ms\n", percentile(write_ms, 0.5), percentile(write_ms, 0.99));
  std::printf("PATCH sent -> Snapshot shows it: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", percentile(to_snapshot_ms, 0.5),
              percentile(to_snapshot_ms, 0.99), *std::max_element(to_snapshot_ms.begin(), to_snapshot_ms.end()));
  if (!create_to_answer_ms.empty())
    std::printf("Service POSTed -> DNS answers its name (%zu): p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", create_to_answer_ms.size(),
                percentile(create_to_answer_ms, 0.5), percentile(create_to_answer_ms, 0.99),
                *std::max_element(create_to_answer_ms.begin(), create_to_answer_ms.end()));
  return timeouts == 0 ? 0 : 1;
}
