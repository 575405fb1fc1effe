// Where each typed object lives in the REST API: collection and object paths of the kinds the
// client handles (client-go's typed clientsets, reduced to the paths).
#pragma once

#include <string>
#include <string_view>

#include "orchestrator/api/types.h"

namespace switchyard::client {

template <class T>
constexpr std::string_view plural_of() {
  if constexpr (std::is_same_v<T, api::Pod>)
    return "pods";
  else if constexpr (std::is_same_v<T, api::Service>)
    return "services";
  else if constexpr (std::is_same_v<T, api::Node>)
    return "nodes";
  else if constexpr (std::is_same_v<T, api::Endpoints>)
    return "endpoints";
  else if constexpr (std::is_same_v<T, api::EndpointSlice>)
    return "endpointslices";
  else if constexpr (std::is_same_v<T, api::Namespace>)
    return "namespaces";
  else if constexpr (std::is_same_v<T, api::Lease>)
    return "leases";
  else if constexpr (std::is_same_v<T, api::Event>)
    return "events";
  else if constexpr (std::is_same_v<T, api::ReplicaSet>)
    return "replicasets";
  else if constexpr (std::is_same_v<T, api::Deployment>)
    return "deployments";
  else if constexpr (std::is_same_v<T, api::DaemonSet>)
    return "daemonsets";
  else if constexpr (std::is_same_v<T, api::ControllerRevision>)
    return "controllerrevisions";
  else if constexpr (std::is_same_v<T, api::ConfigMap>)
    return "configmaps";
  else if constexpr (std::is_same_v<T, api::Secret>)
    return "secrets";
  else if constexpr (std::is_same_v<T, api::ServiceAccount>)
    return "serviceaccounts";
  else if constexpr (std::is_same_v<T, api::PriorityClass>)
    return "priorityclasses";
  else if constexpr (std::is_same_v<T, api::PodDisruptionBudget>)
    return "poddisruptionbudgets";
  else if constexpr (std::is_same_v<T, api::Job>)
    return "jobs";
  else if constexpr (std::is_same_v<T, api::CronJob>)
    return "cronjobs";
  else if constexpr (std::is_same_v<T, api::StatefulSet>)
    return "statefulsets";
  else if constexpr (std::is_same_v<T, api::PersistentVolume>)
    return "persistentvolumes";
  else if constexpr (std::is_same_v<T, api::PersistentVolumeClaim>)
    return "persistentvolumeclaims";
  else if constexpr (std::is_same_v<T, api::StorageClass>)
    return "storageclasses";
  else
    static_assert(sizeof(T) == 0, "no REST path for this type");
}

// "/api/v1" for the core group, "/apis/GROUP/VERSION" otherwise.
inline std::string group_version_path(std::string_view api_version) {
  return api_version.find('/') == std::string_view::npos ? "/api/" + std::string(api_version) : "/apis/" + std::string(api_version);
}

// All namespaces when `ns` is empty.
template <class T>
std::string collection_path(std::string_view ns = "") {
  std::string out = group_version_path(T::kApiVersion);
  if (T::kNamespaced && !ns.empty()) out += "/namespaces/" + std::string(ns);
  return out + "/" + std::string(plural_of<T>());
}

template <class T>
std::string object_path(std::string_view ns, std::string_view name) {
  return collection_path<T>(ns) + "/" + std::string(name);
}

// Percent-encodes a query value ("spec.nodeName=n1" -> "spec.nodeName%3Dn1").
std::string query_escape(std::string_view value);

}  // namespace switchyard::client
