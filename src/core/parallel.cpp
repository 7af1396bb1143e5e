#include "cnndiag/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define CNNDIAG_HAS_MXCSR 1
#endif

namespace cnndiag {
namespace {

// The process-wide float mode and the mode this thread last applied (-1: never).
std::atomic<bool> g_flush_denormals{false};
thread_local int t_applied_flush = -1;

// MXCSR bit 15 is FTZ (subnormal results → 0), bit 6 is DAZ (subnormal inputs read as 0).
void apply_float_mode() {
  const bool want = g_flush_denormals.load(std::memory_order_relaxed);
  if (t_applied_flush == static_cast<int>(want)) return;
#ifdef CNNDIAG_HAS_MXCSR
  constexpr unsigned kFtzDaz = 0x8040u;
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(want ? (csr | kFtzDaz) : (csr & ~kFtzDaz));
#endif
  t_applied_flush = static_cast<int>(want);
}

// A fixed pool: workers sleep on a condition variable and wake for each job generation. The
// caller runs chunk 0 itself, so a 2-thread run has one worker.
class Pool {
 public:
  ~Pool() { resize(1); }

  void resize(int threads) {
    stop_workers();
    threads_ = std::max(1, threads);
    stop_ = false;
    // New workers start from the current generation: the last job (if any) is finished, and a
    // worker that took its stale generation for a new job would call a null job.
    const std::uint64_t current = generation_;
    for (int i = 1; i < threads_; ++i)
      workers_.emplace_back([this, i, current] { work(i, current); });
  }
  int threads() const { return threads_; }

  void run(int chunks, Index begin, Index end, const ChunkFn* job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      begin_ = begin;
      end_ = end;
      chunks_ = chunks;
      pending_ = chunks - 1;
      ++generation_;
    }
    wake_.notify_all();
    call(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

  std::atomic<bool> in_use_{false};

 private:
  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void work(int index, std::uint64_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (index >= chunks_) continue;
      }
      call(index);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  void call(int chunk) {
    apply_float_mode();
    const Range r = chunk_range(begin_, end_, chunk, chunks_);
    (*job_)(r.begin, r.end, chunk);
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const ChunkFn* job_ = nullptr;
  Index begin_ = 0, end_ = 0;
  int chunks_ = 0, pending_ = 0, threads_ = 1;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void set_num_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads != pool().threads()) pool().resize(threads);
}

int num_threads() { return pool().threads(); }

Range chunk_range(Index begin, Index end, int chunk, int chunks) {
  const Index n = end - begin;
  const Index base = n / chunks, extra = n % chunks;
  const Index b = begin + chunk * base + std::min<Index>(chunk, extra);
  return {b, b + base + (chunk < extra ? 1 : 0)};
}

int parallel_chunks(Index begin, Index end, Index min_per_chunk) {
  const Index n = end - begin;
  if (n <= 0) return 0;
  const Index by_work = std::max<Index>(1, n / std::max<Index>(1, min_per_chunk));
  return static_cast<int>(std::min<Index>(num_threads(), by_work));
}

void set_flush_denormals(bool on) {
  g_flush_denormals.store(on);
  apply_float_mode();
}

bool flush_denormals() { return g_flush_denormals.load(); }

void parallel_for(Index begin, Index end, ChunkFn fn, Index min_per_chunk) {
  const int chunks = parallel_chunks(begin, end, min_per_chunk);
  if (chunks == 0) return;
  apply_float_mode();
  bool expected = false;
  if (chunks == 1 || !pool().in_use_.compare_exchange_strong(expected, true)) {
    // One chunk, or a nested call: run the same partition inline so results do not change.
    for (int c = 0; c < chunks; ++c) {
      const Range r = chunk_range(begin, end, c, chunks);
      fn(r.begin, r.end, c);
    }
    return;
  }
  pool().run(chunks, begin, end, &fn);
  pool().in_use_ = false;
}

}  // namespace cnndiag
