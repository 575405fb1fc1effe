#include "dns/autopath.h"

#include <arpa/inet.h>

#include <cstring>

#include "dns/message_edit.h"

namespace switchyard::dns {

std::optional<IpKey> ip_key(std::string_view text) {
  std::string s(text);
  std::array<std::uint8_t, 4> v4;
  if (inet_pton(AF_INET, s.c_str(), v4.data()) == 1) return ip_key_v4(v4);
  IpKey k;
  if (inet_pton(AF_INET6, s.c_str(), k.data()) == 1) return k;
  return std::nullopt;
}

IpKey ip_key_v4(const std::array<std::uint8_t, 4>& v4) {
  IpKey k{};
  k[10] = k[11] = 0xFF;
  std::memcpy(&k[12], v4.data(), 4);
  return k;
}

std::size_t PodNamespaces::Hash::operator()(const IpKey& k) const noexcept {
  std::uint64_t a, b;
  std::memcpy(&a, k.data(), 8);
  std::memcpy(&b, k.data() + 8, 8);
  return std::hash<std::uint64_t>{}(a * 0x9E3779B97F4A7C15ull ^ b);
}

std::shared_ptr<const PodNamespaces> PodNamespaces::from_snapshot(const endpoints::Snapshot& snapshot,
                                                                  const std::vector<PodAddress>& node_pods) {
  auto index = std::make_shared<PodNamespaces>();
  // The node's own pods first: emplace keeps the first namespace seen for an address.
  for (const auto& pod : node_pods)
    if (auto k = ip_key(pod.ip)) index->by_ip_.emplace(*k, pod.namespace_);
  for (const auto& [key, svc] : snapshot.services())
    for (const auto& e : svc->addresses)
      if (e.ip.valid()) index->by_ip_.emplace(e.ip.is_v4() ? ip_key_v4(e.ip.v4_bytes()) : e.ip.v6_bytes(), key.namespace_);
  return index;
}

const std::string* PodNamespaces::find(const IpKey& ip) const {
  auto it = by_ip_.find(ip);
  return it == by_ip_.end() ? nullptr : &it->second;
}

std::optional<std::string_view> autopath_base(std::string_view name, std::string_view pod_namespace, std::string_view zone) {
  // name = base + "." + ns + ".svc." + zone
  const std::size_t suffix = 1 + pod_namespace.size() + 5 + zone.size();
  if (pod_namespace.empty() || name.size() <= suffix + 1 || !name.ends_with(zone)) return std::nullopt;
  std::string_view rest = name.substr(0, name.size() - zone.size());  // "base.ns.svc."
  if (!rest.ends_with(".svc.")) return std::nullopt;
  rest.remove_suffix(5);
  if (!rest.ends_with(pod_namespace) || rest.size() < pod_namespace.size() + 2) return std::nullopt;
  rest.remove_suffix(pod_namespace.size());
  if (!rest.ends_with('.')) return std::nullopt;
  rest.remove_suffix(1);
  return rest;
}

std::array<std::string, 2> autopath_cluster_candidates(std::string_view base, std::string_view zone) {
  return {std::string(base) + ".svc." + std::string(zone), std::string(base) + "." + std::string(zone)};
}

bool write_autopath_answer(const Query& q, std::string_view found_name, std::span<const std::uint8_t> found, bool recursive,
                           std::uint32_t cname_ttl, ResponseWriter& w) {
  if (found.size() < 12) return false;
  w.begin(q, static_cast<Rcode>(found[3] & 0xF), !recursive && (found[2] & 0x04));
  if (recursive) w.set_recursion_available();
  w.add_name_record(ResponseWriter::kAnswer, q.name, kCNAME, cname_ttl, found_name);
  std::string owner, target;
  return for_each_record(found, [&](const RecordView& r) {
    if (r.type == kOPT) return;
    std::size_t at = r.owner_offset;
    if (!read_name(found, at, owner)) return;
    const auto rdata = found.subspan(r.rdata_offset, r.rdlength);
    switch (r.type) {
      case kCNAME:
      case kNS:
      case kPTR:
      case 39 /* DNAME */: {
        std::size_t o = r.rdata_offset;
        if (read_name(found, o, target)) w.add_name_record(r.section, owner, r.type, r.ttl, target);
        break;
      }
      case 15 /* MX */: {
        std::size_t o = r.rdata_offset + 2;
        if (r.rdlength > 2 && read_name(found, o, target)) w.add_rdata(r.section, owner, r.type, r.ttl, rdata.first(2), target);
        break;
      }
      case kSRV: {
        std::size_t o = r.rdata_offset + 6;
        if (r.rdlength > 6 && read_name(found, o, target))
          w.add_srv(r.section, owner, r.ttl, static_cast<std::uint16_t>(rdata[0] << 8 | rdata[1]),
                    static_cast<std::uint16_t>(rdata[2] << 8 | rdata[3]), static_cast<std::uint16_t>(rdata[4] << 8 | rdata[5]), target);
        break;
      }
      case kSOA: {
        std::size_t o = r.rdata_offset;
        std::string rname;
        if (read_name(found, o, target) && read_name(found, o, rname) && o + 20 <= r.end) {
          auto u32 = [&](std::size_t at) {
            return static_cast<std::uint32_t>(found[at]) << 24 | static_cast<std::uint32_t>(found[at + 1]) << 16 |
                   static_cast<std::uint32_t>(found[at + 2]) << 8 | found[at + 3];
          };
          w.add_soa(r.section, owner, r.ttl, target, rname, u32(o), u32(o + 4), u32(o + 8), u32(o + 12), u32(o + 16));
        }
        break;
      }
      default:  // no names inside (A, AAAA, TXT, and every type defined since RFC 3597): copied as is
        w.add_rdata(r.section, owner, r.type, r.ttl, rdata);
    }
  });
}

}  // namespace switchyard::dns
