// The backends the shared store suite runs against. Each is created once per test suite.
#pragma once

#include <memory>
#include <string>

#include "orchestrator/store/etcd_process.h"
#include "orchestrator/store/etcd_store.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::store {

// A fresh database file per test, in one temporary directory per suite.
class SqliteBackend {
 public:
  static std::string name() { return "Sqlite"; }
  bool ready() const { return true; }
  std::string why_not_ready() const { return {}; }
  StoreResult<std::unique_ptr<Store>> make_store() {
    auto s = SqliteStore::open((dir_.path() / ("store-" + std::to_string(++count_) + ".db")).string());
    if (!s) return std::unexpected(s.error());
    return std::unique_ptr<Store>(std::move(*s));
  }

 private:
  testing::TempDir dir_;
  int count_ = 0;
};

// One real etcd per suite, shared by its tests (each test keeps to its own key prefix).
class EtcdBackend {
 public:
  EtcdBackend() : etcd_(testing::EtcdProcess::start(error_)) {}
  static std::string name() { return "Etcd"; }
  bool ready() const { return etcd_ != nullptr; }
  std::string why_not_ready() const { return error_; }
  StoreResult<std::unique_ptr<Store>> make_store() {
    auto s = EtcdStore::connect(etcd_->client_url());
    if (!s) return std::unexpected(s.error());
    return std::unique_ptr<Store>(std::move(*s));
  }

 private:
  std::string error_;
  std::unique_ptr<testing::EtcdProcess> etcd_;
};

}  // namespace switchyard::store
