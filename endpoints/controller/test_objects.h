// Objects for the slice controller tests, and a tiny stand-in for the API server that applies
// SliceChanges, so tests can check what `kubectl get endpointslices -o yaml` would show and
// that a second reconcile writes nothing.
#pragma once

#include <string>
#include <vector>

#include "endpoints/controller/slice_changes.h"
#include "orchestrator/api/types.h"

namespace switchyard::slice_controller::testing {

// ClusterIP Service default/web: selector app=web, IPv4, port "http" 80/TCP -> targetPort 8080.
api::Service web_service();
// A Running, Ready pod in default with labels app=web on `node`.
api::Pod web_pod(const std::string& name, const std::string& ip, const std::string& node = "node-a");
// A Ready node with allocatable CPU and, unless empty, a zone label.
api::Node node(const std::string& name, const std::string& zone, const std::string& cpu = "4");

// The endpoint addresses of `slices` (first address of each endpoint), sorted.
std::vector<std::string> addresses_of(const std::vector<api::EndpointSlice>& slices);
std::vector<std::string> addresses_of(const api::EndpointSlice& slice);

// Applies the changes as the API server would: creates get a name from generateName and a
// uid, updates replace by name, deletes remove by name; every write bumps resourceVersion.
class FakeSliceStore {
 public:
  explicit FakeSliceStore(std::vector<api::EndpointSlice> slices = {}) : slices_(std::move(slices)) {}
  void apply(const SliceChanges& changes);
  const std::vector<api::EndpointSlice>& slices() const { return slices_; }
  std::vector<api::EndpointSlice>& slices() { return slices_; }

 private:
  std::vector<api::EndpointSlice> slices_;
  int next_ = 1;
};

}  // namespace switchyard::slice_controller::testing
