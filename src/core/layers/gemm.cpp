#include "layers/gemm.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "layers/eigen_maps.hpp"

#include "layers/cpu_features.hpp"

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
    f(Eigen::Map<const RowMajor, 0, Outer>(v.data, rows, cols,
                                           Outer(std::max(v.row_stride, cols))));
  } else if (v.row_stride == 1) {
    f(Eigen::Map<const ColMajor, 0, Outer>(v.data, rows, cols,
                                           Outer(std::max(v.col_stride, rows))));
  } else {
    using Stride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
    f(Eigen::Map<const RowMajor, 0, Stride>(v.data, rows, cols,
                                            Stride(v.row_stride, v.col_stride)));
  }
}

// The portable path: Eigen's product on maps of the views.
template <typename T>
void gemm_eigen(Index m, Index n, Index k, StridedMatrix<T> a, StridedMatrix<T> b, T* c, Index ldc,
                bool accumulate) {
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

#ifdef CNNDIAG_X86_KERNELS
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

Index ceil_div(Index x, Index by) { return (x + by - 1) / by; }
Index round_up(Index x, Index to) { return ceil_div(x, to) * to; }

// Depth of the blocks k is cut into: ceil(k / kKc) blocks of (almost) equal depth, so that a depth
// just above kKc (conv 64@3×3 over 32 channels has k = 288) is not cut into 256 + 32, where the
// thin last block would load and store every C tile again for a handful of multiply-adds.
Index depth_block(Index k) { return ceil_div(k, ceil_div(k, kKc)); }

// dst row t (t < 8) ← column t of the 8×8 block at src:
//   dst[t·dst_stride + r] = src[r·src_stride + t].
// The classic three-stage AVX transpose: interleave pairs of rows (unpack), then pairs of pairs
// (shuffle), then swap 128-bit halves (permute2f128). Both packers below use it to turn "rows of
// the source along k" into "k-major panels" eight by eight instead of one scalar at a time.
__attribute__((target("avx2"))) void transpose_8x8(const float* src, Index src_stride, float* dst,
                                                   Index dst_stride) {
  __m256 r[8], t[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // r_i0 r_{i+1}0 r_i1 r_{i+1}1 | …4 …5
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // r_i2 r_{i+1}2 r_i3 r_{i+1}3 | …6 …7
  }
#pragma GCC unroll 2
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);          // column 0 | 4 of rows i..i+3
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);      // column 1 | 5
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);  // column 2 | 6
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);  // column 3 | 7
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// The same for a 16×16 block with AVX-512 (only called where the CPU has it: the packed path with
// NR = 32 runs on AVX-512 CPUs only): interleave pairs of rows, then pairs of pairs, which leaves
// in every 128-bit lane L of vector 4g + j the column j + 4L of rows 4g…4g+3; two rounds of
// 128-bit lane shuffles then gather the four row groups. 96 instructions per 256 elements,
// against 160 for four 8×8 transposes. (Masked forms with a full mask: GCC 12's plain forms pass
// an uninitialised source and warn.)
__attribute__((target("avx512f"))) void transpose_16x16(const float* src, Index src_stride,
                                                        float* dst, Index dst_stride) {
  constexpr __mmask16 kAll = 0xFFFF;
  __m512 r[16], t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * src_stride);
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_mask_unpacklo_ps(r[i], kAll, r[i], r[i + 1]);
    t[i + 1] = _mm512_mask_unpackhi_ps(r[i], kAll, r[i], r[i + 1]);
  }
#pragma GCC unroll 4
  for (int g = 0; g < 16; g += 4) {
    r[g] = _mm512_mask_shuffle_ps(t[g], kAll, t[g], t[g + 2], 0x44);
    r[g + 1] = _mm512_mask_shuffle_ps(t[g], kAll, t[g], t[g + 2], 0xEE);
    r[g + 2] = _mm512_mask_shuffle_ps(t[g + 1], kAll, t[g + 1], t[g + 3], 0x44);
    r[g + 3] = _mm512_mask_shuffle_ps(t[g + 1], kAll, t[g + 1], t[g + 3], 0xEE);
  }
  // t[j] = lanes 0, 2 of groups 0 and 1; t[4 + j] = lanes 1, 3; likewise t[8 + j], t[12 + j] for
  // groups 2 and 3.
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    t[j] = _mm512_mask_shuffle_f32x4(r[j], kAll, r[j], r[4 + j], 0x88);
    t[4 + j] = _mm512_mask_shuffle_f32x4(r[j], kAll, r[j], r[4 + j], 0xDD);
    t[8 + j] = _mm512_mask_shuffle_f32x4(r[8 + j], kAll, r[8 + j], r[12 + j], 0x88);
    t[12 + j] = _mm512_mask_shuffle_f32x4(r[8 + j], kAll, r[8 + j], r[12 + j], 0xDD);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    _mm512_storeu_ps(dst + j * dst_stride,
                     _mm512_mask_shuffle_f32x4(t[j], kAll, t[j], t[8 + j], 0x88));
    _mm512_storeu_ps(dst + (j + 8) * dst_stride,
                     _mm512_mask_shuffle_f32x4(t[j], kAll, t[j], t[8 + j], 0xDD));
    _mm512_storeu_ps(dst + (j + 4) * dst_stride,
                     _mm512_mask_shuffle_f32x4(t[4 + j], kAll, t[4 + j], t[12 + j], 0x88));
    _mm512_storeu_ps(dst + (j + 12) * dst_stride,
                     _mm512_mask_shuffle_f32x4(t[4 + j], kAll, t[4 + j], t[12 + j], 0xDD));
  }
}

// A block (mc × kc) → panels of MR rows, k-major: dst[(p·kc + kk)·MR + r] = A[p·MR + r, kk].
// A row-major A (cs = 1) is read as MR rows along k: with MR = 8, eight 8×8 transposes per 64 k.
template <int MR>
void pack_a(const float* a, Index rs, Index cs, Index mc, Index kc, float* dst) {
  for (Index i0 = 0; i0 < mc; i0 += MR) {
    const Index rows = std::min<Index>(MR, mc - i0);
    if (rows == MR && cs == 1) {
      Index kk = 0;
      if constexpr (MR == 8)
        for (; kk + 8 <= kc; kk += 8) transpose_8x8(a + i0 * rs + kk, rs, dst + kk * MR, MR);
      for (; kk < kc; ++kk)
        for (int r = 0; r < MR; ++r) dst[kk * MR + r] = a[(i0 + r) * rs + kk];
    } else if (rows == MR && rs == 1) {
      // Column-major A (a transposed buffer): the MR values of one k are contiguous.
      for (Index kk = 0; kk < kc; ++kk)
        for (int r = 0; r < MR; ++r) dst[kk * MR + r] = a[i0 + kk * cs + r];
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
      // Plain loops, not memcpy: GCC turns a memcpy of a run-time length into `rep movsq`, whose
      // start-up cost is larger than copying 32 floats. A full panel's constant trip count
      // unrolls into vector moves.
      for (Index kk = 0; kk < kc; ++kk) {
        const float* __restrict src = b + kk * rs + j0;
        float* __restrict to = dst + kk * NR;
        if (cols == NR) {
          for (int j = 0; j < NR; ++j) to[j] = src[j];
        } else {
          for (Index j = 0; j < cols; ++j) to[j] = src[j];
          for (Index j = cols; j < NR; ++j) to[j] = 0.0f;
        }
      }
    } else {
      // Transposed B: column j of the block is contiguous in memory (rs = 1) or strided. With
      // rs = 1, eight columns × eight k at a time go through one 8×8 transpose.
      Index j = 0;
      if (rs == 1) {
        if constexpr (NR % 16 == 0) {
          for (; j + 16 <= cols; j += 16) {
            const float* src = b + (j0 + j) * cs;
            Index kk = 0;
            for (; kk + 16 <= kc; kk += 16) transpose_16x16(src + kk, cs, dst + kk * NR + j, NR);
            for (; kk < kc; ++kk)
              for (Index jj = 0; jj < 16; ++jj) dst[kk * NR + j + jj] = src[jj * cs + kk];
          }
        }
        for (; j + 8 <= cols; j += 8) {
          const float* src = b + (j0 + j) * cs;
          Index kk = 0;
          for (; kk + 8 <= kc; kk += 8) transpose_8x8(src + kk, cs, dst + kk * NR + j, NR);
          for (; kk < kc; ++kk)
            for (Index jj = 0; jj < 8; ++jj) dst[kk * NR + j + jj] = src[jj * cs + kk];
        }
      }
      for (; j < NR; ++j) {
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

// Floats of workspace the packed path needs: one A block and one B block as large as the shapes
// require, plus 16 to align the start to 64 bytes.
template <int MR, int NR>
Index packed_workspace(Index m, Index n, Index k) {
  const Index kc = depth_block(k);
  return round_up(std::min(kMc, m), MR) * kc + kc * round_up(std::min(kNc, n), NR) + 16;
}

// A packed once for every block of a product (see gemm_pack_lhs): depth block by depth block
// (each kc deep), all of A's rows in MR panels: block (ic, pc) starts at pc·round_up(m, MR) +
// ic·kc.
template <int MR>
Index packed_lhs_size(Index m, Index k) {
  return round_up(m, MR) * k;
}
template <int MR>
void pack_lhs(Index m, Index k, StridedMatrix<float> a, float* dst) {
  const Index depth = depth_block(k), rows = round_up(m, MR);
  for (Index pc = 0; pc < k; pc += depth) {
    const Index kc = std::min(depth, k - pc);
    for (Index ic = 0; ic < m; ic += kMc)
      pack_a<MR>(a.data + ic * a.row_stride + pc * a.col_stride, a.row_stride, a.col_stride,
                 std::min(kMc, m - ic), kc, dst + pc * rows + ic * kc);
  }
}

template <int MR, int NR>
void gemm_packed(Kernel kernel, Index m, Index n, Index k, StridedMatrix<float> a,
                 const float* packed_a, StridedMatrix<float> b, float* c, Index ldc,
                 bool accumulate, float* workspace) {
  // 64-byte alignment for the kernels' aligned loads of packed B.
  const auto address = reinterpret_cast<std::uintptr_t>(workspace);
  const Index depth = depth_block(k);
  float* pb = workspace + ((64 - address % 64) % 64) / sizeof(float);
  float* pa_scratch = pb + depth * round_up(std::min(kNc, n), NR);
  alignas(64) float tile[MR * NR];
  for (Index jc = 0; jc < n; jc += kNc) {
    const Index nc = std::min(kNc, n - jc);
    for (Index pc = 0; pc < k; pc += depth) {
      const Index kc = std::min(depth, k - pc);
      const bool acc = accumulate || pc > 0;  // later depth blocks add to the earlier ones
      pack_b<NR>(b.data + pc * b.row_stride + jc * b.col_stride, b.row_stride, b.col_stride, kc, nc,
                 pb);
      for (Index ic = 0; ic < m; ic += kMc) {
        const Index mc = std::min(kMc, m - ic);
        const float* pa = pa_scratch;
        if (packed_a != nullptr)
          pa = packed_a + pc * round_up(m, MR) + ic * kc;
        else
          pack_a<MR>(a.data + ic * a.row_stride + pc * a.col_stride, a.row_stride, a.col_stride, mc,
                     kc, pa_scratch);
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
  if (cpu_has_avx512()) return Isa::kAvx512;
  if (cpu_has_avx2_fma()) return Isa::kAvx2;
  return Isa::kNone;
}
// Tests may cap the kernel at AVX2 on an AVX-512 CPU (gemm_limit_to_avx2), so both kernels run.
std::atomic<bool> g_limit_to_avx2{false};
// Detected once, on first use (not at static initialisation, whose order across files is unset).
Isa cpu_isa() {
  static const Isa isa = detect_isa();
  if (isa == Isa::kAvx512 && g_limit_to_avx2.load(std::memory_order_relaxed)) return Isa::kAvx2;
  return isa;
}
#endif

std::atomic<bool> g_force_portable{false};

// Below this many multiply-adds, or when the vectorised dimension n is narrower than a register,
// packing costs more than it saves and Eigen's unpacked small-matrix path is used. The choice
// depends on the shapes only, so it is the same on every call.
constexpr Index kMinPackedMacs = 16 * 1024;
bool use_packed(Index m, Index n, Index k) {
#ifdef CNNDIAG_X86_KERNELS
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
#ifdef CNNDIAG_X86_KERNELS
  return cpu_isa() == Isa::kAvx512 ? packed_workspace<kMr512, kNr512>(m, n, k)
                                   : packed_workspace<kMr256, kNr256>(m, n, k);
#else
  return 0;
#endif
}

template <>
Index gemm_lhs_size<double>(Index, Index, Index) {
  return 0;
}

template <>
Index gemm_lhs_size<float>(Index m, Index n, Index k) {
  if (m <= 0 || n <= 0 || !use_packed(m, n, k)) return 0;
#ifdef CNNDIAG_X86_KERNELS
  return cpu_isa() == Isa::kAvx512 ? packed_lhs_size<kMr512>(m, k) : packed_lhs_size<kMr256>(m, k);
#else
  return 0;
#endif
}

template <>
bool gemm_pack_lhs<double>(Index, Index, Index, StridedMatrix<double>, double*) {
  return false;
}

template <>
bool gemm_pack_lhs<float>(Index m, Index n, Index k, StridedMatrix<float> a, float* packed) {
  if (gemm_lhs_size<float>(m, n, k) == 0) return false;
#ifdef CNNDIAG_X86_KERNELS
  if (cpu_isa() == Isa::kAvx512)
    pack_lhs<kMr512>(m, k, a, packed);
  else
    pack_lhs<kMr256>(m, k, a, packed);
  return true;
#else
  (void)a, (void)packed;
  return false;
#endif
}

template <>
void gemm<double>(Index m, Index n, Index k, StridedMatrix<double> a, StridedMatrix<double> b,
                  double* c, Index ldc, bool accumulate, double* /*workspace*/,
                  const double* /*packed_a*/) {
  if (m <= 0 || n <= 0) return;
  gemm_eigen(m, n, k, a, b, c, ldc, accumulate);
}

template <>
void gemm<float>(Index m, Index n, Index k, StridedMatrix<float> a, StridedMatrix<float> b,
                 float* c, Index ldc, bool accumulate, float* workspace, const float* packed_a) {
  if (m <= 0 || n <= 0) return;
#ifdef CNNDIAG_X86_KERNELS
  if (use_packed(m, n, k)) {
    if (cpu_isa() == Isa::kAvx512)
      gemm_packed<kMr512, kNr512>(kernel_avx512, m, n, k, a, packed_a, b, c, ldc, accumulate,
                                  workspace);
    else
      gemm_packed<kMr256, kNr256>(kernel_avx2, m, n, k, a, packed_a, b, c, ldc, accumulate,
                                  workspace);
    return;
  }
#endif
  (void)workspace, (void)packed_a;
  gemm_eigen(m, n, k, a, b, c, ldc, accumulate);
}

const char* gemm_kernel_name() {
  if (g_force_portable.load()) return "eigen";
#ifdef CNNDIAG_X86_KERNELS
  if (cpu_isa() == Isa::kAvx512) return "avx512";
  if (cpu_isa() == Isa::kAvx2) return "avx2";
#endif
  return "eigen";
}

void gemm_force_portable(bool on) { g_force_portable.store(on); }

bool gemm_limit_to_avx2(bool on) {
#ifdef CNNDIAG_X86_KERNELS
  g_limit_to_avx2.store(on);
  return !on || cpu_isa() == Isa::kAvx2;
#else
  (void)on;
  return false;
#endif
}

}  // namespace cnndiag::detail
