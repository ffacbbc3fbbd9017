// libFuzzer target: the IDX reader on arbitrary bytes, plain or gzip (zlib reads both). Every
// input must end in a matrix or an engram::error; a crash, a hang, a sanitizer report or an
// allocation beyond the limit is a finding.
#include <engram/io.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const engram_fuzz::input_file file(data, size, "idx");
  const engram::io::idx_limits limits{.max_values = std::uint64_t(1) << 22};
  try {
    const auto m = engram::io::read_idx<float>(file.path(), -1, limits);
    if (std::uint64_t(m.size()) > limits.max_values) std::abort();  // the limit held
  } catch (const engram::error&) {
  }
  try {
    (void)engram::io::read_idx_images<double>(file.path(), 3, limits);
  } catch (const engram::error&) {
  }
  try {
    (void)engram::io::read_idx_labels(file.path(), -1, limits);
  } catch (const engram::error&) {
  }
  return 0;
}
