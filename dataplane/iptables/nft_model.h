// The nftables objects Switchyard programs, as plain values: chains of rules made of a small set
// of statements, named sets and verdict maps, and map elements. The generator builds them from a
// Snapshot; the netlink encoder turns them into libnftnl messages; render_nft() prints them in
// `nft -f` syntax (for logs, the README and the `nft -f` benchmark). Values compare with ==, so
// the backend can tell which chains and elements changed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "endpoints/node/service_port.h"

namespace switchyard::dataplane::nft {

using endpoints::IpFamily;

// The front table (filtering, rejects, masquerading) and the prefix of the service tables
// (DNAT dispatch and per-service chains), see README.md.
inline constexpr const char* kTableName = "switchyard";
inline constexpr const char* kServiceTablePrefix = "switchyard-services-";
inline constexpr std::uint8_t kProtoTcp = 6, kProtoUdp = 17, kProtoSctp = 132;

// --- statements: each one is a match or an action of kube-proxy's nftables ruleset -----------

struct MatchCtStateNew {  // ct state new
  bool operator==(const MatchCtStateNew&) const = default;
};
struct MatchL4Proto {  // meta l4proto tcp
  std::uint8_t proto = 0;
  bool operator==(const MatchL4Proto&) const = default;
};
struct MatchAddress {  // ip saddr 10.0.0.0/8, ip daddr != 127.0.0.0/8
  bool source = false;
  bool negate = false;
  std::string prefix;  // "10.1.0.5" or "10.0.0.0/8"
  bool operator==(const MatchAddress&) const = default;
};
struct MatchDestinationPort {  // th dport 80
  std::uint16_t port = 0;
  bool operator==(const MatchDestinationPort&) const = default;
};
struct MatchAddressLocal {  // fib saddr|daddr type local
  bool source = false;
  bool operator==(const MatchAddressLocal&) const = default;
};
struct MatchSourceInSet {  // ip saddr @set
  std::string set;
  bool operator==(const MatchSourceInSet&) const = default;
};
struct MatchDestinationInSet {  // ip daddr @set
  std::string set;
  bool operator==(const MatchDestinationInSet&) const = default;
};
struct MatchSourceAndDestinationInSet {  // ip saddr . ip daddr @set
  std::string set;
  bool operator==(const MatchSourceAndDestinationInSet&) const = default;
};
struct MatchMarkClear {  // mark and 0x4000 == 0
  std::uint32_t bits = 0;
  bool operator==(const MatchMarkClear&) const = default;
};
struct SetMark {  // mark set mark or|xor 0x4000
  enum class Op : std::uint8_t { Or, Xor } op = Op::Or;
  std::uint32_t bits = 0;
  bool operator==(const SetMark&) const = default;
};
struct UpdateSetWithSource {  // update @set { ip saddr }
  std::string set;
  bool operator==(const UpdateSetWithSource&) const = default;
};
// Dispatch through a named verdict map: `ip daddr . meta l4proto . th dport vmap @map`, or
// `meta l4proto . th dport vmap @map` when with_address is false.
struct DispatchByMap {
  std::string map;
  bool with_address = true;
  bool operator==(const DispatchByMap&) const = default;
};
// numgen random mod N == 0: true with probability 1/N, a fresh draw on every evaluation. A
// service chain of N endpoints DNATs to endpoint i under `mod N-i`, which picks each with
// probability 1/N and needs no set and no per-endpoint chain (see README).
struct MatchRandom {
  std::uint32_t modulus = 1;
  bool operator==(const MatchRandom&) const = default;
};
struct Dnat {  // dnat to 10.1.0.5:8080 (after a MatchL4Proto)
  std::string address;
  std::uint16_t port = 0;
  bool operator==(const Dnat&) const = default;
};
// dnat to the endpoint an endpoints-N map holds for this ClusterIP, protocol, port and a random
// index below N: `dnat ip to ip daddr . meta l4proto . th dport . numgen random mod N map @MAP`.
// One such rule serves every ClusterIP with N endpoints in a table (see README).
struct DnatThroughMap {
  std::string map;
  std::uint32_t modulus = 1;
  bool operator==(const DnatThroughMap&) const = default;
};
struct MasqueradeFullyRandom {
  bool operator==(const MasqueradeFullyRandom&) const = default;
};
struct Reject {  // reject with icmp port-unreachable, or with tcp reset
  bool tcp_reset = false;
  bool operator==(const Reject&) const = default;
};
struct Verdict {
  enum class Kind : std::uint8_t { Accept, Drop, Return, Jump, Goto } kind = Kind::Accept;
  std::string chain;  // Jump, Goto
  bool operator==(const Verdict&) const = default;
};

using Statement = std::variant<MatchCtStateNew, MatchL4Proto, MatchAddress, MatchDestinationPort, MatchAddressLocal, MatchSourceInSet,
                               MatchDestinationInSet, MatchSourceAndDestinationInSet, MatchMarkClear, SetMark, UpdateSetWithSource,
                               DispatchByMap, MatchRandom, Dnat, DnatThroughMap, MasqueradeFullyRandom, Reject, Verdict>;

struct Rule {
  std::vector<Statement> statements;
  bool operator==(const Rule&) const = default;
};

// --- objects ------------------------------------------------------------------------------------

enum class ChainType : std::uint8_t { Filter, Nat };
enum class Hook : std::uint8_t { Prerouting, Input, Forward, Output, Postrouting };

struct BaseChainHook {
  ChainType type = ChainType::Filter;
  Hook hook = Hook::Prerouting;
  std::int32_t priority = 0;
  bool operator==(const BaseChainHook&) const = default;
};

struct Chain {
  std::string name;
  std::optional<BaseChainHook> base;  // set for base chains
  std::vector<Rule> rules;
  bool operator==(const Chain&) const = default;
};

// What a set's elements are keyed by.
enum class SetKey : std::uint8_t {
  Address,                   // ipv4_addr | ipv6_addr
  AddressProtocolPort,       // ip . inet_proto . inet_service
  ProtocolPort,              // inet_proto . inet_service
  AddressPair,               // ip . ip (source . destination)
  AddressProtocolPortIndex,  // ip . inet_proto . inet_service . index (a 32-bit number, host order)
};

struct Set {
  std::string name;
  SetKey key = SetKey::Address;
  bool verdict_map = false;
  std::optional<std::uint32_t> timeout_seconds;  // with `flags dynamic,timeout` (affinity sets)
  std::string comment;
  bool endpoint_map = false;  // a map to `ip . inet_service` (endpoint address and port)
  bool operator==(const Set&) const = default;
};

struct ElementKey {
  std::string address;  // Address, AddressProtocolPort, AddressPair
  std::uint8_t protocol = 0;
  std::uint16_t port = 0;
  std::string second_address;          // AddressPair
  std::optional<std::uint32_t> index;  // AddressProtocolPortIndex
  auto operator<=>(const ElementKey&) const = default;
};

struct Element {
  std::string set;
  ElementKey key;
  std::optional<Verdict> verdict;  // verdict maps only
  std::optional<Dnat> endpoint;    // endpoint maps only
  std::string comment;             // shown by `nft list`; read back by `switchyard status`
  bool operator==(const Element&) const = default;
};

// Everything one service port owns in one family. Element keys are unique across ports, except
// for elements without a verdict (cluster-ips, hairpin-endpoints), which ports may share.
struct ServicePortObjects {
  std::vector<Set> sets;      // affinity sets
  std::vector<Chain> chains;  // service, local, external and firewall chains
  std::vector<Element> elements;
  // N > 0: the port's ClusterIPs go to its service table's shared `endpoints-N` chain and map
  // (endpoint_group()), which must exist there; its elements include its entries of that map.
  std::uint32_t endpoint_group = 0;
  bool operator==(const ServicePortObjects&) const = default;
};

// The fixed part of one table: base chains, helper chains, named maps and sets.
struct TableSkeleton {
  IpFamily family = IpFamily::IPv4;
  std::string table = kTableName;
  std::vector<Set> sets;
  std::vector<Chain> chains;
  std::vector<Element> elements;  // of the skeleton's own sets (nodeport-ips)
};

std::uint8_t protocol_number(const std::string& protocol);  // "TCP" -> 6; 0 if unknown
const char* family_keyword(IpFamily f);                     // "ip" | "ip6"

// nft syntax for one statement, one rule, and a whole table (skeleton + the service ports'
// objects that `belongs` says are in this table).
std::string render(const Statement& s, IpFamily f);
std::string render(const Rule& r, IpFamily f);
bool in_front_table(const Chain& c);    // firewall chains
bool in_front_table(const Element& e);  // elements of the front table's sets and maps
std::string render_table(const TableSkeleton& skeleton, const std::vector<const ServicePortObjects*>& ports);

}  // namespace switchyard::dataplane::nft
