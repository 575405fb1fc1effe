#include "orchestrator/api/protobuf_wire.h"

#include <fmt/format.h>

namespace switchyard::api::protobuf {

bool WireReader::fail(std::string why) {
  error_ = fmt::format("{} at byte {}", why, pos_);
  pos_ = data_.size();
  return false;
}

bool WireReader::read_varint(std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) return fail("truncated varint");
    const auto b = static_cast<std::uint8_t>(data_[pos_++]);
    out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return fail("varint longer than 10 bytes");
}

bool WireReader::next(WireField& out) {
  if (done()) return false;
  std::uint64_t key = 0;
  if (!read_varint(key)) return false;
  if (key >> 3 == 0 || key >> 3 > 0x1fffffff) return fail("invalid field number");
  out.field = static_cast<std::uint32_t>(key >> 3);
  out.type = static_cast<WireType>(key & 7);
  out.number = 0;
  out.bytes = {};
  switch (out.type) {
    case WireType::Varint:
      return read_varint(out.number);
    case WireType::Fixed64:
    case WireType::Fixed32: {
      const std::size_t n = out.type == WireType::Fixed64 ? 8 : 4;
      if (data_.size() - pos_ < n) return fail("truncated fixed-width field");
      for (std::size_t i = 0; i < n; ++i) out.number |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(data_[pos_ + i])) << (8 * i);
      pos_ += n;
      return true;
    }
    case WireType::Bytes: {
      std::uint64_t len = 0;
      if (!read_varint(len)) return false;
      if (len > data_.size() - pos_)
        return fail(fmt::format("field {} is {} bytes long but only {} remain", out.field, len, data_.size() - pos_));
      out.bytes = data_.substr(pos_, len);
      pos_ += len;
      return true;
    }
    default:
      return fail(fmt::format("field {} has unsupported wire type {}", out.field, static_cast<int>(out.type)));
  }
}

void WireWriter::varint(std::uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void WireWriter::varint_field(std::uint32_t field, std::uint64_t value) {
  varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(WireType::Varint));
  varint(value);
}

void WireWriter::fixed64_field(std::uint32_t field, std::uint64_t value) {
  varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(WireType::Fixed64));
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(value >> (8 * i)));
}

void WireWriter::bytes_field(std::uint32_t field, std::string_view value) {
  varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(WireType::Bytes));
  varint(value.size());
  out_.append(value);
}

}  // namespace switchyard::api::protobuf
