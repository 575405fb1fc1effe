// An IP address in binary, as the node side keeps it: parsed once where the API's text enters
// (ClusterState), so that the dataplanes and DNS copy bytes instead of calling inet_pton again
// (issue #25). 20 bytes where the text took a 32-byte string (and a heap block for IPv6).
// Converts to and from its text implicitly, so code written against the text form still reads.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace switchyard::endpoints {

class IpAddress {
 public:
  IpAddress() = default;
  // Text that is not an address gives an empty IpAddress (valid() false, to_string() "").
  IpAddress(std::string_view text);  // NOLINT(google-explicit-constructor): text and binary stand for each other
  IpAddress(const std::string& text) : IpAddress(std::string_view(text)) {}
  IpAddress(const char* text) : IpAddress(std::string_view(text)) {}
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress v4(const std::array<std::uint8_t, 4>& bytes);
  static IpAddress v6(const std::array<std::uint8_t, 16>& bytes);

  bool valid() const { return kind_ != Kind::None; }
  bool is_v4() const { return kind_ == Kind::V4; }
  bool is_v6() const { return kind_ == Kind::V6; }
  // Network order: the first 4 bytes for IPv4, all 16 for IPv6.
  const std::uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return is_v4() ? 4 : is_v6() ? 16 : 0; }
  std::array<std::uint8_t, 4> v4_bytes() const { return {bytes_[0], bytes_[1], bytes_[2], bytes_[3]}; }
  const std::array<std::uint8_t, 16>& v6_bytes() const { return bytes_; }
  std::uint32_t v4_network_order() const {
    std::uint32_t a;
    std::memcpy(&a, bytes_.data(), 4);
    return a;
  }

  // Canonical text (inet_ntop): "10.1.0.5", "fd00::5".
  std::string to_string() const;
  operator std::string() const { return to_string(); }  // NOLINT(google-explicit-constructor)

  bool operator==(const IpAddress&) const = default;
  auto operator<=>(const IpAddress&) const = default;  // IPv4 before IPv6, then by bytes
  bool operator==(const std::string& text) const { return *this == IpAddress(text); }
  bool operator==(const char* text) const { return *this == IpAddress(text); }
  friend std::string operator+(const IpAddress& a, const char* s) { return a.to_string() + s; }
  friend std::string operator+(const IpAddress& a, const std::string& s) { return a.to_string() + s; }
  friend std::string operator+(const std::string& s, const IpAddress& a) { return s + a.to_string(); }
  friend std::string operator+(const char* s, const IpAddress& a) { return s + a.to_string(); }
  friend std::ostream& operator<<(std::ostream& out, const IpAddress& a) { return out << a.to_string(); }

 private:
  enum class Kind : std::uint8_t { None, V4, V6 };
  Kind kind_ = Kind::None;
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace switchyard::endpoints
