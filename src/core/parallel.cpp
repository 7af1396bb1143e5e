#include "cnndiag/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
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

// A fixed pool whose workers wait for each job "generation". The caller runs chunk 0 itself, so a
// 2-thread run has one worker.
//
// Waiting spins first, then sleeps. A training step of a small network is a dozen parallel loops
// of 20–200 µs each; waking a sleeping thread through the kernel (futex, context switch) costs
// 5–20 µs on a VM, which made two threads barely faster than one on LeNet. So a waiting thread
// polls the generation counter for up to kSpin before it blocks on the condition variable, and
// the side that publishes work (or finishes it) only takes the mutex and notifies when someone
// is actually asleep. The handshake that keeps a wake-up from being lost: a sleeper announces
// itself (sleepers_ / caller_asleep_) and then re-checks the condition under the mutex; the
// publisher changes the condition and then reads the announcement. Both are sequentially
// consistent, so at least one of the two sees the other's write.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#ifdef CNNDIAG_HAS_MXCSR
  _mm_pause();
#endif
}

// Spins until ready() or kSpin has passed; returns ready().
template <typename Ready>
bool spin_until(Ready&& ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return ready();
  }
}

class Pool {
 public:
  ~Pool() { resize(1); }

  void resize(int threads) {
    stop_workers();
    threads_ = std::max(1, threads);
    stop_ = false;
    // New workers start from the current generation: the last job (if any) is finished, and a
    // worker that took its stale generation for a new job would call a null job.
    const std::uint64_t current = generation_.load();
    for (int i = 1; i < threads_; ++i)
      workers_.emplace_back([this, i, current] { work(i, current); });
  }
  int threads() const { return threads_; }

  void run(int chunks, Index begin, Index end, const ChunkFn* job) {
    job_.store(job, std::memory_order_relaxed);
    begin_.store(begin, std::memory_order_relaxed);
    end_.store(end, std::memory_order_relaxed);
    chunks_.store(chunks, std::memory_order_relaxed);
    pending_.store(chunks - 1);
    generation_.fetch_add(1);  // publishes the fields above to the workers
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    call({job, begin, end, chunks}, 0);
    if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      caller_asleep_.store(true);
      done_.wait(lock, [this] { return pending_.load() == 0; });
      caller_asleep_.store(false);
    }
  }

  std::atomic<bool> in_use_{false};

 private:
  void stop_workers() {
    stop_.store(true);
    generation_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void work(int index, std::uint64_t seen) {
    for (;;) {
      const auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(changed)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        sleepers_.fetch_sub(1);
      }
      if (stop_.load()) return;
      // Read the job, then make sure it is still the generation we saw: a worker that sits out a
      // job (index ≥ chunks) is not waited for, so the caller may already be publishing the
      // next one; a torn read is dropped and the next turn of the loop takes the new job.
      seen = generation_.load(std::memory_order_acquire);
      // (acquire loads: the re-check below cannot be done before them, as in a seqlock)
      const Job job{job_.load(std::memory_order_acquire), begin_.load(std::memory_order_acquire),
                    end_.load(std::memory_order_acquire), chunks_.load(std::memory_order_acquire)};
      if (generation_.load(std::memory_order_relaxed) != seen) continue;
      if (index >= job.chunks) continue;
      call(job, index);
      if (pending_.fetch_sub(1) == 1 && caller_asleep_.load()) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  struct Job {
    const ChunkFn* fn;
    Index begin, end;
    int chunks;
  };
  static void call(const Job& job, int chunk) {
    apply_float_mode();
    const Range r = chunk_range(job.begin, job.end, chunk, job.chunks);
    (*job.fn)(r.begin, r.end, chunk);
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // The job: written by the caller before it bumps generation_ (which publishes it), read by
  // workers after they see the new generation.
  std::atomic<const ChunkFn*> job_{nullptr};
  std::atomic<Index> begin_{0}, end_{0};
  std::atomic<int> chunks_{0};
  int threads_ = 1;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_asleep_{false};
  std::atomic<bool> stop_{false};
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
