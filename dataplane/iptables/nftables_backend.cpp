#include "dataplane/iptables/nftables_backend.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <tuple>

#include "dataplane/iptables/nft_encoder.h"

namespace switchyard::dataplane::nft {
namespace {

using endpoints::ServicePortName;
using Clock = std::chrono::steady_clock;

}  // namespace

ElementDigest digest(const std::string& set, const ElementKey& key) {
  std::string bytes;
  bytes.reserve(set.size() + key.address.size() + key.second_address.size() + 16);
  bytes += set;
  bytes += '\0';
  bytes += key.address;
  bytes += '\0';
  bytes += key.second_address;
  bytes += '\0';
  bytes += static_cast<char>(key.protocol);
  bytes += static_cast<char>(key.port >> 8);
  bytes += static_cast<char>(key.port & 0xff);
  if (key.index)
    for (int shift = 0; shift < 32; shift += 8) bytes += static_cast<char>((*key.index >> shift) & 0xff);
  std::uint64_t fnv = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : bytes) {
    fnv ^= c;
    fnv *= 1099511628211ull;
  }
  return {std::hash<std::string>{}(bytes), fnv};
}

namespace {

// Elements without a verdict (the cluster-ips set) may be shared by several ports of a service.
bool is_shared(const Element& e) { return !e.verdict && !e.endpoint; }

// Sorted by set name so that the encoder packs many elements into one message.
void sort_by_set(std::vector<const Element*>& elements) {
  std::ranges::stable_sort(elements, [](const Element* a, const Element* b) { return a->set < b->set; });
}

// The changes one sync makes to one family's table, gathered across every changed port and
// emitted in an order the kernel accepts inside one transaction: objects are created before
// anything refers to them, and references are dropped before what they refer to is deleted.
struct TableChange {
  using Key = std::pair<std::string, ElementKey>;
  // front: this change is to the front table, and takes the firewall chains and front elements
  // of each port; otherwise to a service table, and takes the rest.
  TableChange(bool front, const CommittedElementRefs& refs) : front(front), shared_refs(refs) {}

  const bool front;
  std::vector<const Set*> sets_to_add;
  std::vector<const Chain*> chains_to_add;     // created, then filled
  std::vector<const Chain*> chains_to_refill;  // flushed, then filled
  std::vector<std::string> chains_to_delete;   // flushed, then deleted
  std::vector<std::string> sets_to_delete;
  std::vector<const Element*> elements_to_delete, elements_to_add;

  const CommittedElementRefs& shared_refs;  // committed users of each shared element
  SharedElementRefs shared_ref_changes;     // applied once the batch is committed

  int users(const ElementDigest& key) const {
    auto a = shared_refs.find(key);
    auto b = shared_ref_changes.find(key);
    return (a == shared_refs.end() ? 0 : a->second) + (b == shared_ref_changes.end() ? 0 : b->second);
  }

  void compare(const ServicePortObjects& before, const ServicePortObjects& after) {
    std::map<std::string, const Chain*> old_chains, new_chains;
    for (const auto& c : before.chains)
      if (in_front_table(c) == front) old_chains[c.name] = &c;
    for (const auto& c : after.chains)
      if (in_front_table(c) == front) new_chains[c.name] = &c;
    for (const auto& [name, chain] : new_chains) {
      auto it = old_chains.find(name);
      if (it == old_chains.end())
        chains_to_add.push_back(chain);
      else if (!(*it->second == *chain))
        chains_to_refill.push_back(chain);
    }
    for (const auto& [name, chain] : old_chains)
      if (!new_chains.contains(name)) chains_to_delete.push_back(name);

    if (!front) {  // affinity sets live beside the chains that use them
      std::set<std::string> old_sets, new_sets;
      for (const auto& s : before.sets) old_sets.insert(s.name);
      for (const auto& s : after.sets) new_sets.insert(s.name);
      for (const auto& s : after.sets)
        if (!old_sets.contains(s.name)) sets_to_add.push_back(&s);
      for (const auto& s : before.sets)
        if (!new_sets.contains(s.name)) sets_to_delete.push_back(s.name);
    }

    std::map<Key, const Element*> old_elements, new_elements;
    for (const auto& e : before.elements)
      if (in_front_table(e) == front) old_elements[{e.set, e.key}] = &e;
    for (const auto& e : after.elements)
      if (in_front_table(e) == front) new_elements[{e.set, e.key}] = &e;
    for (const auto& [key, e] : old_elements) {
      auto it = new_elements.find(key);
      if (it != new_elements.end() && *it->second == *e) continue;
      if (is_shared(*e) && it == new_elements.end()) {
        const ElementDigest d = digest(key.first, key.second);
        --shared_ref_changes[d];
        if (users(d) > 0) continue;
      }
      elements_to_delete.push_back(e);
    }
    for (const auto& [key, e] : new_elements) {
      auto it = old_elements.find(key);
      if (it != old_elements.end() && *it->second == *e) continue;
      if (is_shared(*e) && it == old_elements.end()) {
        const ElementDigest d = digest(key.first, key.second);
        const bool already_there = users(d) > 0;
        ++shared_ref_changes[d];
        if (already_there) continue;
      }
      elements_to_add.push_back(e);
    }
  }

  // compare(nothing, after) without its maps, for the full sync (nothing committed, shared_refs
  // empty): everything of `after` in this table is new, only shared elements need counting.
  void add_all(const ServicePortObjects& after) {
    for (const auto& c : after.chains)
      if (in_front_table(c) == front) chains_to_add.push_back(&c);
    if (!front)
      for (const auto& s : after.sets) sets_to_add.push_back(&s);
    for (const auto& e : after.elements) {
      if (in_front_table(e) != front) continue;
      if (is_shared(e)) {  // nothing is committed yet: the changes are the counts
        auto [it, first_user] = shared_ref_changes.try_emplace(digest(e.set, e.key), 0);
        ++it->second;
        if (!first_user) continue;
      }
      elements_to_add.push_back(&e);
    }
  }

  void apply_shared_ref_changes(CommittedElementRefs& refs) const {
    for (const auto& [key, change] : shared_ref_changes)
      if ((refs[key] += change) <= 0) refs.erase(key);
  }

  Result<void> emit(NftEncoder& nft) {
    for (const auto* s : sets_to_add) nft.add_set(*s);
    for (const auto* c : chains_to_add) nft.add_chain(*c);
    for (const auto* c : chains_to_refill) nft.flush_chain(c->name);
    for (const auto* c : chains_to_add)
      if (auto ok = nft.add_rules(*c); !ok) return ok;
    for (const auto* c : chains_to_refill)
      if (auto ok = nft.add_rules(*c); !ok) return ok;
    // Elements of a set that goes away go with it.
    const std::set<std::string> deleted_sets(sets_to_delete.begin(), sets_to_delete.end());
    std::erase_if(elements_to_delete, [&](const Element* e) { return deleted_sets.contains(e->set); });
    sort_by_set(elements_to_delete);
    sort_by_set(elements_to_add);
    if (auto ok = nft.delete_elements(elements_to_delete); !ok) return ok;
    if (auto ok = nft.add_elements(elements_to_add); !ok) return ok;
    // Flushing drops the rules' references to sets and chains; deleting a map drops its
    // elements' references to chains; then the chains can go.
    for (const auto& name : chains_to_delete) nft.flush_chain(name);
    for (const auto& name : sets_to_delete) nft.delete_set(name);
    for (const auto& name : chains_to_delete) nft.delete_chain(name);
    return {};
  }
};

}  // namespace

const CommittedElementRefs kNoSharedElements;

// Adds (sign 1) or removes (sign -1) one port's objects from the counts in stats.
void count_port(BackendStats& stats, const ServicePortObjects& objects, int sign) {
  std::uint64_t rules = 0;
  for (const auto& c : objects.chains) rules += c.rules.size();
  auto apply = [sign](std::uint64_t& total, std::uint64_t n) { total = sign > 0 ? total + n : total - n; };
  apply(stats.chains, objects.chains.size());
  apply(stats.rules, rules);
  apply(stats.map_elements, objects.elements.size());
}

NftablesBackend::NftablesBackend(NftablesBackendOptions options, NftSocket socket, std::unique_ptr<LocalAddresses> local_addresses)
    : options_(std::move(options)), socket_(std::move(socket)), local_addresses_(std::move(local_addresses)) {}

Result<std::unique_ptr<NftablesBackend>> NftablesBackend::create(NftablesBackendOptions options) {
  if (auto ok = options.node_port_addresses.validate(); !ok) return std::unexpected(ok.error());
  auto socket = NftSocket::open();
  if (!socket) return std::unexpected(socket.error());
  std::unique_ptr<LocalAddresses> local;
  const auto& npa = options.node_port_addresses;
  if (!npa.match_all(IpFamily::IPv4) || !npa.match_all(IpFamily::IPv6)) {
    auto created = LocalAddresses::create();  // in this thread's namespace, as the nft socket
    if (!created) return std::unexpected(created.error());
    local = std::move(*created);
  }
  return std::unique_ptr<NftablesBackend>(new NftablesBackend(std::move(options), std::move(*socket), std::move(local)));
}

Result<NftablesBackend::NodePortIps> NftablesBackend::resolve_node_port_ips() {
  NodePortIps out;
  if (!local_addresses_) return out;
  auto addresses = local_addresses_->list();
  if (!addresses) return std::unexpected(Error{ErrorCode::Internal, "node port addresses: " + addresses.error().message});
  const auto& npa = options_.node_port_addresses;
  if (!npa.match_all(IpFamily::IPv4)) out.first = npa.select(IpFamily::IPv4, *addresses);
  if (!npa.match_all(IpFamily::IPv6)) out.second = npa.select(IpFamily::IPv6, *addresses);
  return out;
}

std::vector<IpFamily> NftablesBackend::families() const {
  std::vector<IpFamily> out;
  if (options_.ipv4) out.push_back(IpFamily::IPv4);
  if (options_.ipv6) out.push_back(IpFamily::IPv6);
  return out;
}

std::size_t NftablesBackend::table_index(const ServicePortName& name) const {
  // FNV-1a over the name: stable across runs, so a restart puts a port in the same table.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name.to_string()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<std::size_t>(h % service_tables_);
}

namespace {
std::uint64_t name_hash(const ServicePortName& name) { return std::hash<std::string>{}(name.to_string()); }
}  // namespace

std::string NftablesBackend::table_of(const ServicePortName& name) const {
  for (const auto& [f, state] : committed_)
    if (state.programmed.contains(name_hash(name))) return state.service_tables[table_index(name)].table;
  return {};
}

Result<void> NftablesBackend::full_sync(const endpoints::Snapshot& snapshot) {
  const auto start = Clock::now();
  auto node_port_ips = resolve_node_port_ips();
  if (!node_port_ips) return std::unexpected(node_port_ips.error());
  std::tie(options_.generator.node_port_ipv4, options_.generator.node_port_ipv6) = std::move(*node_port_ips);
  const std::size_t per_table = std::max<std::size_t>(options_.services_per_table, 1);
  service_tables_ = std::clamp<std::size_t>((snapshot.service_ports().size() + per_table - 1) / per_table, 1, kMaxServiceTables);
  NetlinkBatch batch;
  std::map<IpFamily, FamilyState> desired;
  // The ports' objects live until the batch is committed, and are not kept after it.
  std::map<IpFamily, std::map<ServicePortName, ServicePortObjects>> all_ports;
  for (IpFamily f : families()) {
    FamilyState& state = desired[f];
    auto& ports = all_ports[f];
    state.front = make_front_skeleton(f, options_.generator);
    for (std::size_t i = 0; i < service_tables_; ++i) state.service_tables.push_back(make_service_table_skeleton(f, i, options_.generator));
    for (const auto& [name, info] : snapshot.service_ports()) {
      auto objects = generate_service_port(*info, f, options_.generator);
      if (objects.chains.empty() && objects.elements.empty()) continue;
      const std::size_t index = table_index(name);
      if (objects.endpoint_group != 0 && state.endpoint_groups.emplace(index, objects.endpoint_group).second) {
        auto group = make_endpoint_group(f, objects.endpoint_group, options_.generator);
        state.service_tables[index].sets.push_back(std::move(group.map));
        state.service_tables[index].chains.push_back(std::move(group.chain));
      }
      state.programmed.insert(name_hash(name));
      ports.emplace(name, std::move(objects));
    }
    // Adding then deleting a table removes whatever was there (ours, from a previous run with
    // another number of service tables, or a failed sync) without failing when there was
    // nothing; the kernel applies the whole batch at once.
    NftEncoder front(batch, f, kTableName);
    front.add_table();
    front.delete_table();
    front.add_table();
    for (std::size_t i = 0; i < kMaxServiceTables; ++i) {
      NftEncoder table(batch, f, service_table_name(i));
      table.add_table();
      table.delete_table();
      if (i < service_tables_) table.add_table();
    }
    TableChange front_change(true, state.shared_element_refs);
    std::vector<TableChange> service_changes;
    for (std::size_t i = 0; i < service_tables_; ++i) service_changes.emplace_back(false, kNoSharedElements);
    auto add_skeleton = [](TableChange& change, const TableSkeleton& t) {
      for (const auto& s : t.sets) change.sets_to_add.push_back(&s);
      for (const auto& c : t.chains) change.chains_to_add.push_back(&c);
      for (const auto& e : t.elements) change.elements_to_add.push_back(&e);
    };
    add_skeleton(front_change, state.front);
    for (std::size_t i = 0; i < service_tables_; ++i) add_skeleton(service_changes[i], state.service_tables[i]);
    for (const auto& [name, objects] : ports) {
      front_change.add_all(objects);
      service_changes[table_index(name)].add_all(objects);
    }
    if (auto ok = front_change.emit(front); !ok) return std::unexpected(ok.error());
    for (std::size_t i = 0; i < service_tables_; ++i) {
      NftEncoder table(batch, f, service_table_name(i));
      if (auto ok = service_changes[i].emit(table); !ok) return std::unexpected(ok.error());
    }
    // The state's map was empty: the changes are the counts.
    state.shared_element_refs.reserve(front_change.shared_ref_changes.size());
    for (const auto& [key, users] : front_change.shared_ref_changes) state.shared_element_refs.emplace(key, users);
  }
  if (auto ok = commit(batch, true); !ok) return ok;
  committed_ = std::move(desired);
  needs_full_sync_ = false;
  ++stats_.full_syncs;
  count_objects(all_ports);
  stats_.last_sync_duration = Clock::now() - start;
  return {};
}

Result<void> NftablesBackend::sync(const endpoints::Snapshot& /*before*/, const endpoints::Snapshot& after,
                                   const endpoints::SnapshotDiff& diff) {
  if (needs_full_sync_) return full_sync(after);
  // The node's addresses changed under --nodeport-addresses: the skeletons change, rebuild.
  if (local_addresses_) {
    auto node_port_ips = resolve_node_port_ips();
    if (!node_port_ips) return std::unexpected(node_port_ips.error());
    if (node_port_ips->first != options_.generator.node_port_ipv4 || node_port_ips->second != options_.generator.node_port_ipv6)
      return full_sync(after);
  }
  if (diff.empty()) return {};
  const auto start = Clock::now();
  NetlinkBatch batch;
  // The committed state changes only once the kernel took the batch: until then the new
  // objects live here, and the changes refer into both.
  struct FamilyUpdate {
    std::map<ServicePortName, ServicePortObjects> before, ports;
    std::map<std::pair<std::size_t, std::uint32_t>, EndpointGroup> new_groups;  // endpoints-N a port needs first
    std::unique_ptr<TableChange> front;
    std::map<std::size_t, TableChange> service_tables;
  };
  std::map<IpFamily, FamilyUpdate> updates;
  const ServicePortObjects nothing;
  for (IpFamily f : families()) {
    const FamilyState& state = committed_.at(f);
    FamilyUpdate& update = updates[f];
    update.front = std::make_unique<TableChange>(true, state.shared_element_refs);
    for (const auto& c : diff.changes) {
      // What the kernel holds for the port: generated again from the programmed Snapshot.
      const ServicePortObjects& before =
          c.before ? update.before.emplace(c.name, generate_service_port(*c.before, f, options_.generator)).first->second : nothing;
      auto [it, inserted] =
          update.ports.emplace(c.name, c.after ? generate_service_port(*c.after, f, options_.generator) : ServicePortObjects{});
      update.front->compare(before, it->second);
      const std::size_t index = table_index(c.name);
      TableChange& change = update.service_tables.try_emplace(index, false, kNoSharedElements).first->second;
      if (const std::uint32_t n = it->second.endpoint_group; n != 0) {
        const std::pair<std::size_t, std::uint32_t> key{index, n};
        if (!state.endpoint_groups.contains(key) && !update.new_groups.contains(key)) {
          // Made before the elements that fill it: the change adds sets and chains first.
          const auto& group = update.new_groups.emplace(key, make_endpoint_group(f, n, options_.generator)).first->second;
          change.sets_to_add.push_back(&group.map);
          change.chains_to_add.push_back(&group.chain);
        }
      }
      change.compare(before, it->second);
    }
    NftEncoder front(batch, f, kTableName);
    if (auto ok = update.front->emit(front); !ok) return std::unexpected(ok.error());
    for (auto& [index, change] : update.service_tables) {
      NftEncoder table(batch, f, service_table_name(index));
      if (auto ok = change.emit(table); !ok) return std::unexpected(ok.error());
    }
  }
  if (batch.empty()) return {};
  if (auto ok = commit(batch, false); !ok) return ok;
  for (auto& [f, update] : updates) {
    FamilyState& state = committed_.at(f);
    update.front->apply_shared_ref_changes(state.shared_element_refs);
    update.front.reset();  // the changes point into the objects replaced below
    update.service_tables.clear();
    for (auto& [key, group] : update.new_groups) {
      state.endpoint_groups.insert(key);
      state.service_tables[key.first].sets.push_back(std::move(group.map));
      state.service_tables[key.first].chains.push_back(std::move(group.chain));
      ++stats_.chains;
      stats_.rules += state.service_tables[key.first].chains.back().rules.size();
    }
    for (auto& [name, objects] : update.ports) {
      // Counts follow the change: recounting everything would cost O(services) per sync.
      if (auto old = update.before.find(name); old != update.before.end()) count_port(stats_, old->second, -1);
      count_port(stats_, objects, +1);
      if (objects.chains.empty() && objects.elements.empty())
        state.programmed.erase(name_hash(name));
      else
        state.programmed.insert(name_hash(name));
    }
  }
  ++stats_.partial_syncs;
  stats_.last_sync_duration = Clock::now() - start;
  return {};
}

Result<void> NftablesBackend::commit(NetlinkBatch& batch, bool full) {
  stats_.last_batch_messages = batch.messages();
  if (auto ok = socket_.commit(batch); !ok) {
    // The kernel applied nothing; our memory may no longer match whatever else happened to the
    // tables, so the next sync rebuilds them whole.
    needs_full_sync_ = true;
    ++stats_.failed_syncs;
    return std::unexpected(Error{ErrorCode::Internal, (full ? "full sync: " : "partial sync: ") + ok.error().message});
  }
  stats_.last_successful_sync = std::chrono::system_clock::now();
  return {};
}

Result<void> NftablesBackend::cleanup() {
  NetlinkBatch batch;
  for (IpFamily f : {IpFamily::IPv4, IpFamily::IPv6}) {
    std::vector<std::string> tables = {kTableName};
    for (std::size_t i = 0; i < kMaxServiceTables; ++i) tables.push_back(service_table_name(i));
    for (const auto& t : tables) {
      NftEncoder nft(batch, f, t);
      nft.add_table();
      nft.delete_table();
    }
  }
  if (auto ok = socket_.commit(batch); !ok) return std::unexpected(Error{ErrorCode::Internal, "cleanup: " + ok.error().message});
  committed_.clear();
  needs_full_sync_ = true;
  count_objects({});
  return {};
}

void NftablesBackend::count_objects(const std::map<IpFamily, std::map<ServicePortName, ServicePortObjects>>& ports) {
  stats_.chains = stats_.rules = stats_.map_elements = 0;
  auto count_skeleton = [&](const TableSkeleton& t) {
    for (const auto& c : t.chains) {
      ++stats_.chains;
      stats_.rules += c.rules.size();
    }
    stats_.map_elements += t.elements.size();
  };
  for (const auto& [f, state] : committed_) {
    count_skeleton(state.front);
    for (const auto& t : state.service_tables) count_skeleton(t);
    if (auto it = ports.find(f); it != ports.end())
      for (const auto& [name, objects] : it->second) count_port(stats_, objects, +1);
  }
}

std::string NftablesBackend::render_committed(IpFamily family, const endpoints::Snapshot& programmed) const {
  auto it = committed_.find(family);
  if (it == committed_.end()) return {};
  const FamilyState& state = it->second;
  std::map<ServicePortName, ServicePortObjects> ports;
  for (const auto& [name, info] : programmed.service_ports()) {
    auto objects = generate_service_port(*info, family, options_.generator);
    if (!objects.chains.empty() || !objects.elements.empty()) ports.emplace(name, std::move(objects));
  }
  std::vector<const ServicePortObjects*> all;
  std::vector<std::vector<const ServicePortObjects*>> by_table(state.service_tables.size());
  for (const auto& [name, objects] : ports) {
    all.push_back(&objects);
    by_table[table_index(name)].push_back(&objects);
  }
  std::string out = render_table(state.front, all);
  for (std::size_t i = 0; i < state.service_tables.size(); ++i) out += render_table(state.service_tables[i], by_table[i]);
  return out;
}

}  // namespace switchyard::dataplane::nft
