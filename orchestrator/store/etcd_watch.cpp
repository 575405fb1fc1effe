#include "orchestrator/store/etcd_watch.h"

#include <algorithm>
#include <array>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/store/etcd_asio.h"

namespace switchyard::store::etcd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(2000);

// Splits a byte stream into top-level JSON objects, whether the gateway separates them with
// newlines or not.
class JsonObjectSplitter {
 public:
  void feed(std::string_view bytes) { pending_.append(bytes); }

  std::optional<std::string> next() {
    for (; pos_ < pending_.size(); ++pos_) {
      char ch = pending_[pos_];
      if (in_string_) {
        if (escaped_)
          escaped_ = false;
        else if (ch == '\\')
          escaped_ = true;
        else if (ch == '"')
          in_string_ = false;
      } else if (ch == '"') {
        in_string_ = true;
      } else if (ch == '{') {
        if (depth_++ == 0) start_ = pos_;
      } else if (ch == '}' && depth_ > 0 && --depth_ == 0) {
        std::string object = pending_.substr(start_, pos_ + 1 - start_);
        pending_.erase(0, pos_ + 1);
        pos_ = 0;
        return object;
      }
    }
    if (depth_ == 0) {  // only whitespace between objects so far
      pending_.clear();
      pos_ = 0;
    }
    return std::nullopt;
  }

 private:
  std::string pending_;
  std::size_t pos_ = 0, start_ = 0;
  int depth_ = 0;
  bool in_string_ = false, escaped_ = false;
};

StoreResult<Event> event_from(const json& e) {
  Event event;
  event.type = e.value("type", std::string("PUT")) == "DELETE" ? Event::Type::Delete : Event::Type::Put;
  auto kv = key_value_from(e.value("kv", json::object()));
  if (!kv) return std::unexpected(kv.error());
  event.kv = std::move(*kv);
  if (auto it = e.find("prev_kv"); it != e.end()) {
    auto prev = key_value_from(*it);
    if (!prev) return std::unexpected(prev.error());
    event.prev_kv = std::move(*prev);
  }
  return event;
}

}  // namespace

EtcdWatch::EtcdWatch(Endpoint endpoint, std::string prefix, Revision from, Timing timing, WatchCallback callback)
    : endpoint_(std::move(endpoint)),
      prefix_(std::move(prefix)),
      timing_(timing),
      callback_(std::move(callback)),
      delivered_(from),
      progress_(from),
      thread_([this] { run(); }) {}

EtcdWatch::~EtcdWatch() {
  cancelled_ = true;
  // Runs on the watch thread, inside its io_context: aborts whatever it is blocked on.
  asio::post(ioc_, [this] {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  });
  cv_.notify_all();
  thread_.join();
}

StoreResult<void> EtcdWatch::wait_started() {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timing_.request_timeout * 2, [&] { return started_.has_value(); }))
    return std::unexpected(
        StoreError{StoreErrorCode::Unavailable, fmt::format("etcd {} did not confirm the watch in time", endpoint_.str())});
  return *started_;
}

void EtcdWatch::set_started(StoreResult<void> result) {
  {
    std::lock_guard lock(mu_);
    if (started_) return;
    started_ = std::move(result);
  }
  cv_.notify_all();
}

bool EtcdWatch::started() {
  std::lock_guard lock(mu_);
  return started_.has_value() && started_->has_value();
}

void EtcdWatch::run() {
  auto backoff = kFirstBackoff;
  while (!cancelled_) {
    StoreError error{StoreErrorCode::Internal, {}};
    Outcome outcome = stream_once(error);
    if (outcome == Outcome::Cancelled || cancelled_) break;
    if (!started()) {  // the first stream must come up: watch() reports why it did not
      set_started(std::unexpected(error));
      break;
    }
    if (outcome == Outcome::Fatal) {
      spdlog::warn("event=store_watch_ended backend=etcd prefix={} after_revision={} error=\"{}\"", prefix_, delivered_, error.message);
      callback_(std::unexpected(error));
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (!failing_since_) {
      failing_since_ = now;
      backoff = kFirstBackoff;
    }
    if (now - *failing_since_ > timing_.reconnect_window) {
      StoreError gave_up{StoreErrorCode::Unavailable, fmt::format("watch {} on etcd {}: no stream for {} ms, last error: {}", prefix_,
                                                                  endpoint_.str(), timing_.reconnect_window.count(), error.message)};
      spdlog::warn("event=store_watch_ended backend=etcd prefix={} after_revision={} error=\"{}\"", prefix_, delivered_, gave_up.message);
      callback_(std::unexpected(gave_up));
      break;
    }
    spdlog::warn("event=store_watch_reconnect backend=etcd prefix={} after_revision={} retry_in_ms={} error=\"{}\"", prefix_, delivered_,
                 backoff.count(), error.message);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff, [&] { return cancelled_.load(); });
    backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
  }
  set_started(std::unexpected(StoreError{StoreErrorCode::Unavailable, "watch cancelled"}));  // no-op if started
}

EtcdWatch::Outcome EtcdWatch::stream_once(StoreError& error) {
  auto broken = [&](std::string_view step, boost::system::error_code ec) {
    error = {StoreErrorCode::Unavailable, fmt::format("watch {} on etcd {}: {}: {}", prefix_, endpoint_.str(), step, ec.message())};
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return cancelled_ ? Outcome::Cancelled : Outcome::Broken;
  };

  asio::ip::tcp::resolver resolver(ioc_);
  boost::system::error_code ec;
  auto results = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
  if (ec) return broken("resolve", ec);
  stream_.expires_after(timing_.request_timeout);
  ec = run_step(ioc_, [&](auto handler) { stream_.async_connect(results, std::move(handler)); });
  if (ec || cancelled_) return broken("connect", ec);

  std::string key = prefix_.empty() ? std::string(1, '\0') : prefix_;
  std::string end = prefix_range_end(prefix_);
  if (end.empty()) end = std::string(1, '\0');
  json create = {{"create_request",
                  {{"key", base64_encode(key)},
                   {"range_end", base64_encode(end)},
                   {"start_revision", std::to_string(delivered_ + 1)},
                   {"prev_kv", true},
                   {"progress_notify", true}}}};
  http::request<http::string_body> req{http::verb::post, "/v3/watch", 11};
  req.set(http::field::host, endpoint_.str());
  req.set(http::field::content_type, "application/json");
  req.body() = create.dump();
  req.prepare_payload();
  stream_.expires_after(timing_.request_timeout);
  ec = run_step(ioc_, [&](auto handler) { http::async_write(stream_, req, std::move(handler)); });
  if (ec || cancelled_) return broken("send", ec);

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  ec = run_step(ioc_, [&](auto handler) { http::async_read_header(stream_, buffer, parser, std::move(handler)); });
  if (ec || cancelled_) return broken("read response header", ec);
  if (parser.get().result() != http::status::ok) {
    error = {StoreErrorCode::Internal, fmt::format("watch {} on etcd {}: HTTP {}", prefix_, endpoint_.str(), parser.get().result_int())};
    return Outcome::Fatal;
  }

  stream_.expires_never();  // a quiet watch is a healthy watch
  JsonObjectSplitter splitter;
  std::array<char, 16384> chunk;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    ec = run_step(ioc_, [&](auto handler) { http::async_read_some(stream_, buffer, parser, std::move(handler)); });
    if (ec == http::error::need_buffer) ec = {};
    if (ec || cancelled_) return broken("read", ec);
    splitter.feed(std::string_view(chunk.data(), chunk.size() - parser.get().body().size));
    while (auto message = splitter.next()) {
      Outcome outcome = handle_message(*message, error);
      if (outcome != Outcome::Continue) {
        beast::error_code ignored;
        stream_.socket().close(ignored);
        return outcome;
      }
    }
  }
  return broken("read", http::error::end_of_stream);
}

EtcdWatch::Outcome EtcdWatch::handle_message(std::string_view text, StoreError& error) {
  auto fail = [&](StoreErrorCode code, std::string message) {
    error = {code, fmt::format("watch {} on etcd {}: {}", prefix_, endpoint_.str(), message)};
    return Outcome::Fatal;
  };
  auto message = json::parse(text, nullptr, false);
  if (!message.is_object()) return fail(StoreErrorCode::Internal, "a stream message is not a JSON object");
  if (auto it = message.find("error"); it != message.end())
    return fail(StoreErrorCode::Unavailable, fmt::format("stream error: {}", it->dump()));
  auto result = message.value("result", json::object());

  if (result.value("created", false)) {
    failing_since_.reset();
    set_started({});
  }
  if (Revision compacted = int_field(result, "compact_revision"); compacted != 0)
    return fail(StoreErrorCode::Compacted,
                fmt::format("revision {} has been compacted (compacted revision {})", delivered_ + 1, compacted));
  if (result.value("canceled", false))
    return fail(StoreErrorCode::Internal, fmt::format("cancelled by etcd: {}", result.value("cancel_reason", "")));

  const json events = result.value("events", json::array());
  for (const auto& e : events) {
    auto event = event_from(e);
    if (!event) return fail(event.error().code, event.error().message);
    if (cancelled_) return Outcome::Cancelled;
    callback_(*event);
    delivered_ = event->kv.mod_revision;
    progress_ = std::max(progress_.load(), delivered_);
  }
  // A progress notification: no events, not the creation answer. etcd sends it only to a watch
  // that has caught up, so its header revision is complete for this watch. (An events answer's
  // header may be ahead of events still to come while the watch catches up.)
  if (events.empty() && !result.value("created", false))
    progress_ = std::max(progress_.load(), int_field(result.value("header", json::object()), "revision"));
  return Outcome::Continue;
}

}  // namespace switchyard::store::etcd
