// Helpers for tests that touch files: a scratch folder removed afterwards, and raw bytes read
// from and written to a path.
#pragma once

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace engram_test {

/// A fresh folder under the system's temporary folder, with a name no other test run shares
/// (two runs of the suite at once must not meet), removed with everything in it.
struct scratch_dir {
  std::filesystem::path path;
  explicit scratch_dir(const std::string& name) {
    static std::atomic<unsigned> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("engram_test_" + name + "_" + std::to_string(std::random_device{}()) + "_" +
            std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
};

inline std::vector<unsigned char> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<unsigned char>& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

}  // namespace engram_test
