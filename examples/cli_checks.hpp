// What the examples share: CLI11 checks that refuse NaN and negative seeds, short number
// formatting, files written whole (through a .part file renamed when complete), the "wrote"
// lines and gnuplot calls, and seed 001's distinct binary patterns.
#pragma once

#include <CLI/CLI.hpp>
#include <engram/engram.hpp>

#include "gnuplot.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace example {

inline std::string short_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

// A CLI11 check for numbers that must be finite and at least 0 (CLI::Range lets NaN through).
inline const CLI::Validator non_negative_finite(
    [](std::string& text) -> std::string {
      double v = 0;
      if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || !(v >= 0))
        return "value " + text + " must be a finite number >= 0";
      return {};
    },
    "NON-NEGATIVE");

// A CLI11 check for numbers that must be finite and greater than 0 (CLI::PositiveNumber lets
// NaN through).
inline const CLI::Validator positive_finite(
    [](std::string& text) -> std::string {
      double v = 0;
      if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || !(v > 0))
        return "value " + text + " must be a finite number greater than 0";
      return {};
    },
    "POSITIVE");

// A CLI11 check for seeds: CLI11 would read "-3" into an unsigned integer as 2^64 - 3.
inline const CLI::Validator whole_number(
    [](std::string& text) -> std::string {
      if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
        return "value " + text + " must be a whole number >= 0";
      return {};
    },
    "WHOLE");

// `count` distinct binary patterns of dimension d, scaled to {0, 1/sqrt(d)} (seed 001 sec. 4);
// `advice` ends the message when there are fewer than `count` of them.
inline Eigen::MatrixXd binary_patterns(Eigen::Index d, Eigen::Index count, std::uint64_t seed,
                                       const std::string& advice) {
  if (d < 62 && count > (Eigen::Index(1) << d))
    throw engram::invalid_argument("cannot draw " + std::to_string(count) +
                                   " distinct binary patterns of dimension " + std::to_string(d) +
                                   advice);
  const engram::philox_source rng(seed);
  Eigen::MatrixXd out(d, count);
  std::set<std::vector<bool>> seen;
  std::uint64_t draw = 0;
  for (Eigen::Index j = 0; j < count;) {
    std::vector<bool> bits(static_cast<std::size_t>(d));
    for (Eigen::Index i = 0; i < d; ++i)
      bits[std::size_t(i)] = rng.uniform<double>(0, draw++) > 0.5;
    if (!seen.insert(bits).second) continue;
    for (Eigen::Index i = 0; i < d; ++i) out(i, j) = bits[std::size_t(i)] / std::sqrt(double(d));
    ++j;
  }
  return out;
}

/// Writes `path` through `path.part`, renamed once complete: never a half-written file.
inline void write_file(const std::filesystem::path& path,
                       const std::function<void(std::ofstream&)>& body) {
  const std::string part = path.string() + ".part";
  std::ofstream out(part);
  if (!out) throw engram::io_error("cannot write " + part);
  out.precision(12);
  body(out);
  out.close();
  if (!out) throw engram::io_error("cannot write " + part);
  std::filesystem::rename(part, path);
}

/// "wrote CSV and PNG" (or only the CSV when the picture was not drawn).
inline void report_written(const std::filesystem::path& csv, const std::filesystem::path& png,
                           bool drew) {
  std::printf("wrote %s%s%s\n", csv.c_str(), drew ? " and " : "", drew ? png.c_str() : "");
}

/// plot::gnuplot after flushing our output, so that gnuplot's messages fall in place.
inline bool draw(const std::string& script, const std::filesystem::path& png) {
  std::fflush(stdout);
  return plot::gnuplot(script, png);
}

}  // namespace example
