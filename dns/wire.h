// The DNS wire format, as much as an authoritative server needs: parse a query (header,
// one question, EDNS0 OPT), and write a response into a caller-owned buffer with name
// compression and truncation. Nothing here allocates per message except the question name.
// Hand-written rather than ldns: ldns allocates for every packet and every record, and the
// answer path must not.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

namespace switchyard::dns {

enum Type : std::uint16_t { kA = 1, kNS = 2, kCNAME = 5, kSOA = 6, kPTR = 12, kTXT = 16, kAAAA = 28, kSRV = 33, kOPT = 41, kANY = 255 };
enum Rcode : std::uint8_t { kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5 };
constexpr std::uint16_t kClassIN = 1;
constexpr std::size_t kMaxUdpWithoutEdns = 512;

struct Query {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;    // as received (RD is echoed)
  std::string name;           // lowercase, dotted, with the trailing dot: "web.shop.svc.cluster.local."
  std::string original_name;  // as asked, case kept, for the echoed question
  std::uint16_t type = 0, klass = 0;
  bool edns = false;
  std::uint16_t udp_payload = kMaxUdpWithoutEdns;  // what the client can take over UDP
  bool dnssec_ok = false;
  bool recursion_desired() const { return flags & 0x0100; }
  std::uint8_t opcode() const { return (flags >> 11) & 0xF; }
};

struct ParseFailure {
  bool answerable = false;  // false: too broken to answer at all (drop it)
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  Rcode rcode = kFormErr;
  const char* reason = "";
};

std::expected<Query, ParseFailure> parse_query(std::span<const std::uint8_t> packet);
// The same into a Query that is reused, so that its strings keep their capacity: the server's
// answer path parses without allocating.
bool parse_query_into(std::span<const std::uint8_t> packet, Query& q, ParseFailure& failure);

// Reads a (possibly compressed) name at `offset`, lowercased, into `out` ("a.b.").
// Rejects loops, forward pointers, labels over 63 and names over 255 bytes.
bool read_name(std::span<const std::uint8_t> packet, std::size_t& offset, std::string& out);

// Writes a response. Records that do not fit set TC and are left out whole.
class ResponseWriter {
 public:
  ResponseWriter(std::span<std::uint8_t> buffer, std::size_t limit);

  void begin(const Query& q, Rcode rcode, bool authoritative);
  // Owner names are dotted with a trailing dot; they are compressed against earlier names.
  bool add_a(int section, std::string_view owner, std::uint32_t ttl, const std::array<std::uint8_t, 4>& ip);
  bool add_aaaa(int section, std::string_view owner, std::uint32_t ttl, const std::array<std::uint8_t, 16>& ip);
  bool add_name_record(int section, std::string_view owner, std::uint16_t type, std::uint32_t ttl, std::string_view target);
  bool add_srv(int section, std::string_view owner, std::uint32_t ttl, std::uint16_t priority, std::uint16_t weight, std::uint16_t port,
               std::string_view target);
  bool add_txt(int section, std::string_view owner, std::uint32_t ttl, std::string_view text);
  bool add_soa(int section, std::string_view owner, std::uint32_t ttl, std::string_view mname, std::string_view rname, std::uint32_t serial,
               std::uint32_t refresh, std::uint32_t retry, std::uint32_t expire, std::uint32_t minimum);
  // Any record: `rdata` as is, then `name_after` (if not empty) as an uncompressed-free name.
  // For records copied from another message (their names decompressed first).
  bool add_rdata(int section, std::string_view owner, std::uint16_t type, std::uint32_t ttl, std::span<const std::uint8_t> rdata,
                 std::string_view name_after = {});
  void set_rcode(Rcode r);
  void set_recursion_available() { buf_[3] |= 0x80; }
  // Appends the OPT record when the query had one; returns the finished message.
  std::span<const std::uint8_t> finish();
  bool truncated() const { return truncated_; }

  static constexpr int kAnswer = 0, kAuthority = 1, kAdditional = 2;

 private:
  bool begin_record(int section, std::string_view owner, std::uint16_t type, std::uint32_t ttl, std::size_t& rdlen_at);
  bool end_record(int section, std::size_t rdlen_at);
  bool write_name(std::string_view name);
  bool put16(std::uint16_t v);
  bool put32(std::uint32_t v);
  bool put_bytes(const std::uint8_t* p, std::size_t n);

  std::span<std::uint8_t> buf_;
  std::size_t limit_;
  std::size_t pos_ = 0;
  std::size_t record_start_ = 0;
  bool truncated_ = false;
  bool edns_ = false;
  std::array<std::uint16_t, 3> counts_{};
  int last_section_ = 0;
  bool written_name_equals(std::size_t offset, std::string_view dotted) const;
  // Compression: offsets where written names (and their suffixes) start; compared by reading
  // the name back out of the buffer, so nothing is copied.
  std::array<std::uint16_t, 128> suffixes_;  // the first suffix_count_ are set: not zeroed per message
  std::size_t suffix_count_ = 0;
};

}  // namespace switchyard::dns
