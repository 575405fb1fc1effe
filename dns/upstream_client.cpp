#include "dns/upstream_client.h"

#include <arpa/inet.h>

#include <charconv>
#include <fstream>
#include <mutex>
#include <sstream>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

namespace switchyard::dns {

namespace asio = boost::asio;

Result<std::string> parse_upstream(const std::string& text) {
  std::string host = text;
  std::string_view port_text = "53";
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("upstream {}: expected [IPv6]:PORT", text));
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return fail(ErrorCode::Invalid, fmt::format("upstream {}: expected [IPv6]:PORT", text));
      port_text = std::string_view(text).substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port_text = std::string_view(text).substr(text.find(':') + 1);
  }
  unsigned port = 0;
  auto [p, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (err != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return fail(ErrorCode::Invalid, fmt::format("upstream {}: {} is not a port", text, port_text));
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) return fmt::format("{}:{}", host, port);
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1) return fmt::format("[{}]:{}", host, port);
  return fail(ErrorCode::Invalid, fmt::format("upstream {}: {} is not an IP address", text, host));
}

Result<std::vector<std::string>> read_resolv_conf_nameservers(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::NotFound, fmt::format("{}: cannot read the file", path));
  std::vector<std::string> servers;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    if (!(words >> keyword >> address) || keyword != "nameserver") continue;
    if (auto scope = address.find('%'); scope != std::string::npos) address.resize(scope);  // link-local scope: not supported
    auto parsed = parse_upstream(address.find(':') != std::string::npos ? "[" + address + "]" : address);
    if (!parsed) return fail(ErrorCode::Internal, fmt::format("{}: {}", path, parsed.error().message));
    servers.push_back(*parsed);
  }
  return servers;
}

// A socket c-ares asked us to watch. The descriptor is borrowed: c-ares closes the fd, we only
// release it (after c-ares says it no longer cares).
struct UpstreamClient::Watch {
  Watch(asio::io_context& io, ares_socket_t f) : fd(f), descriptor(io, f) {}
  ares_socket_t fd;
  asio::posix::stream_descriptor descriptor;
  bool want_read = false, want_write = false, reading = false, writing = false, closed = false;
};

struct UpstreamClient::Pending {
  Callback callback;
  UpstreamClient* client;
};

namespace {

const char* failure_text(int status) {
  switch (status) {
    case ARES_ETIMEOUT: return "timed out";
    case ARES_ECONNREFUSED: return "connection refused";
    case ARES_EBADRESP: return "malformed response";
    case ARES_ESERVFAIL: return "server failure";
    default: return ares_strerror(status);
  }
}

}  // namespace

UpstreamClient::UpstreamClient(asio::io_context& io) : io_(io), timer_(io) {}

Result<std::unique_ptr<UpstreamClient>> UpstreamClient::create(asio::io_context& io, UpstreamClientOptions options) {
  static std::once_flag library_init;
  std::call_once(library_init, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  if (options.servers.empty()) return fail(ErrorCode::Invalid, "upstream: no servers to forward to");
  std::unique_ptr<UpstreamClient> client(new UpstreamClient(io));
  ares_options o{};
  // NOCHECKRESP: pass REFUSED and SERVFAIL answers through instead of trying the next server
  // (as CoreDNS's forward); STAYOPEN: keep the UDP sockets between queries.
  o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_STAYOPEN;
  o.timeout = static_cast<int>(options.timeout.count());
  o.tries = std::max(1, options.tries);
  o.sock_state_cb = &UpstreamClient::on_socket_state;
  o.sock_state_cb_data = client.get();
  const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  if (int rc = ares_init_options(&client->channel_, &o, mask); rc != ARES_SUCCESS)
    return fail(ErrorCode::Internal, fmt::format("upstream: cannot create a c-ares channel: {}", ares_strerror(rc)));
  const std::string csv = fmt::format("{}", fmt::join(options.servers, ","));
  if (int rc = ares_set_servers_ports_csv(client->channel_, csv.c_str()); rc != ARES_SUCCESS)
    return fail(ErrorCode::Internal, fmt::format("upstream {}: c-ares refuses the servers: {}", csv, ares_strerror(rc)));
  return client;
}

UpstreamClient::~UpstreamClient() {
  destroying_ = true;  // ares_destroy fails every pending query: nobody must be called back
  if (channel_) ares_destroy(channel_);
  for (auto& [fd, w] : watches_) {
    w->closed = true;
    w->descriptor.release();
  }
}

void UpstreamClient::send(std::span<const std::uint8_t> query, Callback callback) {
  // c-ares may fail a query from inside ares_send: on_answer then defers the callback.
  in_send_ = true;
  ares_send(channel_, query.data(), static_cast<int>(query.size()), &UpstreamClient::on_answer, new Pending{std::move(callback), this});
  in_send_ = false;
  rearm_timer();
}

void UpstreamClient::on_answer(void* arg, int status, int, unsigned char* answer, int length) {
  auto* pending = static_cast<Pending*>(arg);
  if (pending->client->destroying_ || status == ARES_EDESTRUCTION) {
    delete pending;
    return;
  }
  if (pending->client->in_send_) {
    asio::post(pending->client->io_, [cb = std::move(pending->callback), status] { cb({}, failure_text(status)); });
    delete pending;
    return;
  }
  if (status == ARES_SUCCESS && answer && length > 0)
    pending->callback(std::span<const std::uint8_t>(answer, static_cast<std::size_t>(length)), nullptr);
  else
    pending->callback({}, failure_text(status));
  delete pending;
}

void UpstreamClient::on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<UpstreamClient*>(data);
  auto it = self->watches_.find(fd);
  if (!readable && !writable) {
    if (it == self->watches_.end()) return;
    it->second->closed = true;
    it->second->descriptor.release();  // cancels the waits; c-ares closes the fd itself
    self->watches_.erase(it);
    return;
  }
  if (self->destroying_) return;
  if (it == self->watches_.end()) it = self->watches_.emplace(fd, std::make_shared<Watch>(self->io_, fd)).first;
  auto w = it->second;
  w->want_read = readable;
  w->want_write = writable;
  if (readable) self->arm(w, false);
  if (writable) self->arm(w, true);
}

void UpstreamClient::arm(const std::shared_ptr<Watch>& w, bool write) {
  bool& busy = write ? w->writing : w->reading;
  if (busy || w->closed || !(write ? w->want_write : w->want_read)) return;
  busy = true;
  using Wait = asio::posix::descriptor_base::wait_type;
  w->descriptor.async_wait(write ? Wait::wait_write : Wait::wait_read, [this, w, write](boost::system::error_code ec) {
    (write ? w->writing : w->reading) = false;
    if (ec || w->closed) return;
    // Pending queries keep `this` alive: the io_context stops before the client is destroyed.
    ares_process_fd(channel_, write ? ARES_SOCKET_BAD : w->fd, write ? w->fd : ARES_SOCKET_BAD);
    arm(w, write);
    rearm_timer();
  });
}

void UpstreamClient::rearm_timer() {
  timeval tv{};
  timeval* next = ares_timeout(channel_, nullptr, &tv);
  if (!next) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // retries and timeouts
    rearm_timer();
  });
}

}  // namespace switchyard::dns
