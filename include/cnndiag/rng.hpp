#pragma once
/// Deterministic random numbers, identical on every platform and compiler.
///
/// std::normal_distribution and friends are implementation-defined, so cnndiag draws its own:
/// xoshiro256** (Blackman & Vigna) seeded through splitmix64, uniform doubles from the top 53 bits,
/// normals by the Box–Muller transform. Every random draw in a run derives from the run's seed
/// through a named stream (Rng::stream(seed, "init/conv1.weight")), so adding a layer does not
/// change the numbers another layer gets. The full state is a handful of integers that a
/// checkpoint stores (/rng) so that --resume continues bit-identically.

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace cnndiag {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0);

  /// An independent generator for a named purpose, derived from (seed, name).
  static Rng stream(std::uint64_t seed, std::string_view name);

  std::uint64_t next_u64();
  /// Uniform in [0, 1).
  double uniform();
  /// Uniform in [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  /// Standard normal N(0, 1).
  double normal();
  /// Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n);

  /// The whole state as integers (xoshiro words, Box–Muller cache flag and value bits).
  std::vector<std::uint64_t> state() const;
  /// Restores a state() snapshot; throws InternalError if it has the wrong length.
  void set_state(const std::vector<std::uint64_t>& state);

 private:
  std::array<std::uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace cnndiag
