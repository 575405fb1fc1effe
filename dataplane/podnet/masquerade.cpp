#include "dataplane/podnet/masquerade.h"

#include <fmt/format.h>

#include "dataplane/iptables/netlink_batch.h"
#include "dataplane/iptables/nft_encoder.h"
#include "dataplane/iptables/nft_model.h"

namespace switchyard::dataplane::podnet {

namespace {

using namespace dataplane::nft;

constexpr const char* kChain = "postrouting";
constexpr std::int32_t kSrcnatPriority = 100;

std::vector<std::string> ipv4_only(const std::vector<std::string>& cidrs) {
  std::vector<std::string> out;
  for (const auto& c : cidrs)
    if (c.find(':') == std::string::npos) out.push_back(c);
  return out;
}

MatchAddress source(const std::string& prefix, bool negate = false) { return {.source = true, .negate = negate, .prefix = prefix}; }
MatchAddress destination(const std::string& prefix, bool negate = false) { return {.source = false, .negate = negate, .prefix = prefix}; }
const Verdict kReturn{.kind = Verdict::Kind::Return, .chain = ""};

Chain masquerade_chain(const std::vector<std::string>& cluster_cidrs, const std::vector<std::string>& pod_cidrs) {
  Chain chain{.name = kChain, .base = BaseChainHook{ChainType::Nat, Hook::Postrouting, kSrcnatPriority}, .rules = {}};
  const auto cluster = ipv4_only(cluster_cidrs);
  // Pod to pod, on this node or another: the source stays the client pod's.
  for (const auto& from : cluster)
    for (const auto& to : cluster) chain.rules.push_back({{source(from), destination(to), kReturn}});
  // Pods to anything else (multicast excepted): the node's address.
  for (const auto& from : cluster) chain.rules.push_back({{source(from), destination("224.0.0.0/4", true), MasqueradeFullyRandom{}}});
  // From outside the cluster to this node's pods: as it came; to other nodes' pods: through us,
  // so that their answers come back here.
  if (cluster.size() == 1) {
    for (const auto& own : ipv4_only(pod_cidrs)) chain.rules.push_back({{source(cluster[0], true), destination(own), kReturn}});
    chain.rules.push_back({{source(cluster[0], true), destination(cluster[0]), MasqueradeFullyRandom{}}});
  }
  return chain;
}

}  // namespace

std::string render_masquerade_rules(const std::vector<std::string>& cluster_cidrs, const std::vector<std::string>& pod_cidrs) {
  std::string out;
  for (const auto& rule : masquerade_chain(cluster_cidrs, pod_cidrs).rules) out += render(rule, IpFamily::IPv4) + "\n";
  return out;
}

Result<void> program_masquerade(const std::vector<std::string>& cluster_cidrs, const std::vector<std::string>& pod_cidrs) {
  auto socket = NftSocket::open();
  if (!socket) return fail(ErrorCode::Internal, fmt::format("nftables table {}: {}", kMasqueradeTable, socket.error().message));
  const Chain chain = masquerade_chain(cluster_cidrs, pod_cidrs);
  NetlinkBatch batch;
  NftEncoder nft(batch, IpFamily::IPv4, kMasqueradeTable);
  // add + delete + add: the table is replaced whole whether or not it was there.
  nft.add_table();
  nft.delete_table();
  nft.add_table();
  nft.add_chain(chain);
  if (auto ok = nft.add_rules(chain); !ok) return fail(ok.error());
  if (auto ok = socket->commit(batch); !ok)
    return fail(ErrorCode::Internal, fmt::format("nftables table {}: {}", kMasqueradeTable, ok.error().message));
  return {};
}

Result<void> remove_masquerade() {
  auto socket = NftSocket::open();
  if (!socket) return fail(socket.error());
  NetlinkBatch batch;
  NftEncoder nft(batch, IpFamily::IPv4, kMasqueradeTable);
  nft.add_table();
  nft.delete_table();
  return socket->commit(batch);
}

}  // namespace switchyard::dataplane::podnet
