#include "orchestrator/store/etcd_store.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/store/etcd_watch.h"

namespace switchyard::store {

using etcd::base64_encode;
using etcd::int_field;
using nlohmann::json;

namespace {

std::string b64(std::string_view s) { return base64_encode(s); }

Revision header_revision(const json& response) {
  auto it = response.find("header");
  return it == response.end() ? 0 : int_field(*it, "revision");
}

StoreResult<void> check_key(std::string_view key) {
  if (key.empty()) return std::unexpected(StoreError{StoreErrorCode::Internal, "key must not be empty"});
  return {};
}

// The single-key range etcd answers in a txn's failure branch, as a KeyValue if the key exists.
StoreResult<std::optional<KeyValue>> failure_range_kv(const json& txn_response) {
  auto responses = txn_response.value("responses", json::array());
  if (responses.empty()) return std::optional<KeyValue>();
  auto range = responses[0].value("response_range", json::object());
  auto kvs = range.value("kvs", json::array());
  if (kvs.empty()) return std::optional<KeyValue>();
  auto kv = etcd::key_value_from(kvs[0]);
  if (!kv) return std::unexpected(kv.error());
  return std::optional<KeyValue>(std::move(*kv));
}

}  // namespace

StoreResult<std::unique_ptr<EtcdStore>> EtcdStore::connect(std::string_view endpoint_url, Options options) {
  auto endpoint = etcd::Endpoint::parse(endpoint_url);
  if (!endpoint) return std::unexpected(endpoint.error());
  auto store = std::unique_ptr<EtcdStore>(new EtcdStore(std::move(*endpoint), options));
  auto revision = store->current_revision();
  if (!revision) return std::unexpected(revision.error());
  spdlog::info("event=store_opened backend=etcd endpoint={} revision={}", store->client_.endpoint().str(), *revision);
  return store;
}

EtcdStore::EtcdStore(etcd::Endpoint endpoint, Options options)
    : client_(std::move(endpoint), options.request_timeout), options_(options) {}

StoreResult<Revision> EtcdStore::create(std::string_view key, std::string_view value) {
  if (auto k = check_key(key); !k) return std::unexpected(k.error());
  const std::string k64 = b64(key);
  json txn = {
      {"compare", json::array({json{{"key", k64}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}})},
      {"success", json::array({json{{"request_put", json{{"key", k64}, {"value", b64(value)}}}}})},
      {"failure", json::array({json{{"request_range", json{{"key", k64}, {"keys_only", true}}}}})},
  };
  auto r = client_.post("/v3/kv/txn", txn, false);
  if (!r) return std::unexpected(with_context(r.error(), fmt::format("create key {}", key)));
  if (!r->value("succeeded", false)) {
    auto existing = failure_range_kv(*r);
    Revision mod = existing && *existing ? (*existing)->mod_revision : 0;
    return std::unexpected(
        StoreError{StoreErrorCode::AlreadyExists, fmt::format("key {} already exists (mod revision {})", key, mod)});
  }
  return header_revision(*r);
}

StoreResult<json> EtcdStore::conditional(std::string_view key, Revision expected, json operation, std::string_view what) {
  if (auto k = check_key(key); !k) return std::unexpected(k.error());
  const std::string k64 = b64(key);
  json compare = expected != 0
                     ? json{{"key", k64}, {"target", "MOD"}, {"result", "EQUAL"}, {"mod_revision", std::to_string(expected)}}
                     : json{{"key", k64}, {"target", "CREATE"}, {"result", "GREATER"}, {"create_revision", "0"}};
  json txn = {
      {"compare", json::array({compare})},
      {"success", json::array({std::move(operation)})},
      {"failure", json::array({json{{"request_range", json{{"key", k64}, {"keys_only", true}}}}})},
  };
  auto r = client_.post("/v3/kv/txn", txn, false);
  if (!r) return std::unexpected(with_context(r.error(), fmt::format("{} key {}", what, key)));
  if (!r->value("succeeded", false)) {
    auto current = failure_range_kv(*r);
    if (!current) return std::unexpected(with_context(current.error(), fmt::format("{} key {}", what, key)));
    if (!*current) return std::unexpected(StoreError{StoreErrorCode::NotFound, fmt::format("key {} not found", key)});
    return std::unexpected(StoreError{StoreErrorCode::Conflict, fmt::format("key {}: mod revision is {}, expected {}", key,
                                                                            (*current)->mod_revision, expected)});
  }
  return r;
}

StoreResult<Revision> EtcdStore::update(std::string_view key, std::string_view value, Revision expected_mod_revision) {
  auto r = conditional(key, expected_mod_revision, json{{"request_put", json{{"key", b64(key)}, {"value", b64(value)}}}},
                       "update");
  if (!r) return std::unexpected(r.error());
  return header_revision(*r);
}

StoreResult<DeleteResult> EtcdStore::remove(std::string_view key, Revision expected_mod_revision) {
  auto r = conditional(key, expected_mod_revision,
                       json{{"request_delete_range", json{{"key", b64(key)}, {"prev_kv", true}}}}, "delete");
  if (!r) return std::unexpected(r.error());
  auto responses = r->value("responses", json::array());
  auto prev_kvs = responses.empty() ? json::array()
                                    : responses[0].value("response_delete_range", json::object()).value("prev_kvs", json::array());
  if (prev_kvs.empty())
    return std::unexpected(StoreError{StoreErrorCode::Internal, fmt::format("delete key {}: etcd returned no prev_kv", key)});
  auto kv = etcd::key_value_from(prev_kvs[0]);
  if (!kv) return std::unexpected(with_context(kv.error(), fmt::format("delete key {}", key)));
  return DeleteResult{std::move(*kv), header_revision(*r)};
}

StoreResult<std::optional<KeyValue>> EtcdStore::get(std::string_view key) {
  if (auto k = check_key(key); !k) return std::unexpected(k.error());
  auto r = client_.post("/v3/kv/range", json{{"key", b64(key)}}, true);
  if (!r) return std::unexpected(with_context(r.error(), fmt::format("get key {}", key)));
  auto kvs = r->value("kvs", json::array());
  if (kvs.empty()) return std::optional<KeyValue>();
  auto kv = etcd::key_value_from(kvs[0]);
  if (!kv) return std::unexpected(with_context(kv.error(), fmt::format("get key {}", key)));
  return std::optional<KeyValue>(std::move(*kv));
}

StoreResult<ListResult> EtcdStore::list(std::string_view prefix, std::size_t limit, std::string_view continue_after_key,
                                        Revision at_revision) {
  std::string start(prefix);
  if (!continue_after_key.empty() && std::string(continue_after_key) + '\0' > start)
    start = std::string(continue_after_key) + '\0';
  if (start.empty()) start = std::string(1, '\0');  // etcd wants a key: the smallest one
  std::string end = prefix_range_end(prefix);
  if (end.empty()) end = std::string(1, '\0');  // range_end "\0": every key >= key
  json request = {{"key", b64(start)}, {"range_end", b64(end)}};
  if (limit != 0) request["limit"] = std::to_string(limit);
  if (at_revision != 0) request["revision"] = std::to_string(at_revision);
  auto r = client_.post("/v3/kv/range", request, true);
  if (!r) return std::unexpected(with_context(r.error(), fmt::format("list {} at revision {}", prefix, at_revision)));
  ListResult result;
  result.revision = at_revision != 0 ? at_revision : header_revision(*r);
  result.more = r->value("more", false);
  for (const auto& item : r->value("kvs", json::array())) {
    auto kv = etcd::key_value_from(item);
    if (!kv) return std::unexpected(with_context(kv.error(), fmt::format("list {}", prefix)));
    result.items.push_back(std::move(*kv));
  }
  return result;
}

StoreResult<Revision> EtcdStore::current_revision() {
  auto r = client_.post("/v3/kv/range", json{{"key", b64(std::string(1, '\0'))}, {"keys_only", true}}, true);
  if (!r) return std::unexpected(with_context(r.error(), "read current revision"));
  return header_revision(*r);
}

StoreResult<void> EtcdStore::compact(Revision revision) {
  auto r = client_.post("/v3/kv/compaction", json{{"revision", std::to_string(revision)}, {"physical", true}}, false);
  if (!r) return std::unexpected(with_context(r.error(), fmt::format("compact to revision {}", revision)));
  spdlog::info("event=store_compacted backend=etcd endpoint={} revision={}", client_.endpoint().str(), revision);
  return {};
}

StoreResult<bool> EtcdStore::is_compacted(Revision revision) {
  json request = {{"key", b64(std::string(1, '\0'))}, {"keys_only", true}, {"revision", std::to_string(revision)}};
  auto r = client_.post("/v3/kv/range", request, true);
  if (r) return false;
  if (r.error().code == StoreErrorCode::Compacted) return true;
  return std::unexpected(with_context(r.error(), fmt::format("probe revision {}", revision)));
}

StoreResult<Revision> EtcdStore::compacted_revision() {
  auto current = current_revision();
  if (!current) return std::unexpected(current.error());
  // A range at r is refused exactly when r < the compacted revision: find the first accepted r.
  Revision lo = 1, hi = *current;  // hi is always accepted
  while (lo < hi) {
    Revision mid = lo + (hi - lo) / 2;
    auto compacted = is_compacted(mid);
    if (!compacted) return std::unexpected(compacted.error());
    if (*compacted)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo <= 1 ? 0 : lo;
}

StoreResult<std::unique_ptr<Watch>> EtcdStore::watch(std::string_view prefix, Revision from_revision,
                                                     WatchCallback callback) {
  const std::string what = fmt::format("watch {} from revision {}", prefix, from_revision);
  // etcd reports a compacted start revision only later, on the stream: ask first, so the
  // caller gets Compacted (410) at once, as from SqliteStore. (A range at 0 would mean "now":
  // probe 1 instead, the oldest revision there is.)
  auto compacted = is_compacted(std::max<Revision>(from_revision, 1));
  if (!compacted && compacted.error().code != StoreErrorCode::FutureRevision)
    return std::unexpected(with_context(compacted.error(), what));
  if (compacted && *compacted)
    return std::unexpected(StoreError{StoreErrorCode::Compacted,
                                      fmt::format("{}: etcdserver: mvcc: required revision has been compacted", what)});

  auto watch = std::make_unique<etcd::EtcdWatch>(client_.endpoint(), std::string(prefix), from_revision,
                                                 etcd::EtcdWatch::Timing{options_.request_timeout,
                                                                         options_.watch_reconnect_window},
                                                 std::move(callback));
  auto started = watch->wait_started();
  if (!started) return std::unexpected(with_context(started.error(), what));
  return std::unique_ptr<Watch>(std::move(watch));
}

}  // namespace switchyard::store
