#include "layers/small_gemm.hpp"

#include <algorithm>
#include <atomic>

#include "cnndiag/errors.hpp"

#include "layers/cpu_features.hpp"

namespace cnndiag::detail {
namespace {

std::atomic<bool> g_force_portable{false};

#ifdef CNNDIAG_X86_KERNELS
constexpr Index kLanes = 16;
// Register tiles: 4 × 4 accumulators (forward), 4 rows × 4 vectors (dW, dX). With their operand
// vectors that is ≤ 21 of the 32 zmm registers, and 16 independent FMA chains hide the latency.
constexpr int kRows = 4;
constexpr int kVectors = 4;
constexpr Index kTileColumns = kVectors * kLanes;

// Lanes of vector v (columns 16v … 16v+15 of a tile) that lie below `valid` columns.
inline __mmask16 lanes_below(Index valid, int v) { return first_lanes(valid - v * kLanes); }

// Σ of the 16 lanes in a fixed tree: halves, then quarters, pairs and neighbours, each step
// adding the vector to a permutation of itself (lane 0 ends with the total). The permutations
// are written in their full-mask form (src = v, every lane selected, the same instruction) because
// GCC 12's plain forms start from _mm512_undefined_ps and trip -Wuninitialized.
__attribute__((target("avx512f"))) inline float sum_lanes(__m512 v) {
  constexpr __mmask16 kAll = 0xFFFF;
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, kAll, v, v, 0x4E));  // 256-bit halves
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, kAll, v, v, 0xB1));  // 128-bit quarters
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, kAll, v, 0x4E));        // 64-bit pairs
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, kAll, v, 0xB1));        // neighbours
  return _mm512_cvtss_f32(v);
}

// y[i][j] = Σ_k x[i][k]·w[j][k] (+ b[j]) for NB samples × JB outputs: per 16 columns of D, NB x
// vectors and JB w vectors are loaded once for NB·JB FMAs; the last partial vector is masked
// (zeros beyond D). Each accumulator's 16 lanes are added in sum_lanes' fixed tree.
template <int NB, int JB>
__attribute__((target("avx512f"))) void forward_tile(Index d, Index out, const float* x,
                                                     const float* w, const float* b, float* y) {
  __m512 acc[NB][JB];
#pragma GCC unroll 4
  for (int i = 0; i < NB; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < JB; ++j) acc[i][j] = _mm512_setzero_ps();
  for (Index k = 0; k < d; k += kLanes) {
    const __mmask16 m = lanes_below(d - k, 0);
    __m512 xv[NB];
#pragma GCC unroll 4
    for (int i = 0; i < NB; ++i) xv[i] = _mm512_maskz_loadu_ps(m, x + i * d + k);
#pragma GCC unroll 4
    for (int j = 0; j < JB; ++j) {
      const __m512 wv = _mm512_maskz_loadu_ps(m, w + j * d + k);
#pragma GCC unroll 4
      for (int i = 0; i < NB; ++i) acc[i][j] = _mm512_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NB; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < JB; ++j)
      y[i * out + j] = sum_lanes(acc[i][j]) + (b != nullptr ? b[j] : 0.0f);
}

// dw[j][k] += Σ_s dy[s][j]·x[s][k] for JB outputs × VB vectors of columns (the first `valid`
// columns of the tile are real): the tile of dW is loaded, accumulated over the batch in order,
// and stored back.
template <int JB, int VB>
__attribute__((target("avx512f"))) void weight_grad_tile(Index n, Index d, Index out,
                                                         const float* dy, const float* x, float* dw,
                                                         Index valid) {
  __mmask16 m[VB];
  __m512 acc[JB][VB];
#pragma GCC unroll 4
  for (int v = 0; v < VB; ++v) m[v] = lanes_below(valid, v);
#pragma GCC unroll 4
  for (int j = 0; j < JB; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < VB; ++v) acc[j][v] = _mm512_maskz_loadu_ps(m[v], dw + j * d + v * kLanes);
  for (Index s = 0; s < n; ++s) {
    __m512 xv[VB];
#pragma GCC unroll 4
    for (int v = 0; v < VB; ++v) xv[v] = _mm512_maskz_loadu_ps(m[v], x + s * d + v * kLanes);
#pragma GCC unroll 4
    for (int j = 0; j < JB; ++j) {
      const __m512 g = _mm512_set1_ps(dy[s * out + j]);
#pragma GCC unroll 4
      for (int v = 0; v < VB; ++v) acc[j][v] = _mm512_fmadd_ps(g, xv[v], acc[j][v]);
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < JB; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < VB; ++v) _mm512_mask_storeu_ps(dw + j * d + v * kLanes, m[v], acc[j][v]);
}

// dx[i][k] = Σ_j dy[i][j]·w[j][k] for NB samples × VB vectors of columns: per output j, VB w
// vectors are loaded once for NB·VB FMAs.
template <int NB, int VB>
__attribute__((target("avx512f"))) void data_grad_tile(Index d, Index out, const float* dy,
                                                       const float* w, float* dx, Index valid) {
  __mmask16 m[VB];
  __m512 acc[NB][VB];
#pragma GCC unroll 4
  for (int v = 0; v < VB; ++v) m[v] = lanes_below(valid, v);
#pragma GCC unroll 4
  for (int i = 0; i < NB; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < VB; ++v) acc[i][v] = _mm512_setzero_ps();
  for (Index j = 0; j < out; ++j) {
    __m512 wv[VB];
#pragma GCC unroll 4
    for (int v = 0; v < VB; ++v) wv[v] = _mm512_maskz_loadu_ps(m[v], w + j * d + v * kLanes);
#pragma GCC unroll 4
    for (int i = 0; i < NB; ++i) {
      const __m512 g = _mm512_set1_ps(dy[i * out + j]);
#pragma GCC unroll 4
      for (int v = 0; v < VB; ++v) acc[i][v] = _mm512_fmadd_ps(g, wv[v], acc[i][v]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NB; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < VB; ++v) _mm512_mask_storeu_ps(dx + i * d + v * kLanes, m[v], acc[i][v]);
}

// The tiles by their run-time row count (1 … 4): the edges of N and out use smaller tiles.
using ForwardTile = void (*)(Index, Index, const float*, const float*, const float*, float*);
template <int NB>
constexpr ForwardTile kForwardTiles[kRows] = {forward_tile<NB, 1>, forward_tile<NB, 2>,
                                              forward_tile<NB, 3>, forward_tile<NB, 4>};
constexpr const ForwardTile* kForward[kRows] = {kForwardTiles<1>, kForwardTiles<2>,
                                                kForwardTiles<3>, kForwardTiles<4>};

using WeightGradTile = void (*)(Index, Index, Index, const float*, const float*, float*, Index);
template <int VB>
constexpr WeightGradTile kWeightGradTiles[kRows] = {
    weight_grad_tile<1, VB>, weight_grad_tile<2, VB>, weight_grad_tile<3, VB>,
    weight_grad_tile<4, VB>};

using DataGradTile = void (*)(Index, Index, const float*, const float*, float*, Index);
template <int VB>
constexpr DataGradTile kDataGradTiles[kRows] = {data_grad_tile<1, VB>, data_grad_tile<2, VB>,
                                                data_grad_tile<3, VB>, data_grad_tile<4, VB>};
#endif

}  // namespace

bool small_linear_available() {
#ifdef CNNDIAG_X86_KERNELS
  return cpu_has_avx512() && !g_force_portable.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

void small_linear_force_portable(bool on) { g_force_portable.store(on); }

#ifdef CNNDIAG_X86_KERNELS
void small_linear_forward(Index n, Index d, Index out, const float* x, const float* w,
                          const float* b, float* y) {
  for (Index i = 0; i < n; i += kRows) {
    const Index rows = std::min<Index>(kRows, n - i);
    for (Index j = 0; j < out; j += kRows) {
      const Index cols = std::min<Index>(kRows, out - j);
      kForward[rows - 1][cols - 1](d, out, x + i * d, w + j * d, b != nullptr ? b + j : nullptr,
                                   y + i * out + j);
    }
  }
}

// Column tiles of 64 (4 vectors), then the last < 64 columns one vector at a time (the very
// last one masked).
void small_linear_weight_grad(Index n, Index d, Index out, const float* dy, const float* x,
                              float* dw) {
  for (Index k = 0; k < d;) {
    const bool full = k + kTileColumns <= d;
    const Index width = full ? kTileColumns : std::min<Index>(kLanes, d - k);
    for (Index j = 0; j < out; j += kRows) {
      const Index rows = std::min<Index>(kRows, out - j);
      const WeightGradTile tile =
          full ? kWeightGradTiles<kVectors>[rows - 1] : kWeightGradTiles<1>[rows - 1];
      tile(n, d, out, dy + j, x + k, dw + j * d + k, width);
    }
    k += width;
  }
}

void small_linear_data_grad(Index n, Index d, Index out, const float* dy, const float* w,
                            float* dx) {
  for (Index i = 0; i < n; i += kRows) {
    const Index rows = std::min<Index>(kRows, n - i);
    for (Index k = 0; k < d;) {
      const bool full = k + kTileColumns <= d;
      const Index width = full ? kTileColumns : std::min<Index>(kLanes, d - k);
      const DataGradTile tile =
          full ? kDataGradTiles<kVectors>[rows - 1] : kDataGradTiles<1>[rows - 1];
      tile(d, out, dy + i * out, w + k, dx + i * d + k, width);
      k += width;
    }
  }
}
#else
// Unreachable: small_linear_available() is false without x86, and the layer checks it first.
void small_linear_forward(Index, Index, Index, const float*, const float*, const float*, float*) {
  CNNDIAG_ASSERT(false, "small_linear_forward without AVX-512");
}
void small_linear_weight_grad(Index, Index, Index, const float*, const float*, float*) {
  CNNDIAG_ASSERT(false, "small_linear_weight_grad without AVX-512");
}
void small_linear_data_grad(Index, Index, Index, const float*, const float*, float*) {
  CNNDIAG_ASSERT(false, "small_linear_data_grad without AVX-512");
}
#endif

// ---------------------------------------------------------------------------------------------
// double, portable: y[i][j] = b[j] + Σ_k x[i][k]·w[j][k]. Two outputs share each x load; lane l of
// the 8-wide partial sums takes the terms k ≡ l (mod 8), the lanes are added in order, then the
// tail. GCC vector types, lowered per clone to the widest registers it has.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CNNDIAG_F64_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CNNDIAG_F64_CLONES
#endif
namespace {
// Eight doubles as one GCC vector: one zmm on AVX-512, two ymm on AVX2, plain pairs otherwise.
typedef double Lanes8 __attribute__((vector_size(64)));
// (Vectors go by reference: passing a 64-byte vector by value has a CPU-dependent ABI.)
inline void load8(Lanes8& v, const double* p) { __builtin_memcpy(&v, p, sizeof v); }
inline double add_lanes(const Lanes8& v) {
  double sum = 0.0;
  for (int l = 0; l < 8; ++l) sum += v[l];
  return sum;
}
CNNDIAG_F64_CLONES void linear_forward_f64(Index n, Index d, Index out, const double* x,
                                           const double* w, const double* b, double* y) {
  const Index body = d / 8 * 8;
  for (Index i = 0; i < n; ++i) {
    const double* xi = x + i * d;
    Index j = 0;
    for (; j + 2 <= out; j += 2) {
      const double* w0 = w + j * d;
      const double* w1 = w0 + d;
      Lanes8 a0 = {}, a1 = {};
      for (Index k = 0; k < body; k += 8) {
        Lanes8 xv, v0, v1;
        load8(xv, xi + k);
        load8(v0, w0 + k);
        load8(v1, w1 + k);
        a0 += xv * v0;
        a1 += xv * v1;
      }
      double s0 = add_lanes(a0), s1 = add_lanes(a1);
      for (Index k = body; k < d; ++k) {
        s0 += xi[k] * w0[k];
        s1 += xi[k] * w1[k];
      }
      y[i * out + j] = s0 + (b != nullptr ? b[j] : 0.0);
      y[i * out + j + 1] = s1 + (b != nullptr ? b[j + 1] : 0.0);
    }
    for (; j < out; ++j) {
      const double* wj = w + j * d;
      Lanes8 a = {};
      for (Index k = 0; k < body; k += 8) {
        Lanes8 xv, wv;
        load8(xv, xi + k);
        load8(wv, wj + k);
        a += xv * wv;
      }
      double s = add_lanes(a);
      for (Index k = body; k < d; ++k) s += xi[k] * wj[k];
      y[i * out + j] = s + (b != nullptr ? b[j] : 0.0);
    }
  }
}
}  // namespace

void small_linear_forward(Index n, Index d, Index out, const double* x, const double* w,
                          const double* b, double* y) {
  linear_forward_f64(n, d, out, x, w, b, y);
}

}  // namespace cnndiag::detail
