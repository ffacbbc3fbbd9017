// Reader and writer of the IDX format of MNIST and Fashion-MNIST (LeCun et al.): a magic
// 0x00 0x00 <type> <rank>, <rank> big-endian 32-bit sizes, then the items in row-major order.
// Files go through zlib, so .gz and plain files both read; a truncated or malformed file
// raises engram::parse_error naming the file and what was expected.
#pragma once

#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/io/idx_format.hpp"

namespace engram::io {

/// Limits on what a file may make the reader allocate, checked against the header before any
/// allocation: a header can claim up to 2^32 items of 2^32 values, and a small gzip stream
/// can inflate to gigabytes.
struct idx_limits {
  /// Values read into the result matrix (items read x values per item). The default, 2^28
  /// (1 GiB as float), holds Fashion-MNIST's 47 million pixels with room to spare.
  std::uint64_t max_values = std::uint64_t(1) << 28;
};

/// The header of an IDX file (type and shape), without reading its items.
inline idx_header read_idx_header(const std::filesystem::path& path) {
  detail::gz_file in(path, "rb");
  return detail::read_header(in, path.string());
}

/// Reads up to `max_items` items (all when negative) of an IDX file as the columns of an
/// item_size x N matrix, values converted to Scalar unscaled. Rank-1 files give 1 x N.
/// More than limits.max_values values raise invalid_argument before anything is allocated.
template <real_scalar Scalar>
matrix<Scalar> read_idx(const std::filesystem::path& path, index max_items = -1,
                        const idx_limits& limits = {}) {
  detail::gz_file in(path, "rb");
  const idx_header h = detail::read_header(in, path.string());
  const std::uint64_t per_item = h.item_size();
  const std::uint64_t n = max_items < 0 ? h.items() : std::min<std::uint64_t>(h.items(), max_items);
  const std::size_t width = idx_type_size(h.type);
  const std::uint64_t total = per_item * n;  // cannot overflow: read_header bounded the product
  if (std::max(total, per_item) > limits.max_values)
    throw invalid_argument(engram::detail::message(
        "'", path.string(), "' declares ", n, " items of ", per_item, " values (", total,
        " values) to read, above idx_limits.max_values = ", limits.max_values,
        "; read fewer items or raise the limit if the file is trusted"));
  // Values are read in chunks of at most 1 MiB and the result grows as they arrive, so a
  // header that declares far more data than the file holds fails as truncated before any
  // large allocation.
  std::vector<Scalar> values;
  values.reserve(std::size_t(std::min<std::uint64_t>(total, 1u << 20)));
  std::vector<unsigned char> raw;
  const std::uint64_t chunk_values = std::max<std::uint64_t>(1, (1u << 20) / width);
  for (std::uint64_t done = 0; done < total;) {
    const std::uint64_t count = std::min(chunk_values, total - done);
    raw.resize(std::size_t(count * width));
    const std::size_t got = in.read_some(raw.data(), raw.size(), "the items");
    if (got < raw.size()) {
      const std::uint64_t values_read = done + got / width;
      throw parse_error(engram::detail::message(
          "'", path.string(), "' is truncated: item ", values_read / per_item, " of ", h.items(),
          " is incomplete (the data ends after ", values_read, " of ", total, " values)"));
    }
    for (std::uint64_t i = 0; i < count; ++i) {
      const unsigned char* b = &raw[std::size_t(i * width)];
      Scalar v{};
      switch (h.type) {
        case idx_type::u8:
          v = Scalar(b[0]);
          break;
        case idx_type::i8:
          v = Scalar(static_cast<std::int8_t>(b[0]));
          break;
        case idx_type::i16:
          v = Scalar(detail::read_big_endian<std::int16_t>(b));
          break;
        case idx_type::i32:
          v = Scalar(detail::read_big_endian<std::int32_t>(b));
          break;
        case idx_type::f32:
          v = Scalar(detail::read_big_endian<float>(b));
          break;
        case idx_type::f64:
          v = Scalar(detail::read_big_endian<double>(b));
          break;
      }
      values.push_back(v);
    }
    done += count;
  }
  return Eigen::Map<const matrix<Scalar>>(values.data(), static_cast<index>(per_item),
                                          static_cast<index>(n));
}

/// Images of an unsigned-byte IDX file (MNIST, Fashion-MNIST) scaled to [0, 1], one per column
/// in row-major pixel order.
template <real_scalar Scalar>
matrix<Scalar> read_idx_images(const std::filesystem::path& path, index max_items = -1,
                               const idx_limits& limits = {}) {
  const idx_header h = read_idx_header(path);
  if (h.type != idx_type::u8 || h.shape.size() != 3)
    throw parse_error(engram::detail::message("'", path.string(),
                                              "' is not an unsigned-byte image file of rank 3 "
                                              "(type code ",
                                              int(h.type), ", rank ", h.shape.size(), ")"));
  return read_idx<Scalar>(path, max_items, limits) / Scalar(255);
}

/// Labels of a rank-1 unsigned-byte IDX file.
inline Eigen::VectorXi read_idx_labels(const std::filesystem::path& path, index max_items = -1,
                                       const idx_limits& limits = {}) {
  const idx_header h = read_idx_header(path);
  if (h.type != idx_type::u8 || h.shape.size() != 1)
    throw parse_error(engram::detail::message("'", path.string(),
                                              "' is not an unsigned-byte label file of rank 1 "
                                              "(type code ",
                                              int(h.type), ", rank ", h.shape.size(), ")"));
  return read_idx<double>(path, max_items, limits).row(0).transpose().cast<int>();
}

/// Writes the columns of `items` as an IDX file of element type `type` whose items have
/// shape `item_shape` (its product must equal items.rows()). gzip-compressed when `gzip`.
/// The file appears under `path` only once complete (written aside, then renamed).
template <class Derived>
void write_idx(const std::filesystem::path& path, const Eigen::MatrixBase<Derived>& items,
               const std::vector<std::uint32_t>& item_shape, idx_type type, bool gzip = false) {
  std::uint64_t per_item = 1;
  for (auto s : item_shape) {
    if (s != 0 && per_item > std::numeric_limits<std::uint64_t>::max() / s)
      throw invalid_argument("item_shape's product overflows 64 bits");
    per_item *= s;
  }
  if (per_item != std::uint64_t(items.rows()))
    throw dimension_mismatch(engram::detail::message(
        "items has ", items.rows(), " rows but item_shape holds ", per_item, " values"));
  if (item_shape.size() + 1 > 255)
    throw invalid_argument(engram::detail::message("item_shape has rank ", item_shape.size(),
                                                   "; IDX allows at most 254"));
  if (std::uint64_t(items.cols()) > std::numeric_limits<std::uint32_t>::max())
    throw invalid_argument(
        engram::detail::message("items has ", items.cols(), " columns; IDX allows 2^32 - 1"));
  require_finite("items", items);
  if (type == idx_type::f32)
    for (index j = 0; j < items.cols(); ++j)
      for (index i = 0; i < items.rows(); ++i)
        if (std::abs(double(items(i, j))) > double(std::numeric_limits<float>::max()))
          throw invalid_argument(engram::detail::message(
              "items has ", double(items(i, j)), " at (", i, ", ", j,
              "), beyond the largest float (", std::numeric_limits<float>::max(),
              "); IDX type code 13 (f32) cannot hold it: write it as f64"));
  if (type != idx_type::f32 && type != idx_type::f64) {
    const double lo = type == idx_type::u8    ? 0.0
                      : type == idx_type::i8  ? -128.0
                      : type == idx_type::i16 ? -32768.0
                                              : -2147483648.0;
    const double hi = type == idx_type::u8    ? 255.0
                      : type == idx_type::i8  ? 127.0
                      : type == idx_type::i16 ? 32767.0
                                              : 2147483647.0;
    for (index j = 0; j < items.cols(); ++j)
      for (index i = 0; i < items.rows(); ++i) {
        const double v = double(items(i, j));
        if (v < lo || v > hi || v != std::trunc(v))
          throw invalid_argument(engram::detail::message(
              "items has ", v, " at (", i, ", ", j, "), which IDX type code ", int(type),
              " cannot hold: it takes integers in [", lo, ", ", hi, "]"));
      }
  }

  const std::filesystem::path part = path.string() + ".part";
  try {
    detail::gz_file out(part, gzip ? "wb9" : "wbT");
    std::vector<unsigned char> head = {0, 0, std::uint8_t(type),
                                       std::uint8_t(item_shape.size() + 1)};
    std::vector<std::uint32_t> shape = {std::uint32_t(items.cols())};
    shape.insert(shape.end(), item_shape.begin(), item_shape.end());
    for (auto s : shape) {
      unsigned char b[4];
      detail::write_big_endian<std::uint32_t>(s, b);
      head.insert(head.end(), b, b + 4);
    }
    out.write(head.data(), head.size());
    const std::size_t width = idx_type_size(type);
    std::vector<unsigned char> raw(per_item * width);
    for (index j = 0; j < items.cols(); ++j) {
      for (index i = 0; i < items.rows(); ++i) {
        const double v = double(items(i, j));
        unsigned char* b = &raw[std::size_t(i) * width];
        switch (type) {
          case idx_type::u8:
            b[0] = std::uint8_t(v);
            break;
          case idx_type::i8:
            b[0] = std::uint8_t(std::int8_t(v));
            break;
          case idx_type::i16:
            detail::write_big_endian<std::int16_t>(std::int16_t(v), b);
            break;
          case idx_type::i32:
            detail::write_big_endian<std::int32_t>(std::int32_t(v), b);
            break;
          case idx_type::f32:
            detail::write_big_endian<float>(float(v), b);
            break;
          case idx_type::f64:
            detail::write_big_endian<double>(v, b);
            break;
        }
      }
      out.write(raw.data(), raw.size());
    }
    out.close();
    std::filesystem::rename(part, path);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(part, ignored);
    throw;
  }
}

}  // namespace engram::io
