#include "orchestrator/store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace switchyard::store {

using sqlite::Connection;
using sqlite::Statement;
using sqlite::Transaction;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the store revision of this write
  name TEXT NOT NULL,
  created INTEGER NOT NULL,              -- 1: this write created the key
  deleted INTEGER NOT NULL,              -- 1: this write deleted the key
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,        -- id of the row this one supersedes, 0 if none
  value BLOB,                            -- NULL for a delete
  old_value BLOB                         -- the superseded row's value, NULL for a create
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE UNIQUE INDEX IF NOT EXISTS kv_name_prev_revision ON kv (name, prev_revision);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

constexpr const char* kCurrentRevision = "SELECT seq FROM sqlite_sequence WHERE name = 'kv'";
constexpr const char* kCompactedRevision = "SELECT value FROM meta WHERE key = 'compact_revision'";
constexpr const char* kLatestRow = "SELECT id, deleted, create_revision, value FROM kv WHERE name = ?1 ORDER BY id DESC LIMIT 1";
constexpr const char* kInsertRow =
    "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value, old_value) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
// ?2 is the exclusive end of the prefix range; when the prefix has no end it is bound to a BLOB,
// which SQLite orders after every TEXT value, so the same indexed range serves both cases.
constexpr const char* kListAt =
    "SELECT kv.name, kv.create_revision, kv.id, kv.value FROM kv "
    "JOIN (SELECT MAX(id) AS id FROM kv WHERE name >= ?1 AND name < ?2 AND name > ?3 AND id <= ?4 GROUP BY name) "
    "AS latest ON latest.id = kv.id WHERE kv.deleted = 0 ORDER BY kv.name LIMIT ?5";
constexpr const char* kEventsBetween =
    "SELECT id, name, created, deleted, create_revision, prev_revision, value, old_value FROM kv "
    "WHERE id > ?1 AND id <= ?2 AND name >= ?3 AND name < ?4 ORDER BY id LIMIT ?5";
constexpr const char* kCompactRows =
    "DELETE FROM kv WHERE id < ?1 AND (deleted = 1 OR EXISTS "
    "(SELECT 1 FROM kv AS newer WHERE newer.name = kv.name AND newer.id > kv.id AND newer.id <= ?1))";
constexpr const char* kSetCompactedRevision = "INSERT OR REPLACE INTO meta (key, value) VALUES ('compact_revision', ?1)";

StoreError error(StoreErrorCode code, std::string message) { return {code, std::move(message)}; }

StoreResult<void> check_key(std::string_view key) {
  if (key.empty()) return std::unexpected(error(StoreErrorCode::Internal, "key must not be empty"));
  return {};
}

void bind_prefix_range(Statement& st, int begin_index, std::string_view prefix) {
  st.bind_text(begin_index, prefix);
  auto end = prefix_range_end(prefix);
  if (end.empty())
    st.bind_blob(begin_index + 1, "");
  else
    st.bind_text(begin_index + 1, end);
}

// A single integer from a one-row query, `fallback` when there is no row.
StoreResult<Revision> query_revision(Connection& c, const char* sql, std::string_view purpose, Revision fallback) {
  auto st = c.statement(sql, purpose);
  if (!st) return std::unexpected(st.error());
  auto row = st->step();
  if (!row) return std::unexpected(row.error());
  return *row ? st->int_at(0) : fallback;
}

}  // namespace

// Exclusive ownership of the database by this process.
class SqliteStore::FileLock {
 public:
  static StoreResult<std::unique_ptr<FileLock>> acquire(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return std::unexpected(error(StoreErrorCode::Internal, fmt::format("open lock file {}: {}", path, std::strerror(errno))));
    auto lock = std::unique_ptr<FileLock>(new FileLock(fd));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      return std::unexpected(
          error(e == EWOULDBLOCK ? StoreErrorCode::Unavailable : StoreErrorCode::Internal,
                fmt::format("lock {}: {}{}", path, std::strerror(e), e == EWOULDBLOCK ? " (another process has the store open)" : "")));
    }
    return lock;
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// Read connections, opened on demand and kept for reuse.
class SqliteStore::ReaderPool {
 public:
  explicit ReaderPool(std::string path) : path_(std::move(path)) {}

  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (c_) pool_.put_back(std::move(c_));
    }
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    ReaderPool& pool_;
    std::unique_ptr<Connection> c_;
  };

  StoreResult<Lease> acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(c));
      }
    }
    auto c = Connection::open(path_, false);
    if (!c) return std::unexpected(c.error());
    return Lease(*this, std::make_unique<Connection>(std::move(*c)));
  }

 private:
  static constexpr std::size_t kMaxIdle = 8;
  void put_back(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  }
  std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

StoreResult<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path, Options options) {
  auto lock = FileLock::acquire(path + ".lock");
  if (!lock) return std::unexpected(lock.error());
  auto writer = Connection::open(path, true);
  if (!writer) return std::unexpected(writer.error());
  for (auto [sql, purpose] :
       {std::pair{"PRAGMA journal_mode = WAL", "enable WAL"}, std::pair{"PRAGMA synchronous = FULL", "set synchronous=FULL"}}) {
    auto r = writer->exec(sql, fmt::format("{} on {}", purpose, path));
    if (!r) return std::unexpected(r.error());
  }
  auto schema = writer->exec(kSchema, fmt::format("create schema in {}", path));
  if (!schema) return std::unexpected(schema.error());

  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(path, options, std::move(*lock), std::move(*writer)));
  auto loaded = store->load_revisions();
  if (!loaded) return std::unexpected(loaded.error());
  spdlog::info("event=store_opened backend=sqlite path={} revision={} compacted_revision={}", path, store->current_.load(),
               store->compacted_.load());
  return store;
}

SqliteStore::SqliteStore(std::string path, Options options, std::unique_ptr<FileLock> lock, Connection writer)
    : path_(std::move(path)),
      options_(options),
      lock_(std::move(lock)),
      readers_(std::make_unique<ReaderPool>(path_)),
      writer_(std::move(writer)) {}

SqliteStore::~SqliteStore() {
  std::lock_guard lock(write_mu_);
  if (!feeds_.empty()) spdlog::error("event=store_closed_with_watches backend=sqlite path={} watches={}", path_, feeds_.size());
}

StoreResult<void> SqliteStore::load_revisions() {
  std::lock_guard lock(write_mu_);
  auto current = query_revision(writer_, kCurrentRevision, "read current revision", 0);
  if (!current) return std::unexpected(current.error());
  auto compacted = query_revision(writer_, kCompactedRevision, "read compacted revision", 0);
  if (!compacted) return std::unexpected(compacted.error());
  current_ = *current;
  pushed_ = *current;
  compacted_ = *compacted;
  return {};
}

StoreResult<Event> SqliteStore::write(WriteKind kind, std::string_view key, std::string_view value, Revision expected) {
  if (auto k = check_key(key); !k) return std::unexpected(k.error());
  // Group commit: writes that arrive while a commit is in progress queue up, and the next
  // leader applies them all in one transaction, with one fsync. Each keeps its own outcome.
  PendingWrite w{kind, key, value, expected, std::nullopt};
  std::unique_lock lock(queue_mu_);
  queue_.push_back(&w);
  while (!w.result) {
    if (leading_) {
      queue_cv_.wait(lock);
      continue;
    }
    leading_ = true;
    std::vector<PendingWrite*> batch;
    batch.swap(queue_);
    lock.unlock();
    std::vector<StoreResult<Event>> results = commit_batch(batch);
    lock.lock();
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(results[i]);
    leading_ = false;
    queue_cv_.notify_all();
  }
  return std::move(*w.result);
}

std::vector<StoreResult<Event>> SqliteStore::commit_batch(const std::vector<PendingWrite*>& batch) {
  std::lock_guard lock(write_mu_);
  std::vector<StoreResult<Event>> results;
  results.reserve(batch.size());
  auto fail_all = [&](const StoreError& e) {
    results.clear();
    for (std::size_t i = 0; i < batch.size(); ++i) results.emplace_back(std::unexpected(e));
    return std::move(results);
  };
  auto txn = Transaction::begin(writer_, true);
  if (!txn) return fail_all(txn.error());
  Revision next = current_.load() + 1;
  for (const PendingWrite* w : batch) {
    results.push_back(apply(*w, next));
    if (results.back())
      ++next;
    else if (sqlite3_get_autocommit(writer_.handle()))  // SQLite rolled the whole transaction back (I/O error, disk full)
      return fail_all(results.back().error());
  }
  if (next == current_.load() + 1) return results;  // nothing to write: every write was refused
  if (auto r = txn->commit(); !r) {
    std::vector<StoreResult<Event>> refused = std::move(results);
    results.clear();
    Revision revision = current_.load() + 1;
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (refused[i])
        results.emplace_back(
            std::unexpected(error(r.error().code, fmt::format("key {} at revision {}: {}", batch[i]->key, revision++, r.error().message))));
      else
        results.push_back(std::move(refused[i]));
    return results;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!results[i]) continue;
    const Event& event = *results[i];
    current_ = event.kv.mod_revision;  // published before the feeds see it: see WatchFeed and SqliteWatch::run
    for (auto& feed : feeds_)
      if (batch[i]->key.starts_with(feed->prefix)) feed->push(event);
    pushed_ = event.kv.mod_revision;
  }
  return results;
}

StoreResult<Event> SqliteStore::apply(const PendingWrite& w, Revision revision) {
  const std::string_view key = w.key;
  bool exists = false;
  Revision latest_id = 0, create_revision = 0;
  std::string latest_value;
  {
    auto st = writer_.statement(kLatestRow, "read key");
    if (!st) return std::unexpected(st.error());
    st->bind_text(1, key);
    auto row = st->step();
    if (!row) return std::unexpected(error(row.error().code, fmt::format("key {}: {}", key, row.error().message)));
    if (*row) {
      latest_id = st->int_at(0);
      exists = st->int_at(1) == 0;
      create_revision = st->int_at(2);
      latest_value = st->blob_at(3);
    }
  }
  if (w.kind == WriteKind::Create && exists)
    return std::unexpected(error(StoreErrorCode::AlreadyExists, fmt::format("key {} already exists (mod revision {})", key, latest_id)));
  if (w.kind != WriteKind::Create) {
    if (!exists) return std::unexpected(error(StoreErrorCode::NotFound, fmt::format("key {} not found", key)));
    if (w.expected != 0 && w.expected != latest_id)
      return std::unexpected(
          error(StoreErrorCode::Conflict, fmt::format("key {}: mod revision is {}, expected {}", key, latest_id, w.expected)));
  }

  if (w.kind == WriteKind::Create) create_revision = revision;
  {
    auto st = writer_.statement(kInsertRow, "append row");
    if (!st) return std::unexpected(st.error());
    st->bind(1, revision).bind_text(2, key);
    st->bind(3, w.kind == WriteKind::Create ? 1 : 0).bind(4, w.kind == WriteKind::Delete ? 1 : 0);
    st->bind(5, create_revision).bind(6, latest_id);
    if (w.kind != WriteKind::Delete) st->bind_blob(7, w.value);
    if (exists) st->bind_blob(8, latest_value);
    if (auto r = st->run(); !r) return std::unexpected(error(r.error().code, fmt::format("key {}: {}", key, r.error().message)));
  }

  Event event;
  if (w.kind == WriteKind::Delete) {
    event.type = Event::Type::Delete;
    event.kv = KeyValue{std::string(key), {}, 0, revision};
  } else {
    event.type = Event::Type::Put;
    event.kv = KeyValue{std::string(key), std::string(w.value), create_revision, revision};
  }
  if (exists) event.prev_kv = KeyValue{std::string(key), std::move(latest_value), create_revision, latest_id};
  return event;
}

StoreResult<Revision> SqliteStore::create(std::string_view key, std::string_view value) {
  auto e = write(WriteKind::Create, key, value, 0);
  if (!e) return std::unexpected(e.error());
  return e->kv.mod_revision;
}

StoreResult<Revision> SqliteStore::update(std::string_view key, std::string_view value, Revision expected_mod_revision) {
  auto e = write(WriteKind::Update, key, value, expected_mod_revision);
  if (!e) return std::unexpected(e.error());
  return e->kv.mod_revision;
}

StoreResult<DeleteResult> SqliteStore::remove(std::string_view key, Revision expected_mod_revision) {
  auto e = write(WriteKind::Delete, key, {}, expected_mod_revision);
  if (!e) return std::unexpected(e.error());
  return DeleteResult{std::move(*e->prev_kv), e->kv.mod_revision};
}

StoreResult<std::optional<KeyValue>> SqliteStore::get(std::string_view key) {
  if (auto k = check_key(key); !k) return std::unexpected(k.error());
  auto c = readers_->acquire();
  if (!c) return std::unexpected(c.error());
  auto st = (*c)->statement(kLatestRow, "read key");
  if (!st) return std::unexpected(st.error());
  st->bind_text(1, key);
  auto row = st->step();
  if (!row) return std::unexpected(error(row.error().code, fmt::format("key {}: {}", key, row.error().message)));
  if (!*row || st->int_at(1) != 0) return std::optional<KeyValue>();
  return KeyValue{std::string(key), st->blob_at(3), st->int_at(2), st->int_at(0)};
}

StoreResult<ListResult> SqliteStore::list(std::string_view prefix, std::size_t limit, std::string_view continue_after_key,
                                          Revision at_revision) {
  auto c = readers_->acquire();
  if (!c) return std::unexpected(c.error());
  // One read transaction: the revisions and the rows come from the same snapshot.
  auto txn = Transaction::begin(**c, false);
  if (!txn) return std::unexpected(txn.error());
  auto current = query_revision(**c, kCurrentRevision, "read current revision", 0);
  if (!current) return std::unexpected(current.error());
  auto compacted = query_revision(**c, kCompactedRevision, "read compacted revision", 0);
  if (!compacted) return std::unexpected(compacted.error());
  ListResult result;
  result.revision = at_revision == 0 ? *current : at_revision;
  if (result.revision > *current)
    return std::unexpected(error(StoreErrorCode::FutureRevision,
                                 fmt::format("list {} at revision {}: the current revision is {}", prefix, at_revision, *current)));
  if (result.revision < *compacted)
    return std::unexpected(error(StoreErrorCode::Compacted,
                                 fmt::format("list {} at revision {}: compacted up to revision {}", prefix, at_revision, *compacted)));

  auto st = (*c)->statement(kListAt, "list keys");
  if (!st) return std::unexpected(st.error());
  bind_prefix_range(*st, 1, prefix);
  st->bind_text(3, continue_after_key).bind(4, result.revision);
  st->bind(5, limit == 0 ? -1 : static_cast<std::int64_t>(limit) + 1);
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(error(row.error().code, fmt::format("list {}: {}", prefix, row.error().message)));
    if (!*row) break;
    if (limit != 0 && result.items.size() == limit) {
      result.more = true;
      break;
    }
    result.items.push_back(KeyValue{st->text_at(0), st->blob_at(3), st->int_at(1), st->int_at(2)});
  }
  return result;
}

StoreResult<Revision> SqliteStore::current_revision() { return current_.load(); }

StoreResult<Revision> SqliteStore::compacted_revision() { return compacted_.load(); }

StoreResult<void> SqliteStore::compact(Revision revision) {
  std::lock_guard lock(write_mu_);
  if (revision <= compacted_)
    return std::unexpected(
        error(StoreErrorCode::Compacted, fmt::format("compact to revision {}: already compacted up to {}", revision, compacted_.load())));
  if (revision > current_)
    return std::unexpected(error(StoreErrorCode::FutureRevision,
                                 fmt::format("compact to revision {}: the current revision is {}", revision, current_.load())));
  auto txn = Transaction::begin(writer_, true);
  if (!txn) return std::unexpected(txn.error());
  std::int64_t removed = 0;
  {
    auto st = writer_.statement(kCompactRows, "delete superseded rows");
    if (!st) return std::unexpected(st.error());
    st->bind(1, revision);
    if (auto r = st->run(); !r) return std::unexpected(r.error());
    removed = sqlite3_changes64(writer_.handle());
  }
  {
    auto st = writer_.statement(kSetCompactedRevision, "record compacted revision");
    if (!st) return std::unexpected(st.error());
    st->bind(1, revision);
    if (auto r = st->run(); !r) return std::unexpected(r.error());
  }
  if (auto r = txn->commit(); !r) return std::unexpected(r.error());
  compacted_ = revision;
  spdlog::info("event=store_compacted backend=sqlite path={} revision={} rows_removed={}", path_, revision, removed);
  return {};
}

StoreResult<std::vector<Event>> SqliteStore::events_between(std::string_view prefix, Revision after, Revision up_to, std::size_t limit) {
  auto c = readers_->acquire();
  if (!c) return std::unexpected(c.error());
  auto txn = Transaction::begin(**c, false);
  if (!txn) return std::unexpected(txn.error());
  auto compacted = query_revision(**c, kCompactedRevision, "read compacted revision", 0);
  if (!compacted) return std::unexpected(compacted.error());
  if (after < *compacted)
    return std::unexpected(error(StoreErrorCode::Compacted,
                                 fmt::format("watch {} after revision {}: compacted up to revision {}", prefix, after, *compacted)));
  auto st = (*c)->statement(kEventsBetween, "read events");
  if (!st) return std::unexpected(st.error());
  st->bind(1, after).bind(2, up_to);
  bind_prefix_range(*st, 3, prefix);
  st->bind(5, static_cast<std::int64_t>(limit));
  std::vector<Event> events;
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(error(row.error().code, fmt::format("watch {}: {}", prefix, row.error().message)));
    if (!*row) break;
    Revision id = st->int_at(0), create_revision = st->int_at(4), prev_revision = st->int_at(5);
    std::string name = st->text_at(1);
    bool created = st->int_at(2) != 0, deleted = st->int_at(3) != 0;
    Event e;
    e.type = deleted ? Event::Type::Delete : Event::Type::Put;
    e.kv = deleted ? KeyValue{name, {}, 0, id} : KeyValue{name, st->blob_at(6), create_revision, id};
    if (!created) e.prev_kv = KeyValue{name, st->blob_at(7), create_revision, prev_revision};
    events.push_back(std::move(e));
  }
  return events;
}

StoreResult<std::unique_ptr<Watch>> SqliteStore::watch(std::string_view prefix, Revision from_revision, WatchCallback callback) {
  std::lock_guard lock(write_mu_);
  Revision current = current_.load();
  if (from_revision < compacted_)
    return std::unexpected(error(StoreErrorCode::Compacted, fmt::format("watch {} from revision {}: compacted up to revision {}", prefix,
                                                                        from_revision, compacted_.load())));
  auto feed = std::make_shared<sqlite::WatchFeed>(std::string(prefix), options_.watch_queue_limit);
  feeds_.push_back(feed);
  sqlite::EventLog& log = *this;
  return std::make_unique<sqlite::SqliteWatch>(log, std::move(feed), from_revision, current, std::move(callback));
}

void SqliteStore::stop_feeding(const std::shared_ptr<sqlite::WatchFeed>& feed) {
  std::lock_guard lock(write_mu_);
  std::erase(feeds_, feed);
}

}  // namespace switchyard::store
