// The nftables Backend: Snapshot → rules (rule_generator) → one atomic netlink batch per sync
// (nft_encoder, netlink_batch). The committed objects are kept in memory, so a partial sync sends
// only the chains, sets and elements of the service ports in the SnapshotDiff; a full sync
// replaces the whole table in one batch and runs first, and after any failed commit.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "dataplane/backend.h"
#include "dataplane/iptables/netlink_batch.h"
#include "dataplane/iptables/nft_model.h"
#include "dataplane/iptables/rule_generator.h"

namespace switchyard::dataplane::nft {

struct NftablesBackendOptions {
  GeneratorOptions generator;
  bool ipv4 = true;
  bool ipv6 = true;
};

class NftablesBackend final : public Backend {
 public:
  // Opens the nftables netlink socket in the calling thread's network namespace: the rules go
  // to that namespace whichever thread calls sync() later.
  static std::expected<std::unique_ptr<NftablesBackend>, Error> create(NftablesBackendOptions options);

  std::expected<void, Error> sync(const endpoints::Snapshot& before, const endpoints::Snapshot& after,
                                  const endpoints::SnapshotDiff& diff) override;
  std::expected<void, Error> full_sync(const endpoints::Snapshot& snapshot) override;
  std::expected<void, Error> cleanup() override;
  BackendStats stats() const override { return stats_; }

  // The committed table of one family in `nft -f` syntax.
  std::string render_committed(IpFamily family) const;
  bool needs_full_sync() const { return needs_full_sync_; }

 private:
  struct FamilyState {
    TableSkeleton skeleton;
    std::map<endpoints::ServicePortName, ServicePortObjects> ports;
    std::map<std::pair<std::string, ElementKey>, int> shared_element_refs;  // cluster-ips: one per port using it
  };
  NftablesBackend(NftablesBackendOptions options, NftSocket socket);
  std::vector<IpFamily> families() const;
  std::expected<void, Error> commit(NetlinkBatch& batch, bool full);
  void count_objects();

  NftablesBackendOptions options_;
  NftSocket socket_;
  std::map<IpFamily, FamilyState> committed_;
  bool needs_full_sync_ = true;
  BackendStats stats_;
};

}  // namespace switchyard::dataplane::nft
