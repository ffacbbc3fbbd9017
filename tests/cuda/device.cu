// The cuda backend's device layer (engram/backend/cuda/device.cuh), compiled by nvcc. Where no
// device can be used (the build machines), it checks that asking for device memory raises
// device_unavailable naming the call, and says that the checks on a device were skipped; on a
// GPU it checks transfers, moves, size mismatches and an allocation beyond the device's memory.
#include <engram/backend/cuda/device.cuh>

#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "catch.hpp"

using Catch::Matchers::Contains;

TEST_CASE("an empty device buffer needs no device", "[cuda]") {
  engram::device_buffer<float> empty(0);
  CHECK(empty.empty());
  CHECK(empty.data() == nullptr);
  CHECK(empty.size() == 0);
  std::vector<float> none;
  CHECK_NOTHROW(empty.upload(none.data(), 0));
  CHECK_THROWS_AS(empty.upload(none.data(), 3), engram::dimension_mismatch);
}

TEST_CASE("device memory without a device is a typed error", "[cuda]") {
  if (engram::device_count() > 0) {
    std::cout << "engram_cuda_tests: a CUDA device is present; the no-device checks do not "
                 "apply\n";
    return;
  }
  std::cout << "engram_cuda_tests: no CUDA device here (device_count() == 0); the checks on a "
               "device are skipped\n";
  CHECK_THROWS_AS(engram::current_device(), engram::device_unavailable);
  CHECK_THROWS_WITH(engram::device_buffer<float>(1024),
                    Contains("cudaMalloc") && Contains("no CUDA device"));
  CHECK_THROWS_AS(engram::device_buffer<double>(1), engram::device_unavailable);
  // A device_unavailable is a device_error and an engram::error.
  CHECK_THROWS_AS(engram::device_buffer<float>(1), engram::device_error);
  CHECK_THROWS_AS(engram::device_buffer<float>(1), engram::error);
}

TEST_CASE("device buffers on a device", "[cuda]") {
  if (engram::device_count() == 0) {
    std::cout << "engram_cuda_tests: no CUDA device: transfers, moves and out-of-memory "
                 "skipped\n";
    return;
  }
  const engram::device_info info = engram::current_device();
  std::cout << "engram_cuda_tests: device " << info.ordinal << ", " << info.name << ", sm_"
            << info.major << info.minor << ", " << info.free_bytes << " of " << info.total_bytes
            << " bytes free\n";
  CHECK(info.total_bytes >= info.free_bytes);

  std::vector<float> host(1000), back(1000, -1.f);
  std::iota(host.begin(), host.end(), 0.5f);
  engram::device_buffer<float> buffer(host.size());
  REQUIRE(buffer.size() == 1000);
  buffer.upload(host.data(), host.size());
  buffer.download(back.data(), back.size());
  CHECK(back == host);
  CHECK_THROWS_AS(buffer.upload(host.data(), 999), engram::dimension_mismatch);
  CHECK_THROWS_WITH(buffer.download(back.data(), 1001), Contains("1001") && Contains("1000"));

  engram::device_buffer<float> moved(std::move(buffer));
  CHECK(buffer.empty());
  CHECK(moved.size() == 1000);
  std::fill(back.begin(), back.end(), -1.f);
  moved.download(back.data(), back.size());
  CHECK(back == host);

  // More than the whole device: refused with the sizes, and the device still usable after.
  const std::size_t too_many = info.total_bytes / sizeof(float) + 1;
  CHECK_THROWS_AS(engram::device_buffer<float>(too_many), engram::device_out_of_memory);
  CHECK_THROWS_WITH(engram::device_buffer<float>(too_many), Contains("bytes free of"));
  engram::device_buffer<float> after(16);
  CHECK(after.size() == 16);
}
