// What a reconcile asks the caller to write to the API server.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/api/types.h"

namespace switchyard::slice_controller {

struct SliceChanges {
  // New slices have metadata.generateName set and no name: the API server names them.
  std::vector<api::EndpointSlice> to_create;
  // Full objects, carrying the name and resourceVersion of the slice they replace.
  std::vector<api::EndpointSlice> to_update;
  // The existing slices to delete, as they were passed in.
  std::vector<api::EndpointSlice> to_delete;
  // One line per thing worth a log line or an Event: a pod left out because its node is not
  // known yet, topology hints that could not be honoured, addresses that could not be mirrored.
  std::vector<std::string> warnings;
  // Reconcile again later even if nothing changes (a pod's node was missing from the cache).
  bool retry_later = false;

  bool no_writes() const { return to_create.empty() && to_update.empty() && to_delete.empty(); }
};

}  // namespace switchyard::slice_controller
