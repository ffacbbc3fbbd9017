// The cuda backend's device layer: which devices there are, and device memory owned the way a
// std::vector owns host memory (RAII, move-only, released on every path, exceptions
// included), with explicit copies across the host-device boundary. Every CUDA runtime status
// that is not cudaSuccess becomes a typed engram::error naming the call: device_unavailable
// where there is no device or driver, device_out_of_memory where an allocation exceeds the
// free memory (with both sizes), device_error otherwise. Nothing here falls back to the host.
// CUDA C++: compiled only by nvcc, in targets linked to engram::cuda.
#pragma once

#if !defined(__CUDACC__)
#error \
    "engram/backend/cuda/device.cuh is CUDA C++: compile it with nvcc, in a target linked to engram::cuda (a build configured with -DENGRAM_WITH_CUDA=ON)"
#endif

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "engram/core/error.hpp"

namespace engram {

namespace cuda_detail {

/// True for the statuses that mean "no usable device here" rather than a failed operation.
inline bool means_no_device(cudaError_t status) {
  return status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver ||
         status == cudaErrorInvalidDevice || status == cudaErrorDevicesUnavailable ||
         status == cudaErrorSystemDriverMismatch || status == cudaErrorCompatNotSupportedOnDevice;
}

/// Throws the engram error for `status` (not cudaSuccess), naming `call`, and clears the
/// runtime's last error so that the next call starts clean.
[[noreturn]] inline void fail(cudaError_t status, const char* call) {
  (void)cudaGetLastError();
  const std::string what = detail::message(call, " failed: ", cudaGetErrorName(status), " (",
                                           cudaGetErrorString(status), ")");
  if (means_no_device(status)) throw device_unavailable(what + "; no CUDA device can be used here");
  if (status == cudaErrorMemoryAllocation) throw device_out_of_memory(what);
  throw device_error(what);
}

inline void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) fail(status, call);
}

}  // namespace cuda_detail

/// The number of CUDA devices this process can use: 0 where there is none, or no driver.
inline int device_count() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess) return count;
  (void)cudaGetLastError();
  if (cuda_detail::means_no_device(status)) return 0;
  cuda_detail::fail(status, "cudaGetDeviceCount");
}

/// What a device is, and how much of its memory is free now.
struct device_info {
  int ordinal = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  std::size_t total_bytes = 0, free_bytes = 0;
};

/// The current device (cudaSetDevice chooses it). Throws device_unavailable where there is none.
inline device_info current_device() {
  device_info info;
  cuda_detail::check(cudaGetDevice(&info.ordinal), "cudaGetDevice");
  cudaDeviceProp prop{};
  cuda_detail::check(cudaGetDeviceProperties(&prop, info.ordinal), "cudaGetDeviceProperties");
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  cuda_detail::check(cudaMemGetInfo(&info.free_bytes, &info.total_bytes), "cudaMemGetInfo");
  return info;
}

/// `count` elements of T in the current device's global memory, uninitialised, released by
/// the destructor. Move-only: a moved-from buffer is empty. An empty buffer touches no device.
template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  explicit device_buffer(std::size_t count) : count_(count) {
    if (count == 0) return;
    const std::size_t bytes = count * sizeof(T);
    if (bytes / sizeof(T) != count)
      throw invalid_argument(detail::message("device_buffer: ", count, " elements of ", sizeof(T),
                                             " bytes overflow the size of an allocation"));
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      std::size_t free_bytes = 0, total_bytes = 0;
      const bool known = cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess;
      (void)cudaGetLastError();
      throw device_out_of_memory(
          known ? detail::message("device_buffer: cudaMalloc of ", bytes, " bytes (", count,
                                  " elements) failed: the device has ", free_bytes,
                                  " bytes free of ", total_bytes)
                : detail::message("device_buffer: cudaMalloc of ", bytes, " bytes (", count,
                                  " elements) failed: out of device memory"));
    }
    if (status != cudaSuccess) {
      count_ = 0;
      cuda_detail::fail(status, "device_buffer: cudaMalloc");
    }
    data_ = static_cast<T*>(p);
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  ~device_buffer() { release(); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

  /// Copies `count` elements from host memory; `count` must be size().
  void upload(const T* host, std::size_t count) {
    require_size("upload", count);
    if (count > 0)
      cuda_detail::check(cudaMemcpy(data_, host, count * sizeof(T), cudaMemcpyHostToDevice),
                         "device_buffer::upload: cudaMemcpy");
  }
  /// Copies all size() elements to host memory holding `count`; `count` must be size().
  void download(T* host, std::size_t count) const {
    require_size("download", count);
    if (count > 0)
      cuda_detail::check(cudaMemcpy(host, data_, count * sizeof(T), cudaMemcpyDeviceToHost),
                         "device_buffer::download: cudaMemcpy");
  }

 private:
  void require_size(const char* what, std::size_t count) const {
    if (count != count_)
      throw dimension_mismatch(detail::message("device_buffer::", what, ": the host side holds ",
                                               count, " elements and the device buffer ", count_,
                                               "; they must be equal"));
  }
  void release() noexcept {
    if (data_ != nullptr) (void)cudaFree(data_);  // a failure here cannot be reported
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace engram
