// The protobuf wire format at its lowest level: varints, tags and length-delimited fields, read
// with bounds checks (a malformed body is an error, never a read past the end) and written into a
// string. Hand-written rather than libprotobuf's coded streams: the codec is schema-driven over
// JSON values, needs only these few primitives, and so stays dependency-free for the fuzz build.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard::api::protobuf {

enum class WireType : std::uint8_t { Varint = 0, Fixed64 = 1, Bytes = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 };

// One field as read off the wire: varint/fixed values in `number`, length-delimited in `bytes`.
struct WireField {
  std::uint32_t field = 0;
  WireType type = WireType::Varint;
  std::uint64_t number = 0;
  std::string_view bytes;
};

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  // The next field; false at the end or on malformed input (then error() says why).
  bool next(WireField& out);
  const std::string& error() const { return error_; }
  // Reads one varint from a packed repeated field's bytes.
  bool read_varint(std::uint64_t& out);

 private:
  bool fail(std::string why);
  std::string_view data_;
  std::size_t pos_ = 0;
  std::string error_;
};

class WireWriter {
 public:
  void varint_field(std::uint32_t field, std::uint64_t value);
  void fixed64_field(std::uint32_t field, std::uint64_t value);
  void bytes_field(std::uint32_t field, std::string_view value);
  // Appends raw bytes (an already encoded message body).
  void raw(std::string_view bytes) { out_.append(bytes); }
  std::string& buffer() { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void varint(std::uint64_t v);
  std::string out_;
};

}  // namespace switchyard::api::protobuf
