#include "dataplane/conntrack_cleanup.h"

#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <set>

namespace switchyard::dataplane {

using endpoints::IpFamily;
using Address = std::array<std::uint8_t, 16>;

namespace {

IpFamily family_of(const std::string& ip) { return ip.find(':') == std::string::npos ? IpFamily::IPv4 : IpFamily::IPv6; }

std::optional<Address> parse(const std::string& ip) {
  Address a{};
  const int af = family_of(ip) == IpFamily::IPv4 ? AF_INET : AF_INET6;
  if (inet_pton(af, ip.c_str(), a.data()) != 1) return std::nullopt;
  return a;
}

std::uint8_t protocol_number(const std::string& protocol) { return protocol == "SCTP" ? IPPROTO_SCTP : IPPROTO_UDP; }

// Every address the port answered on: what a stale entry's original destination can be.
std::vector<std::string> service_addresses(const endpoints::ServicePortInfo& p) {
  std::vector<std::string> out = p.cluster_ips;
  out.insert(out.end(), p.external_ips.begin(), p.external_ips.end());
  out.insert(out.end(), p.load_balancer_ips.begin(), p.load_balancer_ips.end());
  return out;
}

}  // namespace

std::vector<ConntrackFilter> stale_conntrack_filters(const endpoints::Snapshot& before, const endpoints::Snapshot& after,
                                                     const endpoints::SnapshotDiff& diff) {
  std::vector<ConntrackFilter> out;
  for (const auto& stale : diff.stale_flows) {
    const std::uint8_t proto = protocol_number(stale.protocol);
    const std::string service = stale.name.to_string();
    // The addresses before and after: a flow may have started on either.
    std::set<std::string> addresses;
    std::set<std::int32_t> node_ports;
    for (const auto* info : {before.find(stale.name), after.find(stale.name)}) {
      if (!info) continue;
      for (auto& a : service_addresses(*info)) addresses.insert(a);
      if (info->node_port) node_ports.insert(info->node_port);
    }
    for (const auto& e : stale.removed_endpoints) {
      const auto endpoint = parse(e.ip);
      if (!endpoint) continue;
      const std::string reason = service + " endpoint " + e.ip + ":" + std::to_string(e.port) + " removed";
      for (const auto& a : addresses)
        if (family_of(a) == e.family)
          if (auto dst = parse(a)) out.push_back({reason, e.family, proto, dst, static_cast<std::uint16_t>(stale.port), endpoint});
      for (auto np : node_ports) out.push_back({reason, e.family, proto, std::nullopt, static_cast<std::uint16_t>(np), endpoint});
    }
    // The service had no endpoints: its flows were never DNATed and must start over.
    std::set<IpFamily> families;
    for (const auto& ip : stale.service_ips)
      if (auto dst = parse(ip)) {
        families.insert(family_of(ip));
        out.push_back({service + " has endpoints again", family_of(ip), proto, dst, static_cast<std::uint16_t>(stale.port), std::nullopt});
      }
    if (stale.node_port)
      for (auto f : families)
        out.push_back(
            {service + " has endpoints again", f, proto, std::nullopt, static_cast<std::uint16_t>(stale.node_port), std::nullopt});
  }
  return out;
}

struct ConntrackCleaner::Handle {
  nfct_handle* h = nullptr;
  ~Handle() {
    if (h) nfct_close(h);
  }
};

ConntrackCleaner::ConntrackCleaner(std::unique_ptr<Handle> handle) : handle_(std::move(handle)) {}
ConntrackCleaner::~ConntrackCleaner() = default;

Result<std::unique_ptr<ConntrackCleaner>> ConntrackCleaner::create() {
  auto handle = std::make_unique<Handle>();
  handle->h = nfct_open(CONNTRACK, 0);
  if (!handle->h) return std::unexpected(Error{ErrorCode::Internal, std::string("conntrack netlink socket: ") + std::strerror(errno)});
  return std::unique_ptr<ConntrackCleaner>(new ConntrackCleaner(std::move(handle)));
}

Result<ConntrackCleanupResult> ConntrackCleaner::on_sync(const endpoints::Snapshot& before, const endpoints::Snapshot& after,
                                                         const endpoints::SnapshotDiff& diff) {
  if (diff.stale_flows.empty()) return ConntrackCleanupResult{};
  return remove(stale_conntrack_filters(before, after, diff));
}

namespace {

struct DumpState {
  const std::vector<ConntrackFilter>* filters;
  ConntrackCleanupResult result;
  std::vector<std::pair<nf_conntrack*, const ConntrackFilter*>> doomed;  // clones, deleted after the dump (not allowed during it)
};

Address address_attr(const nf_conntrack* ct, bool ipv4, nf_conntrack_attr v4, nf_conntrack_attr v6) {
  Address a{};
  if (ipv4) {
    const std::uint32_t v = nfct_get_attr_u32(ct, v4);
    std::memcpy(a.data(), &v, 4);
  } else if (const void* p = nfct_get_attr(ct, v6)) {
    std::memcpy(a.data(), p, 16);
  }
  return a;
}

bool matches(const ConntrackFilter& f, const nf_conntrack* ct, bool ipv4, std::uint8_t proto) {
  if ((f.family == IpFamily::IPv4) != ipv4 || f.protocol != proto) return false;
  if (f.original_destination_port && ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST)) != *f.original_destination_port) return false;
  if (f.original_destination && address_attr(ct, ipv4, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST) != *f.original_destination) return false;
  if (f.reply_source && address_attr(ct, ipv4, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC) != *f.reply_source) return false;
  return true;
}

int on_entry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto& state = *static_cast<DumpState*>(data);
  const std::uint8_t l3 = nfct_get_attr_u8(ct, ATTR_L3PROTO);
  const std::uint8_t l4 = nfct_get_attr_u8(ct, ATTR_L4PROTO);
  if ((l3 != AF_INET && l3 != AF_INET6) || (l4 != IPPROTO_UDP && l4 != IPPROTO_SCTP)) return NFCT_CB_CONTINUE;
  ++state.result.entries_seen;
  for (const auto& f : *state.filters)
    if (matches(f, ct, l3 == AF_INET, l4)) {
      state.doomed.emplace_back(nfct_clone(ct), &f);
      break;
    }
  return NFCT_CB_CONTINUE;
}

}  // namespace

Result<ConntrackCleanupResult> ConntrackCleaner::remove(const std::vector<ConntrackFilter>& filters) {
  if (filters.empty()) return ConntrackCleanupResult{};
  DumpState state{&filters, {}, {}};
  nfct_handle* h = handle_->h;
  nfct_callback_register(h, NFCT_T_ALL, on_entry, &state);
  std::uint32_t family = AF_UNSPEC;
  const int dumped = nfct_query(h, NFCT_Q_DUMP, &family);
  const int dump_errno = errno;
  nfct_callback_unregister(h);
  std::string error;
  if (dumped != 0) error = std::string("conntrack dump: ") + std::strerror(dump_errno);
  for (auto [ct, filter] : state.doomed) {
    if (error.empty()) {
      if (nfct_query(h, NFCT_Q_DESTROY, ct) == 0)
        ++state.result.entries_deleted;
      else if (errno != ENOENT)  // gone already (timed out, or deleted by someone else): fine
        error = "conntrack delete of an entry (" + filter->reason + "): " + std::strerror(errno);
    }
    nfct_destroy(ct);
  }
  if (!error.empty()) return std::unexpected(Error{ErrorCode::Internal, error});
  return state.result;
}

}  // namespace switchyard::dataplane
