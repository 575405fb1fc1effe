#include "orchestrator/api/names.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdint>

#include <fmt/format.h>

namespace switchyard::api {

namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// RegexError from apimachinery: "msg (e.g. 'a',  or 'b', regex used for validation is 're')".
std::string regex_error(std::string_view msg, std::string_view re, std::initializer_list<std::string_view> examples) {
  std::string out(msg);
  if (examples.size() == 0) return out + fmt::format(" (regex used for validation is '{}')", re);
  out += " (e.g. ";
  bool first = true;
  for (auto e : examples) {
    if (!first) out += " or ";
    first = false;
    out += fmt::format("'{}', ", e);
  }
  return out + fmt::format("regex used for validation is '{}')", re);
}

std::string max_len_error(std::size_t n) { return fmt::format("must be no more than {} characters", n); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool label_shape(std::string_view s) {
  if (s.empty() || !lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
  for (char c : s)
    if (!lower_alnum(c) && c != '-') return false;
  return true;
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool qualified_shape(std::string_view s) {
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

constexpr std::string_view kDns1123LabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character";
constexpr std::string_view kDns1123LabelRe = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kDns1123SubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character";
constexpr std::string_view kDns1123SubdomainRe = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kDns1035Msg =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    "and end with an alphanumeric character";
constexpr std::string_view kDns1035Re = "[a-z]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kQualifiedNameMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
constexpr std::string_view kQualifiedNameRe = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character";
constexpr std::string_view kLabelValueRe = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

// generateName may end in '-': validate as if it did not (maskTrailingDash).
std::string mask_trailing_dash(std::string_view name) {
  std::string s(name);
  if (s.size() > 1 && s.back() == '-') s = s.substr(0, s.size() - 2) + "a";
  return s;
}

}  // namespace

Problems dns1123_label(std::string_view s) {
  Problems p;
  if (s.size() > 63) p.push_back(max_len_error(63));
  if (!label_shape(s)) p.push_back(regex_error(kDns1123LabelMsg, kDns1123LabelRe, {"my-name", "123-abc"}));
  return p;
}

Problems dns1123_subdomain(std::string_view s) {
  Problems p;
  if (s.size() > 253) p.push_back(max_len_error(253));
  bool ok = !s.empty();
  std::size_t start = 0;
  while (ok && start <= s.size()) {
    auto dot = s.find('.', start);
    auto part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    ok = label_shape(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (!ok) p.push_back(regex_error(kDns1123SubdomainMsg, kDns1123SubdomainRe, {"example.com"}));
  return p;
}

Problems dns1035_label(std::string_view s) {
  Problems p;
  if (s.size() > 63) p.push_back(max_len_error(63));
  if (!label_shape(s) || !(s.front() >= 'a' && s.front() <= 'z')) p.push_back(regex_error(kDns1035Msg, kDns1035Re, {"my-name", "abc-123"}));
  return p;
}

Problems qualified_name(std::string_view s) {
  Problems p;
  std::string_view name = s;
  auto slash = s.find('/');
  if (slash != std::string_view::npos) {
    if (s.find('/', slash + 1) != std::string_view::npos) {
      p.push_back("a qualified name " + regex_error(kQualifiedNameMsg, kQualifiedNameRe, {"MyName", "my.name", "123-abc"}) +
                  " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
      return p;
    }
    auto prefix = s.substr(0, slash);
    name = s.substr(slash + 1);
    if (prefix.empty())
      p.push_back("prefix part must be non-empty");
    else
      for (auto& m : dns1123_subdomain(prefix)) p.push_back("prefix part " + m);
  }
  if (name.empty())
    p.push_back("name part must be non-empty");
  else if (name.size() > 63)
    p.push_back("name part " + max_len_error(63));
  if (!name.empty() && !qualified_shape(name))
    p.push_back("name part " + regex_error(kQualifiedNameMsg, kQualifiedNameRe, {"MyName", "my.name", "123-abc"}));
  return p;
}

Problems label_value(std::string_view s) {
  Problems p;
  if (s.size() > 63) p.push_back(max_len_error(63));
  if (!s.empty() && !qualified_shape(s)) p.push_back(regex_error(kLabelValueMsg, kLabelValueRe, {"MyValue", "my_value", "12345"}));
  return p;
}

Problems port_number(std::int64_t port) {
  if (port >= 1 && port <= 65535) return {};
  return {"must be between 1 and 65535, inclusive"};
}

Problems port_name(std::string_view s) {
  Problems p;
  if (s.size() > 15) p.push_back(max_len_error(15));
  bool shape = !s.empty();
  bool letter = false;
  for (char c : s) {
    if (!lower_alnum(c) && c != '-') shape = false;
    if (c >= 'a' && c <= 'z') letter = true;
  }
  if (!shape) p.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (s.find("--") != std::string_view::npos) p.push_back("must not contain consecutive hyphens");
  if (!s.empty() && !letter) p.push_back("must contain at least one letter (a-z)");
  if (!s.empty() && (s.front() == '-' || s.back() == '-')) p.push_back("must not begin or end with a hyphen");
  return p;
}

bool is_ipv4(std::string_view s) {
  in_addr a;
  return s.size() < 16 && inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}
bool is_ipv6(std::string_view s) {
  in6_addr a;
  return s.size() < 46 && s.find('.') == std::string_view::npos && inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

Problems ip_address(std::string_view s) {
  if (is_ipv4(s) || is_ipv6(s)) return {};
  return {"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"};
}

Problems cidr(std::string_view s) {
  auto slash = s.find('/');
  if (slash != std::string_view::npos) {
    auto ip = s.substr(0, slash);
    auto bits = s.substr(slash + 1);
    int n = -1;
    auto [ptr, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
    bool bits_ok = ec == std::errc() && ptr == bits.data() + bits.size() && !bits.empty() && bits.size() <= 3;
    if (bits_ok && ((is_ipv4(ip) && n >= 0 && n <= 32) || (is_ipv6(ip) && n >= 0 && n <= 128))) return {};
  }
  return {"must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"};
}

Problems name_is_dns1123_label(std::string_view name, bool prefix) {
  return dns1123_label(prefix ? mask_trailing_dash(name) : std::string(name));
}
Problems name_is_dns1123_subdomain(std::string_view name, bool prefix) {
  return dns1123_subdomain(prefix ? mask_trailing_dash(name) : std::string(name));
}
Problems name_is_dns1035_label(std::string_view name, bool prefix) {
  return dns1035_label(prefix ? mask_trailing_dash(name) : std::string(name));
}

}  // namespace switchyard::api

namespace switchyard::api {

Problems config_map_key(std::string_view s) {
  Problems p;
  if (s.size() > 253) p.push_back(max_len_error(253));
  bool shape = !s.empty();
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') shape = false;
  if (!shape)
    p.push_back(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", "[-._a-zA-Z0-9]+",
                            {"key.name", "KEY_NAME", "key-name"}));
  if (s == ".")
    p.push_back("must not be '.'");
  else if (s == "..")
    p.push_back("must not be '..'");
  else if (s.starts_with(".."))
    p.push_back("must not start with '..'");
  return p;
}

}  // namespace switchyard::api
