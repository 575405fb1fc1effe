#include "endpoints/controller/ip_address.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "endpoints/controller/well_known.h"

namespace switchyard::slice_controller {

std::optional<SliceAddress> parse_slice_address(std::string_view ip) {
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string text(ip);
  std::array<char, INET6_ADDRSTRLEN> out{};

  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    inet_ntop(AF_INET, &v4, out.data(), out.size());
    return SliceAddress{out.data(), std::string(kAddressTypeIPv4)};
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4, &v6.s6_addr[12], sizeof v4);
    inet_ntop(AF_INET, &v4, out.data(), out.size());
    return SliceAddress{out.data(), std::string(kAddressTypeIPv4)};
  }
  inet_ntop(AF_INET6, &v6, out.data(), out.size());
  return SliceAddress{out.data(), std::string(kAddressTypeIPv6)};
}

}  // namespace switchyard::slice_controller
