#include "dataplane/iptables/nftables_reader.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "dataplane/iptables/rule_generator.h"

namespace switchyard::dataplane::nft {

namespace {

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using Socket = std::unique_ptr<mnl_socket, SocketCloser>;

// One netlink dump: `build` fills the request; `on_message` gets each reply message.
Result<void> dump(mnl_socket* sock, std::uint16_t type, std::uint16_t family, const std::string& what,
                  const std::function<void(nlmsghdr*)>& build, const std::function<void(const nlmsghdr*)>& on_message) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  const std::uint32_t seq = static_cast<std::uint32_t>(time(nullptr));
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), type, family, NLM_F_DUMP, seq);
  build(nlh);
  if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0)
    return std::unexpected(Error{ErrorCode::Internal, fmt::format("{}: send: {}", what, std::strerror(errno))});
  const unsigned portid = mnl_socket_get_portid(sock);
  struct Context {
    const std::function<void(const nlmsghdr*)>* on_message;
  } ctx{&on_message};
  auto callback = [](const nlmsghdr* m, void* data) -> int {
    (*static_cast<Context*>(data)->on_message)(m);
    return MNL_CB_OK;
  };
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(sock, buf.data(), buf.size());
    if (n < 0) return std::unexpected(Error{ErrorCode::Internal, fmt::format("{}: receive: {}", what, std::strerror(errno))});
    const int r = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, portid, callback, &ctx);
    if (r == MNL_CB_STOP) return {};
    if (r < 0) {
      if (errno == ENOENT) return {};  // the table or set is not there: nothing programmed
      return std::unexpected(Error{ErrorCode::Internal, fmt::format("{}: {}", what, std::strerror(errno))});
    }
  }
}

std::string protocol_name(std::uint8_t p) {
  switch (p) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_SCTP:
      return "sctp";
    default:
      return std::to_string(p);
  }
}

std::string address_text(const void* bytes, IpFamily family) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == IpFamily::IPv4 ? AF_INET : AF_INET6, bytes, text, sizeof text);
  return text;
}

// "service-ABCDEFGH-shop/web/tcp/http" → "shop/web/tcp/http".
std::string service_of_chain(const std::string& chain) {
  const auto first = chain.find('-');
  const auto second = first == std::string::npos ? first : chain.find('-', first + 1);
  return second == std::string::npos ? chain : chain.substr(second + 1);
}

struct TableContents {
  std::vector<ProgrammedFrontend> frontends;
  std::map<std::string, std::vector<std::string>> dnat_targets;  // chain → "IP:PORT"
  // From the endpoints-N maps: "table/address/protocol/port" → "IP:PORT".
  std::map<std::string, std::vector<std::string>> map_targets;
};

std::string endpoint_target(const std::string& ip, int port, IpFamily family) {
  return family == IpFamily::IPv4 ? fmt::format("{}:{}", ip, port) : fmt::format("[{}]:{}", ip, port);
}

std::string frontend_key(const std::string& table, const std::string& address, const std::string& protocol, int port) {
  return fmt::format("{}/{}/{}/{}", table, address, protocol, port);
}

// The comment nft (and the backend) attach to an element, "" without one.
std::string element_comment(nftnl_set_elem* e) {
  if (!nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) return {};
  std::uint32_t len = 0;
  const void* data = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
  std::string out;
  nftnl_udata_parse(
      data, len,
      [](const nftnl_udata* attr, void* d) -> int {
        if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT) {
          const auto* text = static_cast<const char*>(nftnl_udata_get(attr));
          *static_cast<std::string*>(d) = std::string(text, strnlen(text, nftnl_udata_len(attr)));
        }
        return 0;
      },
      &out);
  return out;
}

// Dumps the elements of one set or map of `table`, handing each to `on_element`.
Result<void> for_each_element(mnl_socket* sock, IpFamily family, const std::string& table, const std::string& map,
                              const std::function<void(nftnl_set_elem*)>& on_element) {
  const std::uint16_t nfproto = family == IpFamily::IPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  return dump(
      sock, NFT_MSG_GETSETELEM, nfproto, fmt::format("elements of map {} {} {}", family_keyword(family), table, map),
      [&](nlmsghdr* nlh) {
        std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> s(nftnl_set_alloc(), nftnl_set_free);
        nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
        nftnl_set_set_str(s.get(), NFTNL_SET_NAME, map.c_str());
        nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
      },
      [&](const nlmsghdr* m) {
        std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> s(nftnl_set_alloc(), nftnl_set_free);
        if (nftnl_set_elems_nlmsg_parse(m, s.get()) < 0) return;
        nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(s.get());
        if (!it) return;
        for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it)) on_element(e);
        nftnl_set_elems_iter_destroy(it);
      });
}

Result<void> read_map(mnl_socket* sock, IpFamily family, const std::string& table, const char* map, bool with_address, TableContents& out) {
  const std::size_t offset = with_address ? (family == IpFamily::IPv4 ? 4 : 16) : 0;
  return for_each_element(sock, family, table, map, [&](nftnl_set_elem* e) {
    std::uint32_t len = 0;
    const auto* key = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
    if (!key || len < offset + 8) return;
    ProgrammedFrontend f;
    if (with_address) f.address = address_text(key, family);
    f.protocol = protocol_name(key[offset]);
    f.port = static_cast<std::uint16_t>(key[offset + 4] << 8 | key[offset + 5]);
    f.table = table;
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)) {
      f.chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
      // A shared endpoints-N chain does not name the service; the comment does.
      f.service = f.chain.starts_with(names::kEndpointGroupPrefix) ? element_comment(e) : service_of_chain(f.chain);
    }
    f.no_endpoints = f.chain.empty() || f.chain == names::kRejectChain;  // the no-endpoint maps: reject or drop
    if (f.no_endpoints) f.service.clear();
    out.frontends.push_back(std::move(f));
  });
}

// An endpoints-N map: ClusterIP . protocol . port . index → endpoint address . port.
Result<void> read_endpoint_map(mnl_socket* sock, IpFamily family, const std::string& table, const std::string& map, TableContents& out) {
  const std::size_t alen = family == IpFamily::IPv4 ? 4 : 16;
  return for_each_element(sock, family, table, map, [&](nftnl_set_elem* e) {
    std::uint32_t klen = 0, dlen = 0;
    const auto* key = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen));
    const auto* data = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dlen));
    if (!key || !data || klen < alen + 12 || dlen < alen + 2) return;
    const std::string k = frontend_key(table, address_text(key, family), protocol_name(key[alen]), key[alen + 4] << 8 | key[alen + 5]);
    out.map_targets[k].push_back(endpoint_target(address_text(data, family), data[alen] << 8 | data[alen + 1], family));
  });
}

}  // namespace

Result<std::vector<ProgrammedFrontend>> read_programmed_frontends(IpFamily family) {
  Socket sock(mnl_socket_open(NETLINK_NETFILTER));
  if (!sock) return std::unexpected(Error{ErrorCode::Internal, fmt::format("nftables netlink socket: {}", std::strerror(errno))});
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return std::unexpected(Error{ErrorCode::Internal, fmt::format("nftables netlink socket bind: {}", std::strerror(errno))});
  const std::uint16_t nfproto = family == IpFamily::IPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6;

  std::vector<std::string> tables;
  auto listed = dump(
      sock.get(), NFT_MSG_GETTABLE, nfproto, fmt::format("tables of family {}", family_keyword(family)), [](nlmsghdr*) {},
      [&](const nlmsghdr* m) {
        std::unique_ptr<nftnl_table, decltype(&nftnl_table_free)> t(nftnl_table_alloc(), nftnl_table_free);
        if (nftnl_table_nlmsg_parse(m, t.get()) < 0) return;
        const std::string name = nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME);
        if (name.starts_with(std::string(kTableName) + "-services-")) tables.push_back(name);
      });
  if (!listed) return std::unexpected(listed.error());

  TableContents contents;
  // Services without endpoints are in the front table's no-endpoint maps only (reject or drop).
  if (auto ok = read_map(sock.get(), family, kTableName, names::kNoEndpointServicesMap, true, contents); !ok)
    return std::unexpected(ok.error());
  if (auto ok = read_map(sock.get(), family, kTableName, names::kNoEndpointNodePortsMap, false, contents); !ok)
    return std::unexpected(ok.error());
  for (const auto& table : tables) {
    if (auto ok = read_map(sock.get(), family, table, names::kServiceIpsMap, true, contents); !ok) return std::unexpected(ok.error());
    if (auto ok = read_map(sock.get(), family, table, names::kServiceNodePortsMap, false, contents); !ok)
      return std::unexpected(ok.error());
    // Each rule's DNAT target: the data of the immediates that load the nat expression's registers.
    auto rules = dump(
        sock.get(), NFT_MSG_GETRULE, nfproto, fmt::format("rules of table {} {}", family_keyword(family), table),
        [&](nlmsghdr* nlh) {
          std::unique_ptr<nftnl_rule, decltype(&nftnl_rule_free)> r(nftnl_rule_alloc(), nftnl_rule_free);
          nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
          nftnl_rule_nlmsg_build_payload(nlh, r.get());
        },
        [&](const nlmsghdr* m) {
          std::unique_ptr<nftnl_rule, decltype(&nftnl_rule_free)> r(nftnl_rule_alloc(), nftnl_rule_free);
          if (nftnl_rule_nlmsg_parse(m, r.get()) < 0) return;
          struct Scan {
            std::map<std::uint32_t, std::vector<std::uint8_t>> registers;
            std::optional<std::pair<std::uint32_t, std::uint32_t>> dnat;  // address and port registers
          } scan;
          nftnl_expr_foreach(
              r.get(),
              [](nftnl_expr* e, void* data) -> int {
                auto* sc = static_cast<Scan*>(data);
                const std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
                if (name == "immediate" && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_DATA)) {
                  std::uint32_t len = 0;
                  const auto* d = static_cast<const std::uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &len));
                  sc->registers[nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG)] = std::vector<std::uint8_t>(d, d + len);
                } else if (name == "nat" && nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_DNAT) {
                  sc->dnat = {nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN), nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN)};
                }
                return 0;
              },
              &scan);
          if (!scan.dnat) return;
          const auto& addr = scan.registers[scan.dnat->first];
          const auto& port = scan.registers[scan.dnat->second];
          if (addr.size() < (family == IpFamily::IPv4 ? 4u : 16u) || port.size() < 2) return;
          const std::string ip = address_text(addr.data(), family);
          const int p = port[0] << 8 | port[1];
          const std::string target = endpoint_target(ip, p, family);
          contents.dnat_targets[nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)].push_back(target);
        });
    if (!rules) return std::unexpected(rules.error());
  }
  std::set<std::pair<std::string, std::string>> endpoint_maps;  // table, map
  for (const auto& f : contents.frontends)
    if (!f.no_endpoints && f.chain.starts_with(names::kEndpointGroupPrefix)) endpoint_maps.emplace(f.table, f.chain);
  for (const auto& [table, map] : endpoint_maps)
    if (auto ok = read_endpoint_map(sock.get(), family, table, map, contents); !ok) return std::unexpected(ok.error());
  for (auto& f : contents.frontends) {
    if (f.no_endpoints) continue;
    if (auto it = contents.map_targets.find(frontend_key(f.table, f.address, f.protocol, f.port)); it != contents.map_targets.end())
      f.backends = it->second;
    // external-… and local-… chains lead to the service's chains: show the endpoints behind them.
    const std::string base = f.chain.substr(f.chain.find('-') + 1);
    for (const auto& chain : {f.chain, "service-" + base, "local-" + base}) {
      auto it = contents.dnat_targets.find(chain);
      if (it == contents.dnat_targets.end()) continue;
      for (const auto& t : it->second)
        if (std::find(f.backends.begin(), f.backends.end(), t) == f.backends.end()) f.backends.push_back(t);
    }
    std::sort(f.backends.begin(), f.backends.end());
  }
  std::sort(contents.frontends.begin(), contents.frontends.end(),
            [](const auto& a, const auto& b) { return std::tie(a.service, a.address, a.port) < std::tie(b.service, b.address, b.port); });
  return contents.frontends;
}

}  // namespace switchyard::dataplane::nft
