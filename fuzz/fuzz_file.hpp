// The readers take paths: each fuzz input is written to a file of its own (one per process,
// in the system's temporary folder) and removed when the input is done.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace engram_fuzz {

class input_file {
 public:
  input_file(const std::uint8_t* data, std::size_t size, const char* name)
      : path_(std::filesystem::temp_directory_path() /
              ("engram_fuzz_" + std::string(name) + "_" + std::to_string(::getpid()))) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write the fuzz input file");
    if (size > 0) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  ~input_file() { std::remove(path_.c_str()); }
  input_file(const input_file&) = delete;
  input_file& operator=(const input_file&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace engram_fuzz
