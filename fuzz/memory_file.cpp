// libFuzzer target: the memory-file loader on arbitrary bytes, as every kind of memory it
// can return. Every input must end in a memory or an engram::error, never a partially filled
// object, a crash, a hang, a sanitizer report or an allocation beyond load_options::max_bytes.
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_file.hpp"

namespace {

template <class Memory>
void load(const std::filesystem::path& p) {
  try {
    const Memory m = engram::io::load_memory<Memory>(p, {.max_bytes = std::uint64_t(1) << 24});
    // A loaded memory is whole: its dimension is positive and what it stores is finite.
    if (m.dim() < 1) std::abort();
  } catch (const engram::error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const engram_fuzz::input_file file(data, size, "memory");
  load<engram::dense_memory<float>>(file.path());
  load<engram::dense_memory<double>>(file.path());
  load<engram::distributed_memory<engram::sincos_features, double>>(file.path());
  load<engram::distributed_memory<engram::cos_features, float>>(file.path());
  load<engram::distributed_memory<engram::quadratic_features<double>, double>>(file.path());
  return 0;
}
