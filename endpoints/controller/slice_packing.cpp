#include "endpoints/controller/slice_packing.h"

#include <algorithm>
#include <optional>

#include "endpoints/controller/slice_identity.h"

namespace switchyard::slice_controller {
namespace {

enum class Fate { Unchanged, Update, Delete };

struct WorkingSlice {
  api::EndpointSlice slice;
  Fate fate = Fate::Unchanged;
};

void fill(api::EndpointSlice& slice, DesiredEndpoints& desired, std::size_t max) {
  while (!desired.empty() && slice.endpoints.size() < max) {
    auto node = desired.extract(desired.begin());
    slice.endpoints.push_back(std::move(node.mapped()));
  }
}

// The unchanged slice that `count` more endpoints would bring closest to full without
// overflowing it (getSliceToFill).
std::optional<std::size_t> best_fit(const std::vector<WorkingSlice>& slices, std::size_t count, std::size_t max) {
  std::optional<std::size_t> best;
  std::size_t best_room = max;
  for (std::size_t i = 0; i < slices.size(); ++i) {
    if (slices[i].fate != Fate::Unchanged) continue;
    const std::size_t used = slices[i].slice.endpoints.size() + count;
    if (used > max) continue;
    const std::size_t room = max - used;
    if (room < best_room) {
      best_room = room;
      best = i;
      if (room == 0) break;
    }
  }
  return best;
}

}  // namespace

void SlicePlan::append(SlicePlan&& other) {
  auto move_into = [](auto& to, auto& from) { std::move(from.begin(), from.end(), std::back_inserter(to)); };
  move_into(to_create, other.to_create);
  move_into(to_update, other.to_update);
  move_into(to_delete, other.to_delete);
  move_into(unchanged, other.unchanged);
}

SlicePlan pack_endpoints(std::vector<api::EndpointSlice> existing, DesiredEndpoints desired, const api::StringMap& labels,
                         const api::EndpointSlice& new_slice, std::size_t max) {
  std::vector<WorkingSlice> slices;
  slices.reserve(existing.size());

  // 1. Keep what is still desired where it is.
  for (auto& slice : existing) {
    std::vector<api::SliceEndpoint> kept;
    bool endpoint_changed = false;
    for (const auto& ep : slice.endpoints) {
      auto wanted = desired.find(endpoint_identity(ep));
      if (wanted == desired.end()) continue;  // gone, or a duplicate of one kept already
      if (!same_beyond_identity(wanted->second, ep)) endpoint_changed = true;
      kept.push_back(std::move(wanted->second));
      desired.erase(wanted);
    }
    WorkingSlice w{std::move(slice), Fate::Unchanged};
    if (endpoint_changed || kept.size() != w.slice.endpoints.size()) {
      w.fate = kept.empty() ? Fate::Delete : Fate::Update;
      if (w.fate == Fate::Update) w.slice.endpoints = std::move(kept);  // a deleted slice stays as it was
    }
    if (w.slice.metadata.labels != labels && w.fate != Fate::Delete) {
      w.slice.metadata.labels = labels;
      w.fate = Fate::Update;
    }
    slices.push_back(std::move(w));
  }

  // 2. Top up the slices that are written anyway, fullest first.
  if (!desired.empty()) {
    std::vector<WorkingSlice*> updating;
    for (auto& w : slices)
      if (w.fate == Fate::Update) updating.push_back(&w);
    std::stable_sort(updating.begin(), updating.end(),
                     [](const WorkingSlice* a, const WorkingSlice* b) { return a->slice.endpoints.size() > b->slice.endpoints.size(); });
    for (auto* w : updating) fill(w->slice, desired, max);
  }

  // 3. The rest: into the best-fitting unchanged slice when all of it fits there, else new slices.
  SlicePlan plan;
  while (!desired.empty()) {
    std::optional<std::size_t> target;
    if (desired.size() < max) target = best_fit(slices, desired.size(), max);
    if (target) {
      fill(slices[*target].slice, desired, max);
      slices[*target].fate = Fate::Update;
    } else {
      api::EndpointSlice created = new_slice;
      fill(created, desired, max);
      plan.to_create.push_back(std::move(created));
    }
  }

  for (auto& w : slices) {
    switch (w.fate) {
      case Fate::Unchanged:
        plan.unchanged.push_back(std::move(w.slice));
        break;
      case Fate::Update:
        plan.to_update.push_back(std::move(w.slice));
        break;
      case Fate::Delete:
        plan.to_delete.push_back(std::move(w.slice));
        break;
    }
  }
  return plan;
}

}  // namespace switchyard::slice_controller
