// A CUDA program of a downstream project: the engram headers and the cuda backend's device
// layer under nvcc. Exits 0 where device memory works, and where there is no device and asking
// for it raises device_unavailable; 1 otherwise.
#include <engram/backend/cuda/device.cuh>
#include <engram/engram.hpp>

#include <cstdio>
#include <vector>

int main() {
  const int devices = engram::device_count();
  std::printf("downstream_cuda: %d CUDA devices\n", devices);
  if (devices == 0) {
    try {
      engram::device_buffer<float> buffer(4);
    } catch (const engram::device_unavailable&) {
      return 0;
    }
    return 1;
  }
  std::vector<float> host{1.f, 2.f, 3.f, 4.f}, back(4, 0.f);
  engram::device_buffer<float> buffer(host.size());
  buffer.upload(host.data(), host.size());
  buffer.download(back.data(), back.size());
  return back == host ? 0 : 1;
}
