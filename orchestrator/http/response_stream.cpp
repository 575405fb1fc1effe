// The application's side of a streaming response: queue chunks from any thread, bounded.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/http/server_impl.h"

namespace switchyard::http {

std::string request_head(std::string_view method, std::string_view target, const Headers& headers) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  for (const auto& [name, value] : headers) out.append(name).append(": ").append(value).append("\r\n");
  out += "\r\n";
  return out;
}

std::string_view find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(key[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return value;
  }
  return {};
}

ResponseStream::ResponseStream(std::shared_ptr<State> state) : state_(std::move(state)) {}

// Nobody can write any more: end the stream cleanly.
ResponseStream::~ResponseStream() { finish(); }

bool ResponseStream::write(std::string data) {
  if (data.empty()) return open();
  std::shared_ptr<ConnectionBase> connection;
  bool overflow = false, post = false;
  {
    std::lock_guard lock(state_->mu);
    if (state_->ended || state_->finish_requested) return false;
    if (state_->pending.size() + data.size() > state_->max_pending) {
      overflow = true;
      state_->pending.clear();
    } else {
      state_->pending += fmt::format("{:x}\r\n", data.size());
      state_->pending += data;
      state_->pending += "\r\n";
      post = !state_->flush_posted;
      state_->flush_posted = true;
    }
    connection = state_->connection.lock();
  }
  if (!connection) return false;
  if (overflow) {
    // The client reads more slowly than the stream is written: cut it off (as kube-apiserver
    // ends a watcher that cannot keep up) instead of buffering without end.
    spdlog::warn("event=http_stream_overflow queued_bytes_max={} action=close", state_->max_pending);
    connection->close();
    return false;
  }
  if (post) connection->flush_stream();
  return true;
}

void ResponseStream::finish() {
  std::shared_ptr<ConnectionBase> connection;
  {
    std::lock_guard lock(state_->mu);
    if (state_->ended || state_->finish_requested) return;
    state_->finish_requested = true;
    state_->flush_posted = true;
    connection = state_->connection.lock();
  }
  if (connection) connection->flush_stream();
}

bool ResponseStream::open() const {
  std::lock_guard lock(state_->mu);
  return !state_->ended && !state_->finish_requested;
}

std::size_t ResponseStream::queued_bytes() const {
  std::lock_guard lock(state_->mu);
  return state_->pending.size();
}

void ResponseStream::on_end(std::function<void()> fn) {
  {
    std::lock_guard lock(state_->mu);
    if (!state_->ended) {
      std::swap(state_->on_end, fn);  // the old one is destroyed outside the lock
      return;
    }
    if (!fn) return;
  }
  fn();  // already over
}

void ResponseStream::every(std::chrono::milliseconds interval, std::function<void()> fn) {
  std::shared_ptr<ConnectionBase> connection;
  {
    std::lock_guard lock(state_->mu);
    if (state_->ended) return;
    std::swap(state_->tick, fn);  // the old one is destroyed outside the lock
    state_->tick_interval = std::max(interval, std::chrono::milliseconds(1));
    connection = state_->connection.lock();
  }
  if (connection) connection->start_ticker();
}

}  // namespace switchyard::http
