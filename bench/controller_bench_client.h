// What controller_bench needs to talk to a `switchyard apiserver` from outside: a keep-alive HTTP/1.1
// connection (plain HTTP, loopback), a watch on EndpointSlices that keeps, per Service, how many
// ready endpoints its slices hold and times readiness changes the bench waits for, and the
// CPU time and memory of a process from /proc. HTTP through the project's one client
// (orchestrator/http).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/http/client.h"

namespace switchyard::bench {

using Clock = std::chrono::steady_clock;

struct Reply {
  int status = 0;
  std::string body;
};

// One keep-alive connection; reconnects once when the server closed it.
class HttpConnection {
 public:
  HttpConnection(std::string host, int port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  // Throws std::runtime_error when no answer could be had.
  Reply request(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& content_type = "application/json");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A watch on every EndpointSlice of the namespaces starting with `namespace_prefix`, read on its own
// thread from resourceVersion 0 (so the existing slices come first, as ADDED events).
class SliceWatch {
 public:
  SliceWatch(const std::string& host, int port, std::string namespace_prefix, int endpoints_per_service);
  ~SliceWatch();
  SliceWatch(const SliceWatch&) = delete;
  SliceWatch& operator=(const SliceWatch&) = delete;

  // Waits until `services` Services each have exactly endpoints_per_service ready endpoints in
  // their slices: the moment the watch saw that, or nothing on timeout (or if the watch ended).
  std::optional<Clock::time_point> wait_complete(int services, double timeout_seconds);
  int complete_services();

  // The bench is about to change `ip`'s readiness to `ready`: the first slice event that shows it
  // records the time since `sent`.
  void expect(const std::string& ip, bool ready, Clock::time_point sent);
  // Waits until every expectation was met: the latencies in ms, in the order they were met.
  std::vector<double> wait_expectations(double timeout_seconds, int& unmet);

  std::uint64_t events() const { return events_; }
  bool ended() const { return ended_; }
  std::string error();

 private:
  void run();
  void on_event(const std::string& line);

  std::string host_, prefix_;
  int port_, per_service_;
  std::atomic<bool> stopping_{false}, ended_{false};
  std::atomic<std::uint64_t> events_{0};
  std::unique_ptr<switchyard::http::HttpClient> client_;  // the watch's, so that the destructor can end it
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string error_;
  struct SliceState {
    std::string service;  // namespace/name
    int ready = 0;
  };
  std::map<std::string, SliceState> slices_;     // namespace/name of the slice
  std::map<std::string, int> ready_by_service_;  // namespace/name of the Service
  int complete_ = 0;                             // Services with exactly per_service_ ready
  Clock::time_point complete_changed_;
  struct Expectation {
    bool ready;
    Clock::time_point sent;
  };
  std::map<std::string, Expectation> expected_;  // by IP
  std::vector<double> met_ms_;
};

// CPU time and memory of one process, from /proc/PID.
class ProcessUsage {
 public:
  explicit ProcessUsage(pid_t pid) : pid_(pid) {}
  double cpu_seconds() const;   // utime + stime
  double peak_rss_mib() const;  // VmHWM
  double rss_mib() const;       // VmRSS
  void reset_peak_rss() const;  // writes 5 to /proc/PID/clear_refs: VmHWM restarts from VmRSS

 private:
  pid_t pid_;
};

}  // namespace switchyard::bench
