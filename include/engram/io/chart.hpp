// Line charts as PNG: series of (x, y) points on linear or log axes, with ticks, labels and a
// legend, drawn into an RGB canvas and written through stb_image_write. Text comes from
// stb_easy_font's segment font, scaled up. Several charts can share one picture as panels.
#pragma once

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram::io {

using rgb = std::array<std::uint8_t, 3>;

struct chart_series {
  std::string name;
  std::vector<double> x, y;
  rgb color{0, 0, 0};
};

struct line_chart {
  std::string title{}, x_label{}, y_label{};
  bool log_x = false, log_y = false;
  index width = 900, height = 520;
  std::vector<chart_series> series{};

  void validate() const {
    if (width < 200 || height < 150)
      throw invalid_argument(engram::detail::message("line_chart is ", width, " x ", height,
                                                     " pixels; it must be at least 200 x 150"));
    for (const auto& s : series)
      if (s.x.size() != s.y.size())
        throw dimension_mismatch(engram::detail::message(
            "series '", s.name, "' has ", s.x.size(), " x values and ", s.y.size(), " y values"));
  }
};

/// A few distinguishable colours for series.
inline rgb palette(std::size_t i) {
  static const rgb colours[] = {{31, 119, 180},  {214, 39, 40}, {44, 160, 44},   {255, 127, 14},
                                {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                {188, 189, 34},  {23, 190, 207}};
  return colours[i % (sizeof(colours) / sizeof(colours[0]))];
}

namespace detail {

class canvas {
 public:
  canvas(index w, index h) : w_(w), h_(h), pixels_(std::size_t(w * h * 3), 255) {}
  index width() const { return w_; }
  index height() const { return h_; }
  const std::uint8_t* data() const { return pixels_.data(); }

  void dot(index x, index y, rgb c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    std::copy(c.begin(), c.end(), pixels_.begin() + std::ptrdiff_t((y * w_ + x) * 3));
  }
  void rect(index x0, index y0, index x1, index y1, rgb c) {
    for (index y = std::max<index>(0, y0); y < std::min(h_, y1); ++y)
      for (index x = std::max<index>(0, x0); x < std::min(w_, x1); ++x) dot(x, y, c);
  }
  /// A segment `thick` pixels wide (a square brush along the line).
  void line(double x0, double y0, double x1, double y1, rgb c, int thick = 2) {
    const double len = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
    const int n = int(std::ceil(len)) + 1;
    for (int i = 0; i <= n; ++i) {
      const double t = n == 0 ? 0 : double(i) / n;
      const index x = index(std::lround(x0 + t * (x1 - x0))),
                  y = index(std::lround(y0 + t * (y1 - y0)));
      rect(x - thick / 2, y - thick / 2, x - thick / 2 + thick, y - thick / 2 + thick, c);
    }
  }
  /// Text with its top-left corner at (x, y), each font unit drawn as scale x scale pixels.
  void text(double x, double y, const std::string& s, rgb c, int scale = 2) {
    // stb_easy_font emits up to ~14 quads of 64 bytes per character.
    std::vector<char> buffer(s.size() * 1024 + 256);
    std::vector<char> str(s.begin(), s.end());
    str.push_back('\0');
    unsigned char colour[4] = {c[0], c[1], c[2], 255};
    const int quads =
        stb_easy_font_print(0, 0, str.data(), colour, buffer.data(), int(buffer.size()));
    const float* v = reinterpret_cast<const float*>(buffer.data());
    for (int q = 0; q < quads; ++q) {
      const float* quad = v + q * 16;  // 4 vertices of x, y, z, colour (4 floats each)
      float qx0 = quad[0], qy0 = quad[1], qx1 = quad[0], qy1 = quad[1];
      for (int k = 1; k < 4; ++k) {
        qx0 = std::min(qx0, quad[k * 4]);
        qx1 = std::max(qx1, quad[k * 4]);
        qy0 = std::min(qy0, quad[k * 4 + 1]);
        qy1 = std::max(qy1, quad[k * 4 + 1]);
      }
      rect(index(x + qx0 * scale), index(y + qy0 * scale), index(x + qx1 * scale),
           index(y + qy1 * scale), c);
    }
  }
  static double text_width(const std::string& s, int scale = 2) {
    std::vector<char> str(s.begin(), s.end());
    str.push_back('\0');
    return double(stb_easy_font_width(str.data()) * scale);
  }

 private:
  index w_, h_;
  std::vector<std::uint8_t> pixels_;
};

inline std::string tick_label(double v) {
  char buf[32];
  if (v != 0 && (std::abs(v) >= 1e4 || std::abs(v) < 1e-2))
    std::snprintf(buf, sizeof buf, "%.0e", v);
  else
    std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

/// Tick positions: powers of ten on a log axis, 1-2-5 steps on a linear one.
inline std::vector<double> ticks(double lo, double hi, bool log) {
  std::vector<double> out;
  if (log) {
    for (double p = std::floor(lo); p <= std::ceil(hi) + 1e-9; p += 1)
      if (p >= lo - 1e-9 && p <= hi + 1e-9) out.push_back(std::pow(10.0, p));
    if (out.size() < 2) {
      out.clear();
      out.push_back(std::pow(10.0, lo));
      out.push_back(std::pow(10.0, hi));
    }
    return out;
  }
  const double span = hi - lo, raw = span / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 2 ? 2 * mag : raw / mag < 5 ? 5 * mag : 10 * mag;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step)
    out.push_back(std::abs(t) < 1e-12 * span ? 0.0 : t);
  return out;
}

inline void draw_chart(canvas& cv, index ox, index oy, const line_chart& chart) {
  // The legend takes rows of up to three entries below the axis label.
  const double legend_rows = double((chart.series.size() + 2) / 3);
  const double left = double(ox) + 90, right = double(ox + chart.width) - 20;
  const double top = double(oy) + 40, bottom = double(oy + chart.height) - 60 - 22 * legend_rows;
  const rgb ink{0, 0, 0}, grey{200, 200, 200};
  // Data ranges in axis coordinates (log10 where the axis is logarithmic).
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  const auto ax = [&](double v) { return chart.log_x ? std::log10(v) : v; };
  const auto ay = [&](double v) { return chart.log_y ? std::log10(v) : v; };
  const auto usable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!chart.log_x || x > 0) &&
           (!chart.log_y || y > 0);
  };
  for (const auto& s : chart.series)
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (usable(s.x[i], s.y[i])) {
        x0 = std::min(x0, ax(s.x[i]));
        x1 = std::max(x1, ax(s.x[i]));
        y0 = std::min(y0, ay(s.y[i]));
        y1 = std::max(y1, ay(s.y[i]));
      }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;
  const auto px = [&](double v) { return left + (ax(v) - x0) / (x1 - x0) * (right - left); };
  const auto py = [&](double v) { return bottom - (ay(v) - y0) / (y1 - y0) * (bottom - top); };

  for (double t : ticks(x0, x1, chart.log_x)) {
    const double x = px(t);
    cv.line(x, top, x, bottom, grey, 1);
    const std::string label = tick_label(t);
    cv.text(x - canvas::text_width(label) / 2, bottom + 8, label, ink);
  }
  for (double t : ticks(y0, y1, chart.log_y)) {
    const double y = py(t);
    cv.line(left, y, right, y, grey, 1);
    const std::string label = tick_label(t);
    cv.text(left - 8 - canvas::text_width(label), y - 6, label, ink);
  }
  cv.line(left, top, left, bottom, ink, 2);
  cv.line(left, bottom, right, bottom, ink, 2);
  cv.text(double(ox) + (double(chart.width) - canvas::text_width(chart.title, 3)) / 2,
          double(oy) + 8, chart.title, ink, 3);
  cv.text((left + right - canvas::text_width(chart.x_label)) / 2, bottom + 32, chart.x_label, ink);
  cv.text(double(ox) + 8, top - 22, chart.y_label, ink);

  for (std::size_t k = 0; k < chart.series.size(); ++k) {
    const auto& s = chart.series[k];
    bool have = false;
    double lx = 0, ly = 0;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) {
        have = false;
        continue;
      }
      const double x = px(s.x[i]), y = py(s.y[i]);
      if (have) cv.line(lx, ly, x, y, s.color, 2);
      cv.rect(index(x) - 3, index(y) - 3, index(x) + 4, index(y) + 4, s.color);
      lx = x, ly = y, have = true;
    }
    const double lx_legend = left + double(k % 3) * (right - left) / 3;
    const double ly_legend = bottom + 58 + 22 * double(k / 3);
    cv.rect(index(lx_legend), index(ly_legend), index(lx_legend + 14), index(ly_legend + 12),
            s.color);
    cv.text(lx_legend + 20, ly_legend, s.name, ink);
  }
}

}  // namespace detail

/// Writes the charts as panels of one PNG, `columns` panels per row.
inline void write_png_charts(const std::filesystem::path& path,
                             const std::vector<line_chart>& charts, index columns = 1) {
  if (charts.empty()) throw invalid_argument("no charts to write");
  if (columns < 1)
    throw invalid_argument(engram::detail::message("columns is ", columns, "; it must be >= 1"));
  const index n = index(charts.size()), cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  index cell_w = 0;
  std::vector<index> row_top(std::size_t(rows + 1), 0);  // rows as tall as their tallest chart
  for (index i = 0; i < n; ++i) {
    const auto& c = charts[std::size_t(i)];
    c.validate();
    cell_w = std::max(cell_w, c.width);
    auto& next = row_top[std::size_t(i / cols + 1)];
    next = std::max(next, c.height);
  }
  for (index r = 0; r < rows; ++r) row_top[std::size_t(r + 1)] += row_top[std::size_t(r)];
  detail::canvas cv(cols * cell_w, row_top.back());
  for (index i = 0; i < n; ++i)
    detail::draw_chart(cv, (i % cols) * cell_w, row_top[std::size_t(i / cols)],
                       charts[std::size_t(i)]);
  const std::filesystem::path part = path.string() + ".part";
  if (!stbi_write_png(part.string().c_str(), int(cv.width()), int(cv.height()), 3, cv.data(),
                      int(cv.width() * 3))) {
    std::error_code ignored;
    std::filesystem::remove(part, ignored);
    throw io_error(engram::detail::message("cannot write PNG '", path.string(), "'"));
  }
  std::filesystem::rename(part, path);
}

inline void write_png_chart(const std::filesystem::path& path, const line_chart& chart) {
  write_png_charts(path, {chart});
}

}  // namespace engram::io
