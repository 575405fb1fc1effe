#include "dataplane/iptables/nft_encoder.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/rtnetlink.h>

#include <array>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <memory>

namespace switchyard::dataplane::nft {
namespace {

// nft's datatype numbers, so that `nft list` shows our sets with readable keys.
constexpr std::uint32_t kTypeIpv4 = 7, kTypeIpv6 = 8, kTypeProto = 12, kTypeService = 13, kTypeMark = 19;
constexpr std::uint32_t kIcmpPortUnreachable = 3, kIcmpv6PortUnreachable = 4;
constexpr std::size_t kElementsPerMessage = 256;

struct RuleDeleter {
  void operator()(nftnl_rule* r) const { nftnl_rule_free(r); }
};
struct ChainDeleter {
  void operator()(nftnl_chain* c) const { nftnl_chain_free(c); }
};
struct SetDeleter {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};
struct TableDeleter {
  void operator()(nftnl_table* t) const { nftnl_table_free(t); }
};

// An address with an optional prefix length, in network byte order.
struct Prefix {
  std::array<std::uint8_t, 16> bytes{};
  std::uint32_t length = 0;  // bytes: 4 or 16
  std::uint32_t bits = 0;
};

Result<Prefix> parse_prefix(const std::string& text, IpFamily f) {
  Prefix p;
  p.length = f == IpFamily::IPv4 ? 4 : 16;
  p.bits = p.length * 8;
  const auto slash = text.find('/');
  const std::string address = text.substr(0, slash);
  if (inet_pton(f == IpFamily::IPv4 ? AF_INET : AF_INET6, address.c_str(), p.bytes.data()) != 1)
    return std::unexpected(
        Error{ErrorCode::Internal, fmt::format("address \"{}\": not an {} address", text, f == IpFamily::IPv4 ? "IPv4" : "IPv6")});
  if (slash != std::string::npos) {
    const char* b = text.data() + slash + 1;
    const char* e = text.data() + text.size();
    if (auto [ptr, ec] = std::from_chars(b, e, p.bits); ec != std::errc{} || ptr != e || p.bits > p.length * 8)
      return std::unexpected(Error{ErrorCode::Internal, fmt::format("address \"{}\": bad prefix length", text)});
  }
  return p;
}

class RuleBuilder {
 public:
  RuleBuilder(IpFamily f, nftnl_rule* rule) : family_(f), rule_(rule) {}

  Result<void> add(const Statement& s) {
    return std::visit([this](const auto& v) { return emit(v); }, s);
  }

 private:
  nftnl_expr* expr(const char* name) {
    nftnl_expr* e = nftnl_expr_alloc(name);
    nftnl_rule_add_expr(rule_, e);
    return e;
  }
  std::uint32_t address_offset(bool source) const { return family_ == IpFamily::IPv4 ? (source ? 12 : 16) : (source ? 8 : 24); }
  std::uint32_t address_length() const { return family_ == IpFamily::IPv4 ? 4 : 16; }
  void payload(std::uint32_t dreg, std::uint32_t base, std::uint32_t offset, std::uint32_t len) {
    auto* e = expr("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
  }
  void cmp(std::uint32_t op, const void* data, std::uint32_t len) {
    auto* e = expr("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
  }
  void bitwise(const void* mask, const void* xor_, std::uint32_t len) {
    auto* e = expr("bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor_, len);
  }
  void meta_load(std::uint32_t key, std::uint32_t dreg) {
    auto* e = expr("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
  }
  // dreg: where a map's data goes (NFT_REG_VERDICT for a verdict map); none for a set.
  void lookup(std::uint32_t sreg, const std::string& set, std::optional<std::uint32_t> dreg) {
    auto* e = expr("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
    if (dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, *dreg);
  }
  void fib_address_type(bool source) {
    auto* e = expr("fib");
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, source ? NFTA_FIB_F_SADDR : NFTA_FIB_F_DADDR);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
  }

  Result<void> emit(const MatchCtStateNew&) {
    auto* e = expr("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
    const std::uint32_t mask = NF_CT_STATE_BIT(IP_CT_NEW), zero = 0;
    bitwise(&mask, &zero, 4);
    cmp(NFT_CMP_NEQ, &zero, 4);
    return {};
  }
  Result<void> emit(const MatchL4Proto& s) {
    meta_load(NFT_META_L4PROTO, NFT_REG_1);
    cmp(NFT_CMP_EQ, &s.proto, 1);
    return {};
  }
  Result<void> emit(const MatchAddress& s) {
    auto p = parse_prefix(s.prefix, family_);
    if (!p) return std::unexpected(p.error());
    payload(NFT_REG_1, NFT_PAYLOAD_NETWORK_HEADER, address_offset(s.source), p->length);
    if (p->bits < p->length * 8) {
      std::array<std::uint8_t, 16> mask{}, zero{};
      for (std::uint32_t i = 0; i < p->bits; ++i) mask[i / 8] |= static_cast<std::uint8_t>(0x80 >> (i % 8));
      for (std::uint32_t i = 0; i < p->length; ++i) p->bytes[i] &= mask[i];
      bitwise(mask.data(), zero.data(), p->length);
    }
    cmp(s.negate ? NFT_CMP_NEQ : NFT_CMP_EQ, p->bytes.data(), p->length);
    return {};
  }
  Result<void> emit(const MatchDestinationPort& s) {
    payload(NFT_REG_1, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    const std::uint16_t port = htons(s.port);
    cmp(NFT_CMP_EQ, &port, 2);
    return {};
  }
  Result<void> emit(const MatchAddressLocal& s) {
    fib_address_type(s.source);
    const std::uint32_t local = RTN_LOCAL;
    cmp(NFT_CMP_EQ, &local, 4);
    return {};
  }
  Result<void> emit(const MatchSourceInSet& s) {
    payload(NFT_REG_1, NFT_PAYLOAD_NETWORK_HEADER, address_offset(true), address_length());
    lookup(NFT_REG_1, s.set, {});
    return {};
  }
  Result<void> emit(const MatchDestinationInSet& s) {
    payload(NFT_REG_1, NFT_PAYLOAD_NETWORK_HEADER, address_offset(false), address_length());
    lookup(NFT_REG_1, s.set, {});
    return {};
  }
  Result<void> emit(const MatchSourceAndDestinationInSet& s) {
    payload(NFT_REG32_00, NFT_PAYLOAD_NETWORK_HEADER, address_offset(true), address_length());
    payload(NFT_REG32_00 + address_length() / 4, NFT_PAYLOAD_NETWORK_HEADER, address_offset(false), address_length());
    lookup(NFT_REG32_00, s.set, {});
    return {};
  }
  Result<void> emit(const MatchMarkClear& s) {
    meta_load(NFT_META_MARK, NFT_REG_1);
    const std::uint32_t zero = 0;
    bitwise(&s.bits, &zero, 4);
    cmp(NFT_CMP_EQ, &zero, 4);
    return {};
  }
  Result<void> emit(const SetMark& s) {
    meta_load(NFT_META_MARK, NFT_REG_1);
    const std::uint32_t mask = s.op == SetMark::Op::Or ? ~s.bits : 0xffffffffu;
    bitwise(&mask, &s.bits, 4);
    auto* e = expr("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
    return {};
  }
  Result<void> emit(const UpdateSetWithSource& s) {
    payload(NFT_REG_1, NFT_PAYLOAD_NETWORK_HEADER, address_offset(true), address_length());
    auto* e = expr("dynset");
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
    nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, s.set.c_str());
    return {};
  }
  Result<void> emit(const DispatchByMap& s) {
    // Concatenations use 32-bit registers, each component padded to 4 bytes.
    std::uint32_t reg = NFT_REG32_00;
    if (s.with_address) {
      payload(reg, NFT_PAYLOAD_NETWORK_HEADER, address_offset(false), address_length());
      reg += address_length() / 4;
    }
    meta_load(NFT_META_L4PROTO, reg++);
    payload(reg, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    lookup(NFT_REG32_00, s.map, NFT_REG_VERDICT);
    return {};
  }
  Result<void> emit(const MatchRandom& s) {
    auto* e = expr("numgen");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, s.modulus);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
    const std::uint32_t zero = 0;
    cmp(NFT_CMP_EQ, &zero, 4);
    return {};
  }
  Result<void> emit(const Dnat& s) {
    auto p = parse_prefix(s.address, family_);
    if (!p) return std::unexpected(Error{ErrorCode::Internal, "endpoint " + p.error().message});
    auto* addr = expr("immediate");
    nftnl_expr_set_u32(addr, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
    nftnl_expr_set(addr, NFTNL_EXPR_IMM_DATA, p->bytes.data(), p->length);
    auto* port = expr("immediate");
    const std::uint16_t be_port = htons(s.port);
    nftnl_expr_set_u32(port, NFTNL_EXPR_IMM_DREG, NFT_REG_2);
    nftnl_expr_set(port, NFTNL_EXPR_IMM_DATA, &be_port, sizeof be_port);
    auto* nat = expr("nat");
    nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_FAMILY, family_ == IpFamily::IPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
    nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
    return {};
  }
  Result<void> emit(const DnatThroughMap& s) {
    // Key: address . proto . port . index in 32-bit registers (each padded to 4 bytes); the
    // map's data (address . port) comes back in the same registers, and nat reads it there.
    std::uint32_t reg = NFT_REG32_00;
    payload(reg, NFT_PAYLOAD_NETWORK_HEADER, address_offset(false), address_length());
    reg += address_length() / 4;
    meta_load(NFT_META_L4PROTO, reg++);
    payload(reg++, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    auto* ng = expr("numgen");
    nftnl_expr_set_u32(ng, NFTNL_EXPR_NG_DREG, reg);
    nftnl_expr_set_u32(ng, NFTNL_EXPR_NG_MODULUS, s.modulus);
    nftnl_expr_set_u32(ng, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
    nftnl_expr_set_u32(ng, NFTNL_EXPR_NG_OFFSET, 0);
    lookup(NFT_REG32_00, s.map, NFT_REG32_00);
    auto* nat = expr("nat");
    nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_FAMILY, family_ == IpFamily::IPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG32_00);
    nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG32_00 + address_length() / 4);
    return {};
  }
  Result<void> emit(const MasqueradeFullyRandom&) {
    auto* e = expr("masq");
    nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY);
    return {};
  }
  Result<void> emit(const Reject& s) {
    auto* e = expr("reject");
    if (s.tcp_reset) {
      nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
      nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
    } else {
      nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH);
      nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, family_ == IpFamily::IPv4 ? kIcmpPortUnreachable : kIcmpv6PortUnreachable);
    }
    return {};
  }
  Result<void> emit(const Verdict& v) {
    auto* e = expr("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    switch (v.kind) {
      case Verdict::Kind::Accept:
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
        break;
      case Verdict::Kind::Drop:
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
        break;
      case Verdict::Kind::Return:
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NFT_RETURN);
        break;
      case Verdict::Kind::Jump:
      case Verdict::Kind::Goto:
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, v.kind == Verdict::Kind::Jump ? NFT_JUMP : NFT_GOTO);
        nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, v.chain.c_str());
        break;
    }
    return {};
  }

  IpFamily family_;
  nftnl_rule* rule_;
};

std::uint32_t hook_number(Hook h) {
  switch (h) {
    case Hook::Prerouting:
      return NF_INET_PRE_ROUTING;
    case Hook::Input:
      return NF_INET_LOCAL_IN;
    case Hook::Forward:
      return NF_INET_FORWARD;
    case Hook::Output:
      return NF_INET_LOCAL_OUT;
    case Hook::Postrouting:
      return NF_INET_POST_ROUTING;
  }
  return 0;
}

// Key bytes as the kernel compares them: components in network order, each padded to 4 bytes.
Result<std::vector<std::uint8_t>> element_key(const ElementKey& k, IpFamily f) {
  std::vector<std::uint8_t> out;
  if (!k.address.empty()) {
    auto p = parse_prefix(k.address, f);
    if (!p) return std::unexpected(p.error());
    out.assign(p->bytes.begin(), p->bytes.begin() + p->length);
    if (!k.second_address.empty()) {  // an address pair
      auto second = parse_prefix(k.second_address, f);
      if (!second) return std::unexpected(second.error());
      out.insert(out.end(), second->bytes.begin(), second->bytes.begin() + second->length);
      return out;
    }
    if (k.protocol == 0 && k.port == 0) return out;  // a plain address set
  }
  out.insert(out.end(), {k.protocol, 0, 0, 0});
  const std::uint16_t port = htons(k.port);
  const auto* pb = reinterpret_cast<const std::uint8_t*>(&port);
  out.insert(out.end(), {pb[0], pb[1], 0, 0});
  if (k.index) {  // numgen's result: a 32-bit number in host order
    const auto* ib = reinterpret_cast<const std::uint8_t*>(&*k.index);
    out.insert(out.end(), ib, ib + 4);
  }
  return out;
}

// An endpoint map's data: address . port, the port padded to 4 bytes.
Result<std::vector<std::uint8_t>> endpoint_data(const Dnat& d, IpFamily f) {
  auto p = parse_prefix(d.address, f);
  if (!p) return std::unexpected(Error{ErrorCode::Internal, "endpoint " + p.error().message});
  std::vector<std::uint8_t> out(p->bytes.begin(), p->bytes.begin() + p->length);
  const std::uint16_t port = htons(d.port);
  const auto* pb = reinterpret_cast<const std::uint8_t*>(&port);
  out.insert(out.end(), {pb[0], pb[1], 0, 0});
  return out;
}

}  // namespace

std::uint16_t NftEncoder::nfproto() const { return family_ == IpFamily::IPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6; }

void NftEncoder::add_table() {
  std::unique_ptr<nftnl_table, TableDeleter> t(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table_.c_str());
  auto* nlh = batch_.begin(NFT_MSG_NEWTABLE, nfproto(), NLM_F_CREATE, fmt::format("table {} {}", family_keyword(family_), table_));
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  batch_.end(nlh);
}

void NftEncoder::delete_table() {
  std::unique_ptr<nftnl_table, TableDeleter> t(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table_.c_str());
  auto* nlh = batch_.begin(NFT_MSG_DELTABLE, nfproto(), 0, fmt::format("delete table {} {}", family_keyword(family_), table_));
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  batch_.end(nlh);
}

void NftEncoder::add_chain(const Chain& chain) {
  std::unique_ptr<nftnl_chain, ChainDeleter> c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table_.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
  if (chain.base) {
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, hook_number(chain.base->hook));
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.base->priority);
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, chain.base->type == ChainType::Nat ? "nat" : "filter");
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  auto* nlh = batch_.begin(NFT_MSG_NEWCHAIN, nfproto(), NLM_F_CREATE, "chain " + table_ + " " + chain.name);
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  batch_.end(nlh);
}

void NftEncoder::flush_chain(const std::string& name) {
  std::unique_ptr<nftnl_rule, RuleDeleter> r(nftnl_rule_alloc());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table_.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, name.c_str());
  auto* nlh = batch_.begin(NFT_MSG_DELRULE, nfproto(), 0, "flush chain " + name);
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  batch_.end(nlh);
}

void NftEncoder::delete_chain(const std::string& name) {
  std::unique_ptr<nftnl_chain, ChainDeleter> c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table_.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
  auto* nlh = batch_.begin(NFT_MSG_DELCHAIN, nfproto(), 0, "delete chain " + name);
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  batch_.end(nlh);
}

void NftEncoder::add_set(const Set& set) {
  std::unique_ptr<nftnl_set, SetDeleter> s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table_.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, batch_.next_set_id());
  const std::uint32_t addr_type = family_ == IpFamily::IPv4 ? kTypeIpv4 : kTypeIpv6;
  const std::uint32_t addr_len = family_ == IpFamily::IPv4 ? 4 : 16;
  std::uint32_t key_type = addr_type, key_len = addr_len;
  if (set.key == SetKey::AddressPair) {
    key_type = (addr_type << 6) | addr_type;
    key_len = addr_len * 2;
  } else if (set.key == SetKey::AddressProtocolPort) {
    key_type = (((addr_type << 6) | kTypeProto) << 6) | kTypeService;
    key_len = addr_len + 8;
  } else if (set.key == SetKey::ProtocolPort) {
    key_type = (kTypeProto << 6) | kTypeService;
    key_len = 8;
  } else if (set.key == SetKey::AddressProtocolPortIndex) {
    key_type = (((((addr_type << 6) | kTypeProto) << 6) | kTypeService) << 6) | kTypeMark;
    key_len = addr_len + 12;
  }
  std::uint32_t flags = 0;
  if (set.verdict_map) {
    flags |= NFT_SET_MAP;
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, 0);
  } else if (set.endpoint_map) {
    flags |= NFT_SET_MAP;
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, (addr_type << 6) | kTypeService);
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, addr_len + 4);
  }
  if (set.timeout_seconds) {
    flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
    nftnl_set_set_u64(s.get(), NFTNL_SET_TIMEOUT, std::uint64_t{*set.timeout_seconds} * 1000);
  }
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, key_type);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, key_len);
  auto* nlh = batch_.begin(NFT_MSG_NEWSET, nfproto(), NLM_F_CREATE, "set " + set.name);
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  batch_.end(nlh);
}

void NftEncoder::delete_set(const std::string& name) {
  std::unique_ptr<nftnl_set, SetDeleter> s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table_.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
  auto* nlh = batch_.begin(NFT_MSG_DELSET, nfproto(), 0, "delete set " + name);
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  batch_.end(nlh);
}

Result<void> NftEncoder::add_rules(const Chain& chain) {
  for (const auto& r : chain.rules)
    if (auto ok = add_rule(chain.name, r); !ok) return ok;
  return {};
}

Result<void> NftEncoder::add_rule(const std::string& chain, const Rule& rule) {
  std::unique_ptr<nftnl_rule, RuleDeleter> r(nftnl_rule_alloc());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table_.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, nfproto());
  RuleBuilder builder(family_, r.get());
  for (const auto& s : rule.statements)
    if (auto ok = builder.add(s); !ok)
      return std::unexpected(Error{ErrorCode::Internal, fmt::format("rule in chain {}: {}", chain, ok.error().message)});
  auto* nlh = batch_.begin(NFT_MSG_NEWRULE, nfproto(), NLM_F_CREATE | NLM_F_APPEND,
                           fmt::format("rule in chain {}: {}", chain, render(rule, family_)));
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  batch_.end(nlh);
  return {};
}

Result<void> NftEncoder::add_elements(const std::vector<const Element*>& elements) {
  return elements_message(NFT_MSG_NEWSETELEM, elements);
}

Result<void> NftEncoder::delete_elements(const std::vector<const Element*>& elements) {
  return elements_message(NFT_MSG_DELSETELEM, elements);
}

Result<void> NftEncoder::elements_message(std::uint16_t type, const std::vector<const Element*>& elements) {
  // One message per run of elements of the same set, at most kElementsPerMessage each.
  std::size_t i = 0;
  while (i < elements.size()) {
    const std::string& set_name = elements[i]->set;
    std::unique_ptr<nftnl_set, SetDeleter> s(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table_.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set_name.c_str());
    std::size_t count = 0;
    for (; i < elements.size() && elements[i]->set == set_name && count < kElementsPerMessage; ++i, ++count) {
      const Element& el = *elements[i];
      auto key = element_key(el.key, family_);
      if (!key) return std::unexpected(Error{ErrorCode::Internal, fmt::format("element of {}: {}", set_name, key.error().message)});
      auto* e = nftnl_set_elem_alloc();
      nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key->data(), static_cast<std::uint32_t>(key->size()));
      if (el.verdict && type == NFT_MSG_NEWSETELEM) {
        const auto& v = *el.verdict;
        const std::uint32_t code = v.kind == Verdict::Kind::Goto     ? NFT_GOTO
                                   : v.kind == Verdict::Kind::Jump   ? NFT_JUMP
                                   : v.kind == Verdict::Kind::Drop   ? NF_DROP
                                   : v.kind == Verdict::Kind::Return ? NFT_RETURN
                                                                     : NF_ACCEPT;
        nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, code);
        if (!v.chain.empty()) nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, v.chain.c_str());
      }
      if (el.endpoint && type == NFT_MSG_NEWSETELEM) {
        auto data = endpoint_data(*el.endpoint, family_);
        if (!data) {
          nftnl_set_elem_free(e);
          return std::unexpected(Error{ErrorCode::Internal, fmt::format("element of {}: {}", set_name, data.error().message)});
        }
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data->data(), static_cast<std::uint32_t>(data->size()));
      }
      if (!el.comment.empty() && type == NFT_MSG_NEWSETELEM) {
        // As nft writes comments: a TLV of type NFTNL_UDATA_SET_ELEM_COMMENT.
        std::unique_ptr<nftnl_udata_buf, decltype(&nftnl_udata_buf_free)> udata(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN),
                                                                                nftnl_udata_buf_free);
        if (udata && nftnl_udata_put_strz(udata.get(), NFTNL_UDATA_SET_ELEM_COMMENT, el.comment.c_str()))
          nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(udata.get()), nftnl_udata_buf_len(udata.get()));
      }
      nftnl_set_elem_add(s.get(), e);
    }
    auto* nlh = batch_.begin(type, nfproto(), type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0,
                             fmt::format("{} {} elements of {}", type == NFT_MSG_NEWSETELEM ? "add" : "delete", count, set_name));
    nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
    batch_.end(nlh);
  }
  return {};
}

}  // namespace switchyard::dataplane::nft
