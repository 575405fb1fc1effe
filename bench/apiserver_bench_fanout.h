// apiserver_bench's watch fan-out: one Service updated while many watchers follow its
// namespace over raw sockets read by one epoll thread, each event's latency to every watcher.
#pragma once

#include <vector>

#include "bench/apiserver_bench_client.h"

namespace switchyard::bench {

struct FanOutFigures {
  int watchers = 0, events = 0, missing = 0;
  double connect_s = 0;
  std::vector<double> latencies_ms;  // every (event, watcher): receipt - write acknowledgement
  std::vector<double> from_send_ms;  // every (event, watcher): receipt - the PUT's sending
  std::vector<double> last_ms;       // per event: the last watcher's receipt - acknowledgement
  std::vector<double> write_ms;      // per event: the PUT's own latency
  int before_ack = 0;                // receipts that came before the PUT's response
};

FanOutFigures run_fan_out(const Target& t, int watchers, int events);

}  // namespace switchyard::bench
