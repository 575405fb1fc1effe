// Typed writes through the REST API: create, update (PUT, optimistic on the object's
// resourceVersion) and delete, with failures as Error codes a controller acts on (Conflict:
// the cache was stale, requeue; NotFound on delete: already gone).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/resources.h"

namespace switchyard::client {

// The JSON the server answered with.
Result<nlohmann::json> create_object(ApiClient& client, const std::string& collection, const nlohmann::json& body);
Result<nlohmann::json> update_object(ApiClient& client, const std::string& path, const nlohmann::json& body);
Result<void> delete_object(ApiClient& client, const std::string& path);
// With DeleteOptions.gracePeriodSeconds: 0 deletes at once (a kubelet confirming that it stopped
// a terminating Pod; `kubectl delete --grace-period=0 --force`).
Result<void> delete_object(ApiClient& client, const std::string& path, std::int64_t grace_period_seconds);

// The object as the server stored it (its name when generated, its new resourceVersion).
template <class T>
Result<T> create(ApiClient& client, const T& object) {
  auto r = create_object(client, collection_path<T>(object.metadata.namespace_), api::encode_object(api::Object{object}));
  if (!r) return fail(r.error());
  auto d = api::decode_object_as(*r, T::kApiVersion, T::kKind);
  if (!d) return fail(ErrorCode::Internal, "create answer: " + d.error().message);
  return std::get<T>(std::move(d->object));
}

template <class T>
Result<T> update(ApiClient& client, const T& object) {
  auto r = update_object(client, object_path<T>(object.metadata.namespace_, object.metadata.name), api::encode_object(api::Object{object}));
  if (!r) return fail(r.error());
  auto d = api::decode_object_as(*r, T::kApiVersion, T::kKind);
  if (!d) return fail(ErrorCode::Internal, "update answer: " + d.error().message);
  return std::get<T>(std::move(d->object));
}

// PUT of the status subresource: only status changes (optimistic on the resourceVersion).
template <class T>
Result<T> update_status(ApiClient& client, const T& object) {
  auto r = update_object(client, object_path<T>(object.metadata.namespace_, object.metadata.name) + "/status",
                         api::encode_object(api::Object{object}));
  if (!r) return fail(r.error());
  auto d = api::decode_object_as(*r, T::kApiVersion, T::kKind);
  if (!d) return fail(ErrorCode::Internal, "status update answer: " + d.error().message);
  return std::get<T>(std::move(d->object));
}

// A JSON merge patch (RFC 7386) of one object; the server's answer.
Result<nlohmann::json> merge_patch_object(ApiClient& client, const std::string& path, const nlohmann::json& patch);

template <class T>
Result<void> remove(ApiClient& client, const std::string& ns, const std::string& name) {
  return delete_object(client, object_path<T>(ns, name));
}

template <class T>
Result<void> remove(ApiClient& client, const std::string& ns, const std::string& name, std::int64_t grace_period_seconds) {
  return delete_object(client, object_path<T>(ns, name), grace_period_seconds);
}

}  // namespace switchyard::client
