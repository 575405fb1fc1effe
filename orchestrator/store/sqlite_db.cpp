#include "orchestrator/store/sqlite_db.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

namespace switchyard::store::sqlite {

StoreError sqlite_error(sqlite3* db, int rc, std::string_view purpose) {
  int primary = rc & 0xff;  // extended result codes are on
  auto code = (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) ? StoreErrorCode::Unavailable : StoreErrorCode::Internal;
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return {code, fmt::format("{}: {} (sqlite error {})", purpose, msg, rc)};
}

Statement::~Statement() {
  if (st_) {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
}

Statement& Statement::bind(int index, std::int64_t v) {
  sqlite3_bind_int64(st_, index, v);
  return *this;
}

Statement& Statement::bind_text(int index, std::string_view v) {
  sqlite3_bind_text(st_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view v) {
  // A zero-length blob with a null pointer would bind NULL; keep empty values empty.
  static const char empty = 0;
  sqlite3_bind_blob(st_, index, v.empty() ? &empty : v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

StoreResult<bool> Statement::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(sqlite_error(sqlite3_db_handle(st_), rc, purpose_));
}

StoreResult<void> Statement::run() {
  auto r = step();
  if (!r) return std::unexpected(r.error());
  return {};
}

std::string Statement::text_at(int column) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, column));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, column))) : std::string();
}

std::string Statement::blob_at(int column) const {
  auto p = static_cast<const char*>(sqlite3_column_blob(st_, column));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, column))) : std::string();
}

StoreResult<Connection> Connection::open(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection c(raw);  // owns raw even when the open failed
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(raw, rc, fmt::format("open database {}", path)));
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_extended_result_codes(raw, 1);
  return c;
}

StoreResult<Statement> Connection::statement(const char* sql, std::string_view purpose) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_.get(), rc, fmt::format("prepare {}", purpose)));
    it = cache_.emplace(sql, StatementHandle(st)).first;
  }
  return Statement(it->second.get(), purpose);
}

StoreResult<void> Connection::exec(const char* sql, std::string_view purpose) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return {};
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  auto code = (rc & 0xff) == SQLITE_BUSY ? StoreErrorCode::Unavailable : StoreErrorCode::Internal;
  return std::unexpected(StoreError{code, fmt::format("{}: {} (sqlite error {})", purpose, msg, rc)});
}

StoreResult<Transaction> Transaction::begin(Connection& c, bool immediate) {
  auto r = c.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN", immediate ? "begin write transaction" : "begin read transaction");
  if (!r) return std::unexpected(r.error());
  return Transaction(&c);
}

Transaction::~Transaction() {
  if (!c_) return;
  // A failed rollback leaves nothing to undo for the caller: SQLite rolls back itself when the
  // connection's next transaction begins or it closes. Said once, here.
  if (auto r = c_->exec("ROLLBACK", "rollback"); !r) spdlog::warn("event=sqlite_rollback_failed error=\"{}\"", r.error().message);
}

StoreResult<void> Transaction::commit() {
  auto r = c_->exec("COMMIT", "commit");
  if (r) c_ = nullptr;  // on failure the destructor rolls back
  return r;
}

}  // namespace switchyard::store::sqlite
