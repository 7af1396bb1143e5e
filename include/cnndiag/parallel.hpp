#pragma once
/// Data parallelism for the hot loops: a fixed pool of worker threads and a static partition of
/// an index range into one contiguous chunk per thread.
///
/// Determinism: chunk boundaries depend only on the range and the thread count, never on timing,
/// so a computation whose chunks write disjoint outputs — or reduce per-chunk partials in chunk
/// order — gives the same bits for the same thread count (DESIGN.md §3: same seed + same threads →
/// same bits).

#include <cstdint>
#include <type_traits>
#include <utility>

#include "cnndiag/tensor.hpp"

namespace cnndiag {

/// Sets the number of threads used by parallel_for (≥ 1; 0 means all hardware threads).
void set_num_threads(int threads);
int num_threads();

/// Chunk `c` of `chunks` equal-as-possible parts of [begin, end).
struct Range {
  Index begin, end;
};
Range chunk_range(Index begin, Index end, int chunk, int chunks);

/// A non-owning reference to a callable `void(Index begin, Index end, int chunk)`: unlike
/// std::function it never allocates, so parallel loops cost nothing on the heap.
class ChunkFn {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ChunkFn>>>
  ChunkFn(F&& f)  // NOLINT(google-explicit-constructor): implicit by design, like function_ref
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Index b, Index e, int c) { (*static_cast<std::remove_reference_t<F>*>(o))(b, e, c); }) {}
  void operator()(Index b, Index e, int c) const { call_(object_, b, e, c); }

 private:
  void* object_;
  void (*call_)(void*, Index, Index, int);
};

/// Calls fn(chunk_begin, chunk_end, chunk_index) for min(num_threads(), end − begin) chunks of
/// [begin, end), in parallel, and returns when all are done. Runs inline when one chunk suffices
/// or `end − begin < min_per_chunk·2`. fn must not throw. Not re-entrant: nested calls run inline.
void parallel_for(Index begin, Index end, ChunkFn fn,
                  Index min_per_chunk = 1);

/// How many chunks parallel_for(begin, end, …, min_per_chunk) will use (for sizing partials).
int parallel_chunks(Index begin, Index end, Index min_per_chunk = 1);

/// Flush-to-zero and denormals-are-zero (the x86 MXCSR FTZ and DAZ bits) for the calling thread
/// and every thread of the pool (workers pick the mode up before their next chunk).
///
/// Why: operations that produce or consume subnormal floats (|x| < 1.18e-38 in float32) can take
/// a microcode assist costing ~100 cycles each; a network whose weights decay towards zero (the
/// seed example, weight decay 500) would otherwise slow down as they pass through that range.
/// Effect on results: a subnormal input is read as 0 and a subnormal result is written as 0, so
/// results change only where a value below the smallest normal (FLT_MIN for float, DBL_MIN for
/// double) occurs. No effect on non-x86 targets.
void set_flush_denormals(bool on);
bool flush_denormals();

/// Sets the flush-denormals mode for its lifetime and restores the previous one.
class FloatModeGuard {
 public:
  explicit FloatModeGuard(bool flush) : previous_(flush_denormals()) { set_flush_denormals(flush); }
  ~FloatModeGuard() { set_flush_denormals(previous_); }
  FloatModeGuard(const FloatModeGuard&) = delete;
  FloatModeGuard& operator=(const FloatModeGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace cnndiag
