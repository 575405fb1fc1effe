// Test helpers: build query packets and decode responses into readable records.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dns/wire.h"

namespace switchyard::dns::testing {

inline std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t type, std::uint16_t id = 0x1234, bool edns = false,
                                            std::uint16_t payload = 1232) {
  std::vector<std::uint8_t> p = {static_cast<std::uint8_t>(id >> 8),     static_cast<std::uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0,
                                 static_cast<std::uint8_t>(edns ? 1 : 0)};
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    p.push_back(static_cast<std::uint8_t>(dot - start));
    p.insert(p.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  p.push_back(0);
  p.push_back(static_cast<std::uint8_t>(type >> 8));
  p.push_back(static_cast<std::uint8_t>(type));
  p.push_back(0);
  p.push_back(1);
  if (edns) {
    std::vector<std::uint8_t> opt = {0, 0, 41, static_cast<std::uint8_t>(payload >> 8), static_cast<std::uint8_t>(payload), 0, 0, 0,
                                     0, 0, 0};
    p.insert(p.end(), opt.begin(), opt.end());
  }
  return p;
}

struct Decoded {
  int rcode = -1;
  bool aa = false, tc = false;
  std::vector<std::string> answer, authority, additional;  // "owner TYPE data"
};

inline std::uint16_t rd16(const std::vector<std::uint8_t>& p, std::size_t at) { return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]); }
inline std::uint32_t rd32(const std::vector<std::uint8_t>& p, std::size_t at) {
  return static_cast<std::uint32_t>(rd16(p, at)) << 16 | rd16(p, at + 2);
}

inline Decoded decode(const std::vector<std::uint8_t>& p) {
  Decoded d;
  if (p.size() < 12) return d;
  d.rcode = p[3] & 0xF;
  d.aa = p[2] & 0x04;
  d.tc = p[2] & 0x02;
  std::size_t at = 12;
  std::string name;
  for (int i = 0; i < rd16(p, 4); ++i) {
    read_name(p, at, name);
    at += 4;
  }
  const int counts[3] = {rd16(p, 6), rd16(p, 8), rd16(p, 10)};
  std::vector<std::string>* sections[3] = {&d.answer, &d.authority, &d.additional};
  for (int s = 0; s < 3; ++s)
    for (int i = 0; i < counts[s]; ++i) {
      read_name(p, at, name);
      const std::uint16_t type = rd16(p, at), rdlen = rd16(p, at + 8);
      const std::uint32_t ttl = rd32(p, at + 4);
      std::size_t rd = at + 10;
      std::string data;
      char buf[64];
      switch (type) {
        case kA:
          inet_ntop(AF_INET, &p[rd], buf, sizeof buf);
          data = buf;
          break;
        case kAAAA:
          inet_ntop(AF_INET6, &p[rd], buf, sizeof buf);
          data = buf;
          break;
        case kCNAME:
        case kPTR:
        case kNS: {
          std::size_t o = rd;
          read_name(p, o, data);
          break;
        }
        case kSRV: {
          std::size_t o = rd + 6;
          std::string t;
          read_name(p, o, t);
          data = fmt::format("{} {} {} {}", rd16(p, rd), rd16(p, rd + 2), rd16(p, rd + 4), t);
          break;
        }
        case kTXT:
          data = std::string(reinterpret_cast<const char*>(&p[rd + 1]), p[rd]);
          break;
        case kSOA: {
          std::size_t o = rd;
          std::string m, r;
          read_name(p, o, m);
          read_name(p, o, r);
          data = fmt::format("{} {} {} {} {} {} {}", m, r, rd32(p, o), rd32(p, o + 4), rd32(p, o + 8), rd32(p, o + 12), rd32(p, o + 16));
          break;
        }
        case kOPT:
          data = fmt::format("udp={}", rd16(p, at + 2));
          break;
        default:
          data = "?";
          break;
      }
      const char* tn = type == kA       ? "A"
                       : type == kAAAA  ? "AAAA"
                       : type == kCNAME ? "CNAME"
                       : type == kPTR   ? "PTR"
                       : type == kNS    ? "NS"
                       : type == kSRV   ? "SRV"
                       : type == kTXT   ? "TXT"
                       : type == kSOA   ? "SOA"
                       : type == kOPT   ? "OPT"
                                        : "?";
      sections[s]->push_back(type == kOPT ? fmt::format("OPT {}", data) : fmt::format("{} {} {} {}", name, ttl, tn, data));
      at = rd + rdlen;
    }
  return d;
}

}  // namespace switchyard::dns::testing
