#include "bench/apiserver_bench_wire.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/api/protobuf_codec.h"

namespace switchyard::bench {

namespace {

using Json = nlohmann::json;

double process_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

bool is_protobuf(const std::string& content_type) { return content_type.starts_with(api::protobuf::kMediaType); }

// One watch connection: raw bytes in, the chunked body decoded, events counted by their framing
// (a newline per JSON event, a length prefix per protobuf frame) without decoding them.
struct Watcher {
  int fd = -1;
  bool protobuf = false, head_done = false;
  std::string in, body;
  std::size_t body_bytes = 0;
  int events = 0;

  void feed() {
    std::size_t pos = 0;
    if (!head_done) {
      auto end = in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      head_done = true;
      pos = end + 4;
    }
    while (true) {
      auto crlf = in.find("\r\n", pos);
      if (crlf == std::string::npos) break;
      const std::size_t size = std::strtoul(in.c_str() + pos, nullptr, 16);
      if (size == 0 || in.size() < crlf + 2 + size + 2) break;
      body.append(in, crlf + 2, size);
      body_bytes += size;
      pos = crlf + 2 + size + 2;
    }
    in.erase(0, pos);
    std::size_t at = 0;
    while (true) {
      if (protobuf) {
        if (body.size() - at < 4) break;
        const auto* p = reinterpret_cast<const unsigned char*>(body.data() + at);
        const std::size_t n = std::size_t{p[0]} << 24 | std::size_t{p[1]} << 16 | std::size_t{p[2]} << 8 | p[3];
        if (body.size() - at - 4 < n) break;
        at += 4 + n;
      } else {
        auto nl = body.find('\n', at);
        if (nl == std::string::npos) break;
        at = nl + 1;
      }
      ++events;
    }
    body.erase(0, at);
  }
};

int connect_watch(const Target& t, const std::string& rv, const std::string& accept) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(t.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error(fmt::format("connect: {}", std::strerror(errno)));
  const std::string req = fmt::format("GET {}?watch=true&resourceVersion={} HTTP/1.1\r\nHost: {}\r\nAccept: {}\r\n{}\r\n", kServices, rv,
                                      t.host, accept, t.token.empty() ? "" : "Authorization: Bearer " + t.token + "\r\n");
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) throw std::runtime_error("watch request write");
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

}  // namespace

WireFigures run_wire(const Target& t, const std::string& content_type, int watchers, int events) {
  WireFigures f;
  f.content_type = content_type;
  auto c = switchyard::http::HttpClient::create({.server = fmt::format("http://{}:{}", t.host, t.port),
                                                 .bearer_token = t.token,
                                                 .headers = {{"Accept", content_type}},
                                                 .max_idle_connections = 1,
                                                 .max_response_bytes = std::size_t{1} << 30});
  if (!c) throw std::runtime_error(c.error().describe());
  std::vector<double> wall, cpu;
  for (int rep = 0; rep < 3; ++rep) {
    const double cpu0 = process_cpu_ms();
    const auto t0 = Clock::now();
    auto r = (*c)->get(kServices);
    wall.push_back(ms(Clock::now() - t0));
    cpu.push_back(process_cpu_ms() - cpu0);
    if (!r || r->status != 200) throw std::runtime_error("list in " + content_type);
    f.list_bytes = r->body.size();
    if (rep == 0) {  // the answer is checked once, outside the clock
      auto list = is_protobuf(content_type) ? api::protobuf::decode_object(r->body).value_or(Json()) : Json::parse(r->body);
      f.list_items = list.value("items", Json::array()).size();
    }
  }
  f.list_ms = percentile(wall, 50);
  f.list_cpu_ms = percentile(cpu, 50);
  if (watchers <= 0) return f;

  // Watch fan-out: every watcher from the current resourceVersion; one Service updated (in JSON,
  // the same for both) `events` times, each time until every watcher has it.
  Client writer(t);
  const std::string rv = Json::parse(writer.request("GET", kServices + "?limit=1").body)["metadata"]["resourceVersion"];
  Json obj = Json::parse(writer.request("GET", kServices + "/" + service_name(0)).body);
  std::vector<Watcher> ws(static_cast<std::size_t>(watchers));
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < watchers; ++i) {
    ws[i].protobuf = is_protobuf(content_type);
    ws[i].fd = connect_watch(t, rv, content_type);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, ws[i].fd, &ev);
  }
  std::mutex mu;
  std::condition_variable cv;
  int reached = 0, target_events = 0;  // watchers with `target_events` events
  std::vector<Clock::time_point> receipts;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    std::vector<epoll_event> evs(256);
    char buf[65536];
    while (!stop) {
      const int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int k = 0; k < n; ++k) {
        Watcher& w = ws[evs[k].data.u32];
        ssize_t got;
        while ((got = ::read(w.fd, buf, sizeof buf)) > 0) {
          std::lock_guard lock(mu);
          const int before = w.events;
          w.in.append(buf, static_cast<std::size_t>(got));
          w.feed();
          if (before < target_events && w.events >= target_events) {
            ++reached;
            receipts.push_back(Clock::now());
            cv.notify_all();
          }
        }
      }
    }
  });
  auto put_and_wait = [&](int k) {
    obj["metadata"]["labels"]["wire"] = fmt::format("e{}", k);
    {
      std::lock_guard lock(mu);
      ++target_events;
      reached = 0;
    }
    auto p = writer.request("PUT", kServices + "/" + service_name(0), obj.dump());
    if (p.status != 200) throw std::runtime_error(fmt::format("wire update: {} {}", p.status, p.body.substr(0, 300)));
    obj = Json::parse(p.body);
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return reached >= watchers; }) ? 0 : watchers - reached;
  };
  // Warm-up, not counted: every watch is established.
  if (const int late = put_and_wait(-1)) std::cerr << fmt::format("  {} watchers missed the warm-up event\n", late);
  std::size_t bytes0 = 0;
  {
    std::lock_guard lock(mu);
    for (const auto& w : ws) bytes0 += w.body_bytes;
    receipts.clear();
  }
  const double cpu0 = process_cpu_ms();
  std::vector<double> latencies;
  for (int k = 0; k < events; ++k) {
    const auto sent = Clock::now();
    f.missing += put_and_wait(k);
    std::lock_guard lock(mu);
    for (auto at : receipts) latencies.push_back(ms(at - sent));
    receipts.clear();
  }
  f.watch_cpu_ms = process_cpu_ms() - cpu0;
  stop = true;
  reader.join();
  for (const auto& w : ws) {
    f.watch_bytes += w.body_bytes;
    ::close(w.fd);
  }
  f.watch_bytes -= bytes0;
  ::close(ep);
  f.watchers = watchers;
  f.events = events;
  f.latency_p50_ms = percentile(latencies, 50);
  f.latency_p99_ms = percentile(latencies, 99);
  return f;
}

}  // namespace switchyard::bench
