#pragma once
// Progress of long work: a one-line bar on a TTY (iteration, loss, it/s, ETA), redrawn at most
// ten times a second; plain log lines otherwise (about every tenth of the run, and at least every
// 30 seconds), so CI logs stay readable.

#include <chrono>
#include <cstdint>
#include <string>

namespace cnndiag::cli {

class Progress {
 public:
  Progress(std::string label, std::int64_t start, std::int64_t total, bool tty, bool quiet);
  void update(std::int64_t done, double loss);
  /// Clears the bar line (TTY) so that the next output starts on a clean line.
  void finish();

 private:
  std::string label_;
  std::int64_t start_, total_;
  bool tty_, quiet_;
  std::chrono::steady_clock::time_point began_, last_draw_;
  std::int64_t next_line_ = 0;
  bool drawn_ = false;
};

/// "1m05s", "3.2s"
std::string format_duration(double seconds);

}  // namespace cnndiag::cli
