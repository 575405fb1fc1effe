// Thin RAII layer over the SQLite3 C API: a connection with a cache of prepared statements,
// statements that reset themselves when released, and transactions that roll back unless
// committed. Errors come back as StoreError with SQLite's own message and the statement's purpose.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "orchestrator/store/store.h"

namespace switchyard::store::sqlite {

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// A statement borrowed from a Connection's cache: bound, stepped, then reset and unbound
// when it goes out of scope so the next user finds it clean.
class Statement {
 public:
  Statement(sqlite3_stmt* st, std::string_view purpose) : st_(st), purpose_(purpose) {}
  Statement(Statement&& o) noexcept : st_(std::exchange(o.st_, nullptr)), purpose_(o.purpose_) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t v);
  Statement& bind_text(int index, std::string_view v);
  Statement& bind_blob(int index, std::string_view v);

  // true: a row is ready; false: done.
  StoreResult<bool> step();
  // Runs a statement that returns no rows.
  StoreResult<void> run();

  std::int64_t int_at(int column) const { return sqlite3_column_int64(st_, column); }
  std::string text_at(int column) const;
  std::string blob_at(int column) const;

 private:
  sqlite3_stmt* st_;
  std::string_view purpose_;
};

class Connection {
 public:
  // Opens (creating it if asked) the database at `path` with a busy timeout; pragmas are the
  // caller's business.
  static StoreResult<Connection> open(const std::string& path, bool create);

  // A cached prepared statement for `sql`; `sql` must outlive the connection (a literal).
  StoreResult<Statement> statement(const char* sql, std::string_view purpose);
  StoreResult<void> exec(const char* sql, std::string_view purpose);

  sqlite3* handle() const { return db_.get(); }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  std::unique_ptr<sqlite3, ConnectionCloser> db_;
  std::map<const char*, StatementHandle> cache_;  // declared after db_: finalized before it closes
};

// BEGIN on construction (through begin()), ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  static StoreResult<Transaction> begin(Connection& c, bool immediate);
  Transaction(Transaction&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  StoreResult<void> commit();

 private:
  explicit Transaction(Connection* c) : c_(c) {}
  Connection* c_;
};

// A StoreError from the connection's last error: "<purpose>: <sqlite message>".
StoreError sqlite_error(sqlite3* db, int rc, std::string_view purpose);

}  // namespace switchyard::store::sqlite
