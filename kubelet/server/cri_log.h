// Container logs as the CRI runtime writes them, turned into what `kubectl logs` shows. Each
// line of a CRI log file is `<RFC3339Nano time> <stdout|stderr> <P|F>[:more tags] <text>`; a P
// (partial) entry continues in the next one, an F entry ends a line. As the kubelet does, the
// prefix is stripped, a partial entry gets no newline, and with `timestamps` each entry is
// preceded by its time. Pure functions and one incremental formatter, so that a follow reads
// the file in pieces and the tests need no runtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard::kubelet::server {

struct CriLogEntry {
  std::string_view time;  // as written: "2026-12-07T03:52:06.123456789Z"
  std::string_view stream;
  bool partial = false;
  std::string_view text;
};

// One line of the file, without its newline; nothing when it is not in the CRI format.
std::optional<CriLogEntry> parse_cri_log_line(std::string_view line);

// Nanoseconds since the epoch of an RFC 3339 time ("…Z" or "…+02:00", any fraction).
std::optional<std::int64_t> parse_rfc3339_ns(std::string_view time);

// The byte offset at which the last `lines` lines of `content` start (0: all of it is fewer).
std::size_t tail_offset(std::string_view content, std::int64_t lines);

struct LogOptions {
  bool timestamps = false;
  std::optional<std::int64_t> since_ns;     // entries older than this are left out
  std::optional<std::int64_t> limit_bytes;  // stop after this many bytes of output
};

// Fed the file's bytes in any pieces; emits the output for each complete line.
class CriLogFormatter {
 public:
  explicit CriLogFormatter(LogOptions options) : options_(options) {}
  // Appends to `out` what the complete lines in `data` (after what was fed before) show.
  // Returns false once limit_bytes is reached: nothing more will be emitted.
  bool feed(std::string_view data, std::string& out);
  bool limit_reached() const { return limit_reached_; }

 private:
  void emit_line(std::string_view line, std::string& out);

  LogOptions options_;
  std::string carry_;  // an incomplete last line
  std::int64_t written_ = 0;
  bool limit_reached_ = false;
};

}  // namespace switchyard::kubelet::server
