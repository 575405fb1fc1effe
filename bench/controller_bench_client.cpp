#include "bench/controller_bench_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace switchyard::bench {

using Json = nlohmann::json;

// ---- HttpConnection -----------------------------------------------------------------------------

struct HttpConnection::Impl {
  std::unique_ptr<switchyard::http::HttpClient> client;
};

HttpConnection::HttpConnection(std::string host, int port) : impl_(std::make_unique<Impl>()) {
  auto c = switchyard::http::HttpClient::create({.server = fmt::format("http://{}:{}", host, port),
                                                 .headers = {{"Accept", "application/json"}},
                                                 .max_idle_connections = 1,
                                                 .max_response_bytes = std::size_t{1} << 32});
  if (!c) throw std::runtime_error(c.error().describe());
  impl_->client = std::move(*c);
}

HttpConnection::~HttpConnection() = default;

Reply HttpConnection::request(const std::string& method, const std::string& target, const std::string& body,
                              const std::string& content_type) {
  // The client retries once on a keep-alive connection the server closed meanwhile.
  auto r = impl_->client->request(
      {.method = method, .target = target, .body = body, .content_type = body.empty() ? "" : content_type, .idempotent = true});
  if (!r) throw std::runtime_error(fmt::format("{} {}: {}", method, target, r.error().message));
  return {r->status, std::move(r->body)};
}

// ---- SliceWatch ---------------------------------------------------------------------------------

SliceWatch::SliceWatch(const std::string& host, int port, std::string namespace_prefix, int endpoints_per_service)
    : host_(host), prefix_(std::move(namespace_prefix)), port_(port), per_service_(endpoints_per_service) {
  complete_changed_ = Clock::now();
  reader_ = std::thread([this] { run(); });
}

SliceWatch::~SliceWatch() {
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    if (client_) client_->close();
  }
  reader_.join();
}

std::string SliceWatch::error() {
  std::lock_guard lock(mu_);
  return error_;
}

void SliceWatch::run() {
  auto created = switchyard::http::HttpClient::create(
      {.server = fmt::format("http://{}:{}", host_, port_), .headers = {{"Accept", "application/json"}}});
  if (!created) {
    std::lock_guard lock(mu_);
    error_ = created.error().describe();
  } else {
    {
      std::lock_guard lock(mu_);
      client_ = std::move(*created);
      if (stopping_) client_->close();
    }
    auto status =
        client_->stream_lines({.target = "/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=0&timeoutSeconds=86400"},
                              [this](const std::string& line) {
                                on_event(line);
                                return !stopping_.load();
                              });
    std::lock_guard lock(mu_);
    if (!stopping_) {
      if (!status)
        error_ = "watch: " + status.error().message;
      else if (*status != 200)
        error_ = fmt::format("watch answered HTTP {}", *status);
    }
  }
  ended_ = true;
  cv_.notify_all();
}

void SliceWatch::on_event(const std::string& line) {
  if (line.empty()) return;
  const auto now = Clock::now();
  const Json event = Json::parse(line, nullptr, false);
  if (event.is_discarded()) return;
  const std::string type = event.value("type", "");
  if (type != "ADDED" && type != "MODIFIED" && type != "DELETED") return;
  const Json& object = event["object"];
  const Json& meta = object.value("metadata", Json::object());
  const std::string ns = meta.value("namespace", "");
  if (!ns.starts_with(prefix_)) return;
  ++events_;
  const std::string key = ns + "/" + meta.value("name", "");
  const std::string service = ns + "/" + meta.value("labels", Json::object()).value("kubernetes.io/service-name", "");
  int ready = 0;
  std::vector<std::pair<std::string, bool>> seen;
  if (type != "DELETED" && object.contains("endpoints") && object["endpoints"].is_array()) {
    for (const auto& ep : object["endpoints"]) {
      const bool r = ep.value("conditions", Json::object()).value("ready", false);
      ready += r ? 1 : 0;
      for (const auto& a : ep.value("addresses", Json::array())) seen.emplace_back(a.get<std::string>(), r);
    }
  }
  std::lock_guard lock(mu_);
  auto account = [&](const std::string& svc, int delta) {
    int& count = ready_by_service_[svc];
    const bool was = count == per_service_;
    count += delta;
    const bool is = count == per_service_;
    if (was != is) {
      complete_ += is ? 1 : -1;
      complete_changed_ = now;
    }
  };
  if (auto it = slices_.find(key); it != slices_.end()) {
    account(it->second.service, -it->second.ready);
    slices_.erase(it);
  }
  if (type != "DELETED") {
    slices_[key] = {service, ready};
    account(service, ready);
  }
  for (const auto& [ip, r] : seen) {
    auto it = expected_.find(ip);
    if (it == expected_.end() || it->second.ready != r) continue;
    met_ms_.push_back(std::chrono::duration<double, std::milli>(now - it->second.sent).count());
    expected_.erase(it);
  }
  cv_.notify_all();
}

int SliceWatch::complete_services() {
  std::lock_guard lock(mu_);
  return complete_;
}

std::optional<Clock::time_point> SliceWatch::wait_complete(int services, double timeout_seconds) {
  std::unique_lock lock(mu_);
  const bool done = cv_.wait_for(lock, std::chrono::duration<double>(timeout_seconds), [&] { return complete_ >= services || ended_; });
  if (!done || complete_ < services) return std::nullopt;
  return complete_changed_;
}

void SliceWatch::expect(const std::string& ip, bool ready, Clock::time_point sent) {
  std::lock_guard lock(mu_);
  expected_[ip] = {ready, sent};
}

std::vector<double> SliceWatch::wait_expectations(double timeout_seconds, int& unmet) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::duration<double>(timeout_seconds), [&] { return expected_.empty() || ended_; });
  unmet = static_cast<int>(expected_.size());
  expected_.clear();
  return std::exchange(met_ms_, {});
}

// ---- ProcessUsage -------------------------------------------------------------------------------

double ProcessUsage::cpu_seconds() const {
  std::ifstream in(fmt::format("/proc/{}/stat", pid_));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields after the name start at 3 (state); utime is 14, stime 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

namespace {
double status_mib(pid_t pid, const std::string& field) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(field + ":")) return std::stod(line.substr(field.size() + 1)) / 1024.0;  // "  1234 kB"
  return 0;
}
}  // namespace

double ProcessUsage::peak_rss_mib() const { return status_mib(pid_, "VmHWM"); }
double ProcessUsage::rss_mib() const { return status_mib(pid_, "VmRSS"); }

void ProcessUsage::reset_peak_rss() const {
  std::ofstream out(fmt::format("/proc/{}/clear_refs", pid_));
  out << "5\n";
}

}  // namespace switchyard::bench
