#pragma once
// Element-wise loops over a whole batch, split across the thread pool only when there is enough
// work (kMinElementsPerChunk) to pay for waking a worker. Chunks write disjoint ranges, so the
// result does not depend on the thread count at all.

#include "cnndiag/parallel.hpp"
#include "layers/eigen_maps.hpp"

namespace cnndiag::detail {

/// Calls body(begin, end) on disjoint chunks covering [0, n).
template <typename Body>
void for_each_element_chunk(Index n, Body&& body) {
  parallel_for(
      0, n, [&](Index begin, Index end, int /*chunk*/) { body(begin, end); }, kMinElementsPerChunk);
}

}  // namespace cnndiag::detail
