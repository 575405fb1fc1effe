// The API server's persistent store: a revisioned key/value map with etcd's semantics.
//
// One global revision per store, increased by one on every successful write (create, update,
// remove); each key remembers the revision that created it and the one that last modified it.
// Writes are conditional on the key's mod revision (compare-and-swap), reads can be taken at a
// past revision, and a watch replays every change after a given revision, then follows live
// changes. compact(r) forgets the history before r: reads at a revision < r and watches that
// would need events before r fail with StoreErrorCode::Compacted (the API server's 410 Expired).
//
// Two implementations: SqliteStore (embedded, the default) and EtcdStore (etcd 3.4 through its
// v3 JSON gateway). Both are safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::store {

using Revision = std::int64_t;

// The store's errors are the project's one error type (orchestrator/base/error.h); the codes it
// returns: NotFound (update/remove of a missing key), AlreadyExists (create of an existing key),
// Conflict (the key's mod revision is not the expected one), Compacted (the requested revision
// is older than the compacted revision), FutureRevision (newer than the current revision),
// Unavailable (etcd down, the database file locked by another process), Internal (anything
// else: a failed statement, a malformed response). The message names the key or revision.
using StoreErrorCode = ErrorCode;
using StoreError = Error;
using switchyard::to_string;

template <class T>
using StoreResult = Result<T>;

struct KeyValue {
  std::string key;
  std::string value;
  Revision create_revision = 0;
  Revision mod_revision = 0;
  // Read through an encryption provider key that no longer writes (or in plaintext where a
  // provider now encrypts): an update should store it again even when it did not change, as
  // kube-apiserver's storage rewrites stale values (EncryptingStore sets it).
  bool stale = false;

  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

struct ListResult {
  std::vector<KeyValue> items;  // sorted by key
  Revision revision = 0;        // the store revision the list reflects; pass it back to continue
  bool more = false;            // more keys after the last item match the prefix
};

struct DeleteResult {
  KeyValue deleted;   // the key as it was just before the delete
  Revision revision;  // the revision of the delete itself
};

struct Event {
  enum class Type { Put, Delete };
  Type type;
  // Put: the key as written. Delete: key and mod_revision (the revision of the delete) only,
  // as etcd reports it; the deleted value is in prev_kv.
  KeyValue kv;
  // The key just before this event; always set for Delete, set for Put of an existing key
  // (absent for a create). etcd may omit it when that revision has been compacted.
  std::optional<KeyValue> prev_kv;
};

// Called on the watch's own thread, one event at a time, in revision order. After an error
// (Compacted when the watch fell behind a compaction, Unavailable when the backend went away
// for good) the callback is not called again. The callback must not destroy its own Watch.
using WatchCallback = std::function<void(const StoreResult<Event>&)>;

// A running watch; destroying it cancels the watch and waits for a running callback to return.
// Destroy every Watch before the Store that made it.
class Watch {
 public:
  virtual ~Watch() = default;
  // A revision R such that every change under the prefix up to R has already been passed to
  // the callback (which has returned): what a watch bookmark may claim without skipping an event
  // that is still on its way. Never decreases; may lag behind the store (for etcd it moves with
  // events and etcd's progress notifications).
  virtual Revision progress() const = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates `key`; fails with AlreadyExists if it exists. Returns the revision of the write.
  virtual StoreResult<Revision> create(std::string_view key, std::string_view value) = 0;

  // The key's current value, or nullopt if it does not exist.
  virtual StoreResult<std::optional<KeyValue>> get(std::string_view key) = 0;

  // Replaces the value of an existing key if its mod revision is `expected_mod_revision`
  // (0: whatever it is). NotFound if absent, Conflict if the mod revision differs.
  virtual StoreResult<Revision> update(std::string_view key, std::string_view value, Revision expected_mod_revision) = 0;

  // Deletes an existing key, with the same conditions as update.
  virtual StoreResult<DeleteResult> remove(std::string_view key, Revision expected_mod_revision) = 0;

  // Keys starting with `prefix`, sorted, after `continue_after_key` (empty: from the first),
  // at most `limit` of them (0: all), as of `at_revision` (0: now). To page consistently pass
  // the first page's ListResult::revision as at_revision.
  virtual StoreResult<ListResult> list(std::string_view prefix, std::size_t limit, std::string_view continue_after_key,
                                       Revision at_revision = 0) = 0;

  virtual StoreResult<Revision> current_revision() = 0;

  // Forgets the history before `revision` (reads at `revision` itself still work).
  // Compacted if `revision` is not above the current compacted revision, FutureRevision if it
  // is above the current revision.
  virtual StoreResult<void> compact(Revision revision) = 0;

  // The revision of the last compaction (0: never compacted).
  virtual StoreResult<Revision> compacted_revision() = 0;

  // Delivers every change to keys starting with `prefix` made after `from_revision`, in
  // revision order, then live changes. To follow only new changes pass current_revision() (or
  // the revision of a list); 0 replays all history. Compacted if from_revision is below the
  // compacted revision (its state is no longer known).
  virtual StoreResult<std::unique_ptr<Watch>> watch(std::string_view prefix, Revision from_revision, WatchCallback callback) = 0;
};

// The first key after every key that starts with `prefix` ("" if there is none: the prefix is
// empty or all 0xff), i.e. the exclusive end of the prefix range, as etcd's range_end.
std::string prefix_range_end(std::string_view prefix);

}  // namespace switchyard::store
