#include "endpoints/controller/endpointslice_reconciler.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "endpoints/controller/pod_endpoint.h"
#include "endpoints/controller/slice_identity.h"
#include "endpoints/controller/slice_packing.h"
#include "endpoints/controller/topology_hints.h"
#include "endpoints/controller/well_known.h"
#include "orchestrator/api/names.h"
#include "orchestrator/api/selectors.h"

namespace switchyard::slice_controller {
namespace {

std::string label_of(const api::ObjectMeta& m, std::string_view key) {
  auto it = m.labels.find(std::string(key));
  return it == m.labels.end() ? "" : it->second;
}

bool is_reserved_label(const std::string& key) { return key == kLabelServiceName || key == kLabelManagedBy || key == kLabelHeadless; }

// The Service's labels (minus the reserved ones, which it may not set on its slices) plus the
// labels that tie a slice to the Service and to this controller.
api::StringMap slice_labels(const api::Service& service) {
  api::StringMap labels;
  for (const auto& [key, value] : service.metadata.labels)
    if (!is_reserved_label(key)) labels[key] = value;
  const auto& ip = service.spec.cluster_ip;
  if (ip.empty() || ip == "None") labels[std::string(kLabelHeadless)] = "";
  labels[std::string(kLabelServiceName)] = service.metadata.name;
  labels[std::string(kLabelManagedBy)] = std::string(kSliceControllerName);
  return labels;
}

api::OwnerReference owner_reference_to(const api::Service& service) {
  return api::OwnerReference{.api_version = "v1",
                             .kind = "Service",
                             .name = service.metadata.name,
                             .uid = service.metadata.uid,
                             .controller = true,
                             .block_owner_deletion = true};
}

bool owned_by(const api::EndpointSlice& slice, const api::Service& service) {
  return std::any_of(slice.metadata.owner_references.begin(), slice.metadata.owner_references.end(),
                     [&](const auto& o) { return o.uid == service.metadata.uid && o.kind == "Service" && o.api_version == "v1"; });
}

// "<service>-" when that is a valid name prefix, else the name itself.
std::string generate_name_for(const std::string& service_name) {
  std::string prefix = service_name + "-";
  return api::name_is_dns1123_subdomain(prefix, true).empty() ? prefix : service_name;
}

api::EndpointSlice new_slice(const api::Service& service, const api::StringMap& labels, std::string address_type,
                             std::vector<api::SlicePort> ports) {
  api::EndpointSlice slice;
  slice.metadata.generate_name = generate_name_for(service.metadata.name);
  slice.metadata.namespace_ = service.metadata.namespace_;
  slice.metadata.labels = labels;
  slice.metadata.owner_references = {owner_reference_to(service)};
  slice.address_type = std::move(address_type);
  slice.ports = std::move(ports);
  return slice;
}

// An existing placeholder that can stay as it is (placeholderSliceCompare).
bool same_placeholder(const api::EndpointSlice& existing, const api::EndpointSlice& placeholder) {
  return existing.metadata.namespace_ == placeholder.metadata.namespace_ && existing.metadata.labels == placeholder.metadata.labels &&
         existing.metadata.owner_references == placeholder.metadata.owner_references && existing.address_type == placeholder.address_type &&
         existing.endpoints.empty() && existing.ports.empty();
}

struct PodGroup {
  std::vector<api::SlicePort> ports;
  DesiredEndpoints endpoints;
};

struct EligiblePod {
  const api::Pod* pod;
  std::optional<std::string> zone;
};

std::vector<EligiblePod> eligible_pods(const api::Service& service, std::span<const api::Pod> pods, const NodeLookup& nodes,
                                       SliceChanges& changes) {
  const auto selector = api::LabelSelector::from_map(service.spec.selector);
  std::vector<EligiblePod> eligible;
  for (const auto& pod : pods) {
    if (pod.metadata.namespace_ != service.metadata.namespace_ || !selector.matches(pod.metadata.labels)) continue;
    if (!pod_can_be_endpoint(pod)) continue;
    if (!nodes.contains(pod.spec.node_name) && !service.spec.publish_not_ready_addresses) {
      // Most likely the node informer lags behind the pod informer: retry rather than publish
      // an endpoint without topology, or wait forever for a node that was deleted.
      changes.warnings.push_back("skipping pod " + pod.metadata.namespace_ + "/" + pod.metadata.name + " for service " +
                                 service.metadata.namespace_ + "/" + service.metadata.name + ": node \"" + pod.spec.node_name +
                                 "\" not found");
      changes.retry_later = true;
      continue;
    }
    eligible.push_back({&pod, nodes.zone_of(pod.spec.node_name)});
  }
  return eligible;
}

SlicePlan plan_address_type(const api::Service& service, const std::string& address_type, std::span<const EligiblePod> pods,
                            std::vector<api::EndpointSlice> existing, const api::StringMap& labels, std::size_t max) {
  SlicePlan plan;
  const std::size_t existing_count = existing.size();

  std::map<std::string, std::vector<api::EndpointSlice>> existing_by_ports;
  for (auto& slice : existing) {
    // Ours by label but not this Service's: left by an earlier Service of the same name.
    if (!owned_by(slice, service))
      plan.to_delete.push_back(std::move(slice));
    else
      existing_by_ports[port_set_key(slice.ports)].push_back(std::move(slice));
  }

  std::map<std::string, PodGroup> desired_by_ports;
  for (const auto& [pod, zone] : pods) {
    auto endpoint = pod_to_endpoint(*pod, zone, service, address_type);
    if (endpoint.addresses.empty()) continue;
    auto ports = endpoint_ports_for_pod(service, *pod);
    auto& group = desired_by_ports[port_set_key(ports)];
    if (group.endpoints.empty()) group.ports = std::move(ports);
    group.endpoints.emplace(endpoint_identity(endpoint), std::move(endpoint));
  }

  for (auto& [key, group] : desired_by_ports) {
    std::vector<api::EndpointSlice> same_ports;
    if (auto it = existing_by_ports.find(key); it != existing_by_ports.end()) {
      same_ports = std::move(it->second);
      existing_by_ports.erase(it);
    }
    plan.append(pack_endpoints(std::move(same_ports), std::move(group.endpoints), labels,
                               new_slice(service, labels, address_type, group.ports), max));
  }
  for (auto& [key, slices] : existing_by_ports)  // port sets no pod resolves to any more
    std::move(slices.begin(), slices.end(), std::back_inserter(plan.to_delete));

  // No endpoints at all: one empty slice tells consumers the Service exists and has none.
  if (plan.to_delete.size() == existing_count && plan.to_create.empty()) {
    auto placeholder = new_slice(service, labels, address_type, {});
    if (plan.to_delete.size() == 1 && same_placeholder(plan.to_delete.front(), placeholder)) {
      plan.unchanged.push_back(std::move(plan.to_delete.front()));
      plan.to_delete.clear();
    } else {
      plan.to_create.push_back(std::move(placeholder));
    }
  }
  return plan;
}

// Rather than delete one slice and create another, rewrite the one to be deleted
// (finalize in reconciler.go). Only slices of this Service and the same address type qualify.
void recycle_deleted_slices(const api::Service& service, SliceChanges& changes) {
  for (auto it = changes.to_delete.begin(); it != changes.to_delete.end() && !changes.to_create.empty();) {
    auto& created = changes.to_create.back();
    if (it->address_type != created.address_type || !owned_by(*it, service)) {
      ++it;
      continue;
    }
    api::EndpointSlice rewritten = std::move(created);
    changes.to_create.pop_back();
    rewritten.metadata.name = it->metadata.name;
    rewritten.metadata.generate_name = it->metadata.generate_name;
    rewritten.metadata.uid = it->metadata.uid;
    rewritten.metadata.resource_version = it->metadata.resource_version;
    rewritten.metadata.creation_timestamp = it->metadata.creation_timestamp;
    changes.to_update.push_back(std::move(rewritten));
    it = changes.to_delete.erase(it);
  }
}

}  // namespace

bool managed_by_slice_controller(const api::EndpointSlice& slice) {
  return label_of(slice.metadata, kLabelManagedBy) == kSliceControllerName;
}

SliceChanges reconcile_service_slices(const api::Service& service, std::span<const api::Pod> pods_in_namespace, const NodeLookup& nodes,
                                      std::span<const api::EndpointSlice> existing_slices, const ReconcilerOptions& options) {
  if (options.max_endpoints_per_slice < 1 || options.max_endpoints_per_slice > 1000)
    throw std::invalid_argument("max_endpoints_per_slice must be between 1 and 1000, got " +
                                std::to_string(options.max_endpoints_per_slice));

  std::vector<api::EndpointSlice> ours;
  for (const auto& slice : existing_slices) {
    if (slice.metadata.namespace_ != service.metadata.namespace_ || label_of(slice.metadata, kLabelServiceName) != service.metadata.name ||
        !managed_by_slice_controller(slice) || slice.metadata.deletion_timestamp)
      continue;
    ours.push_back(slice);
  }

  SliceChanges changes;
  if (service.spec.selector.empty() || service.spec.type == "ExternalName") {
    changes.to_delete = std::move(ours);
    return changes;
  }

  const auto address_types = address_types_for_service(service);
  const auto labels = slice_labels(service);
  const auto pods = eligible_pods(service, pods_in_namespace, nodes, changes);
  const auto hint_policy = hint_policy_for(service);

  std::map<std::string, std::vector<api::EndpointSlice>> ours_by_type;
  for (auto& slice : ours) {
    if (std::find(address_types.begin(), address_types.end(), slice.address_type) == address_types.end())
      changes.to_delete.push_back(std::move(slice));  // a family the Service no longer has
    else
      ours_by_type[slice.address_type].push_back(std::move(slice));
  }

  for (const auto& address_type : address_types) {
    auto plan = plan_address_type(service, address_type, pods, std::move(ours_by_type[address_type]), labels,
                                  static_cast<std::size_t>(options.max_endpoints_per_slice));
    if (auto problem = reconcile_hints(hint_policy, nodes, plan); !problem.empty())
      changes.warnings.push_back("topology hints disabled for service " + service.metadata.namespace_ + "/" + service.metadata.name + " (" +
                                 address_type + "): " + problem);
    std::move(plan.to_create.begin(), plan.to_create.end(), std::back_inserter(changes.to_create));
    std::move(plan.to_update.begin(), plan.to_update.end(), std::back_inserter(changes.to_update));
    std::move(plan.to_delete.begin(), plan.to_delete.end(), std::back_inserter(changes.to_delete));
  }

  recycle_deleted_slices(service, changes);
  // A Service being deleted gets no new slices: they would race the garbage collector.
  if (service.metadata.deletion_timestamp) changes.to_create.clear();
  return changes;
}

}  // namespace switchyard::slice_controller
