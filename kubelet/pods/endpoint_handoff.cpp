#include "kubelet/pods/endpoint_handoff.h"

#include <algorithm>

namespace switchyard::kubelet {

namespace {
// How often a pod still listed as ready is looked at again (slices change by watch events).
constexpr std::chrono::milliseconds kPollInterval{20};
}  // namespace

EndpointPresence endpoint_presence(const std::vector<const api::EndpointSlice*>& slices, const std::string& pod_uid) {
  bool listed = false;
  for (const auto* slice : slices)
    for (const auto& ep : slice->endpoints) {
      if (!ep.target_ref || ep.target_ref->uid != pod_uid) continue;
      listed = true;
      // An unset ready condition means ready (the API's documented default).
      if (ep.conditions.ready.value_or(true)) return EndpointPresence::StillReady;
    }
  return listed ? EndpointPresence::Withdrawn : EndpointPresence::NotAnEndpoint;
}

std::optional<std::chrono::milliseconds> EndpointHandoff::wait(const std::string& uid, EndpointPresence presence,
                                                               std::chrono::seconds grace, Clock::time_point now) {
  if (!enabled() || grace.count() <= 0) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = states_.try_emplace(uid, State{now, std::nullopt}).first;
  State& s = it->second;
  const auto cap = s.started + std::chrono::duration_cast<Clock::duration>(grace) / 2;
  auto until = [&](Clock::time_point t) -> std::optional<std::chrono::milliseconds> {
    t = std::min(t, cap);
    if (t <= now) return std::nullopt;
    return std::max(std::chrono::milliseconds(1), std::chrono::ceil<std::chrono::milliseconds>(t - now));
  };
  switch (presence) {
    case EndpointPresence::NotAnEndpoint:
      // Never listed: go. Listed before and now gone from every slice: its withdrawal still has
      // to reach the dataplanes.
      return s.withdrawn ? until(*s.withdrawn + delay_) : std::nullopt;
    case EndpointPresence::StillReady:
      return until(now + kPollInterval);
    case EndpointPresence::Withdrawn:
      if (!s.withdrawn) s.withdrawn = now;
      return until(*s.withdrawn + delay_);
  }
  return std::nullopt;
}

void EndpointHandoff::forget(const std::string& uid) {
  std::lock_guard lock(mu_);
  states_.erase(uid);
}

}  // namespace switchyard::kubelet
