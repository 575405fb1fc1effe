// How SqliteStore feeds its watches (internal to the SQLite backend).
//
// The writer pushes each committed event into the WatchFeed of every watch whose prefix matches,
// under the store's write lock, so feeds see events in revision order. Each watch delivers on its
// own thread: first the history it asked for, read from the database, then the fed events. A
// watch that falls more than its queue limit behind drops its queue and catches up from the
// database again, so a slow consumer costs disk reads, not unbounded memory.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/store/store.h"

namespace switchyard::store::sqlite {

struct WatchFeed {
  WatchFeed(std::string p, std::size_t limit) : prefix(std::move(p)), queue_limit(limit) {}
  // Called by the writer after the event's revision is committed and published.
  void push(const Event& event);

  const std::string prefix;
  const std::size_t queue_limit;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> queued;
  bool overflowed = false;  // queued was dropped; catch up from the database
  bool stopped = false;     // cancelled, or ended with an error: no more pushes
  bool idle = false;        // the watch thread waits, everything it took delivered
};

// What a watch needs from the store.
class EventLog {
 public:
  virtual ~EventLog() = default;
  // Events for keys under `prefix` with after < revision <= up_to, oldest first, at most `limit`.
  // Compacted if history after `after` is no longer complete.
  virtual StoreResult<std::vector<Event>> events_between(std::string_view prefix, Revision after, Revision up_to, std::size_t limit) = 0;
  // The newest revision whose event has been pushed (or is being pushed) to the feeds.
  virtual Revision published_revision() const = 0;
  // The newest revision whose event is in every matching feed already (pushes done).
  virtual Revision pushed_revision() const = 0;
  virtual void stop_feeding(const std::shared_ptr<WatchFeed>& feed) = 0;
};

class SqliteWatch final : public Watch {
 public:
  // Delivers events after `from` to `callback`; those up to `registered_at` come from the
  // database, later ones from `feed`.
  SqliteWatch(EventLog& log, std::shared_ptr<WatchFeed> feed, Revision from, Revision registered_at, WatchCallback callback);
  ~SqliteWatch() override;
  Revision progress() const override;

 private:
  void run(Revision from, Revision registered_at);
  bool stopped();
  bool deliver(const Event& event, Revision& delivered);

  EventLog& log_;
  std::shared_ptr<WatchFeed> feed_;
  WatchCallback callback_;
  std::atomic<Revision> progress_;  // what the watch thread knows it delivered through
  std::thread thread_;
};

}  // namespace switchyard::store::sqlite
