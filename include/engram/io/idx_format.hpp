// The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a magic 0x00 0x00 <type> <rank>,
// <rank> big-endian 32-bit sizes, then the items in row-major order. Element types, the header,
// and the zlib stream (plain or gzip) that engram/io/idx.hpp reads and writes through.
#pragma once

#include <zlib.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram::io {

/// The element types IDX knows, with their type codes.
enum class idx_type : std::uint8_t {
  u8 = 0x08,
  i8 = 0x09,
  i16 = 0x0B,
  i32 = 0x0C,
  f32 = 0x0D,
  f64 = 0x0E,
};

inline std::size_t idx_type_size(idx_type t) {
  switch (t) {
    case idx_type::u8:
    case idx_type::i8:
      return 1;
    case idx_type::i16:
      return 2;
    case idx_type::i32:
    case idx_type::f32:
      return 4;
    case idx_type::f64:
      return 8;
  }
  return 0;
}

struct idx_header {
  idx_type type;
  std::vector<std::uint32_t> shape;  ///< shape[0] items, each of shape[1] x ... values

  std::uint64_t items() const { return shape.empty() ? 0 : shape[0]; }
  /// Values per item: the product of the trailing sizes (1 for a rank-1 file of labels).
  std::uint64_t item_size() const {
    std::uint64_t n = 1;
    for (std::size_t i = 1; i < shape.size(); ++i) n *= shape[i];
    return n;
  }
};

namespace detail {

class gz_file {
 public:
  gz_file(const std::filesystem::path& path, const char* mode) : path_(path.string()) {
    file_ = gzopen(path_.c_str(), mode);
    if (!file_)
      throw io_error(engram::detail::message("cannot open '", path_, "' (mode ", mode, ")"));
  }
  ~gz_file() {
    if (file_) gzclose(file_);
  }
  gz_file(const gz_file&) = delete;
  gz_file& operator=(const gz_file&) = delete;

  /// Reads up to `n` bytes, fewer only at the end of the data; returns the count read.
  std::size_t read_some(void* out, std::size_t n, const std::string& what) {
    auto* p = static_cast<unsigned char*>(out);
    std::size_t got = 0;
    while (got < n) {
      const unsigned chunk = unsigned(std::min<std::size_t>(n - got, 1u << 30));
      const int r = gzread(file_, p + got, chunk);
      if (r < 0) {
        int code = 0;
        const char* msg = gzerror(file_, &code);
        throw parse_error(
            engram::detail::message("'", path_, "' is corrupt while reading ", what, ": ", msg));
      }
      if (r == 0) break;
      got += std::size_t(r);
    }
    return got;
  }

  /// Reads exactly `n` bytes or throws parse_error describing `what` was being read.
  void read(void* out, std::size_t n, const std::string& what) {
    const std::size_t got = read_some(out, n, what);
    if (got < n)
      throw parse_error(engram::detail::message("'", path_, "' is truncated: reading ", what,
                                                " needed ", n, " bytes, found ", got));
  }

  void write(const void* data, std::size_t n) {
    if (n > 0 && gzwrite(file_, data, unsigned(n)) != int(n))
      throw io_error(engram::detail::message("cannot write to '", path_, "'"));
  }

  void close() {
    const int r = gzclose(file_);
    file_ = nullptr;
    if (r != Z_OK) throw io_error(engram::detail::message("cannot finish writing '", path_, "'"));
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

inline std::uint32_t from_big_endian(const unsigned char* b) {
  return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) |
         std::uint32_t(b[3]);
}

template <class T>
T read_big_endian(const unsigned char* b) {
  std::array<unsigned char, sizeof(T)> bytes;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    bytes[i] = std::endian::native == std::endian::little ? b[sizeof(T) - 1 - i] : b[i];
  T v;
  std::memcpy(&v, bytes.data(), sizeof(T));
  return v;
}

template <class T>
void write_big_endian(T v, unsigned char* out) {
  std::array<unsigned char, sizeof(T)> bytes;
  std::memcpy(bytes.data(), &v, sizeof(T));
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out[i] = std::endian::native == std::endian::little ? bytes[sizeof(T) - 1 - i] : bytes[i];
}

inline idx_header read_header(gz_file& in, const std::string& path) {
  unsigned char magic[4];
  in.read(magic, 4, "the magic number");
  if (magic[0] != 0 || magic[1] != 0)
    throw parse_error(engram::detail::message("'", path, "' is not an IDX file: magic bytes are ",
                                              int(magic[0]), " ", int(magic[1]), ", expected 0 0"));
  const int code = magic[2];
  if (code != 0x08 && code != 0x09 && code != 0x0B && code != 0x0C && code != 0x0D && code != 0x0E)
    throw parse_error(engram::detail::message("'", path, "' has unknown IDX type code ", code));
  const int rank = magic[3];
  if (rank < 1)
    throw parse_error(engram::detail::message("'", path, "' has rank 0; at least 1 is required"));
  idx_header h{idx_type(code), {}};
  std::vector<unsigned char> sizes(4 * std::size_t(rank));
  in.read(sizes.data(), sizes.size(), "the dimension sizes");
  for (int i = 0; i < rank; ++i) h.shape.push_back(from_big_endian(&sizes[4 * std::size_t(i)]));
  // The values of one item (the rows of the matrix read) and the bytes of all items must each
  // fit a signed 64-bit count: a wrapped product would read as a small or negative size.
  constexpr std::uint64_t limit = std::uint64_t(std::numeric_limits<std::int64_t>::max());
  const auto shape_text = [&] {
    std::string text;
    for (std::size_t i = 0; i < h.shape.size(); ++i)
      text += (i ? " x " : "") + std::to_string(h.shape[i]);
    return text;
  };
  std::uint64_t per_item = 1;
  for (std::size_t i = 1; i < h.shape.size(); ++i) {
    if (h.shape[i] != 0 && per_item > limit / h.shape[i])
      throw parse_error(engram::detail::message("'", path, "' declares items of shape ",
                                                shape_text(), ", whose size overflows"));
    per_item *= h.shape[i];
  }
  const std::uint64_t width = idx_type_size(h.type);
  if (per_item != 0 && h.items() > limit / per_item / width)
    throw parse_error(engram::detail::message("'", path, "' declares shape ", shape_text(),
                                              ", whose size in bytes overflows"));
  return h;
}

}  // namespace detail

}  // namespace engram::io
