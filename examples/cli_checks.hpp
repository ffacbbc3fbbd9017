// What the examples share besides their charts: CLI11 checks that refuse NaN and negative seeds,
// short number formatting, and seed 001's distinct binary patterns.
#pragma once

#include <CLI/CLI.hpp>
#include <engram/engram.hpp>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace example {

inline std::string short_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

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

}  // namespace example
