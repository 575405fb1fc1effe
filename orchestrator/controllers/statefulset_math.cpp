// StatefulSet ordering, partitions and counts (pure; see statefulset_math.h).
#include "orchestrator/controllers/statefulset_math.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace switchyard::controllers::sts {

std::optional<int> parse_ordinal(const std::string& parent, const std::string& pod_name) {
  if (pod_name.size() <= parent.size() + 1 || !pod_name.starts_with(parent) || pod_name[parent.size()] != '-') return std::nullopt;
  const std::string digits = pod_name.substr(parent.size() + 1);
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;  // "web-01" is not web's pod 1
  return std::stoi(digits);
}

std::string pod_name(const std::string& parent, int ordinal) { return fmt::format("{}-{}", parent, ordinal); }

Plan plan(const Spec& spec, const std::vector<PodState>& pods, const std::string& current_revision, const std::string& update_revision) {
  Plan out;
  const bool monotonic = !spec.parallel;
  const int end = spec.start + std::max(0, spec.replicas);
  std::map<int, const PodState*> slots;
  std::vector<const PodState*> condemned;
  for (const auto& p : pods) {
    if (p.ordinal >= spec.start && p.ordinal < end)
      slots.try_emplace(p.ordinal, &p);
    else
      condemned.push_back(&p);
  }
  // Scale down from the highest ordinal.
  std::sort(condemned.begin(), condemned.end(), [](const PodState* a, const PodState* b) { return a->ordinal > b->ordinal; });
  const bool rolling_from_old = current_revision != update_revision && !spec.on_delete;

  // Every ordinal in range exists and is healthy, in order (OrderedReady waits at the first that is not).
  for (int ord = spec.start; ord < end; ++ord) {
    auto it = slots.find(ord);
    if (it == slots.end()) {
      out.create.push_back({ord, rolling_from_old && ord < spec.start + spec.partition});
      if (monotonic) return out;
      continue;
    }
    const PodState& p = *it->second;
    if (p.failed && !p.terminating) {
      out.remove.push_back(ord);  // recreated once it is gone
      if (monotonic) return out;
      continue;
    }
    if (monotonic && (p.terminating || !p.available)) return out;
  }

  // Then the condemned, highest first; one at a time unless Parallel.
  for (const PodState* p : condemned) {
    if (p->terminating) {
      if (monotonic) return out;
      continue;
    }
    out.remove.push_back(p->ordinal);
    if (monotonic) return out;
  }
  if (!out.create.empty() || !out.remove.empty() || spec.on_delete) return out;

  // RollingUpdate: from the highest ordinal down to the partition, replace pods not at the update
  // revision, no more than maxUnavailable unavailable at once.
  int unavailable = 0;
  for (int ord = spec.start; ord < end; ++ord) {
    auto it = slots.find(ord);
    if (it == slots.end() || it->second->terminating || !it->second->available) ++unavailable;
  }
  const int budget = std::max(1, spec.max_unavailable) - unavailable;
  if (budget <= 0) return out;
  for (int ord = end - 1; ord >= spec.start + std::max(0, spec.partition); --ord) {
    auto it = slots.find(ord);
    if (it == slots.end() || it->second->terminating || it->second->revision == update_revision) continue;
    out.remove.push_back(ord);
    if (static_cast<int>(out.remove.size()) >= budget) break;
  }
  return out;
}

Counts count(const std::vector<PodState>& pods, const std::string& current_revision, const std::string& update_revision) {
  Counts c;
  for (const auto& p : pods) {
    ++c.replicas;
    if (p.running_ready) ++c.ready;
    if (p.available) ++c.available;
    if (p.terminating) continue;
    if (p.revision == current_revision) ++c.current;
    if (p.revision == update_revision) ++c.updated;
  }
  return c;
}

int resolve_max_unavailable(bool is_percent, int value, int replicas) {
  const int n = is_percent ? (value * replicas + 99) / 100 : value;
  return std::max(1, n);
}

std::string revision_hash(const std::string& data, std::int32_t collision_count) {
  std::uint32_t h = 2166136261u;  // FNV-1, 32 bit
  auto mix = [&h](const std::string& s) {
    for (unsigned char ch : s) {
      h *= 16777619u;
      h ^= ch;
    }
  };
  mix(data);
  if (collision_count > 0) mix(std::to_string(collision_count));
  // rand.SafeEncodeString: each character of the decimal form mapped into a vowel-free alphabet.
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (char ch : std::to_string(h)) out += kAlphabet[static_cast<unsigned char>(ch) % kAlphabet.size()];
  return out;
}

}  // namespace switchyard::controllers::sts
