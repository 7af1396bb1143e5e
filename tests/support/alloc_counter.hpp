#pragma once
// Counting heap allocations in tests, to prove a hot path allocates nothing after reserve().
//
// The test binary interposes malloc, calloc, realloc and the aligned allocators (forwarding to
// glibc's __libc_* entry points), so everything is counted: operator new, std::vector, and
// Eigen's temporaries and GEMM workspaces (which call malloc directly). Under AddressSanitizer or
// ThreadSanitizer, which own malloc themselves, nothing is interposed and supported() is false.

#include <cstdint>

namespace cnndiag::testing {

class AllocationCounter {
 public:
  /// Starts counting allocations made by any thread.
  AllocationCounter();
  /// Stops counting.
  ~AllocationCounter();
  AllocationCounter(const AllocationCounter&) = delete;
  AllocationCounter& operator=(const AllocationCounter&) = delete;

  /// Allocations since construction.
  std::int64_t count() const;
  /// Whether allocations are observable in this build.
  static bool supported();
};

}  // namespace cnndiag::testing
