#include "endpoints/controller/endpoint_mirroring.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "endpoints/controller/ip_address.h"
#include "endpoints/controller/slice_identity.h"
#include "endpoints/controller/slice_packing.h"
#include "endpoints/controller/well_known.h"
#include "orchestrator/api/names.h"

namespace switchyard::slice_controller {
namespace {

struct MirrorGroup {
  std::string address_type;
  std::vector<api::SlicePort> ports;
  DesiredEndpoints endpoints;
};

std::string group_key(std::string_view address_type, const std::vector<api::SlicePort>& ports) {
  return std::string(address_type) + "/" + port_set_key(ports);
}

std::vector<api::SlicePort> slice_ports(const std::vector<api::EndpointPort>& ports) {
  std::vector<api::SlicePort> out;
  for (const auto& p : ports)
    out.push_back(api::SlicePort{
        .name = p.name, .protocol = p.protocol.empty() ? "TCP" : p.protocol, .app_protocol = p.app_protocol, .port = p.port});
  return out;
}

api::SliceEndpoint address_to_endpoint(const api::EndpointAddress& address, const SliceAddress& ip, bool ready) {
  api::SliceEndpoint ep;
  ep.addresses = {ip.text};
  ep.conditions.ready = ready;
  ep.target_ref = address.target_ref;
  ep.node_name = address.node_name;
  if (!address.hostname.empty()) ep.hostname = address.hostname;
  return ep;
}

api::StringMap mirrored_labels(const api::Endpoints& endpoints) {
  api::StringMap labels = endpoints.metadata.labels;
  labels[std::string(kLabelServiceName)] = endpoints.metadata.name;
  labels[std::string(kLabelManagedBy)] = std::string(kMirroringControllerName);
  return labels;
}

api::StringMap mirrored_annotations(const api::Endpoints& endpoints) {
  api::StringMap annotations = endpoints.metadata.annotations;
  annotations.erase(std::string(kAnnotationLastChangeTriggerTime));
  annotations.erase(std::string(kAnnotationLastAppliedConfig));
  return annotations;
}

api::EndpointSlice new_mirrored_slice(const api::Endpoints& endpoints, const MirrorGroup& group) {
  api::EndpointSlice slice;
  const std::string prefix = endpoints.metadata.name + "-";
  slice.metadata.generate_name = api::name_is_dns1123_subdomain(prefix, true).empty() ? prefix : endpoints.metadata.name;
  slice.metadata.namespace_ = endpoints.metadata.namespace_;
  slice.metadata.labels = mirrored_labels(endpoints);
  slice.metadata.annotations = mirrored_annotations(endpoints);
  slice.metadata.owner_references = {api::OwnerReference{.api_version = "v1",
                                                         .kind = "Endpoints",
                                                         .name = endpoints.metadata.name,
                                                         .uid = endpoints.metadata.uid,
                                                         .controller = true,
                                                         .block_owner_deletion = true}};
  slice.address_type = group.address_type;
  slice.ports = group.ports;
  return slice;
}

// The desired endpoints per address type and port set; every subset's port set gets a group
// for both address types, so that slices of a port set that lost its addresses are deleted.
std::map<std::string, MirrorGroup> desired_groups(const api::Endpoints& endpoints, std::size_t max_per_subset, SliceChanges& changes) {
  std::map<std::string, MirrorGroup> groups;
  std::size_t invalid = 0, over_limit = 0;
  for (const auto& subset : endpoints.subsets) {
    auto ports = slice_ports(subset.ports);
    for (auto type : {kAddressTypeIPv4, kAddressTypeIPv6}) {
      auto& g = groups[group_key(type, ports)];
      g.address_type = std::string(type);
      g.ports = ports;
    }
    std::size_t added = 0;
    auto add_all = [&](const std::vector<api::EndpointAddress>& addresses, bool ready) {
      for (const auto& address : addresses) {
        if (added >= max_per_subset) {
          ++over_limit;
          continue;
        }
        auto ip = parse_slice_address(address.ip);
        if (!ip) {
          ++invalid;
          continue;
        }
        auto ep = address_to_endpoint(address, *ip, ready);
        groups[group_key(ip->address_type, ports)].endpoints.emplace(endpoint_identity(ep), std::move(ep));
        ++added;
      }
    };
    add_all(subset.addresses, true);
    add_all(subset.not_ready_addresses, false);
  }
  const std::string what = "endpoints " + endpoints.metadata.namespace_ + "/" + endpoints.metadata.name;
  if (invalid > 0)
    changes.warnings.push_back(what + ": skipped " + std::to_string(invalid) + " invalid IP addresses when mirroring to EndpointSlices");
  if (over_limit > 0)
    changes.warnings.push_back(what + ": a max of " + std::to_string(max_per_subset) +
                               " addresses can be mirrored to EndpointSlices per Endpoints subset, " + std::to_string(over_limit) +
                               " addresses were skipped");
  return groups;
}

// Whether `slice` already holds exactly `desired` with the right labels and annotations.
bool mirrors(const api::EndpointSlice& slice, DesiredEndpoints desired, const api::Endpoints& endpoints) {
  if (slice.metadata.labels != mirrored_labels(endpoints) || slice.metadata.annotations != mirrored_annotations(endpoints)) return false;
  for (const auto& ep : slice.endpoints) {
    auto wanted = desired.find(endpoint_identity(ep));
    if (wanted == desired.end() || !same_beyond_identity(wanted->second, ep)) return false;
    desired.erase(wanted);
  }
  return desired.empty();
}

// Turn pairs of (create, delete) of the same address type into updates of the deleted slice.
void recycle_deleted_slices(SliceChanges& changes) {
  std::vector<api::EndpointSlice> still_created;
  for (auto& created : changes.to_create) {
    auto victim = std::find_if(changes.to_delete.begin(), changes.to_delete.end(),
                               [&](const auto& d) { return d.address_type == created.address_type; });
    if (victim == changes.to_delete.end()) {
      still_created.push_back(std::move(created));
      continue;
    }
    created.metadata.name = victim->metadata.name;
    created.metadata.uid = victim->metadata.uid;
    created.metadata.resource_version = victim->metadata.resource_version;
    created.metadata.creation_timestamp = victim->metadata.creation_timestamp;
    changes.to_update.push_back(std::move(created));
    changes.to_delete.erase(victim);
  }
  changes.to_create = std::move(still_created);
}

}  // namespace

bool managed_by_mirroring_controller(const api::EndpointSlice& slice) {
  auto it = slice.metadata.labels.find(std::string(kLabelManagedBy));
  return it != slice.metadata.labels.end() && it->second == kMirroringControllerName;
}

bool should_mirror(const api::Endpoints& endpoints) {
  auto skip = endpoints.metadata.labels.find(std::string(kLabelSkipMirror));
  if (skip != endpoints.metadata.labels.end() && skip->second == "true") return false;
  return !endpoints.metadata.annotations.contains(std::string(kAnnotationLeaderElection));
}

SliceChanges mirror_endpoints(const api::Endpoints* endpoints, const api::Service* service,
                              std::span<const api::EndpointSlice> existing_slices, const MirroringOptions& options) {
  if (options.max_endpoints_per_subset < 1 || options.max_endpoints_per_subset > 1000)
    throw std::invalid_argument("max_endpoints_per_subset must be between 1 and 1000, got " +
                                std::to_string(options.max_endpoints_per_subset));

  std::vector<api::EndpointSlice> mirrored;
  for (const auto& slice : existing_slices) {
    if (!managed_by_mirroring_controller(slice)) continue;
    if (endpoints) {
      auto name = slice.metadata.labels.find(std::string(kLabelServiceName));
      if (slice.metadata.namespace_ != endpoints->metadata.namespace_ || name == slice.metadata.labels.end() ||
          name->second != endpoints->metadata.name)
        continue;
    }
    mirrored.push_back(slice);
  }

  SliceChanges changes;
  if (!endpoints || !should_mirror(*endpoints) || !service || !service->spec.selector.empty()) {
    changes.to_delete = std::move(mirrored);
    return changes;
  }

  const auto max = static_cast<std::size_t>(options.max_endpoints_per_subset);
  auto groups = desired_groups(*endpoints, max, changes);

  std::map<std::string, std::vector<api::EndpointSlice>> existing_by_group;
  for (auto& slice : mirrored) existing_by_group[group_key(slice.address_type, slice.ports)].push_back(std::move(slice));

  for (auto& [key, group] : groups) {
    std::vector<api::EndpointSlice> existing;
    if (auto it = existing_by_group.find(key); it != existing_by_group.end()) {
      existing = std::move(it->second);
      existing_by_group.erase(it);
    }
    if (group.endpoints.empty()) {
      std::move(existing.begin(), existing.end(), std::back_inserter(changes.to_delete));
      continue;
    }
    // One slice per group: keep the first existing one, delete any others.
    if (!existing.empty()) {
      std::move(existing.begin() + 1, existing.end(), std::back_inserter(changes.to_delete));
      if (mirrors(existing.front(), group.endpoints, *endpoints)) continue;
    }
    api::EndpointSlice slice = new_mirrored_slice(*endpoints, group);
    for (auto it = group.endpoints.begin(); it != group.endpoints.end() && slice.endpoints.size() < max; ++it)
      slice.endpoints.push_back(std::move(it->second));
    if (existing.empty()) {
      changes.to_create.push_back(std::move(slice));
    } else {
      const auto& old = existing.front().metadata;
      slice.metadata.name = old.name;
      slice.metadata.uid = old.uid;
      slice.metadata.resource_version = old.resource_version;
      slice.metadata.creation_timestamp = old.creation_timestamp;
      changes.to_update.push_back(std::move(slice));
    }
  }
  for (auto& [key, slices] : existing_by_group)  // port sets the Endpoints no longer have
    std::move(slices.begin(), slices.end(), std::back_inserter(changes.to_delete));

  recycle_deleted_slices(changes);
  // Endpoints being deleted get no new slices: they would race the garbage collector.
  if (endpoints->metadata.deletion_timestamp) changes.to_create.clear();
  return changes;
}

}  // namespace switchyard::slice_controller
