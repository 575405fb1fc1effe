#include "bench/raw_watch.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include <fmt/format.h>

namespace switchyard::bench {

int connect_raw_watch(int port, const std::string& host, const std::string& target, const std::string& token) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("connect: {}", std::strerror(e)));
  }
  const std::string req = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n{}\r\n", target, host,
                                      token.empty() ? "" : "Authorization: Bearer " + token + "\r\n");
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    throw std::runtime_error("watch request write");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

long resource_version_of(std::string_view line) {
  static constexpr std::string_view key = "\"resourceVersion\":\"";
  auto p = line.find(key);
  if (p == std::string_view::npos) return -1;
  return std::strtol(line.data() + p + key.size(), nullptr, 10);
}

bool decode_watch_head(RawWatch& w, std::size_t& pos) {
  auto end = w.in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  if (w.in.compare(0, 12, "HTTP/1.1 200") != 0) {
    w.ended = true;
    std::cerr << "  watch refused: " << w.in.substr(0, w.in.find("\r\n")) << "\n";
    return false;
  }
  w.head_done = true;
  pos = end + 4;
  return true;
}

}  // namespace switchyard::bench
