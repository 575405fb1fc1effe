#include "bench/apiserver_bench_fanout.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it
#include <vector>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/raw_watch.h"

namespace switchyard::bench {

using Json = nlohmann::json;

namespace {

// ---- Watch fan-out --------------------------------------------------------------------------

struct FanOut {
  std::mutex mu;
  std::condition_variable cv;
  std::map<long, std::vector<Clock::time_point>> receipts;  // resourceVersion -> receipt times
  int failed_watchers = 0;
};

int connect_watch(const Target& t, const std::string& rv) {
  return connect_raw_watch(t.port, t.host, fmt::format("{}?watch=true&resourceVersion={}", kServices, rv), t.token);
}

}  // namespace

FanOutFigures run_fan_out(const Target& t, int watchers, int events) {
  FanOutFigures f;
  f.watchers = watchers;
  Client c(t);
  auto cur = c.request("GET", kServices + "?limit=1");
  const std::string rv = Json::parse(cur.body)["metadata"]["resourceVersion"].get<std::string>();
  auto r = c.request("GET", kServices + "/" + service_name(0));
  Json obj = Json::parse(r.body);

  FanOut fan;
  std::vector<RawWatch> ws(watchers);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const auto c0 = Clock::now();
  for (int i = 0; i < watchers; ++i) {
    ws[i].fd = connect_watch(t, rv);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, ws[i].fd, &ev);
  }
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    std::vector<epoll_event> evs(256);
    char buf[65536];
    while (!stop) {
      int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int k = 0; k < n; ++k) {
        RawWatch& w = ws[evs[k].data.u32];
        while (true) {
          ssize_t got = ::read(w.fd, buf, sizeof buf);
          if (got <= 0) {
            if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
              ::epoll_ctl(ep, EPOLL_CTL_DEL, w.fd, nullptr);
              std::lock_guard lock(fan.mu);
              ++fan.failed_watchers;
            }
            break;
          }
          const auto at = Clock::now();
          w.in.append(buf, static_cast<std::size_t>(got));
          std::vector<long> rvs;
          decode_watch(w, [&](std::string_view line) { rvs.push_back(resource_version_of(line)); });
          if (!rvs.empty()) {
            std::lock_guard lock(fan.mu);
            for (long v : rvs) fan.receipts[v].push_back(at);
            fan.cv.notify_all();
          }
        }
      }
    }
  });

  auto wait_all = [&](long v, std::chrono::seconds timeout) {
    std::unique_lock lock(fan.mu);
    return fan.cv.wait_for(lock, timeout, [&] { return static_cast<int>(fan.receipts[v].size()) >= watchers - fan.failed_watchers; });
  };
  auto put = [&](int k, Clock::time_point& sent, Clock::time_point& acked) {
    obj["metadata"]["labels"]["fanout"] = fmt::format("e{}", k);
    const auto body = obj.dump();
    sent = Clock::now();
    auto p = c.request("PUT", kServices + "/" + service_name(0), body);
    acked = Clock::now();
    if (p.status != 200) throw std::runtime_error(fmt::format("fan-out update: {} {}", p.status, p.body.substr(0, 300)));
    obj = Json::parse(p.body);
    return std::strtol(obj["metadata"]["resourceVersion"].get<std::string>().c_str(), nullptr, 10);
  };

  // A first update, not counted, shows every watch is established (each watch replays from rv anyway).
  Clock::time_point sent, acked;
  const long warm = put(-1, sent, acked);
  if (!wait_all(warm, std::chrono::seconds(120))) std::cerr << "  warm-up event did not reach every watcher\n";
  f.connect_s = seconds_since(c0);

  for (int k = 0; k < events; ++k) {
    const long v = put(k, sent, acked);
    const bool all = wait_all(v, std::chrono::seconds(30));
    std::lock_guard lock(fan.mu);
    const auto& rec = fan.receipts[v];
    if (!all) f.missing += watchers - static_cast<int>(rec.size());
    double last = 0;
    for (auto at : rec) {
      const double l = ms(at - acked);
      if (at < acked) ++f.before_ack;
      f.latencies_ms.push_back(l);
      f.from_send_ms.push_back(ms(at - sent));
      last = std::max(last, l);
    }
    f.last_ms.push_back(last);
    f.write_ms.push_back(ms(acked - sent));
    ++f.events;
  }
  stop = true;
  reader.join();
  for (auto& w : ws) ::close(w.fd);
  ::close(ep);
  if (fan.failed_watchers) std::cerr << fmt::format("  {} watch connections ended early\n", fan.failed_watchers);
  return f;
}

}  // namespace switchyard::bench
