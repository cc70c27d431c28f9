#pragma once
// Replaces the global operator new and delete of the one test executable that
// includes this header (from one file only) to track the largest single
// allocation: a reader given a lying size must not allocate what it claims.

#ifdef SCVAE_TEST_UNITY_BUILD
#error "This header changes the whole program or translation unit: list the test file that includes it in SCVAE_OWN_EXECUTABLE_TESTS (tests/CMakeLists.txt)"
#endif

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> g_largest_allocation{0};
}  // namespace

// GCC 12 sees malloc in the inlined operator new and free in operator delete
// and wrongly calls the pair mismatched; they are this file's own matched pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  std::size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (size > seen && !g_largest_allocation.compare_exchange_weak(seen, size)) {
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
