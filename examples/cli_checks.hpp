// What the examples share: CLI11 checks that refuse NaN and negative seeds, one-line messages
// for refused flags, the output folder checked before any work, the Fashion-MNIST files found
// or the Debian package named, short number formatting, files written whole (through a .part
// file renamed when complete), the "wrote" lines and gnuplot calls, and seed 001's distinct
// binary patterns.
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

/// Refused flags print one line, "program: what was wrong (see --help)", and exit with 106
/// (CLI11's code for a value out of range) or another code from 1 to 127.
inline void one_line_errors(CLI::App& app, const std::string& program) {
  app.failure_message([program](const CLI::App*, const CLI::Error& e) {
    return program + ": " + e.what() + " (see --help)\n";
  });
}

/// Creates the output folder and checks that a file can be written in it, before any long
/// work: an unwritable --out is a message at once, not after minutes of computing.
inline std::filesystem::path prepare_out(const std::string& out) {
  const std::filesystem::path folder(out);
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec)
    throw engram::io_error("cannot create the output folder " + folder.string() + ": " +
                           ec.message());
  const auto probe = folder / ".engram-write-check.part";
  {
    std::ofstream f(probe);
    if (!f || !(f << "x") || !f.flush())
      throw engram::io_error("cannot write in the output folder " + folder.string());
  }
  std::filesystem::remove(probe, ec);
  return folder;
}

/// `name` (train-images-idx3-ubyte.gz, ...) in the Fashion-MNIST folder `data`; a missing file
/// names the Debian package that installs it.
inline std::filesystem::path fashion_mnist(const std::string& data, const std::string& name) {
  const auto file = std::filesystem::path(data) / name;
  if (!std::filesystem::exists(file))
    throw engram::io_error("cannot find " + file.string() +
                           ": install Debian's Fashion-MNIST (apt-get install "
                           "dataset-fashion-mnist) or point --data at a folder holding it");
  return file;
}

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
