#include "dns/cluster_zone.h"

#include <arpa/inet.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

namespace switchyard::dns {

using endpoints::Endpoint;
using endpoints::ServiceInfo;
using endpoints::ServiceKey;
using endpoints::Snapshot;

namespace {

std::vector<std::string_view> split_labels(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto dot = s.find('.');
    out.push_back(s.substr(0, dot));
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return out;
}

std::string strip_underscore(std::string_view s) { return std::string(s.starts_with('_') ? s.substr(1) : s); }

std::string lowercase(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// CoreDNS's endpoint naming: hostname, else the pod name (endpoint_pod_names), else the IP
// with dashes.
std::string endpoint_name(const Endpoint& e, bool pod_names) {
  if (!e.hostname.empty()) return e.hostname;
  if (pod_names && !e.pod_name.empty()) return e.pod_name;
  std::string s = e.ip;
  std::replace(s.begin(), s.end(), '.', '-');
  std::replace(s.begin(), s.end(), ':', '-');
  return s;
}

bool usable(const Endpoint& e, const ServiceInfo& s) { return e.ready || s.publish_not_ready_addresses; }

// Writes an A or AAAA record for ip when it is of the asked family. Returns whether the IP
// exists at all (for NODATA vs NXDOMAIN).
bool add_address(ResponseWriter& w, int section, std::string_view owner, std::uint32_t ttl, const std::string& ip, std::uint16_t qtype,
                 int& written) {
  std::array<std::uint8_t, 4> v4;
  std::array<std::uint8_t, 16> v6;
  if (inet_pton(AF_INET, ip.c_str(), v4.data()) == 1) {
    if (qtype == kA || qtype == kANY) written += w.add_a(section, owner, ttl, v4);
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), v6.data()) == 1) {
    if (qtype == kAAAA || qtype == kANY) written += w.add_aaaa(section, owner, ttl, v6);
    return true;
  }
  return false;
}

// The same for an endpoint's address, already binary.
bool add_address(ResponseWriter& w, int section, std::string_view owner, std::uint32_t ttl, const endpoints::IpAddress& ip,
                 std::uint16_t qtype, int& written) {
  if (ip.is_v4()) {
    if (qtype == kA || qtype == kANY) written += w.add_a(section, owner, ttl, ip.v4_bytes());
    return true;
  }
  if (ip.is_v6()) {
    if (qtype == kAAAA || qtype == kANY) written += w.add_aaaa(section, owner, ttl, ip.v6_bytes());
    return true;
  }
  return false;
}

// "4.3.2.1.in-addr.arpa." -> "1.2.3.4"; ip6.arpa nibbles -> canonical IPv6 text.
std::optional<std::string> reverse_to_ip(std::string_view name) {
  if (name.ends_with(".in-addr.arpa.")) {
    auto labels = split_labels(name.substr(0, name.size() - std::string_view(".in-addr.arpa.").size()));
    if (labels.size() != 4) return std::nullopt;
    std::string ip = fmt::format("{}.{}.{}.{}", labels[3], labels[2], labels[1], labels[0]);
    in_addr a;
    if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return std::nullopt;
    return ip;
  }
  if (name.ends_with(".ip6.arpa.")) {
    auto labels = split_labels(name.substr(0, name.size() - std::string_view(".ip6.arpa.").size()));
    if (labels.size() != 32) return std::nullopt;
    std::string hex;
    for (auto it = labels.rbegin(); it != labels.rend(); ++it) {
      if (it->size() != 1 || !std::isxdigit(static_cast<unsigned char>((*it)[0]))) return std::nullopt;
      hex += (*it)[0];
      if (hex.size() % 5 == 4 && hex.size() < 39) hex += ':';
    }
    in6_addr a;
    if (inet_pton(AF_INET6, hex.c_str(), &a) != 1) return std::nullopt;
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a, buf, sizeof buf);
    return std::string(buf);
  }
  return std::nullopt;
}

}  // namespace

ParsedName parse_request(std::string_view name, std::string_view zone) {
  ParsedName r;
  if (!name.ends_with(zone)) {
    r.valid = false;
    return r;
  }
  std::string_view base = name.substr(0, name.size() - zone.size());
  if (base.ends_with('.')) base.remove_suffix(1);
  if (base.empty()) return r;
  // At most five labels make a valid name: split into a fixed array (this is every query's path).
  std::array<std::string_view, 5> segs;
  std::size_t count = 0;
  for (std::string_view rest = base;;) {
    if (count == segs.size()) {
      r.valid = false;
      return r;
    }
    const auto dot = rest.find('.');
    segs[count++] = rest.substr(0, dot);
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  std::ptrdiff_t last = static_cast<std::ptrdiff_t>(count) - 1;
  r.kind = std::string(segs[last]);
  if (r.kind != "svc" && r.kind != "pod") {
    r.valid = false;
    return r;
  }
  if (--last < 0) return r;
  r.namespace_ = std::string(segs[last]);
  if (--last < 0) return r;
  r.service = std::string(segs[last]);
  if (--last < 0) return r;
  if (last == 0) {
    r.endpoint = std::string(segs[0]);
  } else if (last == 1) {
    r.protocol = strip_underscore(segs[1]);
    r.port = strip_underscore(segs[0]);
  } else {
    r.valid = false;
  }
  return r;
}

namespace {

bool is_reverse_name(std::string_view name) { return name.ends_with(".in-addr.arpa.") || name.ends_with(".ip6.arpa."); }

// Every name an address has: each service whose cluster IP it is, and each ready (or published
// not-ready) endpoint of a headless service, named as its A record is. A lookup in the
// Snapshot's address index, which lists the owners in service order.
std::vector<std::string> ptr_targets(const Snapshot& snap, const std::string& ip, const std::string& zone, bool pod_names) {
  std::vector<std::string> out;
  auto add = [&](std::string name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  };
  const auto address = endpoints::IpAddress::parse(ip);
  if (!address) return out;
  for (const auto& owner : snap.owners_of(*address)) {
    const ServiceInfo& svc = *owner.service;
    if (owner.address < 0) {
      add(fmt::format("{}.{}.svc.{}", svc.key.name, svc.key.namespace_, zone));
    } else if (const Endpoint& e = svc.addresses[static_cast<std::size_t>(owner.address)]; usable(e, svc)) {
      add(fmt::format("{}.{}.{}.svc.{}", endpoint_name(e, pod_names), svc.key.name, svc.key.namespace_, zone));
    }
  }
  return out;
}

}  // namespace

ClusterZone::ClusterZone(ClusterZoneOptions options) : options_(std::move(options)) {
  options_.zone = lowercase(options_.zone);
  if (!options_.zone.ends_with('.')) options_.zone += '.';
  ns_name_ = "ns.dns." + options_.zone;
  hostmaster_ = "hostmaster." + options_.zone;
  dotted_zone_ = "." + options_.zone;
  dns_version_name_ = "dns-version." + options_.zone;
  zone_labels_ = static_cast<std::size_t>(std::count(options_.zone.begin(), options_.zone.end(), '.'));
  if (options_.zone == ".") zone_labels_ = 0;
}

bool ClusterZone::is_authoritative_for(std::string_view name) const {
  return name == options_.zone || name.ends_with(dotted_zone_) || name.ends_with(".in-addr.arpa.") || name.ends_with(".ip6.arpa.");
}

namespace {
// FNV-1a over "<service>.<namespace>", then a final mix so that the low bits (the slot) vary.
std::uint64_t service_hash(std::string_view service, std::string_view namespace_) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto add = [&](std::string_view s) {
    for (char c : s) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ull;
  };
  add(service);
  add(".");
  add(namespace_);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}
}  // namespace

ServiceIndex::ServiceIndex(const Snapshot& snapshot) {
  std::size_t capacity = 16;
  while (capacity < 2 * snapshot.services().size()) capacity *= 2;  // at most half full
  // A table of 2 MiB or more goes on a transparent huge page: lookups land anywhere in it, and
  // with 4 KiB pages the page walk (a TLB miss per lookup) took most of a lookup's time.
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  const std::size_t bytes = capacity * sizeof(Entry);
  const bool huge = bytes >= kHugePage;
  void* memory = std::aligned_alloc(huge ? kHugePage : alignof(Entry), huge ? (bytes + kHugePage - 1) / kHugePage * kHugePage : bytes);
  if (!memory) throw std::bad_alloc();
  if (huge) madvise(memory, bytes, MADV_HUGEPAGE);  // a hint: without THP it stays on small pages
  slots_.reset(static_cast<Entry*>(memory));
  std::uninitialized_default_construct_n(slots_.get(), capacity);
  mask_ = capacity - 1;
  for (const auto& [key, svc] : snapshot.services()) {
    Entry e;
    const std::uint64_t h = service_hash(key.name, key.namespace_);
    e.hash = static_cast<std::uint32_t>(h >> 32);
    e.service = svc.get();
    int v4 = 0, v6 = 0, other = 0;
    for (const auto& ip : svc->cluster_ips) {
      if (inet_pton(AF_INET, ip.c_str(), e.v4.data()) == 1)
        ++v4;
      else if (inet_pton(AF_INET6, ip.c_str(), e.v6.data()) == 1)
        ++v6;
      else
        ++other;
    }
    e.has_v4 = v4 == 1;
    e.has_v6 = v6 == 1;
    e.addresses_parsed = v4 <= 1 && v6 <= 1 && other == 0;
    e.plain = e.addresses_parsed && !svc->headless && svc->type != "ExternalName";
    if (key.name.size() + 1 + key.namespace_.size() <= e.key.size()) {
      std::memcpy(e.key.data(), key.name.data(), key.name.size());
      e.key[key.name.size()] = '.';
      std::memcpy(e.key.data() + key.name.size() + 1, key.namespace_.data(), key.namespace_.size());
      e.key_length = static_cast<std::uint8_t>(key.name.size() + 1 + key.namespace_.size());
    }
    std::size_t i = h & mask_;
    while (slots_[i].service) i = (i + 1) & mask_;
    slots_[i] = e;
  }
}

const ServiceIndex::Entry* ServiceIndex::find(std::string_view service, std::string_view namespace_) const {
  const std::uint64_t h = service_hash(service, namespace_);
  const auto tag = static_cast<std::uint32_t>(h >> 32);
  const std::size_t length = service.size() + 1 + namespace_.size();
  for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Entry& e = slots_[i];
    if (!e.service) return nullptr;
    if (e.hash != tag) continue;
    if (e.key_length != Entry::kKeyNotInline) {
      if (e.key_length == length && std::memcmp(e.key.data(), service.data(), service.size()) == 0 && e.key[service.size()] == '.' &&
          std::memcmp(e.key.data() + service.size() + 1, namespace_.data(), namespace_.size()) == 0)
        return &e;
    } else if (e.service->key.name == service && e.service->key.namespace_ == namespace_) {
      return &e;
    }
  }
}

void ServiceIndex::FreeSlots::operator()(Entry* slots) const {
  static_assert(std::is_trivially_destructible_v<Entry>);
  std::free(slots);
}

void ServiceIndex::prefetch(std::string_view service, std::string_view namespace_) const {
  __builtin_prefetch(&slots_[service_hash(service, namespace_) & mask_]);
}

void ClusterZone::answer(const Snapshot* snap, const ServiceIndex* index, const Query& q, ResponseWriter& w,
                         std::string* outside_target) const {
  const auto ttl = options_.ttl;
  const std::string& zone = options_.zone;
  if (!snap) {
    w.begin(q, kServFail, false);
    return;
  }
  w.begin(q, kNoError, true);
  auto soa = [&] {
    w.add_soa(ResponseWriter::kAuthority, zone, ttl, ns_name_, hostmaster_, static_cast<std::uint32_t>(snap->generation()), 7200, 1800,
              86400, ttl);
  };
  auto nodata = [&] { soa(); };
  auto nxdomain = [&] {
    w.set_rcode(kNxDomain);
    soa();
  };
  if (q.klass != kClassIN && q.klass != 255) {
    w.set_rcode(kRefused);
    return;
  }

  // Reverse lookups: every service and ready headless endpoint with the address. Negative
  // answers carry the reverse zone's SOA (the one that contains the name), so they can be cached.
  if (is_reverse_name(q.name)) {
    const std::string reverse_zone = q.name.ends_with(".in-addr.arpa.") ? "in-addr.arpa." : "ip6.arpa.";
    auto reverse_soa = [&] {
      w.add_soa(ResponseWriter::kAuthority, reverse_zone, ttl, ns_name_, hostmaster_, static_cast<std::uint32_t>(snap->generation()), 7200,
                1800, 86400, ttl);
    };
    const auto ip = reverse_to_ip(q.name);
    const auto targets = ip ? ptr_targets(*snap, *ip, zone, options_.endpoint_pod_names) : std::vector<std::string>{};
    if (targets.empty()) {
      w.set_rcode(kNxDomain);
      reverse_soa();
    } else if (q.type == kPTR || q.type == kANY) {
      for (const auto& t : targets) w.add_name_record(ResponseWriter::kAnswer, q.name, kPTR, ttl, t);
    } else {
      reverse_soa();
    }
    return;
  }

  if (q.name == zone) {
    if (q.type == kSOA || q.type == kANY)
      w.add_soa(ResponseWriter::kAnswer, zone, ttl, ns_name_, hostmaster_, static_cast<std::uint32_t>(snap->generation()), 7200, 1800,
                86400, ttl);
    if (q.type == kNS || q.type == kANY) {
      w.add_name_record(ResponseWriter::kAnswer, zone, kNS, ttl, ns_name_);
      int glue = 0;
      if (const ServiceInfo* dns = snap->find(ServiceKey{"kube-system", "kube-dns"}))
        for (const auto& ip : dns->cluster_ips) add_address(w, ResponseWriter::kAdditional, ns_name_, ttl, ip, kANY, glue);
    }
    if (q.type != kSOA && q.type != kNS && q.type != kANY) nodata();
    return;
  }
  if (q.name == ns_name_) {  // the apex NS's host: the cluster DNS service, as CoreDNS answers it
    int written = 0;
    if (const ServiceInfo* dns = snap->find(ServiceKey{"kube-system", "kube-dns"}))
      for (const auto& ip : dns->cluster_ips) add_address(w, ResponseWriter::kAnswer, q.name, ttl, ip, q.type, written);
    if (written == 0) nodata();
    return;
  }
  if (q.name == dns_version_name_) {
    if (q.type == kTXT || q.type == kANY)
      w.add_txt(ResponseWriter::kAnswer, q.name, ttl, "1.1.0");
    else
      nodata();
    return;
  }

  const ParsedName r = parse_request(q.name, zone);
  if (!r.valid) return nxdomain();
  if (r.namespace_.empty()) return nodata();  // "svc.<zone>" and "pod.<zone>" exist, empty

  const auto& services = snap->services();
  auto namespace_exists = [&] {
    // A namespace with no Services exists too (NODATA), as CoreDNS answers; without a namespace
    // feed, one with a Service is all this server can know of.
    if (const auto& namespaces = snap->namespaces()) return namespaces->contains(r.namespace_);
    auto it = services.lower_bound(ServiceKey{r.namespace_, ""});
    return it != services.end() && it->first.namespace_ == r.namespace_;
  };

  if (r.kind == "pod") {
    if (options_.pods == PodRecords::Disabled || r.service.empty() || !r.endpoint.empty() || !r.port.empty())
      return r.service.empty() && namespace_exists() ? nodata() : nxdomain();
    std::string ip = r.service;
    const bool v6 = ip.find("--") != std::string::npos || std::count(ip.begin(), ip.end(), '-') > 3;
    std::replace(ip.begin(), ip.end(), '-', v6 ? ':' : '.');
    if (options_.pods == PodRecords::Verified) {
      const auto address = endpoints::IpAddress::parse(ip);
      bool found = false;
      for (auto it = services.lower_bound(ServiceKey{r.namespace_, ""});
           address && it != services.end() && it->first.namespace_ == r.namespace_ && !found; ++it)
        for (const auto& e : it->second->addresses) found |= e.ip == *address;
      if (!found) return nxdomain();
    }
    int written = 0;
    if (!add_address(w, ResponseWriter::kAnswer, q.name, ttl, ip, q.type, written)) return nxdomain();
    if (written == 0) nodata();
    return;
  }

  if (r.service.empty()) return namespace_exists() ? nodata() : nxdomain();
  const ServiceIndex::Entry* entry = index ? index->find(r.service, r.namespace_) : nullptr;
  const ServiceInfo* svc = index ? (entry ? entry->service : nullptr) : snap->find(ServiceKey{r.namespace_, r.service});
  if (!svc) return nxdomain();
  if (entry && entry->plain && r.endpoint.empty() && r.port.empty() && (q.type == kA || q.type == kAAAA)) {
    // The hot path: an address of a ClusterIP service, from the index entry alone.
    bool written = false;
    if (q.type == kA && entry->has_v4) written = w.add_a(ResponseWriter::kAnswer, q.name, ttl, entry->v4);
    if (q.type == kAAAA && entry->has_v6) written = w.add_aaaa(ResponseWriter::kAnswer, q.name, ttl, entry->v6);
    if (!written) nodata();
    return;
  }
  // Only SRV answers name the service; A/AAAA (the hot path) need no copy of it.
  auto svc_name = [&] { return fmt::format("{}.{}.svc.{}", r.service, r.namespace_, zone); };

  if (svc->type == "ExternalName") {
    if (!r.endpoint.empty() || !r.port.empty()) return nxdomain();
    std::string target = lowercase(svc->external_name);
    if (!target.ends_with('.')) target += '.';
    w.add_name_record(ResponseWriter::kAnswer, q.name, kCNAME, ttl, target);
    if (outside_target && target != zone && !target.ends_with(dotted_zone_)) *outside_target = target;
    // A target in the cluster zone is answered here too, as CoreDNS does: a stub resolver (glibc's)
    // does not chase the CNAME itself. One hop; an outside target is the server's (upstream).
    const ParsedName t = target.ends_with(dotted_zone_) ? parse_request(target, zone) : ParsedName{.valid = false};
    if (t.valid && t.kind == "svc" && !t.service.empty() && t.endpoint.empty() && t.port.empty() && q.type != kCNAME)
      if (const ServiceInfo* to = snap->find(ServiceKey{t.namespace_, t.service}); to && to->type != "ExternalName") {
        int written = 0;
        if (to->headless) {
          for (const auto& e : to->addresses)
            if (usable(e, *to)) add_address(w, ResponseWriter::kAnswer, target, ttl, e.ip, q.type, written);
        } else {
          for (const auto& ip : to->cluster_ips) add_address(w, ResponseWriter::kAnswer, target, ttl, ip, q.type, written);
        }
      }
    return;
  }

  std::vector<const Endpoint*> ready;  // only headless services answer with their endpoints
  if (svc->headless)
    for (const auto& e : svc->addresses)
      if (usable(e, *svc)) ready.push_back(&e);

  if (!r.endpoint.empty()) {  // <endpoint>.<service>.<ns>.svc.<zone>: headless endpoints only
    if (!svc->headless) return nxdomain();
    int written = 0;
    bool exists = false;
    for (const auto* e : ready)
      if (endpoint_name(*e, options_.endpoint_pod_names) == r.endpoint) exists |= add_address(w, 0, q.name, ttl, e->ip, q.type, written);
    if (!exists) return nxdomain();
    if (written == 0) nodata();
    return;
  }

  if (!r.port.empty()) {  // _<port>._<proto>.<service>.<ns>.svc.<zone>
    std::vector<endpoints::NamedPort> matches;
    const auto& ports = svc->headless ? svc->endpoint_ports : svc->ports;
    for (const auto& p : ports)
      if (!p.name.empty() && lowercase(p.name) == r.port && lowercase(p.protocol) == r.protocol) matches.push_back(p);
    if (matches.empty() || (svc->headless && ready.empty())) return nxdomain();
    if (q.type != kSRV && q.type != kANY) return nodata();
    int written = 0;
    if (!svc->headless) {
      for (const auto& p : matches) w.add_srv(ResponseWriter::kAnswer, q.name, ttl, 0, 100, static_cast<std::uint16_t>(p.port), svc_name());
      for (const auto& ip : svc->cluster_ips) add_address(w, ResponseWriter::kAdditional, svc_name(), ttl, ip, kANY, written);
      return;
    }
    // Endpoints that share a name (a dual-stack pod has one per family) are one SRV target
    // with all their addresses.
    std::vector<std::pair<std::string, std::vector<const Endpoint*>>> targets;
    for (const auto* e : ready) {
      std::string name = fmt::format("{}.{}", endpoint_name(*e, options_.endpoint_pod_names), svc_name());
      auto it = std::find_if(targets.begin(), targets.end(), [&](const auto& t) { return t.first == name; });
      if (it == targets.end())
        targets.push_back({std::move(name), {e}});
      else
        it->second.push_back(e);
    }
    const auto weight = static_cast<std::uint16_t>(std::max<std::size_t>(1, 100 / targets.size()));
    for (const auto& p : matches)
      for (const auto& t : targets) w.add_srv(ResponseWriter::kAnswer, q.name, ttl, 0, weight, static_cast<std::uint16_t>(p.port), t.first);
    for (const auto& t : targets)
      for (const auto* e : t.second) add_address(w, ResponseWriter::kAdditional, t.first, ttl, e->ip, kANY, written);
    return;
  }

  // <service>.<ns>.svc.<zone>
  int written = 0;
  if (svc->headless) {
    if (ready.empty()) return nxdomain();  // as CoreDNS: a headless service without ready endpoints does not exist
    for (const auto* e : ready) add_address(w, ResponseWriter::kAnswer, q.name, ttl, e->ip, q.type, written);
  } else {
    for (const auto& ip : svc->cluster_ips) add_address(w, ResponseWriter::kAnswer, q.name, ttl, ip, q.type, written);
  }
  if (q.type == kSRV) {  // no port given: every named port
    const auto& ports = svc->headless ? svc->endpoint_ports : svc->ports;
    for (const auto& p : ports)
      if (!p.name.empty()) {
        const std::string owner_target = svc_name();
        written += w.add_srv(ResponseWriter::kAnswer, q.name, ttl, 0, 100, static_cast<std::uint16_t>(p.port), owner_target);
      }
  }
  if (written == 0) nodata();
}

bool ClusterZone::knows_reverse(const Snapshot* snap, std::string_view name) const {
  if (!is_reverse_name(name) || !snap) return true;
  const auto ip = reverse_to_ip(name);
  return ip && !ptr_targets(*snap, *ip, options_.zone, options_.endpoint_pod_names).empty();
}

}  // namespace switchyard::dns
