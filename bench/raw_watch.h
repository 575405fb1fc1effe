// Raw watch connections for benches that open many watches from one process: a blocking
// connect + request on loopback, then the socket is non-blocking and read by the caller's epoll
// thread; the chunked response is decoded into event lines here (JSON watch encoding).
#pragma once

#include <string>
#include <string_view>

namespace switchyard::bench {

// One watch connection: the response head, then chunks, each chunk one or more event lines.
struct RawWatch {
  int fd = -1;
  std::string in;
  bool head_done = false, ended = false;
  std::string line;
};

// Connects to 127.0.0.1:port and sends GET `target` (path and query, watch=true included);
// returns the non-blocking fd. Throws std::runtime_error on failure.
int connect_raw_watch(int port, const std::string& host, const std::string& target, const std::string& token = "");

// The resourceVersion of an event line's object (nlohmann sorts keys: the first resourceVersion
// of a line is the object's metadata one), or -1.
long resource_version_of(std::string_view line);

// Feeds the bytes appended to w.in through the chunk decoder; calls on_line for each complete
// event line. A refused watch (not 200) ends with w.ended set.
template <class F>
void decode_watch(RawWatch& w, F&& on_line);

// ---- implementation ----------------------------------------------------------------------

bool decode_watch_head(RawWatch& w, std::size_t& pos);

template <class F>
void decode_watch(RawWatch& w, F&& on_line) {
  std::size_t pos = 0;
  if (!w.head_done && !decode_watch_head(w, pos)) return;
  while (true) {
    auto crlf = w.in.find("\r\n", pos);
    if (crlf == std::string::npos) break;
    const std::size_t size = std::strtoul(w.in.c_str() + pos, nullptr, 16);
    if (size == 0) {
      w.ended = true;
      pos = crlf + 2;
      break;
    }
    if (w.in.size() < crlf + 2 + size + 2) break;
    w.line.append(w.in, crlf + 2, size);
    pos = crlf + 2 + size + 2;
    std::size_t nl;
    while ((nl = w.line.find('\n')) != std::string::npos) {
      on_line(std::string_view(w.line).substr(0, nl));
      w.line.erase(0, nl + 1);
    }
  }
  w.in.erase(0, pos);
}

}  // namespace switchyard::bench
