// Charts for the examples, drawn by gnuplot (Debian's gnuplot-nox, pngcairo terminal) from the
// CSV files the examples write, each PNG beside the CSV it plots. A copy of an example without
// gnuplot still writes its CSV and says that the picture was skipped.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>

namespace plot {

/// Runs `script` through gnuplot; prints why and returns false when it cannot.
inline bool gnuplot(const std::string& script, const std::filesystem::path& png) {
  FILE* pipe = popen("gnuplot 2>&1", "w");
  if (!pipe) {
    std::fprintf(stderr, "cannot start gnuplot; %s not drawn\n", png.c_str());
    return false;
  }
  std::fputs(script.c_str(), pipe);
  const int status = pclose(pipe);
  if (status != 0 || !std::filesystem::exists(png)) {
    std::fprintf(stderr, "gnuplot failed (status %d; is gnuplot-nox installed?); %s not drawn\n",
                 status, png.c_str());
    return false;
  }
  return true;
}

/// A gnuplot string literal for a path or a label.
inline std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace plot
