// The nftables backend against the kernel, inside a network namespace each test creates: the
// rules it commits, read back with `nft -j list table`; partial syncs that touch only what
// changed; and a batch the kernel refuses leaving the previous rules in force.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <set>

#include "dataplane/iptables/nftables_backend.h"
#include "dataplane/iptables/nftables_reader.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/network_namespace.h"
#include "endpoints/node/snapshot_diff.h"

namespace switchyard::dataplane::nft {
namespace {

using namespace test_cluster;
using testing::NetworkNamespace;

// What `nft -j list ruleset` shows of our tables (ip family), indexed by name across tables:
// the front table `switchyard` and the service tables `switchyard-services-N`.
struct ListedTable {
  std::set<std::string> tables;
  std::map<std::string, nlohmann::json> chains;
  std::map<std::string, std::vector<nlohmann::json>> rules;  // chain -> rule expr arrays
  std::map<std::string, std::vector<nlohmann::json>> sets;   // sets and maps, one per table holding one

  std::size_t elements(const std::string& set) const {
    auto it = sets.find(set);
    if (it == sets.end()) return 0;
    std::size_t n = 0;
    for (const auto& s : it->second)
      if (s.contains("elem")) n += s["elem"].size();
    return n;
  }
  // Per-service chains ("service-HASH-ns/name/proto/port") start with their kind.
  std::vector<std::string> chains_starting_with(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& [name, c] : chains)
      if (name.starts_with(prefix) && name.find('/') != std::string::npos) out.push_back(name);
    return out;
  }
};

class NftablesBackendNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    auto ns = NetworkNamespace::create(NetworkNamespace::unique_name("sy-nft", "node"));
    ASSERT_TRUE(ns) << ns.error();
    node_.emplace(std::move(*ns));
    create_backend();
  }

  void create_backend() {
    Result<std::unique_ptr<NftablesBackend>> created = std::unexpected(Error{ErrorCode::Internal, "not run"});
    auto entered = node_->enter([&] { created = NftablesBackend::create(options_); });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_TRUE(created) << created.error().message;
    backend_ = std::move(*created);
  }

  ListedTable list() {
    auto r = node_->run("nft -j list ruleset");
    EXPECT_TRUE(r.ok()) << r.output;
    ListedTable t;
    if (!r.ok()) return t;
    const auto listed = nlohmann::json::parse(r.output);
    for (const auto& item : listed.at("nftables")) {
      if (item.contains("metainfo")) continue;
      const auto& [kind, body] = *item.items().begin();
      if (body.at("family") != "ip") continue;
      const std::string table = kind == "table" ? body.at("name").get<std::string>() : body.at("table").get<std::string>();
      if (!table.starts_with("switchyard")) continue;
      if (kind == "table") t.tables.insert(table);
      if (kind == "chain") t.chains[body.at("name").get<std::string>()] = body;
      if (kind == "rule") t.rules[body.at("chain").get<std::string>()].push_back(body["expr"]);
      if (kind == "map" || kind == "set") t.sets[body.at("name").get<std::string>()].push_back(body);
    }
    return t;
  }

  std::string list_text() { return node_->run("nft list ruleset").output; }

  std::optional<NetworkNamespace> node_;
  NftablesBackendOptions options_{.generator = {.cluster_cidrs = {"10.244.0.0/16"}}};
  std::unique_ptr<NftablesBackend> backend_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
};

TEST_F(NftablesBackendNetns, FullSyncProgramsFrontAndServiceTables) {
  state_.upsert(service("web", "10.96.0.10"));
  state_.upsert(slice("web", {{"10.244.0.11", "node-a"}, {"10.244.1.12", "node-b"}}));
  state_.upsert(service("empty", "10.96.0.20"));
  state_.upsert(node_port_service("np", "10.96.0.30", 30080));
  state_.upsert(slice("np", {{"10.244.0.11", "node-a"}}));
  auto snap = state_.build();
  auto ok = backend_->full_sync(*snap);
  ASSERT_TRUE(ok) << ok.error().message;

  const auto t = list();
  const auto& prerouting = t.chains.at("nat-prerouting");
  EXPECT_EQ(prerouting["type"], "nat");
  EXPECT_EQ(prerouting["hook"], "prerouting");
  EXPECT_EQ(prerouting["prio"], -100);
  EXPECT_EQ(t.chains.at("filter-prerouting")["prio"], -110);
  EXPECT_EQ(t.chains.at("filter-output-post-dnat")["prio"], -90);
  EXPECT_EQ(t.chains.at("nat-postrouting")["prio"], 100);
  EXPECT_EQ(t.elements("service-ips"), 2u);           // web and np ClusterIPs
  EXPECT_EQ(t.elements("no-endpoint-services"), 1u);  // empty
  EXPECT_EQ(t.elements("service-nodeports"), 1u);
  EXPECT_EQ(t.elements("cluster-ips"), 3u);
  // web's ClusterIP goes to the shared endpoints-2 chain; np keeps a service chain for its node
  // port (its ClusterIP goes to endpoints-1).
  EXPECT_EQ(t.chains_starting_with("service-").size(), 1u);
  EXPECT_TRUE(t.chains_starting_with("endpoint-").empty()) << "no chain per endpoint";
  EXPECT_EQ(t.chains_starting_with("external-").size(), 1u);
  EXPECT_EQ(t.elements("hairpin-endpoints"), 2u);  // 10.244.0.11 (in two services) and 10.244.1.12

  ASSERT_TRUE(t.rules.contains("endpoints-2"));
  const auto& group_rules = t.rules.at("endpoints-2");
  ASSERT_EQ(group_rules.size(), 2u);  // masquerade, DNAT through the endpoints-2 map
  EXPECT_THAT(group_rules[0].dump(), ::testing::HasSubstr("mark-for-masquerade"));
  EXPECT_THAT(group_rules[1].dump(), ::testing::HasSubstr("\"numgen\":{\"mod\":2,\"mode\":\"random\""));
  EXPECT_THAT(group_rules[1].dump(), ::testing::HasSubstr("@endpoints-2"));
  EXPECT_EQ(t.elements("endpoints-2"), 2u);
  EXPECT_EQ(t.elements("endpoints-1"), 1u);
  const auto listed = list_text();
  EXPECT_THAT(listed, ::testing::HasSubstr("10.244.0.11 . 8080"));
  EXPECT_THAT(listed, ::testing::HasSubstr("10.244.1.12 . 8080"));
  EXPECT_THAT(listed, ::testing::HasSubstr("comment \"shop/web/tcp/http\" : goto endpoints-2"));
  EXPECT_THAT(listed, ::testing::HasSubstr("dnat to 10.244.0.11:8080")) << "np's service chain, for its node port";

  // `switchyard status` reads the service and its endpoints back from the kernel, also through
  // the shared chain: the name from the element's comment, the endpoints from endpoints-2.
  Result<std::vector<ProgrammedFrontend>> frontends = std::unexpected(Error{ErrorCode::Internal, "not run"});
  ASSERT_TRUE(node_->enter([&] { frontends = read_programmed_frontends(IpFamily::IPv4); }));
  ASSERT_TRUE(frontends) << frontends.error().message;
  auto web = std::ranges::find_if(*frontends, [](const auto& f) { return f.address == "10.96.0.10"; });
  ASSERT_NE(web, frontends->end());
  EXPECT_EQ(web->service, "shop/web/tcp/http");
  EXPECT_EQ(web->chain, "endpoints-2");
  EXPECT_THAT(web->backends, ::testing::ElementsAre("10.244.0.11:8080", "10.244.1.12:8080"));
  EXPECT_THAT(listed, ::testing::HasSubstr("ip saddr . ip daddr @hairpin-endpoints masquerade fully-random"));

  const auto stats = backend_->stats();
  EXPECT_EQ(stats.full_syncs, 1u);
  EXPECT_GT(stats.rules, 20u);
}

TEST_F(NftablesBackendNetns, PartialSyncSendsOnlyTheChangedServiceAndMatchesAFullSync) {
  options_.services_per_table = 10;  // 50 services: 5 service tables
  create_backend();
  for (int i = 0; i < 50; ++i) {
    const std::string name = "svc" + std::to_string(i);
    state_.upsert(service(name, "10.96.1." + std::to_string(i + 1)));
    state_.upsert(slice(name, {{"10.244.0." + std::to_string(i + 1), "node-a"}, {"10.244.1." + std::to_string(i + 1), "node-b"}}));
  }
  auto before = state_.build();
  ASSERT_TRUE(backend_->full_sync(*before));
  const auto full_messages = backend_->stats().last_batch_messages;
  EXPECT_EQ(list().tables.size(), 6u) << "front table and 5 service tables";
  EXPECT_EQ(list().elements("service-ips"), 50u);

  // One endpoint replaced: its element in the endpoints-2 map and its hairpin element change.
  state_.upsert(slice("svc7", {{"10.244.0.8", "node-a"}, {"10.244.3.8", "node-b"}}));
  auto replaced = state_.build();
  auto diff = endpoints::diff_snapshots(*before, *replaced);
  ASSERT_EQ(diff.changes.size(), 1u);
  auto ok = backend_->sync(*before, *replaced, diff);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(backend_->stats().partial_syncs, 1u);
  // Delete and add one element of endpoints-2 (service table) and of hairpin-endpoints (front
  // table): 4 messages, no rule.
  EXPECT_EQ(backend_->stats().last_batch_messages, 4u);
  EXPECT_GT(full_messages, 100u);
  EXPECT_THAT(list_text(), ::testing::HasSubstr("10.244.3.8 . 8080"));
  EXPECT_THAT(list_text(), ::testing::Not(::testing::HasSubstr("10.244.1.8 . 8080")));

  // One endpoint goes away: svc7 moves to its table's endpoints-1 chain and map, made for it.
  state_.upsert(slice("svc7", {{"10.244.0.8", "node-a"}}));
  auto after = state_.build();
  ok = backend_->sync(*replaced, *after, endpoints::diff_snapshots(*replaced, *after));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(backend_->stats().partial_syncs, 2u);
  const auto t = list();
  EXPECT_EQ(t.elements("hairpin-endpoints"), 99u);
  EXPECT_EQ(t.elements("endpoints-2"), 98u);
  EXPECT_EQ(t.elements("endpoints-1"), 1u);
  EXPECT_THAT(list_text(), ::testing::HasSubstr("10.96.1.8 . tcp . 80 . 0x00000000 : 10.244.0.8 . 8080"));

  // A service removed, one added, another left without endpoints: the table then equals what a
  // full sync of the same Snapshot programs.
  state_.remove_service({"shop", "svc3"});
  state_.upsert(service("fresh", "10.96.2.1"));
  state_.upsert(slice("fresh", {{"10.244.2.1", "node-c"}}));
  state_.remove_slice("shop", "svc9-1");
  auto third = state_.build();
  ok = backend_->sync(*after, *third, endpoints::diff_snapshots(*after, *third));
  ASSERT_TRUE(ok) << ok.error().message;
  const auto partial = list();
  EXPECT_EQ(partial.elements("no-endpoint-services"), 1u);
  EXPECT_EQ(partial.elements("cluster-ips"), 50u);
  ASSERT_TRUE(backend_->full_sync(*third));
  const auto full = list();
  std::vector<std::string> partial_chains, full_chains;
  for (const auto& [name, c] : partial.chains) partial_chains.push_back(name);
  for (const auto& [name, c] : full.chains) full_chains.push_back(name);
  EXPECT_EQ(partial_chains, full_chains);
  for (const auto& set : {"service-ips", "no-endpoint-services", "cluster-ips", "hairpin-endpoints", "endpoints-1", "endpoints-2"})
    EXPECT_EQ(partial.elements(set), full.elements(set)) << set;
}

TEST_F(NftablesBackendNetns, RefusedCommitLeavesPreviousRulesInForceAndNextSyncRepairs) {
  state_.upsert(node_port_service("web", "10.96.0.10", 30080));  // a node port: web has a service chain
  state_.upsert(slice("web", {{"10.244.0.11", "node-a"}, {"10.244.1.12", "node-b"}}));
  auto before = state_.build();
  ASSERT_TRUE(backend_->full_sync(*before));

  // Someone else points an element of our map at the service chain we are about to delete:
  // the kernel refuses to delete a chain in use, and with it the whole batch.
  const std::string doomed = "service-" + service_chain_base(http_port("web"));
  ASSERT_TRUE(list().chains.contains(doomed));
  const std::string table = backend_->table_of(http_port("web"));
  ASSERT_EQ(table, "switchyard-services-0");
  auto foreign = node_->run("nft add element ip " + table + " service-ips '{ 10.96.9.9 . tcp . 9 : goto " + doomed + " }'");
  ASSERT_TRUE(foreign.ok()) << foreign.output;
  const std::string listed_before = list_text();

  state_.remove_service({"shop", "web"});
  auto after = state_.build();
  auto result = backend_->sync(*before, *after, endpoints::diff_snapshots(*before, *after));
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("delete chain " + doomed));
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("nothing applied"));
  EXPECT_EQ(list_text(), listed_before) << "a refused batch must change nothing";
  EXPECT_TRUE(backend_->needs_full_sync());
  EXPECT_EQ(backend_->stats().failed_syncs, 1u);

  // The next sync is a full one and replaces the table, foreign element included.
  auto third = state_.build();
  auto repaired = backend_->sync(*after, *third, endpoints::diff_snapshots(*after, *third));
  ASSERT_TRUE(repaired) << repaired.error().message;
  EXPECT_EQ(backend_->stats().full_syncs, 2u);
  const auto fixed = list();
  EXPECT_FALSE(fixed.chains.contains(doomed));
  EXPECT_EQ(fixed.elements("service-ips"), 0u);
  EXPECT_EQ(fixed.elements("hairpin-endpoints"), 0u);
}

TEST_F(NftablesBackendNetns, CleanupRemovesOnlyOurTables) {
  ASSERT_TRUE(node_->run("nft add table ip someone-else").ok());
  state_.upsert(service("web", "10.96.0.10"));
  ASSERT_TRUE(backend_->full_sync(*state_.build()));
  auto ok = backend_->cleanup();
  ASSERT_TRUE(ok) << ok.error().message;
  const auto tables = node_->run("nft list tables").output;
  EXPECT_THAT(tables, ::testing::HasSubstr("someone-else"));
  EXPECT_THAT(tables, ::testing::Not(::testing::HasSubstr("switchyard")));
  EXPECT_TRUE(backend_->cleanup()) << "cleaning up twice is fine";
}

}  // namespace
}  // namespace switchyard::dataplane::nft
