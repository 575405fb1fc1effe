// The StatefulSet controller's decisions as pure functions (pkg/controller/statefulset
// stateful_set_control.go and stateful_set_utils.go): which ordinals to create, which pods to
// delete (condemned ones above the replica count, failed ones, old revisions in a rolling
// update), in what order and how many at a time, and the status counts. No I/O here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace switchyard::controllers::sts {

// "web-3" for parent "web" → 3; nullopt when the name is not PARENT-ORDINAL.
std::optional<int> parse_ordinal(const std::string& parent, const std::string& pod_name);
std::string pod_name(const std::string& parent, int ordinal);

// What the controller sees of one existing pod.
struct PodState {
  int ordinal = 0;
  std::string revision;      // its controller-revision-hash label
  bool terminating = false;  // has a deletionTimestamp
  bool failed = false;       // phase Failed or Succeeded: to be replaced
  bool running_ready = false;
  bool available = false;  // running, ready and past minReadySeconds
};

struct Spec {
  int replicas = 1;
  int start = 0;            // spec.ordinals.start
  bool parallel = false;    // podManagementPolicy Parallel (else OrderedReady)
  bool on_delete = false;   // updateStrategy OnDelete
  int partition = 0;        // RollingUpdate partition
  int max_unavailable = 1;  // RollingUpdate maxUnavailable, resolved against replicas
};

struct Plan {
  struct Create {
    int ordinal;
    bool current_revision;  // below the partition while a rollout is partitioned: the old template
  };
  std::vector<Create> create;
  std::vector<int> remove;  // ordinals to delete, in this order
};

// One sync's actions for the pods that exist now. `update_revision` is the revision the spec asks
// for; `current_revision` the one the set is rolling from (equal when no rollout is under way).
Plan plan(const Spec& spec, const std::vector<PodState>& pods, const std::string& current_revision, const std::string& update_revision);

struct Counts {
  std::int32_t replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
};
Counts count(const std::vector<PodState>& pods, const std::string& current_revision, const std::string& update_revision);

// maxUnavailable as a number of pods (a percent rounds up), at least 1.
int resolve_max_unavailable(bool is_percent, int value, int replicas);

// The revision name suffix: fnv-1 32-bit of the data (and the collision count), in the
// alphabet apimachinery's rand.SafeEncodeString uses.
std::string revision_hash(const std::string& data, std::int32_t collision_count);

}  // namespace switchyard::controllers::sts
