// The endpoint hand-off before a gracefully deleted pod's containers are stopped.
//
// On deletion the EndpointSlice controller marks the pod's endpoints not ready, and every node's
// dataplane then stops sending it new connections. Upstream's kubelet does not wait for that: it
// runs preStop and sends SIGTERM at once, so a server that exits on SIGTERM refuses the
// connections its Service still sends it for a moment, unless the user adds a preStop sleep. Our
// kubelet waits instead: until the pod's EndpointSlice endpoints show it not ready (the
// controller has seen the deletion) and then for a propagation delay (the dataplanes have
// programmed it; their sync takes milliseconds). A pod that is no Service's endpoint, a forced
// delete (grace 0) and a zero delay (the hand-off disabled) stop at once; the wait never takes
// more than half the grace period, so the containers keep time to stop cleanly.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/api/types.h"

namespace switchyard::kubelet {

enum class EndpointPresence {
  NotAnEndpoint,  // no EndpointSlice lists the pod: nothing sends it traffic
  StillReady,     // some slice still lists it as ready: the controller has not caught up
  Withdrawn,      // listed, and not ready anywhere: the dataplanes are told to stop using it
};

// Where the pod stands in these slices (those of its namespace), by target reference uid.
EndpointPresence endpoint_presence(const std::vector<const api::EndpointSlice*>& slices, const std::string& pod_uid);

class EndpointHandoff {
 public:
  using Clock = std::chrono::steady_clock;
  explicit EndpointHandoff(std::chrono::milliseconds propagation_delay) : delay_(propagation_delay) {}

  // How much longer the pod `uid` keeps running before its containers are stopped; nullopt: stop
  // now. Called again after the returned wait, with the presence as it is then.
  std::optional<std::chrono::milliseconds> wait(const std::string& uid, EndpointPresence presence, std::chrono::seconds grace,
                                                Clock::time_point now);
  void forget(const std::string& uid);
  bool enabled() const { return delay_.count() > 0; }

 private:
  struct State {
    Clock::time_point started;
    std::optional<Clock::time_point> withdrawn;
  };
  std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::map<std::string, State> states_;  // by pod uid, while a hand-off runs
};

}  // namespace switchyard::kubelet
