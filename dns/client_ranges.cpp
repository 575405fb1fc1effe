#include "dns/client_ranges.h"

#include <charconv>

#include <fmt/format.h>

namespace switchyard::dns {

Result<ClientRanges> ClientRanges::parse(const std::vector<std::string>& cidrs) {
  ClientRanges out;
  for (const auto& text : cidrs) {
    const auto slash = text.find('/');
    const std::string address = text.substr(0, slash);
    auto key = ip_key(address);
    if (!key) return fail(ErrorCode::Invalid, fmt::format("client range \"{}\": not an IP address or CIDR", text));
    const bool v4 = address.find(':') == std::string::npos;
    int prefix = v4 ? 32 : 128;
    if (slash != std::string::npos) {
      const std::string bits = text.substr(slash + 1);
      auto r = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (bits.empty() || r.ec != std::errc() || r.ptr != bits.data() + bits.size() || prefix < 0 || prefix > (v4 ? 32 : 128))
        return fail(ErrorCode::Invalid, fmt::format("client range \"{}\": bad prefix length", text));
    }
    Range range{*key, v4 ? prefix + 96 : prefix};
    for (int bit = range.prefix; bit < 128; ++bit) range.network[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
    out.ranges_.push_back(range);
  }
  return out;
}

bool ClientRanges::contains(const IpKey* client) const {
  if (ranges_.empty()) return true;
  if (!client) return false;
  for (const auto& r : ranges_) {
    bool match = true;
    for (int bit = 0; bit < r.prefix && match; bit += 8) {
      const int n = std::min(8, r.prefix - bit);
      const std::uint8_t mask = static_cast<std::uint8_t>(0xFF << (8 - n));
      match = ((*client)[bit / 8] & mask) == (r.network[bit / 8] & mask);
    }
    if (match) return true;
  }
  return false;
}

}  // namespace switchyard::dns
