#include "dns/message_edit.h"

#include <algorithm>
#include <cstring>

namespace switchyard::dns {

namespace {

void put16(std::span<std::uint8_t> p, std::size_t at, std::uint16_t v) {
  p[at] = static_cast<std::uint8_t>(v >> 8);
  p[at + 1] = static_cast<std::uint8_t>(v);
}

void put32(std::span<std::uint8_t> p, std::size_t at, std::uint32_t v) {
  put16(p, at, static_cast<std::uint16_t>(v >> 16));
  put16(p, at + 2, static_cast<std::uint16_t>(v));
}

// Writes `dotted` ("Example.COM.") as labels at out[at]; returns the new offset, 0 if it does not fit.
std::size_t write_labels(std::string_view dotted, std::span<std::uint8_t> out, std::size_t at) {
  std::size_t i = 0;
  while (i < dotted.size() && dotted != ".") {
    std::size_t dot = dotted.find('.', i);
    if (dot == std::string_view::npos) dot = dotted.size();
    const std::size_t len = dot - i;
    if (len == 0 || len > 63 || at + 1 + len >= out.size()) return 0;
    out[at++] = static_cast<std::uint8_t>(len);
    std::memcpy(&out[at], dotted.data() + i, len);
    at += len;
    i = dot + 1;
  }
  if (at >= out.size()) return 0;
  out[at++] = 0;
  return at;
}

}  // namespace

namespace detail {
bool skip_name(std::span<const std::uint8_t> msg, std::size_t& at) {
  for (int labels = 0; labels < 128; ++labels) {
    if (at >= msg.size()) return false;
    const std::uint8_t len = msg[at];
    if ((len & 0xC0) == 0xC0) {
      at += 2;
      return at <= msg.size();
    }
    if (len & 0xC0) return false;
    at += 1 + len;
    if (len == 0) return true;
  }
  return false;
}
}  // namespace detail

std::optional<std::size_t> question_end(std::span<const std::uint8_t> msg) {
  if (msg.size() < 12 || msg[4] != 0 || msg[5] != 1) return std::nullopt;
  std::size_t at = 12;
  if (!detail::skip_name(msg, at) || at + 4 > msg.size()) return std::nullopt;
  return at + 4;
}

std::optional<CacheLifetime> cache_lifetime(std::span<const std::uint8_t> msg) {
  if (msg.size() < 12 || (msg[2] & 0x02)) return std::nullopt;  // truncated: the full answer is elsewhere
  const int rcode = msg[3] & 0xF;
  if (rcode != kNoError && rcode != kNxDomain) return std::nullopt;
  std::optional<std::uint32_t> min_ttl, soa_ttl;
  int answers = 0;
  const bool ok = for_each_record(msg, [&](const RecordView& r) {
    if (r.type == kOPT) return;
    if (r.section == ResponseWriter::kAnswer) ++answers;
    if (r.section != ResponseWriter::kAdditional) min_ttl = std::min(min_ttl.value_or(r.ttl), r.ttl);
    if (r.section == ResponseWriter::kAuthority && r.type == kSOA && r.rdlength >= 22) {
      const std::size_t m = r.end - 4;  // MINIMUM is the last field
      const std::uint32_t minimum = static_cast<std::uint32_t>(msg[m]) << 24 | static_cast<std::uint32_t>(msg[m + 1]) << 16 |
                                    static_cast<std::uint32_t>(msg[m + 2]) << 8 | msg[m + 3];
      soa_ttl = std::min(r.ttl, minimum);  // RFC 2308 section 5
    }
  });
  if (!ok) return std::nullopt;
  if (rcode == kNoError && answers > 0) return CacheLifetime{*min_ttl, false};
  if (!soa_ttl) return std::nullopt;  // a negative answer that does not say for how long
  return CacheLifetime{*soa_ttl, true};
}

std::size_t shape_response(std::span<const std::uint8_t> upstream, const Query& q, std::uint32_t age_seconds, std::span<std::uint8_t> out,
                           std::size_t room) {
  const auto qend = question_end(upstream);
  if (!qend) return 0;
  // Find the OPT record: kept only when the client sent one (RFC 6891 6.1.1).
  std::size_t opt_begin = 0, opt_end = 0;
  if (!for_each_record(upstream, [&](const RecordView& r) {
        if (r.type == kOPT && r.section == ResponseWriter::kAdditional) opt_begin = r.owner_offset, opt_end = r.end;
      }))
    return 0;
  const bool drop_opt = opt_end != 0 && !q.edns;
  const std::size_t full = upstream.size() - (drop_opt ? opt_end - opt_begin : 0);
  room = std::min(room, out.size());
  std::size_t len;
  if (full > room) {
    // Too big for the client over UDP: the question alone with TC, so it asks again over TCP.
    if (*qend > room) return 0;
    std::memcpy(out.data(), upstream.data(), *qend);
    std::fill(out.begin() + 6, out.begin() + 12, std::uint8_t{0});
    out[2] |= 0x02;
    len = *qend;
  } else if (drop_opt) {
    std::memcpy(out.data(), upstream.data(), opt_begin);
    std::memcpy(out.data() + opt_begin, upstream.data() + opt_end, upstream.size() - opt_end);
    put16(out, 10, static_cast<std::uint16_t>((upstream[10] << 8 | upstream[11]) - 1));
    len = full;
  } else {
    std::memcpy(out.data(), upstream.data(), upstream.size());
    len = upstream.size();
  }
  put16(out, 0, q.id);
  // RD as the client asked; AA off (we are not the authority, RFC 1035 6.2); RA on (we recurse).
  out[2] = static_cast<std::uint8_t>((out[2] & ~0x05) | ((q.flags >> 8) & 0x01));
  out[3] |= 0x80;
  // The question as the client wrote it (same name, maybe other case): same length on the wire.
  if (!q.original_name.empty() && q.original_name.size() == q.name.size()) write_labels(q.original_name, out.first(*qend), 12);
  if (age_seconds > 0)
    for_each_record(std::span<const std::uint8_t>(out.data(), len), [&](const RecordView& r) {
      if (r.type != kOPT) put32(out, r.ttl_offset, r.ttl > age_seconds ? r.ttl - age_seconds : 0);
    });
  return len;
}

std::size_t build_upstream_query(const Query& q, std::span<std::uint8_t> out) {
  if (out.size() < 12) return 0;
  const std::uint16_t flags = 0x0100 | (q.flags & 0x0010);  // RD, and CD as the client asked
  const std::uint8_t header[12] = {0, 0, static_cast<std::uint8_t>(flags >> 8), static_cast<std::uint8_t>(flags), 0, 1, 0, 0, 0, 0, 0, 1};
  std::memcpy(out.data(), header, sizeof header);
  std::size_t at = write_labels(q.original_name.empty() ? q.name : q.original_name, out, 12);
  if (at == 0 || at + 4 + 11 > out.size()) return 0;
  put16(out, at, q.type);
  put16(out, at + 2, q.klass);
  at += 4;
  const std::uint8_t opt[11] = {0, 0, kOPT, 0x04, 0xD0 /* 1232 */, 0, 0, static_cast<std::uint8_t>(q.dnssec_ok ? 0x80 : 0), 0, 0, 0};
  std::memcpy(out.data() + at, opt, sizeof opt);
  return at + sizeof opt;
}

}  // namespace switchyard::dns
