#include "progress.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cnndiag::cli {

std::string format_duration(double seconds) {
  char text[32];
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.1fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(text, sizeof text, "%dh%02dm", static_cast<int>(seconds) / 3600,
                  (static_cast<int>(seconds) % 3600) / 60);
  }
  return text;
}

Progress::Progress(std::string label, std::int64_t start, std::int64_t total, bool tty, bool quiet)
    : label_(std::move(label)), start_(start), total_(total), tty_(tty), quiet_(quiet),
      began_(std::chrono::steady_clock::now()), last_draw_(began_) {
  next_line_ = start_ + std::max<std::int64_t>(1, (total_ - start_) / 10);
}

void Progress::update(std::int64_t done, double loss) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - began_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done - start_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  if (tty_) {
    if (done != total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const int width = 28;
    const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
    const int filled = static_cast<int>(std::lround(frac * width));
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(width - filled), '-');
    std::fprintf(stderr, "\r%s [%s] %lld/%lld  loss %.6g  %.0f it/s  ETA %s   ", label_.c_str(),
                 bar.c_str(), static_cast<long long>(done), static_cast<long long>(total_), loss,
                 rate, format_duration(eta).c_str());
    std::fflush(stderr);
    drawn_ = true;
    return;
  }
  const bool time_due = now - last_draw_ > std::chrono::seconds(30);
  if (done >= next_line_ || done == total_ || time_due) {
    spdlog::info("{} {}/{}  loss {:.6g}  {:.0f} it/s  ETA {}", label_, done, total_, loss, rate,
                 format_duration(eta));
    last_draw_ = now;
    while (next_line_ <= done) next_line_ += std::max<std::int64_t>(1, (total_ - start_) / 10);
  }
}

void Progress::finish() {
  if (tty_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

}  // namespace cnndiag::cli
