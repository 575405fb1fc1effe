// apiserver_bench's wire comparison: the same list and the same watch fan-out asked for in JSON
// and in protobuf (Accept), in the same run: bytes on the wire and CPU per object.
#pragma once

#include <string>

#include "bench/apiserver_bench_client.h"

namespace switchyard::bench {

struct WireFigures {
  std::string content_type;
  std::size_t list_bytes = 0, list_items = 0;
  double list_ms = 0, list_cpu_ms = 0;  // medians of 3; CPU of the whole process (server + a client that only reads)
  int watchers = 0, events = 0, missing = 0;
  std::size_t watch_bytes = 0;  // every watcher's stream bodies during the measured events
  double watch_cpu_ms = 0;      // process CPU from the first measured PUT until every watcher has the last event
  double latency_p50_ms = 0, latency_p99_ms = 0;
};

WireFigures run_wire(const Target& t, const std::string& content_type, int watchers, int events);

}  // namespace switchyard::bench
