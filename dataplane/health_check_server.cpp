#include "dataplane/health_check_server.h"

#include <utility>  // before Boost 1.74's Asio, which uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace switchyard::dataplane {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string health_check_body(const ServiceHealth& health, bool proxy_healthy) {
  // nlohmann::ordered_json keeps kube-proxy's key order; it also escapes the names.
  nlohmann::ordered_json body;
  body["service"]["namespace"] = health.service.namespace_;
  body["service"]["name"] = health.service.name;
  body["localEndpoints"] = health.local_endpoints;
  body["serviceProxyHealthy"] = proxy_healthy;
  return body.dump();
}

std::vector<std::pair<std::int32_t, ServiceHealth>> HealthCheckServer::desired_ports(const endpoints::Snapshot& snapshot) {
  std::map<std::int32_t, ServiceHealth> by_port;
  for (const auto& [name, port] : snapshot.service_ports()) {
    if (port->health_check_node_port == 0) continue;
    // Every port of a service shares its health-check node port; a service's ports can only
    // differ in endpoints when their slices do, so the best count wins.
    auto [it, added] =
        by_port.try_emplace(port->health_check_node_port, ServiceHealth{{name.namespace_, name.name}, port->local_ready_endpoints});
    if (!added) it->second.local_endpoints = std::max(it->second.local_endpoints, port->local_ready_endpoints);
  }
  return {by_port.begin(), by_port.end()};
}

struct HealthCheckServer::Impl {
  HealthCheckServerOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;

  mutable std::mutex mutex;  // guards health and proxy_healthy: read by the server thread
  std::map<std::int32_t, ServiceHealth> health;
  std::function<bool()> proxy_healthy = [] { return true; };

  // Touched by update() only; the acceptors themselves are used and closed on the server thread.
  std::map<std::int32_t, std::vector<std::shared_ptr<tcp::acceptor>>> listeners;

  std::string answer(std::int32_t port, http::status& status) const {
    std::lock_guard lock(mutex);
    auto it = health.find(port);
    const ServiceHealth h = it == health.end() ? ServiceHealth{} : it->second;
    const bool healthy = proxy_healthy();
    status = h.local_endpoints > 0 && healthy ? http::status::ok : http::status::service_unavailable;
    return health_check_body(h, healthy);
  }

  std::expected<std::shared_ptr<tcp::acceptor>, std::string> open(const std::string& address, std::int32_t port) {
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    if (ec) return std::unexpected("address " + address + ": " + ec.message());
    auto acceptor = std::make_shared<tcp::acceptor>(io);
    const tcp::endpoint endpoint(ip, static_cast<std::uint16_t>(port));
    acceptor->open(endpoint.protocol(), ec);
    if (!ec && ip.is_v6() && ip.to_v6().is_unspecified()) acceptor->set_option(asio::ip::v6_only(false), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return std::unexpected("listen on " + endpoint.address().to_string() + " port " + std::to_string(port) + ": " + ec.message());
    return acceptor;
  }

  void accept(std::shared_ptr<tcp::acceptor> acceptor, std::int32_t port) {
    acceptor->async_accept([this, acceptor, port](boost::system::error_code ec, tcp::socket socket) {
      if (!acceptor->is_open()) return;  // closed by update()
      if (!ec) serve(std::move(socket), port);
      accept(acceptor, port);
    });
  }

  // One request, one answer, then the connection is closed (load balancers probe that way).
  void serve(tcp::socket socket, std::int32_t port) {
    struct Exchange {
      beast::tcp_stream stream;
      beast::flat_buffer buffer;
      http::request<http::empty_body> request;
      http::response<http::string_body> response;
      explicit Exchange(tcp::socket s) : stream(std::move(s)) {}
    };
    auto x = std::make_shared<Exchange>(std::move(socket));
    x->stream.expires_after(std::chrono::seconds(10));
    http::async_read(x->stream, x->buffer, x->request, [this, x, port](beast::error_code ec, std::size_t) {
      if (ec) return;
      http::status status{};
      x->response.body() = answer(port, status);
      x->response.result(status);
      x->response.version(x->request.version());
      x->response.set(http::field::content_type, "application/json");
      x->response.set("X-Content-Type-Options", "nosniff");
      x->response.keep_alive(false);
      x->response.prepare_payload();
      http::async_write(x->stream, x->response, [x](beast::error_code, std::size_t) {
        beast::error_code ignored;
        x->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
    });
  }

  // Runs fn on the server thread and waits for it: acceptors are not safe across threads.
  void on_server_thread(std::function<void()> fn) {
    std::promise<void> done;
    asio::post(io, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
};

HealthCheckServer::HealthCheckServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::expected<std::unique_ptr<HealthCheckServer>, Error> HealthCheckServer::create(HealthCheckServerOptions options) {
  for (const auto& a : options.node_addresses) {
    boost::system::error_code ec;
    asio::ip::make_address(a, ec);
    if (ec) return std::unexpected(Error{ErrorCode::Internal, "health-check server: node address '" + a + "': " + ec.message()});
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->thread = std::thread([io = &impl->io] { io->run(); });
  return std::unique_ptr<HealthCheckServer>(new HealthCheckServer(std::move(impl)));
}

HealthCheckServer::~HealthCheckServer() {
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
}

std::expected<void, Error> HealthCheckServer::update(const endpoints::Snapshot& snapshot) {
  auto& s = *impl_;
  const auto desired = desired_ports(snapshot);
  {
    std::lock_guard lock(s.mutex);
    s.health = {desired.begin(), desired.end()};
  }
  std::string errors;
  std::vector<std::shared_ptr<tcp::acceptor>> to_close, to_start;
  std::vector<std::int32_t> to_start_ports;
  for (auto it = s.listeners.begin(); it != s.listeners.end();) {
    const bool wanted = std::ranges::any_of(desired, [&](const auto& d) { return d.first == it->first; });
    if (wanted) {
      ++it;
      continue;
    }
    to_close.insert(to_close.end(), it->second.begin(), it->second.end());
    it = s.listeners.erase(it);
  }
  const std::vector<std::string> addresses = s.options.node_addresses.empty() ? std::vector<std::string>{"::"} : s.options.node_addresses;
  for (const auto& [port, health] : desired) {
    if (s.listeners.contains(port)) continue;
    std::vector<std::shared_ptr<tcp::acceptor>> opened;
    std::string failed;
    for (const auto& address : addresses) {
      auto acceptor = s.open(address, port);
      // A host without IPv6 still gets an IPv4 listener for "every address".
      if (!acceptor && address == "::" && s.options.node_addresses.empty()) acceptor = s.open("0.0.0.0", port);
      if (!acceptor) {
        failed = acceptor.error();
        break;
      }
      opened.push_back(std::move(*acceptor));
    }
    if (!failed.empty()) {
      errors += (errors.empty() ? "" : "; ") + ("health-check node port " + std::to_string(port) + " of service " +
                                                health.service.namespace_ + "/" + health.service.name + ": " + failed);
      to_close.insert(to_close.end(), opened.begin(), opened.end());
      continue;
    }
    for (auto& a : opened) {
      to_start.push_back(a);
      to_start_ports.push_back(port);
    }
    s.listeners.emplace(port, std::move(opened));
  }
  if (!to_close.empty() || !to_start.empty())
    s.on_server_thread([&] {
      for (auto& a : to_close) {
        boost::system::error_code ignored;
        a->close(ignored);
      }
      for (std::size_t i = 0; i < to_start.size(); ++i) s.accept(to_start[i], to_start_ports[i]);
    });
  if (!errors.empty()) return std::unexpected(Error{ErrorCode::Internal, errors});
  return {};
}

void HealthCheckServer::set_proxy_health(std::function<bool()> healthy) {
  std::lock_guard lock(impl_->mutex);
  impl_->proxy_healthy = std::move(healthy);
}

std::vector<std::int32_t> HealthCheckServer::listening_ports() const {
  std::vector<std::int32_t> out;
  for (const auto& [port, _] : impl_->listeners) out.push_back(port);
  return out;
}

}  // namespace switchyard::dataplane
