// The garbage collector's graph of ownerReferences (kube-controller-manager's GraphBuilder
// "uidToNode"): one node per uid, with the owners its object names and the dependents that
// name it. Owners known only from a reference are virtual until their own object is seen; the
// collector checks with the server whether they exist. Changes return the uids whose state
// must be looked at again, so that the graph itself does no I/O and is tested on its own.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard::controllers {

struct OwnerLink {
  std::string api_version, kind, name, uid;
  bool block_owner_deletion = false;
  bool operator==(const OwnerLink&) const = default;
};

// What the collector keeps of each object.
struct ObjectMetadata {
  std::string api_version, kind, ns, name, uid;
  std::vector<OwnerLink> owners;
  std::vector<std::string> finalizers;
  bool being_deleted = false;  // deletionTimestamp set
  bool has_finalizer(const std::string& f) const;
  // From an object as the server sends it; `api_version`/`kind` when the object lacks them (list items).
  static ObjectMetadata from_json(const nlohmann::json& object, const std::string& api_version, const std::string& kind);
  std::string describe() const;  // "ReplicaSet shop/web-5d4f (uid)"
};

struct GraphWork {
  std::vector<std::string> to_delete;  // uids for attemptToDelete
  std::vector<std::string> to_orphan;  // uids for attemptToOrphan
};

class OwnerGraph {
 public:
  struct NodeView {
    ObjectMetadata object;  // a virtual node: only what the reference said (and the dependent's namespace)
    bool observed = false;
    bool deleting_dependents = false;
    std::vector<ObjectMetadata> dependents;
  };

  // An object was added or changed.
  GraphWork upsert(const ObjectMetadata& m);
  // An object is gone (seen deleted, or a virtual owner the server does not have): its
  // dependents are looked at, and owners waiting for it in the foreground.
  GraphWork remove(const std::string& uid);
  std::optional<NodeView> node(const std::string& uid) const;
  std::size_t size() const;

 private:
  struct Node {
    ObjectMetadata object;
    bool observed = false;
    bool deleting_dependents = false;
    std::set<std::string> dependents;
  };
  void add_dependent_locked(const std::string& dependent_uid, const ObjectMetadata& dependent, const OwnerLink& owner, GraphWork& work);
  void remove_dependent_locked(const std::string& dependent_uid, const std::string& owner_uid, GraphWork& work);

  mutable std::mutex mu_;
  std::map<std::string, Node> nodes_;
};

}  // namespace switchyard::controllers
