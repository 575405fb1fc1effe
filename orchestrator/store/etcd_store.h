// The distributed store: etcd 3.4 through its v3 JSON gateway (see etcd_gateway.h).
//
// Revisions are etcd's own. create is a txn "create_revision(key) == 0 then put", update and
// remove are txns comparing the key's mod_revision (or "create_revision > 0" for an
// unconditional one) with a range of the key on failure to tell NotFound from Conflict. Lists
// are ranges over [prefix, prefix_range_end(prefix)), compaction is etcd's physical compaction.
// A watch is one streaming POST to /v3/watch read on its own thread (see etcd_watch.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "orchestrator/store/etcd_gateway.h"
#include "orchestrator/store/store.h"

namespace switchyard::store {

class EtcdStore final : public Store {
 public:
  struct Options {
    std::chrono::milliseconds request_timeout{10000};
    // A watch whose stream breaks keeps reconnecting (resuming after the last delivered
    // revision) for this long before it reports Unavailable.
    std::chrono::milliseconds watch_reconnect_window{30000};
  };

  // Checks that the member answers; Unavailable if it does not.
  static StoreResult<std::unique_ptr<EtcdStore>> connect(std::string_view endpoint_url, Options options);
  static StoreResult<std::unique_ptr<EtcdStore>> connect(std::string_view endpoint_url) { return connect(endpoint_url, Options{}); }

  StoreResult<Revision> create(std::string_view key, std::string_view value) override;
  StoreResult<std::optional<KeyValue>> get(std::string_view key) override;
  StoreResult<Revision> update(std::string_view key, std::string_view value, Revision expected_mod_revision) override;
  StoreResult<DeleteResult> remove(std::string_view key, Revision expected_mod_revision) override;
  StoreResult<ListResult> list(std::string_view prefix, std::size_t limit, std::string_view continue_after_key,
                               Revision at_revision = 0) override;
  StoreResult<Revision> current_revision() override;
  StoreResult<void> compact(Revision revision) override;
  // etcd 3.4 does not report it: found by bisecting on which revisions a range still accepts.
  StoreResult<Revision> compacted_revision() override;
  StoreResult<std::unique_ptr<Watch>> watch(std::string_view prefix, Revision from_revision, WatchCallback callback) override;

 private:
  EtcdStore(etcd::Endpoint endpoint, Options options);
  // The txn shared by update and remove: `operation` if the key exists with the expected mod revision.
  StoreResult<nlohmann::json> conditional(std::string_view key, Revision expected, nlohmann::json operation, std::string_view what);
  // Whether a range at `revision` is refused as compacted.
  StoreResult<bool> is_compacted(Revision revision);

  etcd::GatewayClient client_;
  Options options_;
};

}  // namespace switchyard::store
