#pragma once
// Include before any Eigen header. Eigen's runtime allocation check
// (EIGEN_RUNTIME_NO_MALLOC) reports through eigen_assert, which Release
// builds (NDEBUG) compile away; counting failed Eigen assertions instead
// makes the no-allocation tests check something in every build type.

#ifdef SCVAE_TEST_UNITY_BUILD
#error "This header changes the whole program or translation unit: list the test file that includes it in SCVAE_OWN_EXECUTABLE_TESTS (tests/CMakeLists.txt)"
#endif

#include <atomic>

#define EIGEN_RUNTIME_NO_MALLOC

namespace scvae::testing {

inline std::atomic<long> eigen_assert_failure_count{0};

inline void record_eigen_assert_failure() {
  eigen_assert_failure_count.fetch_add(1, std::memory_order_relaxed);
}

/// Failed Eigen assertions so far in this process (threads included).
inline long eigen_assert_failures() { return eigen_assert_failure_count.load(); }

}  // namespace scvae::testing

#define eigen_assert(x) \
  ((x) ? static_cast<void>(0) : ::scvae::testing::record_eigen_assert_failure())
