// The embedded store: one SQLite database in WAL mode, laid out like kine (k3s' etcd shim).
//
// Every write appends a row to one table; the row id is the store revision. A row records the
// key (name), whether it created or deleted the key, the key's create revision, the revision of
// the row it supersedes (prev_revision) and both the new and the previous value, so a watch can
// replay history with prev_kv without joins. Reads at a revision pick, per key, the newest row at
// or below it. compact(r) deletes the rows nobody can ask for any more: rows below r that a newer
// row at or below r supersedes, and deletion rows below r.
//
// One process owns the database (an flock on "<path>.lock" enforces it), writes go through one
// connection under a mutex, and each commit is fsynced (synchronous=FULL) before it is
// acknowledged; writes that arrive while a commit is in progress are committed together, in one
// transaction with one fsync (group commit, as etcd batches its raft entries). Reads use a small
// pool of further connections, which WAL lets run alongside the writer. Watches are fed
// in-process by the writer; see sqlite_watch.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/store/sqlite_db.h"
#include "orchestrator/store/sqlite_watch.h"
#include "orchestrator/store/store.h"

namespace switchyard::store {

class SqliteStore final : public Store, private sqlite::EventLog {
 public:
  struct Options {
    // Events a watch may have queued before it drops them and catches up from the database.
    std::size_t watch_queue_limit = 10000;
  };

  // Opens the database at `path` (created with its schema if absent). Unavailable if another
  // process has it open.
  static StoreResult<std::unique_ptr<SqliteStore>> open(const std::string& path, Options options);
  static StoreResult<std::unique_ptr<SqliteStore>> open(const std::string& path) { return open(path, Options{}); }
  ~SqliteStore() override;

  StoreResult<Revision> create(std::string_view key, std::string_view value) override;
  StoreResult<std::optional<KeyValue>> get(std::string_view key) override;
  StoreResult<Revision> update(std::string_view key, std::string_view value, Revision expected_mod_revision) override;
  StoreResult<DeleteResult> remove(std::string_view key, Revision expected_mod_revision) override;
  StoreResult<ListResult> list(std::string_view prefix, std::size_t limit, std::string_view continue_after_key,
                               Revision at_revision = 0) override;
  StoreResult<Revision> current_revision() override;
  StoreResult<void> compact(Revision revision) override;
  StoreResult<Revision> compacted_revision() override;
  StoreResult<std::unique_ptr<Watch>> watch(std::string_view prefix, Revision from_revision, WatchCallback callback) override;

 private:
  class ReaderPool;
  class FileLock;
  enum class WriteKind { Create, Update, Delete };

  SqliteStore(std::string path, Options options, std::unique_ptr<FileLock> lock, sqlite::Connection writer);

  // A write waiting in the group-commit queue; the leader sets `result`.
  struct PendingWrite {
    WriteKind kind;
    std::string_view key, value;
    Revision expected;
    std::optional<StoreResult<Event>> result;
  };

  StoreResult<void> load_revisions();
  // One conditional write, committed (and fsynced) with the others queued beside it, its event
  // published to the watches once the commit is durable.
  StoreResult<Event> write(WriteKind kind, std::string_view key, std::string_view value, Revision expected);
  // One transaction for the batch, in order: each write validated against the key's newest row
  // (earlier writes of the batch included) and appended; then one commit; then the events
  // published in revision order. A refused write does not take a revision.
  std::vector<StoreResult<Event>> commit_batch(const std::vector<PendingWrite*>& batch);
  // Validates and appends one write at `revision` inside the open transaction.
  StoreResult<Event> apply(const PendingWrite& w, Revision revision);

  // sqlite::EventLog
  StoreResult<std::vector<Event>> events_between(std::string_view prefix, Revision after, Revision up_to, std::size_t limit) override;
  Revision published_revision() const override { return current_.load(); }
  Revision pushed_revision() const override { return pushed_.load(); }
  void stop_feeding(const std::shared_ptr<sqlite::WatchFeed>& feed) override;

  const std::string path_;
  const Options options_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<ReaderPool> readers_;

  std::mutex queue_mu_;  // guards queue_ and leading_
  std::condition_variable queue_cv_;
  std::vector<PendingWrite*> queue_;
  bool leading_ = false;  // a writer is committing a batch; the others wait for its outcome

  std::mutex write_mu_;  // guards writer_ and feeds_, orders revisions
  sqlite::Connection writer_;
  std::vector<std::shared_ptr<sqlite::WatchFeed>> feeds_;
  std::atomic<Revision> current_{0};
  std::atomic<Revision> pushed_{0};  // current_ once its event is in every matching feed
  std::atomic<Revision> compacted_{0};
};

}  // namespace switchyard::store
