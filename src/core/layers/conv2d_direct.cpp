#include "layers/conv2d_direct.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "layers/cpu_features.hpp"

namespace cnndiag::detail {
namespace {

constexpr Index kLanes = 16;

// Sizes of the padded layout (see the header) and where each piece sits in the scratch.
struct Padded {
  Index hp, wp;  // padded height and width
  Index length;  // L = OH·Wp rounded up to 16: one extended output plane
  Index plane;   // elements of one padded input plane, with room for the reads past its end
  Index taps;    // C·KH·KW: the taps of one output channel, ordered like w's (c, kh, kw)
};
Padded padded(const WindowGeometry& g) {
  Padded p;
  p.hp = g.in_h + 2 * g.pad_h;
  p.wp = g.in_w + 2 * g.pad_w;
  p.length = (g.out_h * p.wp + kLanes - 1) / kLanes * kLanes;
  // Room for the last kernel row's reads past L: KW − 1 columns, or the extra vector the
  // AVX-512 forward loads per row.
  p.plane =
      std::max(p.hp * p.wp, p.length + (g.kernel_h - 1) * p.wp + std::max(g.kernel_w - 1, kLanes));
  p.plane = (p.plane + kLanes - 1) / kLanes * kLanes;  // every plane starts on a 64-byte line
  p.taps = g.channels * g.kernel_h * g.kernel_w;
  return p;
}

// Scratch: xp (C planes) | dxp (C planes) | ext (OC extended planes) | ones (one extended plane
// of 1s) | lanes (OC × (taps + 1) × 16: the weight gradient's lane partials, then the bias's).
template <typename T>
struct Layout {
  T* xp;
  T* dxp;
  T* ext;
  T* ones;
  T* lanes;
};
// The scratch is used from its first 64-byte boundary on (direct_conv_scratch counts the 16
// elements this may skip), so that with planes of whole vectors the extended planes and the
// untapped (kh = kw = 0) input reads are aligned: an unaligned 64-byte vector always spans two
// cache lines, and these kernels are bound by their loads.
template <typename T>
Layout<T> layout(const WindowGeometry& g, const Padded& p, Index out_channels, T* scratch) {
  constexpr std::uintptr_t kLine = 64;
  const auto address = reinterpret_cast<std::uintptr_t>(scratch);
  scratch += ((kLine - address % kLine) % kLine) / sizeof(T);
  T* ext = scratch + 2 * g.channels * p.plane;
  T* ones = ext + out_channels * p.length;
  return {scratch, scratch + g.channels * p.plane, ext, ones, ones + p.length};
}

// Walks the taps of one output channel in w's order (c, kh, kw), giving each one's offset in the
// padded planes: tap (c, kh, kw) reads xp[i + shift] = xp_c[i + kh·Wp + kw].
class TapWalker {
 public:
  TapWalker(const WindowGeometry& g, const Padded& p) : g_(g), p_(p) {}
  Index next() {
    const Index shift = c_ * p_.plane + kh_ * p_.wp + kw_;
    if (++kw_ == g_.kernel_w) {
      kw_ = 0;
      if (++kh_ == g_.kernel_h) kh_ = 0, ++c_;
    }
    return shift;
  }

 private:
  const WindowGeometry& g_;
  const Padded& p_;
  Index c_ = 0, kh_ = 0, kw_ = 0;
};

std::atomic<bool> g_force_portable{false};

#ifdef CNNDIAG_X86_KERNELS
bool use_avx512() { return cpu_has_avx512() && !g_force_portable.load(std::memory_order_relaxed); }

// copy_rows (below) with whole vectors: the row's last partial vector is loaded masked (zeros
// past `cols`) and, while the store stays inside the region the call writes, stored whole. The
// extra lanes write zeros into the gap to the next row (padding, or the extended planes' extra
// columns: both must be zero) or into rows that are copied later (rows go in increasing order).
// Only a store that would leave the region is masked: masked stores are slow, and rows of 20 or
// 28 floats are too short for memcpy's call and setup to pay off.
__attribute__((target("avx512f"))) void copy_rows_avx512(const float* src, Index src_stride,
                                                         float* dst, Index dst_stride, Index rows,
                                                         Index cols) {
  const Index full = cols / kLanes * kLanes;
  const auto tail = static_cast<__mmask16>((1u << (cols - full)) - 1u);
  const Index region_end = (rows - 1) * dst_stride + cols;
  for (Index r = 0; r < rows; ++r, src += src_stride, dst += dst_stride) {
    for (Index i = 0; i < full; i += kLanes) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (tail == 0) continue;
    const __m512 last = _mm512_maskz_loadu_ps(tail, src + full);
    if (r * dst_stride + full + kLanes <= region_end)
      _mm512_storeu_ps(dst + full, last);
    else
      _mm512_mask_storeu_ps(dst + full, tail, last);
  }
}
#else
bool use_avx512() { return false; }
#endif

// dst[r·dst_stride + i] = src[r·src_stride + i] for r < rows, i < cols.
template <typename T>
void copy_rows(const T* src, Index src_stride, T* dst, Index dst_stride, Index rows, Index cols) {
#ifdef CNNDIAG_X86_KERNELS
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx512()) return copy_rows_avx512(src, src_stride, dst, dst_stride, rows, cols);
  }
#endif
  for (Index r = 0; r < rows; ++r)
    for (Index i = 0; i < cols; ++i) dst[r * dst_stride + i] = src[r * src_stride + i];
}

// x_n (C, H, W) → the interiors of C padded planes (their borders are already zero).
template <typename T>
void pad_interior(const T* x_n, const WindowGeometry& g, const Padded& p, T* xp) {
  for (Index c = 0; c < g.channels; ++c)
    copy_rows(x_n + c * g.in_plane(), g.in_w, xp + c * p.plane + g.pad_h * p.wp + g.pad_w, p.wp,
              g.in_h, g.in_w);
}

// ---------------------------------------------------------------------------------------------
// The portable form: one axpy or dot product per tap over the whole extended plane.
template <typename T>
inline void axpy_impl(T* __restrict y, const T* __restrict x, T a, Index n) {
  for (Index i = 0; i < n; ++i) y[i] += a * x[i];
}

// Σ a[i]·b[i] for n a multiple of 16: lane j sums terms i ≡ j (mod 16), lanes added in order.
template <typename T>
inline T dot_impl(const T* __restrict a, const T* __restrict b, Index n) {
  T acc[kLanes] = {};
  for (Index i = 0; i < n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
  T sum = T(0);
  for (int j = 0; j < kLanes; ++j) sum += acc[j];
  return sum;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CNNDIAG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CNNDIAG_CLONES
#endif

CNNDIAG_CLONES void axpy_f32(float* y, const float* x, float a, Index n) { axpy_impl(y, x, a, n); }
CNNDIAG_CLONES float dot_f32(const float* a, const float* b, Index n) { return dot_impl(a, b, n); }

inline void axpy(float* y, const float* x, float a, Index n) { axpy_f32(y, x, a, n); }
inline void axpy(double* y, const double* x, double a, Index n) { axpy_impl(y, x, a, n); }
inline float dot(const float* a, const float* b, Index n) { return dot_f32(a, b, n); }
inline double dot(const double* a, const double* b, Index n) { return dot_impl(a, b, n); }

// ext (OC, L) = b + Σ_taps w · shifted xp.
template <typename T>
void forward_portable(const T* xp, const T* w, const T* bias, const WindowGeometry& g,
                      const Padded& p, Index out_channels, T* ext) {
  for (Index oc = 0; oc < out_channels; ++oc) {
    T* y = ext + oc * p.length;
    std::fill(y, y + p.length, bias != nullptr ? bias[oc] : T(0));
    TapWalker tap(g, p);
    for (Index t = 0; t < p.taps; ++t) axpy(y, xp + tap.next(), w[oc * p.taps + t], p.length);
  }
}

// dw (OC, taps) += dy_ext · shifted xp, one dot product per tap; db (OC) += dy_ext · 1 if db.
template <typename T>
void weight_grad_portable(const T* dy_ext, const T* xp, const T* ones, const WindowGeometry& g,
                          const Padded& p, Index out_channels, T* dw, T* db) {
  for (Index oc = 0; oc < out_channels; ++oc) {
    const T* dy = dy_ext + oc * p.length;
    TapWalker tap(g, p);
    for (Index t = 0; t < p.taps; ++t) dw[oc * p.taps + t] += dot(dy, xp + tap.next(), p.length);
    if (db != nullptr) db[oc] += dot(dy, ones, p.length);
  }
}

// dxp (C planes) += w · dy_ext scattered to each tap's shift (dxp zeroed by the caller).
template <typename T>
void data_grad(const T* dy_ext, const T* w_dx, const WindowGeometry& g, const Padded& p,
               Index out_channels, T* dxp) {
  for (Index oc = 0; oc < out_channels; ++oc) {
    TapWalker tap(g, p);
    for (Index t = 0; t < p.taps; ++t)
      axpy(dxp + tap.next(), dy_ext + oc * p.length, w_dx[oc * p.taps + t], p.length);
  }
}

// ---------------------------------------------------------------------------------------------
// The AVX-512 register-blocked form (float).
#ifdef CNNDIAG_X86_KERNELS
// Output vectors per block for OC output channels: OC·VB accumulators, VB + 1 loaded and VB
// shifted input vectors and one broadcast weight must fit the 32 zmm registers, with enough
// independent accumulators (≥ 10) to hide the FMA latency.
constexpr int forward_block(int oc) { return std::min(12, 30 / (oc + 2)); }

// Lanes R…15 of lo followed by lanes 0…R−1 of hi (valignd). Written in the full-mask form (src =
// lo, every lane selected: the same instruction) because GCC 12's plain form starts from an
// undefined vector and trips -Wmaybe-uninitialized.
template <int R>
__attribute__((target("avx512f"), always_inline)) inline __m512 shift_lanes(__m512 lo, __m512 hi) {
  const __m512i l = _mm512_castps_si512(lo);
  return _mm512_castsi512_ps(_mm512_mask_alignr_epi32(l, 0xFFFF, _mm512_castps_si512(hi), l, R));
}

// The input vectors of tap column kw = R, xp[shift + kw + 16v + j], from the loaded vectors
// u[v] = xp[shift + 16v + j] of its kernel row: lanes R… of u[v] followed by lanes …R−1 of u[v+1]
// (valignd), multiply-added into every output channel's accumulators with w[oc·w_stride].
template <int R, int OC, int VB>
__attribute__((target("avx512f"), always_inline)) inline void forward_tap(const __m512 (&u)[VB + 1],
                                                                          const float* w,
                                                                          Index w_stride,
                                                                          __m512 (&acc)[OC][VB]) {
  __m512 in[VB];
#pragma GCC unroll 12
  for (int v = 0; v < VB; ++v) in[v] = R == 0 ? u[v] : shift_lanes<R>(u[v], u[v + 1]);
#pragma GCC unroll 8
  for (int oc = 0; oc < OC; ++oc) {
    const __m512 wt = _mm512_set1_ps(w[oc * w_stride]);
#pragma GCC unroll 12
    for (int v = 0; v < VB; ++v) acc[oc][v] = _mm512_fmadd_ps(in[v], wt, acc[oc][v]);
  }
}

// All KW taps of a kernel row: forward_tap for kw = R… in order.
template <int OC, int VB, int... R>
__attribute__((target("avx512f"), always_inline)) inline void forward_row(
    const __m512 (&u)[VB + 1], const float* w, Index w_stride, __m512 (&acc)[OC][VB],
    std::integer_sequence<int, R...>) {
  (forward_tap<R, OC, VB>(u, w + R, w_stride, acc), ...);
}

// Kernels up to this wide run the kernel below (valignd takes its shift as an immediate, so the
// kernel width is a template parameter); wider ones the portable form.
constexpr int kMaxShiftedColumns = 5;

// ext[oc][i0 + 16v + j] = b[oc] + Σ_t w[oc, t] · xp[shift_t + i0 + 16v + j] for v < VB. Per
// kernel row (c, kh), VB + 1 input vectors are loaded once; the KW taps of the row are those
// vectors shifted by kw lanes (forward_tap), each multiplied into all OC·VB accumulators. An
// unaligned 64-byte load always spans two cache lines, so loading once per row instead of once
// per tap is what keeps this kernel off the load ports' limit.
template <int OC, int KW, int VB>
__attribute__((target("avx512f"))) void forward_block_avx512(const float* xp, const float* w,
                                                             const float* bias,
                                                             const WindowGeometry& g,
                                                             const Padded& p, float* ext,
                                                             Index i0) {
  __m512 acc[OC][VB];
#pragma GCC unroll 8
  for (int oc = 0; oc < OC; ++oc) {
    const __m512 b = _mm512_set1_ps(bias != nullptr ? bias[oc] : 0.0f);
#pragma GCC unroll 12
    for (int v = 0; v < VB; ++v) acc[oc][v] = b;
  }
  const float* wt = w;  // w[oc, c, kh, 0] at wt[oc·taps] for the current row
  for (Index c = 0; c < g.channels; ++c)
    for (Index kh = 0; kh < g.kernel_h; ++kh, wt += KW) {
      const float* src = xp + c * p.plane + kh * p.wp + i0;
      __m512 u[VB + 1];
#pragma GCC unroll 13
      for (int v = 0; v <= VB; ++v) u[v] = _mm512_loadu_ps(src + v * kLanes);
      forward_row<OC, VB>(u, wt, p.taps, acc, std::make_integer_sequence<int, KW>{});
    }
#pragma GCC unroll 8
  for (int oc = 0; oc < OC; ++oc)
#pragma GCC unroll 12
    for (int v = 0; v < VB; ++v)
      _mm512_storeu_ps(ext + oc * p.length + i0 + v * kLanes, acc[oc][v]);
}

// The whole extended plane in blocks of VB vectors. A last partial block is computed as the
// block that ends at L, overlapping the previous one: the overlapped outputs are recomputed by
// the same operations in the same order, so they come out identical (ext is assigned, not
// accumulated).
template <int OC, int KW>
void forward_avx512(const float* xp, const float* w, const float* bias, const WindowGeometry& g,
                    const Padded& p, float* ext) {
  constexpr int kVb = forward_block(OC);
  constexpr Index kBlock = kVb * kLanes;
  if (p.length < kBlock) {
    for (Index i0 = 0; i0 < p.length; i0 += kLanes)
      forward_block_avx512<OC, KW, 1>(xp, w, bias, g, p, ext, i0);
    return;
  }
  Index i0 = 0;
  for (; i0 + kBlock <= p.length; i0 += kBlock)
    forward_block_avx512<OC, KW, kVb>(xp, w, bias, g, p, ext, i0);
  if (i0 < p.length) forward_block_avx512<OC, KW, kVb>(xp, w, bias, g, p, ext, p.length - kBlock);
}

// The planes by (OC, KW): kForwardPlanes[OC − 1][KW − 1].
using ForwardPlane = void (*)(const float*, const float*, const float*, const WindowGeometry&,
                              const Padded&, float*);
constexpr int kMaxForwardChannels = 8;
using ForwardTable = std::array<ForwardPlane, kMaxShiftedColumns>;
template <int OC, int... KW>
constexpr ForwardTable forward_table(std::integer_sequence<int, KW...>) {
  return {forward_avx512<OC, KW + 1>...};
}
template <int... OC>
constexpr std::array<ForwardTable, sizeof...(OC)> forward_tables(
    std::integer_sequence<int, OC...>) {
  return {forward_table<OC + 1>(std::make_integer_sequence<int, kMaxShiftedColumns>{})...};
}
constexpr auto kForwardPlanes =
    forward_tables(std::make_integer_sequence<int, kMaxForwardChannels>{});

// All output channels, in groups of up to 8 that share each input vector load.
void forward_avx512_dispatch(const float* xp, const float* w, const float* bias,
                             const WindowGeometry& g, const Padded& p, Index out_channels,
                             float* ext) {
  for (Index oc = 0; oc < out_channels; oc += kMaxForwardChannels) {
    const Index count = std::min<Index>(kMaxForwardChannels, out_channels - oc);
    kForwardPlanes[count - 1][g.kernel_w - 1](
        xp, w + oc * p.taps, bias != nullptr ? bias + oc : nullptr, g, p, ext + oc * p.length);
  }
}

// Weight gradient for TB taps of OC output channels: lanes[oc][t][j] += Σ_{i ≡ j mod 16}
// dy_oc[i] · xp[shift_t + i]. The OC·TB accumulators stay in registers over the whole plane; per
// 16 positions the OC dy vectors are loaded once for TB taps and each tap's x vector once for
// the OC channels (x loads are unaligned, and each one crosses a cache line: sharing them is
// what keeps the kernel off the load ports' limit).
constexpr int kMaxTapBlock = 12;
constexpr int tap_block(int oc) { return std::min(kMaxTapBlock, 24 / oc); }

template <int OC, int TB>
__attribute__((target("avx512f"))) void weight_grad_block_avx512(const float* dy, Index length,
                                                                 const float* xp,
                                                                 const Index* shift, float* lanes,
                                                                 Index lanes_stride) {
  __m512 acc[OC][TB];
  const float* src[TB];
#pragma GCC unroll 12
  for (int t = 0; t < TB; ++t) src[t] = xp + shift[t];
#pragma GCC unroll 8
  for (int oc = 0; oc < OC; ++oc)
#pragma GCC unroll 12
    for (int t = 0; t < TB; ++t)
      acc[oc][t] = _mm512_loadu_ps(lanes + oc * lanes_stride + t * kLanes);
  for (Index i = 0; i < length; i += kLanes) {
    __m512 d[OC];
#pragma GCC unroll 8
    for (int oc = 0; oc < OC; ++oc) d[oc] = _mm512_loadu_ps(dy + oc * length + i);
#pragma GCC unroll 12
    for (int t = 0; t < TB; ++t) {
      const __m512 x = _mm512_loadu_ps(src[t] + i);
#pragma GCC unroll 8
      for (int oc = 0; oc < OC; ++oc) acc[oc][t] = _mm512_fmadd_ps(d[oc], x, acc[oc][t]);
    }
  }
#pragma GCC unroll 8
  for (int oc = 0; oc < OC; ++oc)
#pragma GCC unroll 12
    for (int t = 0; t < TB; ++t)
      _mm512_storeu_ps(lanes + oc * lanes_stride + t * kLanes, acc[oc][t]);
}

// The kernels by (OC, TB) for every TB up to tap_block(OC): tables[OC − 1][TB − 1].
using WeightGradBlock = void (*)(const float*, Index, const float*, const Index*, float*, Index);
using WeightGradTable = std::array<WeightGradBlock, kMaxTapBlock>;
template <int OC, std::size_t... I>
constexpr WeightGradTable weight_grad_table(std::index_sequence<I...>) {
  return {weight_grad_block_avx512<OC, static_cast<int>(I) + 1>...};
}
template <int OC>
constexpr WeightGradTable kWeightGradTable =
    weight_grad_table<OC>(std::make_index_sequence<tap_block(OC)>{});
constexpr int kMaxGradChannels = 8;
constexpr const WeightGradTable* kWeightGradTables[kMaxGradChannels] = {
    &kWeightGradTable<1>, &kWeightGradTable<2>, &kWeightGradTable<3>, &kWeightGradTable<4>,
    &kWeightGradTable<5>, &kWeightGradTable<6>, &kWeightGradTable<7>, &kWeightGradTable<8>};

// The weight gradient by kernel rows, for few output channels and narrow kernels (OC·KW ≤ 12,
// KW ≤ 5; the seed's 1 channel × 3 columns). The tap blocks above load every tap's x vector
// separately — unaligned, two cache lines each — and with one output channel nothing shares
// them. Here each 16 positions of a kernel row (c, kh) are loaded once and the row's KW taps use
// them shifted by kw lanes (valignd), as in the forward. U consecutive position vectors keep
// their own accumulators, so that OC·KW·U ≥ 8 FMA chains run side by side.
constexpr int kMaxRowTaps = 12;
constexpr int row_unroll(int oc, int kw) { return std::min(4, kMaxRowTaps / (oc * kw)); }

// One tap column R of the row: acc[oc][R] += dy_oc · (x shifted by R lanes).
template <int R, int OC, int KW>
__attribute__((target("avx512f"), always_inline)) inline void row_tap(const __m512 (&d)[OC],
                                                                      __m512 lo, __m512 hi,
                                                                      __m512 (&acc)[OC][KW]) {
  const __m512 x = R == 0 ? lo : shift_lanes<R>(lo, hi);
#pragma GCC unroll 8
  for (int oc = 0; oc < OC; ++oc) acc[oc][R] = _mm512_fmadd_ps(d[oc], x, acc[oc][R]);
}

// 16 positions i…i+15 of the row: lo = x[i…], hi = x[i + 16…]. With `bias`, also Σ dy.
template <int OC, int KW, int... R>
__attribute__((target("avx512f"), always_inline)) inline void row_vector(
    const float* dy, Index length, Index i, __m512 lo, __m512 hi, bool bias, __m512 (&acc)[OC][KW],
    __m512 (&bias_acc)[OC], std::integer_sequence<int, R...>) {
  __m512 d[OC];
#pragma GCC unroll 8
  for (int oc = 0; oc < OC; ++oc) {
    d[oc] = _mm512_loadu_ps(dy + oc * length + i);
    if (bias) bias_acc[oc] = _mm512_add_ps(bias_acc[oc], d[oc]);  // dy·1, exactly as an FMA
  }
  (row_tap<R, OC, KW>(d, lo, hi, acc), ...);
}

// lanes[oc][kw] += Σ over the plane for the row starting at x (lanes_stride apart per output
// channel); with `bias`, bias_lanes[oc] += Σ dy_oc too. The U partial accumulators are added to
// the lanes in order, so the sum's order is fixed by the shapes.
template <int OC, int KW>
__attribute__((target("avx512f"))) void weight_grad_row_avx512(const float* dy, Index length,
                                                               const float* x, bool bias,
                                                               float* lanes, float* bias_lanes,
                                                               Index lanes_stride) {
  constexpr int U = row_unroll(OC, KW);
  constexpr auto kColumns = std::make_integer_sequence<int, KW>{};
  __m512 acc[U][OC][KW], bias_acc[U][OC];
#pragma GCC unroll 4
  for (int q = 0; q < U; ++q)
#pragma GCC unroll 8
    for (int oc = 0; oc < OC; ++oc) {
      bias_acc[q][oc] = _mm512_setzero_ps();
#pragma GCC unroll 5
      for (int kw = 0; kw < KW; ++kw) acc[q][oc][kw] = _mm512_setzero_ps();
    }
  Index i = 0;
  for (; i + U * kLanes <= length; i += U * kLanes) {
    __m512 u[U + 1];
#pragma GCC unroll 5
    for (int q = 0; q <= U; ++q) u[q] = _mm512_loadu_ps(x + i + q * kLanes);
#pragma GCC unroll 4
    for (int q = 0; q < U; ++q)
      row_vector<OC, KW>(dy, length, i + q * kLanes, u[q], u[q + 1], bias, acc[q], bias_acc[q],
                         kColumns);
  }
  for (; i < length; i += kLanes)
    row_vector<OC, KW>(dy, length, i, _mm512_loadu_ps(x + i), _mm512_loadu_ps(x + i + kLanes), bias,
                       acc[0], bias_acc[0], kColumns);
#pragma GCC unroll 8
  for (int oc = 0; oc < OC; ++oc) {
#pragma GCC unroll 5
    for (int kw = 0; kw < KW; ++kw) {
      __m512 sum = _mm512_loadu_ps(lanes + oc * lanes_stride + kw * kLanes);
#pragma GCC unroll 4
      for (int q = 0; q < U; ++q) sum = _mm512_add_ps(sum, acc[q][oc][kw]);
      _mm512_storeu_ps(lanes + oc * lanes_stride + kw * kLanes, sum);
    }
    if (bias) {
      __m512 sum = _mm512_loadu_ps(bias_lanes + oc * lanes_stride);
#pragma GCC unroll 4
      for (int q = 0; q < U; ++q) sum = _mm512_add_ps(sum, bias_acc[q][oc]);
      _mm512_storeu_ps(bias_lanes + oc * lanes_stride, sum);
    }
  }
}

// The row kernels by (OC, KW) where OC·KW ≤ 12: kWeightGradRows[OC − 1][KW − 1], else null.
using WeightGradRow = void (*)(const float*, Index, const float*, bool, float*, float*, Index);
using WeightGradRowTable = std::array<WeightGradRow, kMaxShiftedColumns>;
template <int OC, int KW>
constexpr WeightGradRow weight_grad_row() {
  if constexpr (OC * KW <= kMaxRowTaps)
    return weight_grad_row_avx512<OC, KW>;
  else
    return nullptr;
}
template <int OC, int... KW>
constexpr WeightGradRowTable weight_grad_row_table(std::integer_sequence<int, KW...>) {
  return {weight_grad_row<OC, KW + 1>()...};
}
template <int... OC>
constexpr std::array<WeightGradRowTable, sizeof...(OC)> weight_grad_row_tables(
    std::integer_sequence<int, OC...>) {
  return {weight_grad_row_table<OC + 1>(std::make_integer_sequence<int, kMaxShiftedColumns>{})...};
}
constexpr auto kWeightGradRows =
    weight_grad_row_tables(std::make_integer_sequence<int, kMaxGradChannels>{});

// lanes (OC, taps + 1, 16) += the sample's products. Row `taps` of each output channel is the
// bias, Σ dy (only when `bias`). Few channels × narrow kernels go row by row (above). Otherwise
// output channels go in groups of up to 8 and the taps in balanced blocks of at most
// tap_block(group) (LeNet's 6 channels, 25 taps + bias: 7 blocks of 4 or 3), the bias being a
// tap whose input plane is the ones plane (dy · 1).
void weight_grad_avx512(const float* dy_ext, const float* xp, const float* ones, bool bias,
                        const WindowGeometry& g, const Padded& p, Index out_channels,
                        float* lanes) {
  const Index lanes_stride = (p.taps + 1) * kLanes;
  if (out_channels <= kMaxGradChannels && g.kernel_w <= kMaxShiftedColumns) {
    if (const WeightGradRow row = kWeightGradRows[out_channels - 1][g.kernel_w - 1]) {
      for (Index c = 0; c < g.channels; ++c)
        for (Index kh = 0; kh < g.kernel_h; ++kh)
          row(dy_ext, p.length, xp + c * p.plane + kh * p.wp, bias && c == 0 && kh == 0,
              lanes + (c * g.kernel_h + kh) * g.kernel_w * kLanes, lanes + p.taps * kLanes,
              lanes_stride);
      return;
    }
  }
  const Index taps = p.taps + (bias ? 1 : 0);
  for (Index oc = 0; oc < out_channels; oc += kMaxGradChannels) {
    const int group = static_cast<int>(std::min<Index>(kMaxGradChannels, out_channels - oc));
    const WeightGradTable& table = *kWeightGradTables[group - 1];
    const Index blocks = (taps + tap_block(group) - 1) / tap_block(group);
    TapWalker tap(g, p);
    Index t0 = 0;
    for (Index b = 0; b < blocks; ++b) {
      const Index count = taps / blocks + (b < taps % blocks ? 1 : 0);
      Index shift[kMaxTapBlock];
      for (Index t = 0; t < count; ++t) shift[t] = t0 + t < p.taps ? tap.next() : ones - xp;
      table[count - 1](dy_ext + oc * p.length, p.length, xp, shift,
                       lanes + oc * lanes_stride + t0 * kLanes, lanes_stride);
      t0 += count;
    }
  }
}
#endif

// ext (OC, L) = b + Σ_taps w · shifted xp, by the CPU's kernel.
template <typename T>
void forward_ext(const T* xp, const T* w, const T* bias, const WindowGeometry& g, const Padded& p,
                 Index out_channels, T* ext) {
#ifdef CNNDIAG_X86_KERNELS
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx512() && g.kernel_w <= kMaxShiftedColumns)
      return forward_avx512_dispatch(xp, w, bias, g, p, out_channels, ext);
  }
#endif
  forward_portable(xp, w, bias, g, p, out_channels, ext);
}

// One sample's weight (and, if db, bias) gradient: into the lane partials (returns true; the
// caller zeroed them before the first sample and adds them to dw and db after the last), or
// straight into dw and db (false).
template <typename T>
bool weight_grad(const T* dy_ext, const Layout<T>& s, const WindowGeometry& g, const Padded& p,
                 Index out_channels, T* dw, T* db) {
#ifdef CNNDIAG_X86_KERNELS
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx512()) {
      weight_grad_avx512(dy_ext, s.xp, s.ones, db != nullptr, g, p, out_channels, s.lanes);
      return true;
    }
  }
#endif
  weight_grad_portable(dy_ext, s.xp, s.ones, g, p, out_channels, dw, db);
  return false;
}

}  // namespace

Index direct_conv_scratch(const WindowGeometry& g, Index out_channels) {
  const Padded p = padded(g);
  return kLanes + 2 * g.channels * p.plane + (out_channels + 1) * p.length +
         out_channels * (p.taps + 1) * kLanes;
}

template <typename T>
void direct_conv_forward(const T* x, Index samples, const T* w, const T* bias,
                         const WindowGeometry& g, Index out_channels, T* y, T* scratch) {
  const Padded p = padded(g);
  const Layout<T> s = layout(g, p, out_channels, scratch);
  std::fill(s.xp, s.xp + g.channels * p.plane, T(0));
  for (Index n = 0; n < samples; ++n) {
    pad_interior(x + n * g.channels * g.in_plane(), g, p, s.xp);
    forward_ext(s.xp, w, bias, g, p, out_channels, s.ext);
    // y_n (OC, OH, OW) = the first OW columns of ext's rows.
    for (Index oc = 0; oc < out_channels; ++oc)
      copy_rows(s.ext + oc * p.length, p.wp, y + (n * out_channels + oc) * g.out_plane(), g.out_w,
                g.out_h, g.out_w);
  }
}

template <typename T>
void direct_conv_backward(const T* x, Index samples, const T* w_dx, const T* dy,
                          const WindowGeometry& g, Index out_channels, T* dw, T* db,
                          Index bias_samples, T* dx, T* scratch) {
  const Padded p = padded(g);
  const Layout<T> s = layout(g, p, out_channels, scratch);
  const Index C = g.channels, OP = g.out_plane();
  std::fill(s.xp, s.xp + C * p.plane, T(0));
  std::fill(s.ext, s.ext + out_channels * p.length, T(0));  // dy_ext's extra columns stay zero
  std::fill(s.ones, s.ones + p.length, T(1));
  std::fill(s.lanes, s.lanes + out_channels * (p.taps + 1) * kLanes, T(0));
  bool lanes_used = false;
  for (Index n = 0; n < samples; ++n) {
    pad_interior(x + n * C * g.in_plane(), g, p, s.xp);
    // dy_n (OC, OH, OW) → rows of width Wp in OC planes of L.
    for (Index oc = 0; oc < out_channels; ++oc)
      copy_rows(dy + (n * out_channels + oc) * OP, g.out_w, s.ext + oc * p.length, p.wp, g.out_h,
                g.out_w);
    lanes_used = weight_grad(s.ext, s, g, p, out_channels, dw, n < bias_samples ? db : nullptr);
    if (dx != nullptr) {
      std::fill(s.dxp, s.dxp + C * p.plane, T(0));
      data_grad(s.ext, w_dx, g, p, out_channels, s.dxp);
      for (Index c = 0; c < C; ++c)
        copy_rows(s.dxp + c * p.plane + g.pad_h * p.wp + g.pad_w, p.wp,
                  dx + (n * C + c) * g.in_plane(), g.in_w, g.in_h, g.in_w);
    }
  }
  // The lane partials of all samples, added once, in lane order: dw and db += Σ_j lanes[·][j].
  if (!lanes_used) return;
  for (Index oc = 0; oc < out_channels; ++oc)
    for (Index t = 0; t <= p.taps; ++t) {
      const T* lane = s.lanes + (oc * (p.taps + 1) + t) * kLanes;
      T sum = T(0);
      for (Index j = 0; j < kLanes; ++j) sum += lane[j];
      if (t < p.taps)
        dw[oc * p.taps + t] += sum;
      else if (db != nullptr && bias_samples > 0)
        db[oc] += sum;
    }
}

const char* direct_conv_kernel_name() { return use_avx512() ? "avx512" : "portable"; }

void direct_conv_force_portable(bool on) { g_force_portable.store(on); }

template void direct_conv_forward<float>(const float*, Index, const float*, const float*,
                                         const WindowGeometry&, Index, float*, float*);
template void direct_conv_forward<double>(const double*, Index, const double*, const double*,
                                          const WindowGeometry&, Index, double*, double*);
template void direct_conv_backward<float>(const float*, Index, const float*, const float*,
                                          const WindowGeometry&, Index, float*, float*, Index,
                                          float*, float*);
template void direct_conv_backward<double>(const double*, Index, const double*, const double*,
                                           const WindowGeometry&, Index, double*, double*, Index,
                                           double*, double*);

}  // namespace cnndiag::detail
