#include "cnndiag/parallel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace cnndiag {
namespace {

TEST(Parallel, ChunksCoverRangeExactlyOnce) {
  for (int chunks = 1; chunks <= 5; ++chunks) {
    Index covered = 0, expect_begin = 3;
    for (int c = 0; c < chunks; ++c) {
      const Range r = chunk_range(3, 20, c, chunks);
      EXPECT_EQ(r.begin, expect_begin);
      covered += r.end - r.begin;
      expect_begin = r.end;
    }
    EXPECT_EQ(covered, 17);
  }
}

TEST(Parallel, EveryIndexVisitedOnceWithTwoThreads) {
  set_num_threads(2);
  std::vector<int> hits(1000, 0);
  for (int rep = 0; rep < 50; ++rep)
    parallel_for(0, 1000, [&](Index b, Index e, int) {
      for (Index i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
    });
  for (int h : hits) EXPECT_EQ(h, 50);
  set_num_threads(1);
}

TEST(Parallel, NestedCallsRunInline) {
  set_num_threads(2);
  std::atomic<int> total{0};
  parallel_for(0, 4, [&](Index b, Index e, int) {
    for (Index i = b; i < e; ++i)
      parallel_for(0, 10, [&](Index bb, Index ee, int) { total += static_cast<int>(ee - bb); });
  });
  EXPECT_EQ(total.load(), 40);
  set_num_threads(1);
}

// Regression: a worker created by a later set_num_threads() must not mistake the generation of an
// earlier, finished job for a new one (it used to run the stale job with a null callable).
TEST(Parallel, ResizingAfterAJobDoesNotReplayIt) {
  const int saved = num_threads();
  std::atomic<Index> total{0};
  for (int rep = 0; rep < 20; ++rep) {
    set_num_threads(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let the new worker wake first
    parallel_for(0, 2, [&](Index b, Index e, int) { total += e - b; });
    set_num_threads(1);
  }
  set_num_threads(saved);
  EXPECT_EQ(total.load(), 40);
}

// The pool's workers spin for a while and then sleep; jobs come back to back (caught while
// spinning), after a pause (workers asleep), with fewer chunks than threads (some workers sit
// out and are not waited for, while the next job is already being published) and nested.
// Every job must visit every index exactly once, and no job may run twice.
TEST(Parallel, BackToBackSleepingAndPartialJobsVisitEveryIndexOnce) {
  const int saved = num_threads();
  set_num_threads(4);  // more threads than this machine's cores: workers get preempted too
  std::vector<std::atomic<int>> hits(257);
  for (int job = 0; job < 3000; ++job) {
    const Index n = 1 + job % 257;
    const Index min_per_chunk = 1 + job % 97;  // 1 to 4 chunks
    parallel_for(
        0, n,
        [&](Index b, Index e, int) {
          for (Index i = b; i < e; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1);
        },
        min_per_chunk);
    if (job % 500 == 499) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    for (Index i = 0; i < n; ++i)
      ASSERT_EQ(hits[static_cast<std::size_t>(i)].exchange(0), 1)
          << "job " << job << " index " << i;
  }
  set_num_threads(saved);
}

}  // namespace
}  // namespace cnndiag
