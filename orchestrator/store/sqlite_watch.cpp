#include "orchestrator/store/sqlite_watch.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace switchyard::store::sqlite {

namespace {
constexpr std::size_t kReplayPage = 512;
}

void WatchFeed::push(const Event& event) {
  {
    std::lock_guard lock(mu);
    if (stopped || overflowed) return;
    if (queued.size() >= queue_limit) {
      overflowed = true;
      queued.clear();
    } else {
      queued.push_back(event);
    }
  }
  cv.notify_one();
}

SqliteWatch::SqliteWatch(EventLog& log, std::shared_ptr<WatchFeed> feed, Revision from, Revision registered_at, WatchCallback callback)
    : log_(log), feed_(std::move(feed)), callback_(std::move(callback)), progress_(from) {
  thread_ = std::thread([this, from, registered_at] { run(from, registered_at); });
}

SqliteWatch::~SqliteWatch() {
  {
    std::lock_guard lock(feed_->mu);
    feed_->stopped = true;
  }
  feed_->cv.notify_one();
  thread_.join();
  log_.stop_feeding(feed_);
}

Revision SqliteWatch::progress() const {
  // Read before looking at the feed: an event up to `pushed` is in the queue by then, or was
  // taken by the thread, which is idle only once it delivered everything it took.
  const Revision pushed = log_.pushed_revision();
  std::lock_guard lock(feed_->mu);
  const Revision known = progress_.load();
  if (feed_->idle && feed_->queued.empty() && !feed_->overflowed) return std::max(known, pushed);
  return known;
}

bool SqliteWatch::stopped() {
  std::lock_guard lock(feed_->mu);
  return feed_->stopped;
}

bool SqliteWatch::deliver(const Event& event, Revision& delivered) {
  if (event.kv.mod_revision <= delivered) return true;  // already read from the database
  if (stopped()) return false;
  callback_(event);
  delivered = event.kv.mod_revision;
  return true;
}

void SqliteWatch::run(Revision from, Revision registered_at) {
  Revision delivered = from;
  Revision replay_until = registered_at;
  for (;;) {
    // Catch up from the database.
    while (delivered < replay_until) {
      auto page = log_.events_between(feed_->prefix, delivered, replay_until, kReplayPage);
      if (!page) {
        spdlog::warn("event=store_watch_ended prefix={} after_revision={} error=\"{}\"", feed_->prefix, delivered, page.error().message);
        {
          std::lock_guard lock(feed_->mu);
          if (feed_->stopped) return;
          feed_->stopped = true;
          feed_->queued.clear();
        }
        callback_(std::unexpected(page.error()));
        return;
      }
      for (const auto& event : *page)
        if (!deliver(event, delivered)) return;
      if (page->size() < kReplayPage) delivered = replay_until;  // nothing else matches up to there
      progress_ = std::max(progress_.load(), delivered);
    }
    // Then follow the feed.
    std::deque<Event> batch;
    Revision pushed = 0;
    {
      std::unique_lock lock(feed_->mu);
      feed_->idle = true;
      feed_->cv.wait(lock, [&] { return feed_->stopped || feed_->overflowed || !feed_->queued.empty(); });
      feed_->idle = false;
      // Every event up to `pushed` is in the queue now (or was delivered before): once this
      // batch is delivered the watch has seen everything up to it.
      pushed = log_.pushed_revision();
      if (feed_->stopped) return;
      if (feed_->overflowed) {
        // Read under the feed lock: any event newer than this is pushed after overflowed clears.
        replay_until = log_.published_revision();
        feed_->overflowed = false;
        feed_->queued.clear();
        spdlog::info("event=store_watch_overflow prefix={} catch_up_to={}", feed_->prefix, replay_until);
        continue;
      }
      batch.swap(feed_->queued);
    }
    for (const auto& event : batch)
      if (!deliver(event, delivered)) return;
    progress_ = std::max({progress_.load(), delivered, pushed});
  }
}

}  // namespace switchyard::store::sqlite
