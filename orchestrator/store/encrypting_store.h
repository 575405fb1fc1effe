// A Store that encrypts the values of the configured resources on their way into the store
// below it and decrypts them on the way out (get, list, delete, watch): the storage boundary
// kube-apiserver's transformers sit at, the same for the SQLite and etcd backends. Keys are
// kube-apiserver's "/registry/<group_resource>/..."; other keys pass through unchanged.
#pragma once

#include <memory>

#include "orchestrator/store/encryption_config.h"
#include "orchestrator/store/store.h"

namespace switchyard::store {

class EncryptingStore final : public Store {
 public:
  EncryptingStore(std::unique_ptr<Store> inner, EncryptionConfig config);

  StoreResult<Revision> create(std::string_view key, std::string_view value) override;
  StoreResult<std::optional<KeyValue>> get(std::string_view key) override;
  StoreResult<Revision> update(std::string_view key, std::string_view value, Revision expected_mod_revision) override;
  StoreResult<DeleteResult> remove(std::string_view key, Revision expected_mod_revision) override;
  StoreResult<ListResult> list(std::string_view prefix, std::size_t limit, std::string_view continue_after_key,
                               Revision at_revision = 0) override;
  StoreResult<Revision> current_revision() override { return inner_->current_revision(); }
  StoreResult<void> compact(Revision revision) override { return inner_->compact(revision); }
  StoreResult<Revision> compacted_revision() override { return inner_->compacted_revision(); }
  StoreResult<std::unique_ptr<Watch>> watch(std::string_view prefix, Revision from_revision, WatchCallback callback) override;

 private:
  const TransformerChain* chain_for(std::string_view key) const;
  StoreResult<std::string> seal(std::string_view key, std::string_view value) const;
  StoreResult<void> open(KeyValue& kv) const;

  std::unique_ptr<Store> inner_;
  EncryptionConfig config_;
};

}  // namespace switchyard::store
