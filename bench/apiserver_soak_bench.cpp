// The API server under a crowd of idle, unauthenticated connections: the real `switchyard
// apiserver` binary over HTTPS, with 100 authenticated clients that each list a namespace's
// Services in a loop and follow it with a watch, while one writer updates a Service every
// 100 ms. Each phase runs twice: alone, and beside 2,000 TCP connections that never send a byte
// (each reopened as soon as the server closes it, so 2,000 stay open through the phase).
// Printed per phase: lists done, wrong answers, list latency p50/p99, watch events missed, the
// server's threads and RSS; then the p99 ratio of the crowded phase to the quiet one.
//
//   ./build/bench/apiserver_soak_bench                       (100 clients, 2,000 idle, 10 s)
//   ./build/bench/apiserver_soak_bench --seconds 5 --check   (the soak test: exits 1 when a bound fails)
//
// --check fails on any wrong answer or missed watch event, on server threads growing with the
// idle connections, on RSS growing by more than 64 MiB with them, and on a crowded p99 above
// twice the quiet one in the median round (3 rounds by default).
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/apiserver_bench_client.h"
#include "orchestrator/http/client.h"
#include "orchestrator/http/http_test_support.h"
#include "orchestrator/store/store_test_support.h"

using Json = nlohmann::json;
using namespace switchyard;
using namespace switchyard::bench;

namespace {

struct Options {
  int clients = 100;
  int idle = 2000;
  int services = 50;
  double seconds = 10;
  int rounds = 3;
  bool check = false;
  std::string binary = SWITCHYARD_BINARY;
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The `switchyard apiserver` binary over HTTPS with its own CA and admin token.
struct Server {
  store::testing::TempDir dir;
  pid_t pid = -1;
  int port = 0;
  Target target;

  explicit Server(const std::string& binary) {
    const std::string data = (dir.path() / "data").string(), log = (dir.path() / "log").string();
    pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<const char*> argv{binary.c_str(), "apiserver", "--data-dir", data.c_str(), "--listen", "127.0.0.1:0", nullptr};
      ::execv(binary.c_str(), const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    std::string text;
    while (Clock::now() < deadline) {
      text = read_file(log);
      if (auto at = text.find("serving "); at != std::string::npos && text.find('\n', at) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto p = text.find("127.0.0.1:", text.find("serving "));
    if (p == std::string::npos) throw std::runtime_error("switchyard apiserver did not start: " + text);
    port = std::atoi(text.c_str() + p + 10);
    target = {.host = "127.0.0.1",
              .port = port,
              .tls = true,
              .ca_pem = read_file(data + "/pki/ca.crt"),
              .token = read_file(data + "/admin.token")};
    while (!target.token.empty() && target.token.back() == '\n') target.token.pop_back();
  }
  ~Server() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
  int threads() const {
    int n = 0;
    if (DIR* d = ::opendir(fmt::format("/proc/{}/task", pid).c_str())) {
      while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') ++n;
      ::closedir(d);
    }
    return n;
  }
  double rss_mib() const {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024.0;
    return 0;
  }
};

// `count` connections that never send a byte; each one the server closes is opened again.
class IdleCrowd {
 public:
  IdleCrowd(int port, int count) : port_(port) {
    for (int i = 0; i < count; ++i) fds_.push_back(http::testing::connect_loopback(static_cast<std::uint16_t>(port_)));
    thread_ = std::thread([this] { keep_open(); });
  }
  ~IdleCrowd() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  int reopened() const { return reopened_; }

 private:
  void keep_open() {
    std::vector<pollfd> polls(fds_.size());
    while (!stop_) {
      for (int& fd : fds_)
        if (fd < 0) fd = http::testing::connect_loopback(static_cast<std::uint16_t>(port_));  // the backlog was full
      for (std::size_t i = 0; i < fds_.size(); ++i) polls[i] = {fds_[i], POLLIN | POLLRDHUP, 0};
      if (::poll(polls.data(), polls.size(), 100) <= 0) continue;
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        if (polls[i].revents == 0) continue;
        char byte;
        if (::recv(fds_[i], &byte, 1, MSG_DONTWAIT) > 0) continue;
        ::close(fds_[i]);
        fds_[i] = http::testing::connect_loopback(static_cast<std::uint16_t>(port_));
        ++reopened_;
      }
    }
  }
  int port_;
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::atomic<int> reopened_{0};
  std::thread thread_;
};

struct PhaseFigures {
  std::string name;
  int idle = 0, lists = 0, wrong = 0, events_written = 0, events_missed = 0, watch_failures = 0, idle_reopened = 0, threads = 0;
  double seconds = 0, p50 = 0, p99 = 0, rss_mib = 0;
};

PhaseFigures run_phase(Server& server, Options o, const std::string& name, int idle, double seconds) {
  o.seconds = seconds;
  PhaseFigures f{.name = name, .idle = idle, .seconds = seconds};
  const std::string services = "/api/v1/namespaces/soak/services";
  std::unique_ptr<IdleCrowd> crowd;
  if (idle > 0) crowd = std::make_unique<IdleCrowd>(server.port, idle);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server has accepted them

  Client writer(server.target);
  const auto listed = Json::parse(writer.request("GET", services).body);
  const std::string from = listed["metadata"]["resourceVersion"];
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0}, watch_failures{0};
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(o.clients));
  std::vector<std::unique_ptr<http::HttpClient>> watchers;
  std::vector<std::thread> threads;
  // The watches: each counts the MODIFIED events of the Service the writer updates.
  for (int c = 0; c < o.clients; ++c) {
    auto w = http::HttpClient::create({.server = fmt::format("https://127.0.0.1:{}", server.port),
                                       .ca_pem = server.target.ca_pem,
                                       .bearer_token = server.target.token,
                                       .max_idle_connections = 0});
    if (!w) throw std::runtime_error(w.error().describe());
    watchers.push_back(std::move(*w));
    threads.emplace_back([&, c, client = watchers.back().get()] {
      auto ended = client->stream_lines({.target = services + "?watch=true&resourceVersion=" + from}, [&](const std::string& line) {
        if (line.find("\"MODIFIED\"") != std::string::npos && line.find("\"name\":\"svc-00000\"") != std::string::npos) ++seen[c];
        return !stop;
      });
      if (!ended && !stop) ++watch_failures;  // aborting it at the end of the phase is no failure
    });
  }
  std::mutex mu;
  std::vector<double> latencies;
  const auto t0 = Clock::now();
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&] {
      Client client(server.target);
      std::vector<double> mine;
      int wrong = 0;
      while (seconds_since(t0) < o.seconds) {
        const auto start = Clock::now();
        const Reply r = client.request("GET", services);
        mine.push_back(ms(Clock::now() - start));
        if (r.status != 200 ||
            Json::parse(r.body, nullptr, false).value("items", Json::array()).size() != static_cast<std::size_t>(o.services))
          ++wrong;
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      f.wrong += wrong;
    });
  }
  std::thread updates([&] {
    for (int i = 1; seconds_since(t0) < o.seconds; ++i) {
      const std::string patch = fmt::format(R"({{"metadata":{{"annotations":{{"soak":"{}-{}"}}}}}})", name, i);
      auto r = writer.request("PATCH", services + "/svc-00000", patch, "application/merge-patch+json");
      if (r.status == 200) ++writes;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds / 2));
  f.threads = server.threads();
  f.rss_mib = server.rss_mib();
  updates.join();
  for (std::size_t c = o.clients; c < threads.size(); ++c) threads[c].join();
  // The last event reaches every watcher within a few seconds, or it is missed.
  const auto wait_until = Clock::now() + std::chrono::seconds(5);
  for (int c = 0; c < o.clients; ++c)
    while (seen[c] < writes && Clock::now() < wait_until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& w : watchers) w->abort();
  for (int c = 0; c < o.clients; ++c) threads[c].join();
  f.events_written = writes;
  f.watch_failures = watch_failures;
  for (int c = 0; c < o.clients; ++c) f.events_missed += writes - seen[c];
  f.lists = static_cast<int>(latencies.size());
  f.p50 = percentile(latencies, 50);
  f.p99 = percentile(latencies, 99);
  if (crowd) f.idle_reopened = crowd->reopened();
  return f;
}

void print(const PhaseFigures& f, const Options& o) {
  std::cout << fmt::format(
      "  {:<8} {:>5} idle: {:>6} lists ({:.0f}/s), {} wrong; list p50 {:.2f} ms, p99 {:.2f} ms; watch events {} x {} clients, "
      "{} missed, {} watches failed; server threads {}, RSS {:.1f} MiB{}\n",
      f.name, f.idle, f.lists, f.lists / f.seconds, f.wrong, f.p50, f.p99, f.events_written, o.clients, f.events_missed, f.watch_failures,
      f.threads, f.rss_mib, f.idle ? fmt::format(" ({} idle connections reopened after the server closed them)", f.idle_reopened) : "");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--clients")
      o.clients = std::stoi(next());
    else if (a == "--idle")
      o.idle = std::stoi(next());
    else if (a == "--services")
      o.services = std::stoi(next());
    else if (a == "--seconds")
      o.seconds = std::stod(next());
    else if (a == "--rounds")
      o.rounds = std::max(1, std::stoi(next()));
    else if (a == "--check")
      o.check = true;
    else if (a == "--binary")
      o.binary = next();
    else {
      std::cerr
          << "usage: apiserver_soak_bench [--clients N] [--idle N] [--services N] [--seconds S] [--rounds N] [--check] [--binary PATH]\n";
      return 2;
    }
  }
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  ::signal(SIGPIPE, SIG_IGN);

  Server server(o.binary);
  Client admin(server.target);
  if (admin.request("POST", "/api/v1/namespaces", R"({"metadata":{"name":"soak"}})").status != 201) return 1;
  for (int i = 0; i < o.services; ++i)
    if (admin
            .request("POST", "/api/v1/namespaces/soak/services",
                     fmt::format(R"({{"metadata":{{"name":"{}"}},"spec":{{"ports":[{{"port":80}}]}}}})", service_name(i)))
            .status != 201)
      return 1;
  std::cout << fmt::format(
      "apiserver soak: `switchyard apiserver` over HTTPS, {} clients (list loop + watch each), {} Services, {:.0f} s per phase\n",
      o.clients, o.services, o.seconds);
  // Quiet, crowded, quiet, crowded: each crowded phase is compared with the quiet one before it.
  // A short warm-up first: the server's worker pool grows to the load once, and that growth
  // is no cost of the idle connections.
  print(run_phase(server, o, "warm-up", 0, 2), o);
  std::vector<PhaseFigures> phases;
  for (int round = 0; round < o.rounds; ++round) {
    phases.push_back(run_phase(server, o, "quiet", 0, o.seconds));
    print(phases.back(), o);
    phases.push_back(run_phase(server, o, "crowded", o.idle, o.seconds));
    print(phases.back(), o);
  }
  bool ok = true;
  std::vector<double> ratios;
  for (std::size_t i = 0; i + 1 < phases.size(); i += 2) {
    const auto& quiet = phases[i];
    const auto& crowded = phases[i + 1];
    ratios.push_back(crowded.p99 / std::max(quiet.p99, 0.001));
    std::cout << fmt::format("  round {}: crowded/quiet p99 {:.2f}x, threads {} -> {}, RSS {:+.1f} MiB\n", i / 2 + 1, ratios.back(),
                             quiet.threads, crowded.threads, crowded.rss_mib - quiet.rss_mib);
    ok = ok && quiet.wrong == 0 && crowded.wrong == 0 && quiet.events_missed == 0 && crowded.events_missed == 0 &&
         quiet.watch_failures == 0 && crowded.watch_failures == 0 && quiet.lists > 0 && crowded.lists > 0 &&
         crowded.threads <= quiet.threads + 2 && crowded.rss_mib - quiet.rss_mib < 64;
  }
  // One round's p99 is a handful of requests: the median round is the figure.
  std::sort(ratios.begin(), ratios.end());
  const double median = ratios[ratios.size() / 2];
  std::cout << fmt::format("  median crowded/quiet p99 over {} rounds: {:.2f}x\n", ratios.size(), median);
  ok = ok && median <= 2.0;
  if (o.check) std::cout << (ok ? "check: every bound holds\n" : "check: a bound failed\n");
  return o.check && !ok ? 1 : 0;
}
