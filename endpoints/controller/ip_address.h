// An IP address as an EndpointSlice carries it: in canonical text, with its address type.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace switchyard::slice_controller {

struct SliceAddress {
  std::string text;          // "10.0.0.1", "fd00::1" (RFC 5952 form)
  std::string address_type;  // "IPv4" | "IPv6"; an IPv4-mapped IPv6 address counts as IPv4
  bool operator==(const SliceAddress&) const = default;
};

// nullopt when `ip` is not an IP address.
std::optional<SliceAddress> parse_slice_address(std::string_view ip);

}  // namespace switchyard::slice_controller
