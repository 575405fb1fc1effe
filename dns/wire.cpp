#include "dns/wire.h"

#include <cstring>

namespace switchyard::dns {

namespace {

std::uint16_t get16(std::span<const std::uint8_t> p, std::size_t at) { return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]); }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool read_name(std::span<const std::uint8_t> packet, std::size_t& offset, std::string& out) {
  out.clear();
  std::size_t at = offset;
  bool jumped = false;
  std::size_t wire_length = 0;
  for (int hops = 0;; ++hops) {
    if (at >= packet.size() || hops > 127) return false;
    const std::uint8_t len = packet[at];
    if ((len & 0xC0) == 0xC0) {
      if (at + 1 >= packet.size()) return false;
      const std::size_t target = static_cast<std::size_t>((len & 0x3F) << 8 | packet[at + 1]);
      if (target >= at) return false;  // only backward pointers: no loops
      if (!jumped) offset = at + 2;
      jumped = true;
      at = target;
      continue;
    }
    if (len & 0xC0) return false;  // 0x40/0x80 label types are obsolete
    if (len == 0) {
      if (!jumped) offset = at + 1;
      if (out.empty()) out = ".";
      return true;
    }
    wire_length += len + 1;
    if (wire_length > 254 || at + 1 + len > packet.size()) return false;
    // The label whole, then lowercased in place: one append per label, not one per byte.
    const std::size_t from = out.size();
    out.append(reinterpret_cast<const char*>(&packet[at + 1]), len);
    for (std::size_t i = from; i < out.size(); ++i) {
      const char c = out[i];
      if (c == '.' || c == '\\') return false;  // no escaped dots in cluster names
      out[i] = lower(c);
    }
    out += '.';
    at += 1 + len;
  }
}

std::expected<Query, ParseFailure> parse_query(std::span<const std::uint8_t> p) {
  Query q;
  ParseFailure failure;
  if (!parse_query_into(p, q, failure)) return std::unexpected(failure);
  return q;
}

bool parse_query_into(std::span<const std::uint8_t> p, Query& q, ParseFailure& failure) {
  // Every field is set here: `q` may hold the previous query.
  q.edns = false;
  q.udp_payload = kMaxUdpWithoutEdns;
  q.dnssec_ok = false;
  auto fail_with = [&](ParseFailure f) {
    failure = f;
    return false;
  };
  if (p.size() < 12) return fail_with(ParseFailure{false, 0, 0, kFormErr, "shorter than a header"});
  q.id = get16(p, 0);
  q.flags = get16(p, 2);
  const std::uint16_t qd = get16(p, 4), an = get16(p, 6), ns = get16(p, 8), ar = get16(p, 10);
  ParseFailure fail{true, q.id, q.flags, kFormErr, ""};
  if (q.flags & 0x8000) return fail_with(ParseFailure{false, q.id, q.flags, kFormErr, "a response, not a query"});
  if (q.opcode() != 0) {
    fail.rcode = kNotImp;
    fail.reason = "opcode not supported";
    return fail_with(fail);
  }
  if (qd != 1 || an != 0 || ns != 0 || ar > 1) {
    fail.reason = "a query must have one question and at most one additional record";
    return fail_with(fail);
  }
  std::size_t at = 12;
  if (!read_name(p, at, q.name) || at + 4 > p.size()) {
    fail.reason = "malformed question";
    return fail_with(fail);
  }
  q.type = get16(p, at);
  q.klass = get16(p, at + 2);
  at += 4;
  // The question is echoed as asked: read it again keeping case.
  {
    std::size_t o = 12;
    q.original_name.clear();
    while (o < p.size() && p[o] != 0 && (p[o] & 0xC0) == 0) {
      q.original_name.append(reinterpret_cast<const char*>(&p[o + 1]), p[o]);
      q.original_name += '.';
      o += 1 + p[o];
    }
    if (q.original_name.size() != q.name.size() || q.original_name.empty()) q.original_name = q.name;
  }
  if (ar == 1) {
    std::string opt_owner;
    if (!read_name(p, at, opt_owner) || at + 10 > p.size() || opt_owner != "." || get16(p, at) != kOPT) {
      fail.reason = "the additional record is not an EDNS0 OPT";
      return fail_with(fail);
    }
    q.edns = true;
    q.udp_payload = std::max<std::uint16_t>(get16(p, at + 2), kMaxUdpWithoutEdns);
    const std::uint8_t version = p[at + 5];
    q.dnssec_ok = p[at + 6] & 0x80;
    const std::uint16_t rdlen = get16(p, at + 8);
    if (at + 10 + rdlen > p.size()) {
      fail.reason = "truncated OPT record";
      return fail_with(fail);
    }
    at += 10 + rdlen;
    if (version != 0) {
      fail.reason = "EDNS version not supported";
      return fail_with(fail);
    }
  }
  if (at != p.size()) {
    fail.reason = "trailing bytes after the question";
    return fail_with(fail);
  }
  return true;
}

ResponseWriter::ResponseWriter(std::span<std::uint8_t> buffer, std::size_t limit) : buf_(buffer), limit_(std::min(limit, buffer.size())) {}

bool ResponseWriter::put16(std::uint16_t v) {
  if (pos_ + 2 > limit_) return false;
  buf_[pos_++] = static_cast<std::uint8_t>(v >> 8);
  buf_[pos_++] = static_cast<std::uint8_t>(v);
  return true;
}

bool ResponseWriter::put32(std::uint32_t v) { return put16(static_cast<std::uint16_t>(v >> 16)) && put16(static_cast<std::uint16_t>(v)); }

bool ResponseWriter::put_bytes(const std::uint8_t* p, std::size_t n) {
  if (pos_ + n > limit_) return false;
  std::memcpy(&buf_[pos_], p, n);
  pos_ += n;
  return true;
}

void ResponseWriter::begin(const Query& q, Rcode rcode, bool authoritative) {
  pos_ = 0;
  truncated_ = false;
  counts_ = {};
  suffix_count_ = 0;
  last_section_ = 0;
  edns_ = q.edns;
  limit_ = std::min(buf_.size(), limit_);
  // QR, opcode 0, AA, RD echoed, RA unset (set by the caller for forwarded answers).
  std::uint16_t flags = 0x8000 | (q.flags & 0x0100) | (authoritative ? 0x0400 : 0) | rcode;
  put16(q.id);
  put16(flags);
  put16(1);
  put16(0);
  put16(0);
  put16(0);
  write_name(q.original_name.empty() ? q.name : q.original_name);
  put16(q.type);
  put16(q.klass);
  if (edns_ && limit_ > 11) limit_ -= 11;  // keep room for our OPT record
}

void ResponseWriter::set_rcode(Rcode r) { buf_[3] = static_cast<std::uint8_t>((buf_[3] & 0xF0) | r); }

bool ResponseWriter::written_name_equals(std::size_t offset, std::string_view dotted) const {
  std::size_t at = offset, i = 0;
  for (int hops = 0; hops < 64; ++hops) {
    if (at >= pos_) return false;
    const std::uint8_t len = buf_[at];
    if ((len & 0xC0) == 0xC0) {
      at = static_cast<std::size_t>((len & 0x3F) << 8 | buf_[at + 1]);
      continue;
    }
    if (len == 0) return i == dotted.size() || (dotted == "." && i == 0);
    if (i + len + 1 > dotted.size() || dotted[i + len] != '.') return false;
    for (std::size_t k = 0; k < len; ++k)
      if (lower(static_cast<char>(buf_[at + 1 + k])) != lower(dotted[i + k])) return false;
    i += len + 1;
    at += 1 + len;
  }
  return false;
}

bool ResponseWriter::write_name(std::string_view name) {
  if (name == "." || name.empty()) {
    if (pos_ + 1 > limit_) return false;
    buf_[pos_++] = 0;
    return true;
  }
  // Suffixes of this name become compression targets only once the whole name is written:
  // until then the bytes after them are not there yet.
  std::array<std::uint16_t, 128> fresh;
  std::size_t fresh_count = 0;
  auto remember = [&] {
    for (std::size_t k = 0; k < fresh_count && suffix_count_ < suffixes_.size(); ++k) suffixes_[suffix_count_++] = fresh[k];
  };
  std::size_t i = 0;
  while (i < name.size()) {
    const std::string_view rest = name.substr(i);
    for (std::size_t s = 0; s < suffix_count_; ++s)
      if (written_name_equals(suffixes_[s], rest)) {
        if (!put16(static_cast<std::uint16_t>(0xC000 | suffixes_[s]))) return false;
        remember();
        return true;
      }
    const std::size_t dot = name.find('.', i);
    const std::size_t len = (dot == std::string_view::npos ? name.size() : dot) - i;
    if (len == 0 || len > 63 || pos_ + 1 + len > limit_) return false;
    if (pos_ < 0x3FFF && fresh_count < fresh.size()) fresh[fresh_count++] = static_cast<std::uint16_t>(pos_);
    buf_[pos_++] = static_cast<std::uint8_t>(len);
    std::memcpy(&buf_[pos_], name.data() + i, len);
    pos_ += len;
    i += len + 1;
  }
  if (pos_ + 1 > limit_) return false;
  buf_[pos_++] = 0;
  remember();
  return true;
}

bool ResponseWriter::begin_record(int section, std::string_view owner, std::uint16_t type, std::uint32_t ttl, std::size_t& rdlen_at) {
  if (truncated_) return false;
  if (section < last_section_) return false;  // sections are written in order: answer, authority, additional
  record_start_ = pos_;
  const std::size_t saved_suffixes = suffix_count_;
  if (!write_name(owner) || !put16(type) || !put16(kClassIN) || !put32(ttl) || !put16(0)) {
    pos_ = record_start_;
    suffix_count_ = saved_suffixes;
    if (section != kAdditional) truncated_ = true;
    return false;
  }
  rdlen_at = pos_ - 2;
  last_section_ = section;
  return true;
}

bool ResponseWriter::end_record(int section, std::size_t rdlen_at) {
  const std::size_t rdlen = pos_ - rdlen_at - 2;
  buf_[rdlen_at] = static_cast<std::uint8_t>(rdlen >> 8);
  buf_[rdlen_at + 1] = static_cast<std::uint8_t>(rdlen);
  ++counts_[section];
  return true;
}

// A record whose data did not fit is taken back whole.
#define SY_RECORD(section, owner, type, ttl, body)                      \
  std::size_t rdlen_at;                                                 \
  const std::size_t saved_suffixes = suffix_count_;                     \
  if (!begin_record(section, owner, type, ttl, rdlen_at)) return false; \
  if (!(body)) {                                                        \
    pos_ = record_start_;                                               \
    suffix_count_ = saved_suffixes;                                     \
    if ((section) != kAdditional) truncated_ = true;                    \
    return false;                                                       \
  }                                                                     \
  return end_record(section, rdlen_at)

bool ResponseWriter::add_a(int section, std::string_view owner, std::uint32_t ttl, const std::array<std::uint8_t, 4>& ip) {
  SY_RECORD(section, owner, kA, ttl, put_bytes(ip.data(), 4));
}
bool ResponseWriter::add_aaaa(int section, std::string_view owner, std::uint32_t ttl, const std::array<std::uint8_t, 16>& ip) {
  SY_RECORD(section, owner, kAAAA, ttl, put_bytes(ip.data(), 16));
}
bool ResponseWriter::add_name_record(int section, std::string_view owner, std::uint16_t type, std::uint32_t ttl, std::string_view target) {
  SY_RECORD(section, owner, type, ttl, write_name(target));
}
bool ResponseWriter::add_srv(int section, std::string_view owner, std::uint32_t ttl, std::uint16_t priority, std::uint16_t weight,
                             std::uint16_t port, std::string_view target) {
  // RFC 2782: the SRV target is not compressed.
  auto body = [&] {
    if (!put16(priority) || !put16(weight) || !put16(port)) return false;
    const std::size_t saved = suffix_count_;
    suffix_count_ = 0;
    bool ok = write_name(target);
    suffix_count_ = saved;
    return ok;
  };
  SY_RECORD(section, owner, kSRV, ttl, body());
}
bool ResponseWriter::add_txt(int section, std::string_view owner, std::uint32_t ttl, std::string_view text) {
  auto body = [&] {
    if (text.size() > 255 || pos_ + 1 > limit_) return false;
    buf_[pos_++] = static_cast<std::uint8_t>(text.size());
    return put_bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  };
  SY_RECORD(section, owner, kTXT, ttl, body());
}
bool ResponseWriter::add_soa(int section, std::string_view owner, std::uint32_t ttl, std::string_view mname, std::string_view rname,
                             std::uint32_t serial, std::uint32_t refresh, std::uint32_t retry, std::uint32_t expire,
                             std::uint32_t minimum) {
  SY_RECORD(section, owner, kSOA, ttl,
            write_name(mname) && write_name(rname) && put32(serial) && put32(refresh) && put32(retry) && put32(expire) && put32(minimum));
}
bool ResponseWriter::add_rdata(int section, std::string_view owner, std::uint16_t type, std::uint32_t ttl,
                               std::span<const std::uint8_t> rdata, std::string_view name_after) {
  SY_RECORD(section, owner, type, ttl, put_bytes(rdata.data(), rdata.size()) && (name_after.empty() || write_name(name_after)));
}
#undef SY_RECORD

std::span<const std::uint8_t> ResponseWriter::finish() {
  buf_[6] = static_cast<std::uint8_t>(counts_[0] >> 8);
  buf_[7] = static_cast<std::uint8_t>(counts_[0]);
  buf_[8] = static_cast<std::uint8_t>(counts_[1] >> 8);
  buf_[9] = static_cast<std::uint8_t>(counts_[1]);
  std::uint16_t additional = counts_[2];
  if (edns_) {
    limit_ += 11;
    const std::uint8_t opt[11] = {0, 0, kOPT, 0x04, 0xD0 /* 1232 */, 0, 0, 0, 0, 0, 0};
    if (put_bytes(opt, sizeof opt)) ++additional;
  }
  buf_[10] = static_cast<std::uint8_t>(additional >> 8);
  buf_[11] = static_cast<std::uint8_t>(additional);
  if (truncated_) buf_[2] |= 0x02;
  return buf_.first(pos_);
}

}  // namespace switchyard::dns
