// PNG output through stb_image_write: a grid of grayscale images, one image per column of a
// matrix in row-major pixel order (the IDX layout). Values are mapped linearly from [lo, hi]
// to [0, 255] and clipped. The file appears under its name only once complete.
#pragma once

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram::io {

struct image_grid {
  index height = 28;  ///< pixels per image row count
  index width = 28;   ///< pixels per image column count
  index columns = 0;  ///< images per grid row; 0 puts all in one row
  index padding = 2;  ///< pixels between images
  index zoom = 1;     ///< each pixel drawn as a zoom x zoom square
  double lo = 0.0;    ///< value shown black
  double hi = 1.0;    ///< value shown white
  std::uint8_t background = 64;

  void validate() const {
    if (height < 1 || width < 1)
      throw invalid_argument(
          engram::detail::message("image_grid is ", height, " x ", width, "; both must be >= 1"));
    if (zoom < 1)
      throw invalid_argument(
          engram::detail::message("image_grid zoom is ", zoom, "; it must be >= 1"));
    if (columns < 0 || padding < 0)
      throw invalid_argument(engram::detail::message("image_grid columns ", columns,
                                                     " and padding ", padding, " must be >= 0"));
    // No side of the picture can exceed 2^30 pixels, so no setting may either; this also keeps
    // height * width and the later products far from overflow.
    constexpr index most = index(1) << 30;
    if (height > most || width > most || zoom > most || padding > most || columns > most)
      throw invalid_argument(engram::detail::message(
          "image_grid height ", height, ", width ", width, ", zoom ", zoom, ", padding ", padding,
          ", columns ", columns, ": each must be at most 2^30"));
    if (!std::isfinite(lo) || !std::isfinite(hi))
      throw invalid_argument(
          engram::detail::message("image_grid range [", lo, ", ", hi, "] must be finite"));
    if (!(hi > lo))
      throw invalid_argument(
          engram::detail::message("image_grid range [", lo, ", ", hi, "] is empty"));
  }
};

/// Writes the columns of `images` (height*width x N) as a grid PNG at `path`.
template <class Derived>
void write_png_grid(const std::filesystem::path& path, const Eigen::MatrixBase<Derived>& images,
                    const image_grid& grid) {
  grid.validate();
  if (images.rows() != grid.height * grid.width)
    throw dimension_mismatch(engram::detail::message(
        "images has ", images.rows(), " rows; the grid's images have ", grid.height, " x ",
        grid.width, " = ", grid.height * grid.width, " pixels"));
  require_columns("images", images.cols());
  const index n = images.cols();
  const index cols = grid.columns > 0 ? std::min(grid.columns, n) : n;
  const index rows = (n + cols - 1) / cols;
  // The picture's sides in double first: zoom, padding and counts from the caller can make the
  // integer products overflow. stb_image_write takes int sides and an int row stride.
  const double z_d = double(grid.zoom), pad = double(grid.padding);
  const double W_d = double(cols) * (double(grid.width) * z_d) + double(cols + 1) * pad;
  const double H_d = double(rows) * (double(grid.height) * z_d) + double(rows + 1) * pad;
  constexpr double side_limit = 1 << 30, pixel_limit = double(std::int64_t(1) << 31);
  if (W_d > side_limit || H_d > side_limit || W_d * H_d > pixel_limit)
    throw invalid_argument(engram::detail::message(
        "the grid picture would be ", W_d, " x ", H_d, " pixels (", n, " images of ", grid.height,
        " x ", grid.width, ", zoom ", grid.zoom, ", padding ", grid.padding,
        "); at most 2^30 per side and 2^31 in all; lower zoom or padding, or write fewer images"));
  const index z = grid.zoom, h = grid.height * z, w = grid.width * z;
  const index W = index(W_d), H = index(H_d);
  std::vector<std::uint8_t> pixels(std::size_t(W * H), grid.background);
  for (index k = 0; k < n; ++k) {
    const index top = grid.padding + (k / cols) * (h + grid.padding);
    const index left = grid.padding + (k % cols) * (w + grid.padding);
    for (index r = 0; r < h; ++r)
      for (index c = 0; c < w; ++c) {
        const double v = double(images((r / z) * grid.width + c / z, k));
        double t = std::isfinite(v) ? (v - grid.lo) / (grid.hi - grid.lo) : 0.0;
        t = std::clamp(t, 0.0, 1.0);
        pixels[std::size_t((top + r) * W + left + c)] = std::uint8_t(std::lround(255.0 * t));
      }
  }
  const std::filesystem::path part = path.string() + ".part";
  if (!stbi_write_png(part.string().c_str(), int(W), int(H), 1, pixels.data(), int(W))) {
    std::error_code ignored;
    std::filesystem::remove(part, ignored);
    throw io_error(engram::detail::message("cannot write PNG '", path.string(), "'"));
  }
  std::filesystem::rename(part, path);
}

}  // namespace engram::io
