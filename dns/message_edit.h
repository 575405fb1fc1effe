// Reading and editing whole DNS responses that came from elsewhere (an upstream server, the
// cache): walk their records, find how long they may be cached, and reshape one for the client
// that asked (its id, its question's case, TTLs aged, OPT kept only if it sent one, truncated
// to what it can take). In place, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dns/wire.h"

namespace switchyard::dns {

struct RecordView {
  int section = 0;               // ResponseWriter::kAnswer, kAuthority, kAdditional
  std::size_t owner_offset = 0;  // where the (possibly compressed) owner name starts
  std::uint16_t type = 0, klass = 0;
  std::uint32_t ttl = 0;
  std::size_t ttl_offset = 0;  // where the 4 TTL bytes are
  std::size_t rdata_offset = 0;
  std::uint16_t rdlength = 0;
  std::size_t end = 0;  // one past the record
};

// Calls `visit` for each record after the question; false when the message is malformed
// (a record runs past the end, a name is broken, there is not exactly one question).
template <class Visit>
bool for_each_record(std::span<const std::uint8_t> msg, Visit&& visit);

// The offset just past the (single) question, or nullopt.
std::optional<std::size_t> question_end(std::span<const std::uint8_t> msg);

struct CacheLifetime {
  std::uint32_t ttl = 0;
  bool negative = false;  // NXDOMAIN or NODATA: TTL from the SOA (min of its TTL and MINIMUM)
};
// How long a response may be cached, before caps; nullopt when it must not be (SERVFAIL,
// REFUSED, truncated, a negative answer without SOA, malformed).
std::optional<CacheLifetime> cache_lifetime(std::span<const std::uint8_t> msg);

// Copies `upstream` into `out` as the answer to `q`: q's id, RD as q asked, AA off, RA on, the question as q
// wrote it, TTLs reduced by `age_seconds`, the OPT record dropped when q had none. When the
// result is longer than `room`, answers header and question only with TC set, so that the
// client retries over TCP. Returns the length, 0 when `upstream` is unusable.
std::size_t shape_response(std::span<const std::uint8_t> upstream, const Query& q, std::uint32_t age_seconds, std::span<std::uint8_t> out,
                           std::size_t room);

// Builds the query sent upstream for q (id 0: the resolver library picks one): RD set, q's
// name as written, EDNS0 with a 1232-byte payload and q's DO bit. Returns the length.
std::size_t build_upstream_query(const Query& q, std::span<std::uint8_t> out);

// --- implementation of the template ---
namespace detail {
bool skip_name(std::span<const std::uint8_t> msg, std::size_t& at);
}

template <class Visit>
bool for_each_record(std::span<const std::uint8_t> msg, Visit&& visit) {
  auto at = question_end(msg);
  if (!at) return false;
  std::size_t pos = *at;
  const int counts[3] = {msg[6] << 8 | msg[7], msg[8] << 8 | msg[9], msg[10] << 8 | msg[11]};
  for (int s = 0; s < 3; ++s)
    for (int i = 0; i < counts[s]; ++i) {
      RecordView r;
      r.section = s;
      r.owner_offset = pos;
      if (!detail::skip_name(msg, pos) || pos + 10 > msg.size()) return false;
      r.type = static_cast<std::uint16_t>(msg[pos] << 8 | msg[pos + 1]);
      r.klass = static_cast<std::uint16_t>(msg[pos + 2] << 8 | msg[pos + 3]);
      r.ttl_offset = pos + 4;
      r.ttl = static_cast<std::uint32_t>(msg[pos + 4]) << 24 | static_cast<std::uint32_t>(msg[pos + 5]) << 16 |
              static_cast<std::uint32_t>(msg[pos + 6]) << 8 | msg[pos + 7];
      r.rdlength = static_cast<std::uint16_t>(msg[pos + 8] << 8 | msg[pos + 9]);
      r.rdata_offset = pos + 10;
      r.end = r.rdata_offset + r.rdlength;
      if (r.end > msg.size()) return false;
      visit(r);
      pos = r.end;
    }
  return true;
}

}  // namespace switchyard::dns
