#include "cmd/advertise_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace switchyard::cmd {

namespace {

bool is_loopback(const std::string& ip) {
  in_addr v4{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return ip == "::1";
}

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace

Result<std::string> default_route_ipv4() {
  std::ifstream routes("/proc/net/route");
  if (!routes) return fail(ErrorCode::Internal, "/proc/net/route: cannot read");
  std::string line, interface;
  long best_metric = LONG_MAX;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream f(line);
    std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
    if (!(f >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask)) continue;
    if (destination != "00000000" || mask != "00000000") continue;
    if (const long m = std::stol(metric); m < best_metric) best_metric = m, interface = iface;
  }
  if (interface.empty()) return fail(ErrorCode::NotFound, "no IPv4 default route: give --advertise-address");
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return fail(ErrorCode::Internal, std::string("getifaddrs: ") + std::strerror(errno));
  std::string found;
  for (ifaddrs* a = list; a && found.empty(); a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || interface != a->ifa_name) continue;
    const auto& addr = reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr;
    if ((ntohl(addr.s_addr) >> 16) == 0xA9FE) continue;  // 169.254/16, link-local
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr, text, sizeof text);
    found = text;
  }
  freeifaddrs(list);
  if (found.empty())
    return fail(ErrorCode::NotFound,
                fmt::format("the default route's interface {} has no IPv4 address: give --advertise-address", interface));
  return found;
}

Result<std::string> choose_advertise_address(const std::string& given, const std::string& listen_host) {
  if (!given.empty()) {
    if (!is_ip(given)) return fail(ErrorCode::Invalid, fmt::format("--advertise-address {}: not an IP address", given));
    return given;
  }
  if (is_ip(listen_host) && !is_loopback(listen_host) && listen_host != "0.0.0.0" && listen_host != "::") return listen_host;
  if (listen_host == "0.0.0.0" || listen_host == "::" || listen_host.empty()) return default_route_ipv4();
  return std::string();
}

}  // namespace switchyard::cmd
