#include "bench/controller_bench_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace switchyard::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;

// ---- HttpConnection -----------------------------------------------------------------------------

struct HttpConnection::Impl {
  std::string host;
  int port;
  asio::io_context io;
  std::optional<tcp::socket> socket;
  beast::flat_buffer buffer;

  void connect() {
    socket.emplace(io);
    socket->connect(tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)));
    socket->set_option(tcp::no_delay(true));
    buffer.clear();
  }

  Reply exchange(const std::string& method, const std::string& target, const std::string& body, const std::string& content_type) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.set(http::field::accept, "application/json");
    if (!body.empty()) {
      req.set(http::field::content_type, content_type);
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    http::write(*socket, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 32);
    http::read(*socket, buffer, parser);
    auto res = parser.release();
    if (!res.keep_alive()) socket.reset();
    return {static_cast<int>(res.result_int()), std::move(res.body())};
  }
};

HttpConnection::HttpConnection(std::string host, int port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->connect();
}

HttpConnection::~HttpConnection() = default;

Reply HttpConnection::request(const std::string& method, const std::string& target, const std::string& body,
                              const std::string& content_type) {
  for (int attempt = 0;; ++attempt) {
    try {
      if (!impl_->socket) impl_->connect();
      return impl_->exchange(method, target, body, content_type);
    } catch (const std::exception& e) {
      impl_->socket.reset();
      if (attempt == 1) throw std::runtime_error(fmt::format("{} {}: {}", method, target, e.what()));
    }
  }
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
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  reader_.join();
}

std::string SliceWatch::error() {
  std::lock_guard lock(mu_);
  return error_;
}

void SliceWatch::run() {
  try {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address(host_), static_cast<unsigned short>(port_)));
    {
      std::lock_guard lock(mu_);
      fd_ = socket.native_handle();
      if (stopping_) return;
    }
    http::request<http::empty_body> req{http::verb::get,
                                        "/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=0&timeoutSeconds=86400", 11};
    req.set(http::field::host, host_);
    req.set(http::field::accept, "application/json");
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    http::read_header(socket, buffer, parser);
    if (parser.get().result_int() != 200) throw std::runtime_error(fmt::format("watch answered HTTP {}", parser.get().result_int()));
    std::string pending;
    auto on_chunk = [&](std::uint64_t, beast::string_view body, beast::error_code&) -> std::size_t {
      pending.append(body.data(), body.size());
      for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        on_event(pending.substr(0, nl));
        pending.erase(0, nl + 1);
      }
      return body.size();
    };
    parser.on_chunk_body(on_chunk);
    beast::error_code ec;
    while (!parser.is_done() && !stopping_) {
      http::read_some(socket, buffer, parser, ec);
      if (ec) break;
    }
    if (ec && !stopping_) throw std::runtime_error("watch read: " + ec.message());
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    if (!stopping_) error_ = e.what();
  }
  {
    std::lock_guard lock(mu_);
    fd_ = -1;
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
