#include "layers/gemm.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "layers/eigen_maps.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CNNDIAG_GEMM_X86 1
#endif

namespace cnndiag::detail {
namespace {

// ---------------------------------------------------------------------------------------------
// The portable path: Eigen on strided maps.
// Calls f with an Eigen map of the (rows × cols) strided view that Eigen's GEMM can use directly:
// row-major when the columns are contiguous, column-major when the rows are (a transposed
// buffer). Only a view with neither stride 1 gets a generic map, which Eigen copies first.
template <typename T, typename F>
void with_map(Index rows, Index cols, StridedMatrix<T> v, F&& f) {
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ColMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using Outer = Eigen::OuterStride<>;
  if (v.col_stride == 1) {
    f(Eigen::Map<const RowMajor, 0, Outer>(v.data, rows, cols, Outer(std::max(v.row_stride, cols))));
  } else if (v.row_stride == 1) {
    f(Eigen::Map<const ColMajor, 0, Outer>(v.data, rows, cols, Outer(std::max(v.col_stride, rows))));
  } else {
    using Stride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
    f(Eigen::Map<const RowMajor, 0, Stride>(v.data, rows, cols, Stride(v.row_stride, v.col_stride)));
  }
}

// The portable path: Eigen's product on maps of the views.
template <typename T>
void gemm_eigen(Index m, Index n, Index k, StridedMatrix<T> a, StridedMatrix<T> b, T* c,
                Index ldc, bool accumulate) {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<Matrix, 0, Eigen::OuterStride<>> C(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (!accumulate) C.setZero();
    return;
  }
  with_map(m, k, a, [&](const auto& A) {
    with_map(k, n, b, [&](const auto& B) { gemm_tiled(C, A, B, accumulate); });
  });
}

#ifdef CNNDIAG_GEMM_X86
// ---------------------------------------------------------------------------------------------
// The packed float GEMM (the BLIS/GotoBLAS structure).
//
// C is computed in MR×NR tiles by a micro-kernel that keeps the whole tile in vector registers:
// for each k it loads NR values of B (NR/16 zmm or NR/8 ymm registers), broadcasts MR values of
// A, and does MR·NR/lanes fused multiply-adds. Both operands are first copied ("packed") into
// buffers laid out exactly in the order the kernel reads them — A in panels of MR rows, each
// stored k-major (MR values per k), B in panels of NR columns (NR values per k) — zero-padded at
// the edges, so the kernel never branches and reads memory sequentially. Blocking keeps a
// KC×NR panel of B in L1 and an MC×KC block of A in L2:
//   for jc (NC columns) / for pc (KC depth): pack B block
//     for ic (MC rows): pack A block
//       for jr (NR) / for ir (MR): micro-kernel on a KC-deep MR×NR tile
// Edge tiles run the same kernel into a local tile that is then added into C.
// The summation order over k is fixed by the shapes (KC blocks in order, k within a block in
// order), so results do not depend on timing or threads.
constexpr Index kKc = 256;  // depth of a block
constexpr Index kMc = 96;   // rows of an A block (a multiple of every MR below)
constexpr Index kNc = 512;  // columns of a B block (a multiple of every NR below)

// A block (mc × kc) → panels of MR rows, k-major: dst[(p·kc + kk)·MR + r] = A[p·MR + r, kk].
template <int MR>
void pack_a(const float* a, Index rs, Index cs, Index mc, Index kc, float* dst) {
  for (Index i0 = 0; i0 < mc; i0 += MR) {
    const Index rows = std::min<Index>(MR, mc - i0);
    if (rows == MR && cs == 1) {
      for (Index kk = 0; kk < kc; ++kk)
        for (int r = 0; r < MR; ++r) dst[kk * MR + r] = a[(i0 + r) * rs + kk];
    } else {
      for (Index kk = 0; kk < kc; ++kk)
        for (int r = 0; r < MR; ++r)
          dst[kk * MR + r] = r < rows ? a[(i0 + r) * rs + kk * cs] : 0.0f;
    }
    dst += MR * kc;
  }
}

// B block (kc × nc) → panels of NR columns: dst[(q·kc + kk)·NR + j] = B[kk, q·NR + j].
template <int NR>
void pack_b(const float* b, Index rs, Index cs, Index kc, Index nc, float* dst) {
  for (Index j0 = 0; j0 < nc; j0 += NR) {
    const Index cols = std::min<Index>(NR, nc - j0);
    if (cs == 1) {
      for (Index kk = 0; kk < kc; ++kk) {
        std::memcpy(dst + kk * NR, b + kk * rs + j0, static_cast<std::size_t>(cols) * sizeof(float));
        std::fill(dst + kk * NR + cols, dst + kk * NR + NR, 0.0f);
      }
    } else {
      // Transposed B: column j of the block is contiguous in memory. Read it along k.
      for (Index j = 0; j < NR; ++j) {
        if (j < cols) {
          const float* src = b + (j0 + j) * cs;
          for (Index kk = 0; kk < kc; ++kk) dst[kk * NR + j] = src[kk * rs];
        } else {
          for (Index kk = 0; kk < kc; ++kk) dst[kk * NR + j] = 0.0f;
        }
      }
    }
    dst += NR * kc;
  }
}

// The micro-kernels: tile (MR × NR) = Σ_kk a[kk·MR + r] · b[kk·NR + j], stored into c (leading
// dimension ldc), added to what c holds when `accumulate`.
constexpr int kMr512 = 8, kNr512 = 32;
__attribute__((target("avx512f"))) void kernel_avx512(Index kc, const float* a, const float* b,
                                                      float* c, Index ldc, bool accumulate) {
  __m512 acc0[kMr512], acc1[kMr512];
#pragma GCC unroll 8
  for (int r = 0; r < kMr512; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (Index kk = 0; kk < kc; ++kk) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 8
    for (int r = 0; r < kMr512; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      acc0[r] = _mm512_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(ar, b1, acc1[r]);
    }
    a += kMr512;
    b += kNr512;
  }
#pragma GCC unroll 8
  for (int r = 0; r < kMr512; ++r) {
    float* row = c + r * ldc;
    if (accumulate) {
      acc0[r] = _mm512_add_ps(_mm512_loadu_ps(row), acc0[r]);
      acc1[r] = _mm512_add_ps(_mm512_loadu_ps(row + 16), acc1[r]);
    }
    _mm512_storeu_ps(row, acc0[r]);
    _mm512_storeu_ps(row + 16, acc1[r]);
  }
}

constexpr int kMr256 = 6, kNr256 = 16;
__attribute__((target("avx2,fma"))) void kernel_avx2(Index kc, const float* a, const float* b,
                                                     float* c, Index ldc, bool accumulate) {
  __m256 acc0[kMr256], acc1[kMr256];
#pragma GCC unroll 6
  for (int r = 0; r < kMr256; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  for (Index kk = 0; kk < kc; ++kk) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kMr256; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      acc0[r] = _mm256_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(ar, b1, acc1[r]);
    }
    a += kMr256;
    b += kNr256;
  }
#pragma GCC unroll 6
  for (int r = 0; r < kMr256; ++r) {
    float* row = c + r * ldc;
    if (accumulate) {
      acc0[r] = _mm256_add_ps(_mm256_loadu_ps(row), acc0[r]);
      acc1[r] = _mm256_add_ps(_mm256_loadu_ps(row + 8), acc1[r]);
    }
    _mm256_storeu_ps(row, acc0[r]);
    _mm256_storeu_ps(row + 8, acc1[r]);
  }
}

using Kernel = void (*)(Index, const float*, const float*, float*, Index, bool);

Index round_up(Index x, Index to) { return (x + to - 1) / to * to; }

// Floats of workspace the packed path needs: one A block and one B block as large as the shapes
// require, plus 16 to align the start to 64 bytes.
template <int MR, int NR>
Index packed_workspace(Index m, Index n, Index k) {
  const Index kc = std::min(kKc, k);
  return round_up(std::min(kMc, m), MR) * kc + kc * round_up(std::min(kNc, n), NR) + 16;
}

template <int MR, int NR>
void gemm_packed(Kernel kernel, Index m, Index n, Index k, StridedMatrix<float> a,
                 StridedMatrix<float> b, float* c, Index ldc, bool accumulate, float* workspace) {
  // 64-byte alignment for the kernels' aligned loads of packed B.
  const auto address = reinterpret_cast<std::uintptr_t>(workspace);
  float* pb = workspace + ((64 - address % 64) % 64) / sizeof(float);
  float* pa = pb + std::min(kKc, k) * round_up(std::min(kNc, n), NR);
  alignas(64) float tile[MR * NR];
  for (Index jc = 0; jc < n; jc += kNc) {
    const Index nc = std::min(kNc, n - jc);
    for (Index pc = 0; pc < k; pc += kKc) {
      const Index kc = std::min(kKc, k - pc);
      const bool acc = accumulate || pc > 0;  // later depth blocks add to the earlier ones
      pack_b<NR>(b.data + pc * b.row_stride + jc * b.col_stride, b.row_stride, b.col_stride, kc,
                 nc, pb);
      for (Index ic = 0; ic < m; ic += kMc) {
        const Index mc = std::min(kMc, m - ic);
        pack_a<MR>(a.data + ic * a.row_stride + pc * a.col_stride, a.row_stride, a.col_stride, mc,
                   kc, pa);
        for (Index jr = 0; jr < nc; jr += NR) {
          const Index cols = std::min<Index>(NR, nc - jr);
          for (Index ir = 0; ir < mc; ir += MR) {
            const Index rows = std::min<Index>(MR, mc - ir);
            float* cp = c + (ic + ir) * ldc + jc + jr;
            const float* ap = pa + ir * kc;
            const float* bp = pb + jr * kc;
            if (rows == MR && cols == NR) {
              kernel(kc, ap, bp, cp, ldc, acc);
              continue;
            }
            kernel(kc, ap, bp, tile, NR, false);
            for (Index r = 0; r < rows; ++r)
              for (Index j = 0; j < cols; ++j)
                cp[r * ldc + j] = acc ? cp[r * ldc + j] + tile[r * NR + j] : tile[r * NR + j];
          }
        }
      }
    }
  }
}

enum class Isa { kNone, kAvx2, kAvx512 };
Isa detect_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
  return Isa::kNone;
}
// Detected once, on first use (not at static initialisation, whose order across files is unset).
Isa cpu_isa() {
  static const Isa isa = detect_isa();
  return isa;
}
#endif

std::atomic<bool> g_force_portable{false};

// Below this many multiply-adds, or when the vectorised dimension n is narrower than a register,
// packing costs more than it saves and Eigen's unpacked small-matrix path is used. The choice
// depends on the shapes only, so it is the same on every call.
constexpr Index kMinPackedMacs = 16 * 1024;
bool use_packed(Index m, Index n, Index k) {
#ifdef CNNDIAG_GEMM_X86
  return cpu_isa() != Isa::kNone && k > 0 && m * n * k >= kMinPackedMacs && n >= 8 &&
         !g_force_portable.load(std::memory_order_relaxed);
#else
  (void)m, (void)n, (void)k;
  return false;
#endif
}

}  // namespace

template <>
Index gemm_workspace_size<double>(Index, Index, Index) {
  return 0;
}

template <>
Index gemm_workspace_size<float>(Index m, Index n, Index k) {
  if (m <= 0 || n <= 0 || !use_packed(m, n, k)) return 0;
#ifdef CNNDIAG_GEMM_X86
  return cpu_isa() == Isa::kAvx512 ? packed_workspace<kMr512, kNr512>(m, n, k)
                              : packed_workspace<kMr256, kNr256>(m, n, k);
#else
  return 0;
#endif
}

template <>
void gemm<double>(Index m, Index n, Index k, StridedMatrix<double> a, StridedMatrix<double> b,
                  double* c, Index ldc, bool accumulate, double* /*workspace*/) {
  if (m <= 0 || n <= 0) return;
  gemm_eigen(m, n, k, a, b, c, ldc, accumulate);
}

template <>
void gemm<float>(Index m, Index n, Index k, StridedMatrix<float> a, StridedMatrix<float> b,
                 float* c, Index ldc, bool accumulate, float* workspace) {
  if (m <= 0 || n <= 0) return;
#ifdef CNNDIAG_GEMM_X86
  if (use_packed(m, n, k)) {
    if (cpu_isa() == Isa::kAvx512)
      gemm_packed<kMr512, kNr512>(kernel_avx512, m, n, k, a, b, c, ldc, accumulate, workspace);
    else
      gemm_packed<kMr256, kNr256>(kernel_avx2, m, n, k, a, b, c, ldc, accumulate, workspace);
    return;
  }
#endif
  (void)workspace;
  gemm_eigen(m, n, k, a, b, c, ldc, accumulate);
}

const char* gemm_kernel_name() {
  if (g_force_portable.load()) return "eigen";
#ifdef CNNDIAG_GEMM_X86
  if (cpu_isa() == Isa::kAvx512) return "avx512";
  if (cpu_isa() == Isa::kAvx2) return "avx2";
#endif
  return "eigen";
}

void gemm_force_portable(bool on) { g_force_portable.store(on); }

}  // namespace cnndiag::detail
