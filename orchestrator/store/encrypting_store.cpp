#include "orchestrator/store/encrypting_store.h"

#include <atomic>

namespace switchyard::store {

namespace {
constexpr std::string_view kRegistryPrefix = "/registry/";
}

EncryptingStore::EncryptingStore(std::unique_ptr<Store> inner, EncryptionConfig config)
    : inner_(std::move(inner)), config_(std::move(config)) {}

const TransformerChain* EncryptingStore::chain_for(std::string_view key) const {
  if (!key.starts_with(kRegistryPrefix)) return nullptr;
  auto rest = key.substr(kRegistryPrefix.size());
  const auto it = config_.find(rest.substr(0, rest.find('/')));
  return it == config_.end() ? nullptr : it->second.get();
}

StoreResult<std::string> EncryptingStore::seal(std::string_view key, std::string_view value) const {
  const auto* chain = chain_for(key);
  return chain ? chain->to_storage(value, key) : StoreResult<std::string>(std::string(value));
}

StoreResult<void> EncryptingStore::open(KeyValue& kv) const {
  const auto* chain = chain_for(kv.key);
  if (!chain) return {};
  bool stale = false;
  auto plain = chain->from_storage(kv.value, kv.key, &stale);
  if (!plain) return fail(plain.error());
  kv.stale = stale;
  kv.value = std::move(*plain);
  return {};
}

StoreResult<Revision> EncryptingStore::create(std::string_view key, std::string_view value) {
  auto sealed = seal(key, value);
  if (!sealed) return fail(sealed.error());
  return inner_->create(key, *sealed);
}

StoreResult<std::optional<KeyValue>> EncryptingStore::get(std::string_view key) {
  auto got = inner_->get(key);
  if (!got || !*got) return got;
  if (auto opened = open(**got); !opened) return fail(opened.error());
  return got;
}

// Always written with the first provider key: an update is what moves a value written with an
// older key (or in plaintext) to the current one.
StoreResult<Revision> EncryptingStore::update(std::string_view key, std::string_view value, Revision expected_mod_revision) {
  auto sealed = seal(key, value);
  if (!sealed) return fail(sealed.error());
  return inner_->update(key, *sealed, expected_mod_revision);
}

StoreResult<DeleteResult> EncryptingStore::remove(std::string_view key, Revision expected_mod_revision) {
  auto removed = inner_->remove(key, expected_mod_revision);
  if (!removed) return removed;
  if (auto opened = open(removed->deleted); !opened) return fail(opened.error());
  return removed;
}

StoreResult<ListResult> EncryptingStore::list(std::string_view prefix, std::size_t limit, std::string_view continue_after_key,
                                              Revision at_revision) {
  auto listed = inner_->list(prefix, limit, continue_after_key, at_revision);
  if (!listed) return listed;
  for (auto& kv : listed->items)
    if (auto opened = open(kv); !opened) return fail(opened.error());
  return listed;
}

StoreResult<std::unique_ptr<Watch>> EncryptingStore::watch(std::string_view prefix, Revision from_revision, WatchCallback callback) {
  // After a value that does not decrypt the watch reports the error once and then stays quiet,
  // as the Store contract says a watch does after an error.
  auto failed = std::make_shared<std::atomic<bool>>(false);
  return inner_->watch(prefix, from_revision, [this, failed, callback = std::move(callback)](const StoreResult<Event>& event) {
    if (failed->load()) return;
    if (!event) {
      failed->store(true);
      callback(event);
      return;
    }
    Event e = *event;
    auto opened = e.type == Event::Type::Put ? open(e.kv) : StoreResult<void>{};
    if (opened && e.prev_kv) opened = open(*e.prev_kv);
    if (!opened) {
      failed->store(true);
      callback(StoreResult<Event>(fail(opened.error())));
      return;
    }
    callback(e);
  });
}

}  // namespace switchyard::store
