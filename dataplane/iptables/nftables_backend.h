// The nftables Backend: Snapshot → rules (rule_generator) → one atomic netlink batch per sync
// (nft_encoder, netlink_batch). A partial sync sends only the chains, sets and elements of the
// service ports in the SnapshotDiff: it generates each changed port's objects for both sides of
// the diff and compares them. The rules are a pure function of the Snapshot and the generator
// options, so the committed objects of a port are not kept (issue #25: they were ~84 MiB at
// 10,000 services × 10 endpoints); only the table skeletons and the shared elements' counts are,
// and `before` must be the Snapshot last programmed (as the sync loop passes it). A full sync
// replaces all our tables in one batch and runs first, and after any failed commit. Services are
// spread over several service tables (see README.md: the kernel validates a whole table on
// every commit that adds a jump, so smaller tables make partial syncs cheaper).
#pragma once

#include <map>
#include <memory_resource>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "dataplane/backend.h"
#include "dataplane/node_port_addresses.h"
#include "dataplane/iptables/netlink_batch.h"
#include "dataplane/iptables/nft_model.h"
#include "dataplane/iptables/rule_generator.h"

namespace switchyard::dataplane::nft {

// An element's set and key as two 64-bit hashes of different functions: what the backend keeps
// to count the users of shared elements (a pair of strings and a key was ~200 bytes per element;
// a collision of both hashes at once is not a practical concern at 10^6 elements).
struct ElementDigest {
  std::uint64_t a = 0, b = 0;
  bool operator==(const ElementDigest&) const = default;
};
struct ElementDigestHash {
  std::size_t operator()(const ElementDigest& d) const { return static_cast<std::size_t>(d.a); }
};
ElementDigest digest(const std::string& set, const ElementKey& key);
using SharedElementRefs = std::unordered_map<ElementDigest, int, ElementDigestHash>;
// The committed counts live in a pool of their own: their nodes are made during a full sync,
// among the sync's short-lived objects, and scattered there they would keep most of that
// memory's pages resident after it is freed.
using CommittedElementRefs = std::pmr::unordered_map<ElementDigest, int, ElementDigestHash>;

struct NftablesBackendOptions {
  GeneratorOptions generator;
  // A full sync chooses ceil(service ports / services_per_table) service tables, at most
  // kMaxServiceTables; partial syncs keep that number until the next full sync.
  std::size_t services_per_table = 256;
  bool ipv4 = true;
  bool ipv6 = true;
  // kube-proxy's --nodeport-addresses: node ports answer only on the local addresses in these
  // CIDRs (or the primary node IPs). Empty: every local address but loopback. The addresses are
  // read again at every sync; a change of them makes that sync a full one.
  NodePortAddresses node_port_addresses;
};

class NftablesBackend final : public Backend {
 public:
  // Opens the nftables netlink socket in the calling thread's network namespace: the rules go
  // to that namespace whichever thread calls sync() later.
  static Result<std::unique_ptr<NftablesBackend>> create(NftablesBackendOptions options);

  Result<void> sync(const endpoints::Snapshot& before, const endpoints::Snapshot& after, const endpoints::SnapshotDiff& diff) override;
  Result<void> full_sync(const endpoints::Snapshot& snapshot) override;
  Result<void> cleanup() override;
  BackendStats stats() const override { return stats_; }

  // The committed table of one family in `nft -f` syntax; `programmed` is the Snapshot last
  // synced (the service ports' objects are generated from it again).
  std::string render_committed(IpFamily family, const endpoints::Snapshot& programmed) const;
  bool needs_full_sync() const { return needs_full_sync_; }
  // The service table a port's rules are in (by a hash of its name), "" if not programmed.
  std::string table_of(const endpoints::ServicePortName& name) const;

  static constexpr std::size_t kMaxServiceTables = 64;

 private:
  struct FamilyState {
    std::unique_ptr<std::pmr::unsynchronized_pool_resource> pool = std::make_unique<std::pmr::unsynchronized_pool_resource>();
    TableSkeleton front;
    std::vector<TableSkeleton> service_tables;
    // Hashes of the names of the ports that have objects in this family (for table_of).
    std::pmr::unordered_set<std::uint64_t> programmed{pool.get()};
    CommittedElementRefs shared_element_refs{pool.get()};  // cluster-ips, hairpin-endpoints: one per port using it
    // (service table, N) of the endpoints-N chains and maps in the kernel (in the skeletons):
    // made when a port first needs one, kept until the next full sync.
    std::set<std::pair<std::size_t, std::uint32_t>> endpoint_groups;
  };
  std::size_t table_index(const endpoints::ServicePortName& name) const;
  NftablesBackend(NftablesBackendOptions options, NftSocket socket, std::unique_ptr<LocalAddresses> local_addresses);
  // The node port addresses per family as the generator wants them (nullopt: every address).
  using NodePortIps = std::pair<std::optional<std::vector<std::string>>, std::optional<std::vector<std::string>>>;
  Result<NodePortIps> resolve_node_port_ips();
  std::vector<IpFamily> families() const;
  Result<void> commit(NetlinkBatch& batch, bool full);
  // The counts of the skeletons and of `ports`' objects.
  void count_objects(const std::map<IpFamily, std::map<endpoints::ServicePortName, ServicePortObjects>>& ports);

  NftablesBackendOptions options_;
  NftSocket socket_;
  std::unique_ptr<LocalAddresses> local_addresses_;  // only with node_port_addresses
  std::map<IpFamily, FamilyState> committed_;
  bool needs_full_sync_ = true;
  std::size_t service_tables_ = 1;
  BackendStats stats_;
};

}  // namespace switchyard::dataplane::nft
