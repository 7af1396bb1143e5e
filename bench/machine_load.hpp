#pragma once
// How busy the machine is apart from this process (BENCH.md "Timing rules": wait until other
// processes are idle before a repeat, record others_load during it).
//
// others_load = (CPU time all processes used − CPU time this process used) / wall time, in cores:
// 0 on an idle machine, 1.0 when another process keeps one core busy. Read from /proc/stat (all
// CPUs, in clock ticks) and /proc/self/stat (utime + stime of every thread of this process).

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace cnndiag::bench {

struct CpuSample {
  double machine_busy_s = 0;  // user+nice+system+irq+softirq+steal over all CPUs
  double self_s = 0;          // utime+stime of this process
  std::chrono::steady_clock::time_point when;
};

inline CpuSample cpu_sample() {
  CpuSample s;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  s.machine_busy_s = (user + nice + system + irq + softirq) / tick;
  std::ifstream self("/proc/self/stat");
  std::string line;
  std::getline(self, line);
  // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  s.self_s = (utime + stime) / tick;
  s.when = std::chrono::steady_clock::now();
  return s;
}

/// Other processes' CPU use between two samples, in cores.
inline double others_load(const CpuSample& a, const CpuSample& b) {
  const double wall = std::chrono::duration<double>(b.when - a.when).count();
  if (wall <= 0) return 0;
  const double others = (b.machine_busy_s - a.machine_busy_s) - (b.self_s - a.self_s);
  return others > 0 ? others / wall : 0.0;
}

/// Waits (up to max_wait_s) until others_load over a 0.25 s window is below `quiet`.
/// Returns the seconds waited.
inline double wait_until_quiet(double max_wait_s, double quiet = 0.25) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const CpuSample a = cpu_sample();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const CpuSample b = cpu_sample();
    const double waited = std::chrono::duration<double>(b.when - start).count();
    if (others_load(a, b) < quiet || waited >= max_wait_s) return waited;
  }
}

}  // namespace cnndiag::bench
