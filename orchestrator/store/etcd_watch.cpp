#include "orchestrator/store/etcd_watch.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::store::etcd {

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
      progress_(from) {
  http::HttpClientOptions o = gateway_client_options(endpoint_, timing_.request_timeout);
  o.max_idle_connections = 1;
  auto client = http::HttpClient::create(std::move(o));
  if (client)
    client_ = std::move(*client);
  else
    set_started(std::unexpected(StoreError{StoreErrorCode::Internal, client.error().message}));
  if (client_) thread_ = std::thread([this] { run(); });
}

EtcdWatch::~EtcdWatch() {
  cancelled_ = true;
  if (client_) client_->close();  // ends the stream it is blocked on, and any it was about to start
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
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
  std::string key = prefix_.empty() ? std::string(1, '\0') : prefix_;
  std::string end = prefix_range_end(prefix_);
  if (end.empty()) end = std::string(1, '\0');
  json create = {{"create_request",
                  {{"key", base64_encode(key)},
                   {"range_end", base64_encode(end)},
                   {"start_revision", std::to_string(delivered_ + 1)},
                   {"prev_kv", true},
                   {"progress_notify", true}}}};
  // The head within the request timeout; then a quiet watch is a healthy watch (no timeout).
  JsonObjectSplitter splitter;
  Outcome outcome = Outcome::Continue;
  auto status = client_->stream(
      http::ClientRequest{.method = "POST", .target = "/v3/watch", .body = create.dump(), .content_type = "application/json"},
      [](int status, const http::Headers&) { return status == 200; },
      [&](std::string_view data) {
        splitter.feed(data);
        while (auto message = splitter.next()) {
          outcome = handle_message(*message, error);
          if (outcome != Outcome::Continue) return false;
        }
        return true;
      });
  if (cancelled_) return Outcome::Cancelled;
  if (!status) {
    error = {StoreErrorCode::Unavailable, fmt::format("watch {} on etcd {}: {}", prefix_, endpoint_.str(), status.error().message)};
    return Outcome::Broken;
  }
  if (*status != 200) {
    error = {StoreErrorCode::Internal, fmt::format("watch {} on etcd {}: HTTP {}", prefix_, endpoint_.str(), *status)};
    return Outcome::Fatal;
  }
  if (outcome != Outcome::Continue) return outcome;
  error = {StoreErrorCode::Unavailable, fmt::format("watch {} on etcd {}: read: end of stream", prefix_, endpoint_.str())};
  return Outcome::Broken;
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
