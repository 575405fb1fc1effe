// The nftables Backend: Snapshot → rules (rule_generator) → one atomic netlink batch per sync
// (nft_encoder, netlink_batch). The committed objects are kept in memory, so a partial sync sends
// only the chains, sets and elements of the service ports in the SnapshotDiff; a full sync
// replaces all our tables in one batch and runs first, and after any failed commit. Services are
// spread over several service tables (see README.md: the kernel validates a whole table on
// every commit that adds a jump, so smaller tables make partial syncs cheaper).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "dataplane/backend.h"
#include "dataplane/node_port_addresses.h"
#include "dataplane/iptables/netlink_batch.h"
#include "dataplane/iptables/nft_model.h"
#include "dataplane/iptables/rule_generator.h"

namespace switchyard::dataplane::nft {

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

  // The committed table of one family in `nft -f` syntax.
  std::string render_committed(IpFamily family) const;
  bool needs_full_sync() const { return needs_full_sync_; }
  // The service table a port's rules are in (by a hash of its name), "" if not programmed.
  std::string table_of(const endpoints::ServicePortName& name) const;

  static constexpr std::size_t kMaxServiceTables = 64;

 private:
  struct FamilyState {
    TableSkeleton front;
    std::vector<TableSkeleton> service_tables;
    std::map<endpoints::ServicePortName, ServicePortObjects> ports;
    std::map<std::pair<std::string, ElementKey>, int> shared_element_refs;  // cluster-ips: one per port using it
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
  void count_objects();

  NftablesBackendOptions options_;
  NftSocket socket_;
  std::unique_ptr<LocalAddresses> local_addresses_;  // only with node_port_addresses
  std::map<IpFamily, FamilyState> committed_;
  bool needs_full_sync_ = true;
  std::size_t service_tables_ = 1;
  BackendStats stats_;
};

}  // namespace switchyard::dataplane::nft
