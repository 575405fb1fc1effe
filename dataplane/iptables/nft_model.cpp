#include "dataplane/iptables/nft_model.h"

#include <fmt/format.h>
#include <map>

namespace switchyard::dataplane::nft {
namespace {

std::string protocol_name(std::uint8_t p) {
  switch (p) {
    case kProtoTcp:
      return "tcp";
    case kProtoUdp:
      return "udp";
    case kProtoSctp:
      return "sctp";
    default:
      return std::to_string(p);
  }
}

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

std::string render_verdict(const Verdict& v) {
  switch (v.kind) {
    case Verdict::Kind::Accept:
      return "accept";
    case Verdict::Kind::Drop:
      return "drop";
    case Verdict::Kind::Return:
      return "return";
    case Verdict::Kind::Jump:
      return "jump " + v.chain;
    case Verdict::Kind::Goto:
      return "goto " + v.chain;
  }
  return "";
}

const char* hook_name(Hook h) {
  switch (h) {
    case Hook::Prerouting:
      return "prerouting";
    case Hook::Input:
      return "input";
    case Hook::Forward:
      return "forward";
    case Hook::Output:
      return "output";
    case Hook::Postrouting:
      return "postrouting";
  }
  return "";
}

std::string key_type(SetKey k, IpFamily f) {
  const std::string addr = f == IpFamily::IPv4 ? "ipv4_addr" : "ipv6_addr";
  switch (k) {
    case SetKey::Address:
      return addr;
    case SetKey::AddressProtocolPort:
      return addr + " . inet_proto . inet_service";
    case SetKey::ProtocolPort:
      return "inet_proto . inet_service";
    case SetKey::AddressPair:
      return addr + " . " + addr;
    case SetKey::AddressProtocolPortIndex:
      return addr + " . inet_proto . inet_service . mark";
  }
  return "";
}

std::string render_key(const ElementKey& k, SetKey type) {
  switch (type) {
    case SetKey::Address:
      return k.address;
    case SetKey::AddressProtocolPort:
      return fmt::format("{} . {} . {}", k.address, protocol_name(k.protocol), k.port);
    case SetKey::ProtocolPort:
      return fmt::format("{} . {}", protocol_name(k.protocol), k.port);
    case SetKey::AddressPair:
      return fmt::format("{} . {}", k.address, k.second_address);
    case SetKey::AddressProtocolPortIndex:
      return fmt::format("{} . {} . {} . {}", k.address, protocol_name(k.protocol), k.port, k.index.value_or(0));
  }
  return "";
}

}  // namespace

std::uint8_t protocol_number(const std::string& protocol) {
  if (protocol == "TCP") return kProtoTcp;
  if (protocol == "UDP") return kProtoUdp;
  if (protocol == "SCTP") return kProtoSctp;
  return 0;
}

const char* family_keyword(IpFamily f) { return f == IpFamily::IPv4 ? "ip" : "ip6"; }

std::string render(const Statement& statement, IpFamily f) {
  const std::string ip = family_keyword(f);
  struct Visitor {
    const std::string& ip;
    std::string operator()(const MatchCtStateNew&) const { return "ct state new"; }
    std::string operator()(const MatchL4Proto& s) const { return "meta l4proto " + protocol_name(s.proto); }
    std::string operator()(const MatchAddress& s) const {
      return fmt::format("{} {} {}{}", ip, s.source ? "saddr" : "daddr", s.negate ? "!= " : "", s.prefix);
    }
    std::string operator()(const MatchDestinationPort& s) const { return fmt::format("th dport {}", s.port); }
    std::string operator()(const MatchAddressLocal& s) const { return fmt::format("fib {} type local", s.source ? "saddr" : "daddr"); }
    std::string operator()(const MatchSourceInSet& s) const { return fmt::format("{} saddr @{}", ip, s.set); }
    std::string operator()(const MatchDestinationInSet& s) const { return fmt::format("{} daddr @{}", ip, s.set); }
    std::string operator()(const MatchSourceAndDestinationInSet& s) const { return fmt::format("{} saddr . {} daddr @{}", ip, ip, s.set); }
    std::string operator()(const MatchMarkClear& s) const { return fmt::format("meta mark & {:#x} == 0", s.bits); }
    std::string operator()(const SetMark& s) const {
      return fmt::format("meta mark set meta mark {} {:#x}", s.op == SetMark::Op::Or ? "or" : "xor", s.bits);
    }
    std::string operator()(const UpdateSetWithSource& s) const { return fmt::format("update @{} {{ {} saddr }}", s.set, ip); }
    std::string operator()(const DispatchByMap& s) const {
      return fmt::format("{}meta l4proto . th dport vmap @{}", s.with_address ? ip + " daddr . " : "", s.map);
    }
    std::string operator()(const MatchRandom& s) const { return fmt::format("numgen random mod {} == 0", s.modulus); }
    std::string operator()(const Dnat& s) const {
      return ip == "ip" ? fmt::format("dnat to {}:{}", s.address, s.port) : fmt::format("dnat to [{}]:{}", s.address, s.port);
    }
    std::string operator()(const DnatThroughMap& s) const {
      return fmt::format("dnat {} to {} daddr . meta l4proto . th dport . numgen random mod {} map @{}", ip, ip, s.modulus, s.map);
    }
    std::string operator()(const MasqueradeFullyRandom&) const { return "masquerade fully-random"; }
    std::string operator()(const Reject& s) const { return s.tcp_reset ? "reject with tcp reset" : "reject"; }
    std::string operator()(const Verdict& s) const { return render_verdict(s); }
  };
  return std::visit(Visitor{ip}, statement);
}

std::string render(const Rule& r, IpFamily f) {
  std::string out;
  for (const auto& s : r.statements) {
    if (!out.empty()) out += ' ';
    out += render(s, f);
  }
  return out;
}

bool in_front_table(const Chain& c) { return c.name.starts_with("firewall-"); }

bool in_front_table(const Element& e) {
  return e.set == "cluster-ips" || e.set == "no-endpoint-services" || e.set == "no-endpoint-nodeports" || e.set == "firewall-ips" ||
         e.set == "hairpin-endpoints";
}

std::string render_table(const TableSkeleton& skeleton, const std::vector<const ServicePortObjects*>& ports) {
  const IpFamily f = skeleton.family;
  const bool front = skeleton.table == kTableName;
  const std::string table = fmt::format("{} {}", family_keyword(f), skeleton.table);
  std::string out = fmt::format("add table {}\n", table);
  std::vector<const Set*> sets;
  std::vector<const Chain*> chains;
  for (const auto& s : skeleton.sets) sets.push_back(&s);
  for (const auto& c : skeleton.chains) chains.push_back(&c);
  for (const auto* p : ports) {
    if (!front)
      for (const auto& s : p->sets) sets.push_back(&s);
    for (const auto& c : p->chains)
      if (in_front_table(c) == front) chains.push_back(&c);
  }
  std::map<std::string, SetKey> key_of;
  for (const auto* s : sets) {
    key_of[s->name] = s->key;
    if (s->endpoint_map) {  // typeof: nft needs the numgen index's width, which `type` cannot give
      const char* ip = family_keyword(f);
      out += fmt::format("add map {} {} {{ typeof {} daddr . meta l4proto . th dport . numgen random mod 1 : {} daddr . th dport; }}\n",
                         table, s->name, ip, ip);
      continue;
    }
    out += fmt::format("add {} {} {} {{ type {}{}; ", s->verdict_map ? "map" : "set", table, s->name, key_type(s->key, f),
                       s->verdict_map ? " : verdict" : "");
    if (s->timeout_seconds) out += fmt::format("flags dynamic,timeout; timeout {}s; ", *s->timeout_seconds);
    if (!s->comment.empty()) out += fmt::format("comment {}; ", quoted(s->comment));
    out += "}\n";
  }
  for (const auto* c : chains) {
    out += fmt::format("add chain {} {}", table, c->name);
    if (c->base) {
      out += fmt::format(" {{ type {} hook {} priority {}; }}", c->base->type == ChainType::Nat ? "nat" : "filter",
                         hook_name(c->base->hook), c->base->priority);
    }
    out += '\n';
  }
  for (const auto* c : chains)
    for (const auto& r : c->rules) out += fmt::format("add rule {} {} {}\n", table, c->name, render(r, f));
  auto render_element = [&](const Element& e) {
    out += fmt::format("add element {} {} {{ {}", table, e.set, render_key(e.key, key_of[e.set]));
    if (!e.comment.empty()) out += " comment " + quoted(e.comment);
    if (e.verdict) out += " : " + render_verdict(*e.verdict);
    if (e.endpoint) out += fmt::format(" : {} . {}", e.endpoint->address, e.endpoint->port);
    out += " }\n";
  };
  for (const auto& e : skeleton.elements) render_element(e);
  for (const auto* p : ports)
    for (const auto& e : p->elements)
      if (in_front_table(e) == front) render_element(e);
  return out;
}

}  // namespace switchyard::dataplane::nft
