// The heap, measured rather than modelled: a benchmark binary that includes this header (in
// exactly one translation unit) interposes malloc and friends and keeps the live heap bytes in
// `heap::live`, their maximum in `heap::high` and the count of allocations (malloc, calloc,
// realloc, the aligned ones; not free) in `heap::allocations`. Reset `high` to `live` before
// the work, and peak_MiB = (high - live before) / 2^20 is what the work added at its peak.
#pragma once

#include <malloc.h>

#include <atomic>
#include <cstdlib>

namespace heap {
inline std::atomic<long long> live{0}, high{0}, allocations{0};
}  // namespace heap

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace heap {

inline void note(void* p, long long sign, bool counted = true) {
  if (!p) return;
  if (sign > 0 && counted) allocations.fetch_add(1, std::memory_order_relaxed);
  const long long now = live.fetch_add(sign * (long long)malloc_usable_size(p)) +
                        sign * (long long)malloc_usable_size(p);
  long long seen = high.load();
  while (now > seen && !high.compare_exchange_weak(seen, now)) {
  }
}

}  // namespace heap

extern "C" {
void* malloc(std::size_t n) {
  void* p = __libc_malloc(n);
  heap::note(p, 1);
  return p;
}
void* calloc(std::size_t n, std::size_t s) {
  void* p = __libc_calloc(n, s);
  heap::note(p, 1);
  return p;
}
void free(void* p) {
  heap::note(p, -1);
  __libc_free(p);
}
void* realloc(void* old, std::size_t n) {
  heap::note(old, -1);
  void* p = __libc_realloc(old, n);
  if (p)
    heap::note(p, 1);
  else
    heap::note(old, 1, false);  // failed: the old block is still live
  return p;
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  *out = __libc_memalign(align, n);
  heap::note(*out, 1);
  return *out ? 0 : 12;  // ENOMEM
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  void* p = __libc_memalign(align, n);
  heap::note(p, 1);
  return p;
}
void* memalign(std::size_t align, std::size_t n) {
  void* p = __libc_memalign(align, n);
  heap::note(p, 1);
  return p;
}
}
