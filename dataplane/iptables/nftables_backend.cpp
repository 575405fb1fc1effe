#include "dataplane/iptables/nftables_backend.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "dataplane/iptables/nft_encoder.h"

namespace switchyard::dataplane::nft {
namespace {

using endpoints::ServicePortName;
using Clock = std::chrono::steady_clock;

// Elements without a verdict (the cluster-ips set) may be shared by several ports of a service.
bool is_shared(const Element& e) { return !e.verdict.has_value(); }

// Sorted by set name so that the encoder packs many elements into one message.
void sort_by_set(std::vector<const Element*>& elements) {
  std::ranges::stable_sort(elements, [](const Element* a, const Element* b) { return a->set < b->set; });
}

// The changes one sync makes to one family's table, gathered across every changed port and
// emitted in an order the kernel accepts inside one transaction: objects are created before
// anything refers to them, and references are dropped before what they refer to is deleted.
struct FamilyChange {
  using Key = std::pair<std::string, ElementKey>;
  explicit FamilyChange(const std::map<Key, int>& refs) : shared_refs(refs) {}

  std::vector<const Set*> sets_to_add;
  std::vector<const Chain*> chains_to_add;       // created, then filled
  std::vector<const Chain*> chains_to_refill;    // flushed, then filled
  std::vector<std::string> chains_to_delete;     // flushed, then deleted
  std::vector<std::string> sets_to_delete;
  std::vector<const Element*> elements_to_delete, elements_to_add;

  const std::map<Key, int>& shared_refs;  // committed users of each shared element
  std::map<Key, int> shared_ref_changes;  // applied once the batch is committed

  int users(const Key& key) const {
    auto a = shared_refs.find(key);
    auto b = shared_ref_changes.find(key);
    return (a == shared_refs.end() ? 0 : a->second) + (b == shared_ref_changes.end() ? 0 : b->second);
  }

  void compare(const ServicePortObjects& before, const ServicePortObjects& after) {
    std::map<std::string, const Chain*> old_chains, new_chains;
    for (const auto& c : before.chains) old_chains[c.name] = &c;
    for (const auto& c : after.chains) new_chains[c.name] = &c;
    for (const auto& [name, chain] : new_chains) {
      auto it = old_chains.find(name);
      if (it == old_chains.end()) chains_to_add.push_back(chain);
      else if (!(*it->second == *chain)) chains_to_refill.push_back(chain);
    }
    for (const auto& [name, chain] : old_chains)
      if (!new_chains.contains(name)) chains_to_delete.push_back(name);

    std::set<std::string> old_sets, new_sets;
    for (const auto& s : before.sets) old_sets.insert(s.name);
    for (const auto& s : after.sets) new_sets.insert(s.name);
    for (const auto& s : after.sets)
      if (!old_sets.contains(s.name)) sets_to_add.push_back(&s);
    for (const auto& s : before.sets)
      if (!new_sets.contains(s.name)) sets_to_delete.push_back(s.name);

    std::map<Key, const Element*> old_elements, new_elements;
    for (const auto& e : before.elements) old_elements[{e.set, e.key}] = &e;
    for (const auto& e : after.elements) new_elements[{e.set, e.key}] = &e;
    for (const auto& [key, e] : old_elements) {
      auto it = new_elements.find(key);
      if (it != new_elements.end() && *it->second == *e) continue;
      if (is_shared(*e) && it == new_elements.end()) {
        --shared_ref_changes[key];
        if (users(key) > 0) continue;
      }
      elements_to_delete.push_back(e);
    }
    for (const auto& [key, e] : new_elements) {
      auto it = old_elements.find(key);
      if (it != old_elements.end() && *it->second == *e) continue;
      if (is_shared(*e) && it == old_elements.end()) {
        const bool already_there = users(key) > 0;
        ++shared_ref_changes[key];
        if (already_there) continue;
      }
      elements_to_add.push_back(e);
    }
  }

  void apply_shared_ref_changes(std::map<Key, int>& refs) const {
    for (const auto& [key, change] : shared_ref_changes)
      if ((refs[key] += change) <= 0) refs.erase(key);
  }

  std::expected<void, Error> emit(NftEncoder& nft) {
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

NftablesBackend::NftablesBackend(NftablesBackendOptions options, NftSocket socket)
    : options_(std::move(options)), socket_(std::move(socket)) {}

std::expected<std::unique_ptr<NftablesBackend>, Error> NftablesBackend::create(NftablesBackendOptions options) {
  auto socket = NftSocket::open();
  if (!socket) return std::unexpected(socket.error());
  return std::unique_ptr<NftablesBackend>(new NftablesBackend(std::move(options), std::move(*socket)));
}

std::vector<IpFamily> NftablesBackend::families() const {
  std::vector<IpFamily> out;
  if (options_.ipv4) out.push_back(IpFamily::IPv4);
  if (options_.ipv6) out.push_back(IpFamily::IPv6);
  return out;
}

std::expected<void, Error> NftablesBackend::full_sync(const endpoints::Snapshot& snapshot) {
  const auto start = Clock::now();
  NetlinkBatch batch;
  std::map<IpFamily, FamilyState> desired;
  for (IpFamily f : families()) {
    FamilyState& state = desired[f];
    state.skeleton = make_skeleton(f, options_.generator);
    for (const auto& [name, info] : snapshot.service_ports()) {
      auto objects = generate_service_port(*info, f, options_.generator);
      if (objects.chains.empty() && objects.elements.empty()) continue;
      state.ports.emplace(name, std::move(objects));
    }
    // Adding then deleting the table removes whatever was there (ours, from a previous run or a
    // failed sync) without failing when there was nothing; the kernel applies it all at once.
    NftEncoder nft(batch, f);
    nft.add_table();
    nft.delete_table();
    nft.add_table();
    FamilyChange change(state.shared_element_refs);
    for (const auto& s : state.skeleton.sets) change.sets_to_add.push_back(&s);
    for (const auto& c : state.skeleton.chains) change.chains_to_add.push_back(&c);
    ServicePortObjects nothing;
    for (const auto& [name, objects] : state.ports) change.compare(nothing, objects);
    if (auto ok = change.emit(nft); !ok) return std::unexpected(ok.error());
    change.apply_shared_ref_changes(state.shared_element_refs);
  }
  if (auto ok = commit(batch, true); !ok) return ok;
  committed_ = std::move(desired);
  needs_full_sync_ = false;
  ++stats_.full_syncs;
  count_objects();
  stats_.last_sync_duration = Clock::now() - start;
  return {};
}

std::expected<void, Error> NftablesBackend::sync(const endpoints::Snapshot& /*before*/, const endpoints::Snapshot& after,
                                                 const endpoints::SnapshotDiff& diff) {
  if (needs_full_sync_) return full_sync(after);
  if (diff.empty()) return {};
  const auto start = Clock::now();
  NetlinkBatch batch;
  // The committed state changes only once the kernel took the batch: until then the new
  // objects live here, and the change refers into both.
  struct FamilyUpdate {
    std::map<ServicePortName, ServicePortObjects> ports;
    std::unique_ptr<FamilyChange> change;
  };
  std::map<IpFamily, FamilyUpdate> updates;
  const ServicePortObjects nothing;
  for (IpFamily f : families()) {
    const FamilyState& state = committed_.at(f);
    FamilyUpdate& update = updates[f];
    update.change = std::make_unique<FamilyChange>(state.shared_element_refs);
    for (const auto& c : diff.changes) {
      auto old_it = state.ports.find(c.name);
      const ServicePortObjects& before = old_it == state.ports.end() ? nothing : old_it->second;
      auto [it, inserted] = update.ports.emplace(
          c.name, c.after ? generate_service_port(*c.after, f, options_.generator) : ServicePortObjects{});
      update.change->compare(before, it->second);
    }
    NftEncoder nft(batch, f);
    if (auto ok = update.change->emit(nft); !ok) return std::unexpected(ok.error());
  }
  if (batch.empty()) return {};
  if (auto ok = commit(batch, false); !ok) return ok;
  for (auto& [f, update] : updates) {
    FamilyState& state = committed_.at(f);
    update.change->apply_shared_ref_changes(state.shared_element_refs);
    update.change.reset();  // it points into the objects replaced below
    for (auto& [name, objects] : update.ports) {
      if (objects.chains.empty() && objects.elements.empty()) state.ports.erase(name);
      else state.ports[name] = std::move(objects);
    }
  }
  ++stats_.partial_syncs;
  count_objects();
  stats_.last_sync_duration = Clock::now() - start;
  return {};
}

std::expected<void, Error> NftablesBackend::commit(NetlinkBatch& batch, bool full) {
  stats_.last_batch_messages = batch.messages();
  if (auto ok = socket_.commit(batch); !ok) {
    // The kernel applied nothing; our memory may no longer match whatever else happened to the
    // table, so the next sync rebuilds it whole.
    needs_full_sync_ = true;
    ++stats_.failed_syncs;
    return std::unexpected(Error{(full ? "full sync: " : "partial sync: ") + ok.error().message});
  }
  stats_.last_successful_sync = std::chrono::system_clock::now();
  return {};
}

std::expected<void, Error> NftablesBackend::cleanup() {
  NetlinkBatch batch;
  for (IpFamily f : {IpFamily::IPv4, IpFamily::IPv6}) {
    NftEncoder nft(batch, f);
    nft.add_table();
    nft.delete_table();
  }
  if (auto ok = socket_.commit(batch); !ok) return std::unexpected(Error{"cleanup: " + ok.error().message});
  committed_.clear();
  needs_full_sync_ = true;
  count_objects();
  return {};
}

void NftablesBackend::count_objects() {
  stats_.chains = stats_.rules = stats_.map_elements = 0;
  for (const auto& [f, state] : committed_) {
    auto count_chain = [&](const Chain& c) {
      ++stats_.chains;
      stats_.rules += c.rules.size();
    };
    for (const auto& c : state.skeleton.chains) count_chain(c);
    for (const auto& [name, objects] : state.ports) {
      for (const auto& c : objects.chains) count_chain(c);
      stats_.map_elements += objects.elements.size();
    }
  }
}

std::string NftablesBackend::render_committed(IpFamily family) const {
  auto it = committed_.find(family);
  if (it == committed_.end()) return {};
  std::vector<const ServicePortObjects*> ports;
  for (const auto& [name, objects] : it->second.ports) ports.push_back(&objects);
  return render_table(it->second.skeleton, ports);
}

}  // namespace switchyard::dataplane::nft
