// Gives back ClusterIPs and node ports that no Service holds, as kube-apiserver's repair loops
// (pkg/registry/core/service/ipallocator/controller/repair.go, portallocator/controller) do.
//
// A release can fail after its Service is gone (the Store went away between the delete and the
// release, or the process died in between); the allocation key then outlives its owner and the
// value would be lost to the range for good. Each pass lists the allocation keys and the
// Services; a key whose owner Service does not hold that value is a leak. It is released only
// when the next pass still finds it leaked with the same owner, so a create that allocated but
// has not stored its Service yet is never robbed.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "orchestrator/apiserver/service_allocation.h"
#include "orchestrator/base/error.h"
#include "orchestrator/store/store.h"

namespace switchyard::apiserver {

struct AllocationRepairReport {
  std::uint64_t held = 0;      // allocation keys whose Service holds them
  std::uint64_t suspects = 0;  // leaked in this pass for the first time: released next pass if still leaked
  std::uint64_t released = 0;  // leaked in two passes in a row, released now
};

class AllocationRepair {
 public:
  AllocationRepair(store::Store& store, const ServiceAllocators& allocators) : store_(store), allocators_(allocators) {}
  // One pass. An error (the Store failed) leaves everything allocated: a failed list is never
  // taken for "no Services".
  Result<AllocationRepairReport> run_once();

 private:
  store::Store& store_;
  const ServiceAllocators& allocators_;
  // "ip:10.96.0.7" / "port:30080" -> owner, as the previous pass found them leaked.
  std::map<std::string, std::string> suspects_;
};

}  // namespace switchyard::apiserver
