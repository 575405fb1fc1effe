#include "orchestrator/client/reflector.h"

#include <random>

#include <spdlog/spdlog.h>

namespace switchyard::client {

Reflector::Reflector(std::unique_ptr<ListerWatcher> lister_watcher, ReflectorSink& sink, ReflectorOptions options)
    : lister_watcher_(std::move(lister_watcher)), sink_(sink), options_(options) {}

Reflector::~Reflector() { stop(); }

void Reflector::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  lister_watcher_->resume();
  thread_ = std::thread([this] { run(); });
}

void Reflector::stop() {
  {
    std::lock_guard lock(sleep_mu_);
    stopping_ = true;
  }
  sleep_cv_.notify_all();
  lister_watcher_->abort();
  if (thread_.joinable()) thread_.join();
}

void Reflector::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void Reflector::run() {
  std::mt19937 rng(std::random_device{}());
  auto backoff = options_.initial_backoff;
  auto back_off = [&] {
    // Jitter: anywhere in [d/2, d], so that clients do not come back in lockstep.
    std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
    sleep_for(std::chrono::milliseconds(jitter(rng)));
    backoff = std::min(backoff * 2, options_.max_backoff);
  };
  const std::string& what = lister_watcher_->describe();
  while (!stopping_) {
    if (need_list_) {
      auto list = lister_watcher_->list();
      if (stopping_) return;
      if (!list) {
        ++failed_lists_;
        spdlog::warn("event=list_failed path={} error=\"{}\" action=keep_last_state", what, list.error().describe());
        back_off();
        continue;
      }
      resource_version_ = list->resource_version;
      sink_.replace(std::move(list->items));
      ++lists_;
      need_list_ = false;
    }
    auto watched = lister_watcher_->watch(resource_version_, [&](WatchEvent&& event) {
      if (stopping_) return false;
      if (event.object.is_object()) {
        const auto& meta = event.object.value("metadata", nlohmann::json::object());
        if (std::string rv = meta.value("resourceVersion", ""); !rv.empty()) resource_version_ = std::move(rv);
      }
      if (event.type != WatchEventType::Bookmark) sink_.apply(std::move(event));
      return true;
    });
    if (stopping_) return;
    if (!watched && watched.error().code == ErrorCode::Compacted) {
      spdlog::info("event=watch_expired path={} resource_version={} action=relist", what, resource_version_);
      need_list_ = true;
      continue;
    }
    if (!watched) {
      spdlog::warn("event=watch_failed path={} error=\"{}\"", what, watched.error().describe());
      back_off();
      continue;
    }
    backoff = options_.initial_backoff;  // a clean end of the stream (timeout): watch again
  }
}

}  // namespace switchyard::client
