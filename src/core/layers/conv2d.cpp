#include "cnndiag/layers/conv2d.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cnndiag/errors.hpp"
#include "cnndiag/parallel.hpp"
#include "layers/conv2d_direct.hpp"
#include "layers/eigen_maps.hpp"
#include "layers/gemm.hpp"
#include "layers/param_util.hpp"

#include "layers/cpu_features.hpp"

namespace cnndiag {
namespace {

using detail::ceil_div;

/// Multiply-adds below which a chunk of samples is not worth a thread wake-up (~20 µs of work).
constexpr Index kMinMacsPerChunk = Index{1} << 17;

/// Stride-1 layers with at most this many (input, output) channel pairs run the direct
/// convolution (conv2d_direct.hpp) instead of im2col + GEMM: with so few channels the GEMM has
/// almost no reuse to exploit, and building the im2col matrix costs more than the products.
constexpr Index kMaxDirectChannelPairs = 8;

// The output columns ow whose input column iw = ow·SW − PW + kw lies inside [0, W): a contiguous
// range [begin, end). Outside it the window reads padding.
struct ValidRange {
  Index begin, end;
};
ValidRange valid_outputs(Index k, Index out, Index in, Index stride, Index pad) {
  const Index last = in - 1 + pad - k;  // largest ow·stride with iw ≤ in − 1
  const Index end = last < 0 ? 0 : std::min(out, last / stride + 1);
  const Index begin = std::min(end, ceil_div(std::max<Index>(pad - k, 0), stride));
  return {begin, end};
}

// Σ v[0..n) in 16 interleaved partial sums added in lane order: a fixed order like a plain loop,
// but 16 independent chains instead of one, so the adds pipeline and vectorise (a single float
// accumulator chains every add on the previous one's latency).
template <typename T>
T sum_lanes(const T* __restrict v, Index n) {
  constexpr int kLanes = 16;
  T acc[kLanes] = {};
  Index i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += v[i + j];
  T rest = T(0);
  for (; i < n; ++i) rest += v[i];
  T sum = T(0);
  for (int j = 0; j < kLanes; ++j) sum += acc[j];
  return sum + rest;
}

// Short row runs at stride 1 (LeNet's conv2 has rows of 10): a memcpy call or a vectorised loop
// with scalar tails costs ~30 cycles per run, more than the copy. With AVX-512 a run of up to 16
// is one masked load (which also supplies the zeros around the run) and one plain store. The store
// is deliberately full width: masked stores are slow on AMD's cores, so each row's store spills
// up to 15 elements into the next row, which the next row's store then overwrites, and the last
// row spills into kRowSlack elements that the cols buffers reserve for it.
constexpr Index kRowSlack = 16;
#ifdef CNNDIAG_X86_KERNELS
using detail::first_lanes;
bool row_kernels_avx512() { return detail::cpu_has_avx512(); }
// out[ow] = from[ow − begin] for ow in [begin, end), 0 for the rest of [0, out_w); writes up to
// 15 elements past out_w (see above).
__attribute__((target("avx512f"), always_inline)) inline void copy_row_avx512(
    float* out, Index out_w, const float* from, Index begin, Index end) {
  for (Index j0 = 0; j0 < out_w; j0 += 16) {
    const Index lo = std::max(j0, begin), hi = std::min(j0 + 16, end);
    __m512 v = _mm512_setzero_ps();
    if (lo < hi) {
      v = _mm512_maskz_loadu_ps(first_lanes(hi - lo), from + (lo - begin));
      // The run starts inside this block (left padding): move its lanes up into place.
      if (lo > j0)
        v = _mm512_maskz_expand_ps(static_cast<__mmask16>(first_lanes(hi - lo) << (lo - j0)), v);
    }
    _mm512_storeu_ps(out + j0, v);
  }
}
// All OH output rows of im2col row (c, kh, kw) at stride_w = 1, one call per row of the matrix:
// row[oh, ow] = plane[ih·W + ow − PW + kw] for ow in the valid range [begin, end), else 0.
__attribute__((target("avx512f"))) void im2col_rows_avx512(const float* plane,
                                                           const WindowGeometry& g, Index kh,
                                                           Index kw, Index begin, Index end,
                                                           float* row) {
  for (Index oh = 0; oh < g.out_h; ++oh) {
    float* out = row + oh * g.out_w;
    const Index ih = oh * g.stride_h - g.pad_h + kh;
    if (ih < 0 || ih >= g.in_h || begin >= end) {
      for (Index j0 = 0; j0 < g.out_w; j0 += 16) _mm512_storeu_ps(out + j0, _mm512_setzero_ps());
      continue;
    }
    copy_row_avx512(out, g.out_w, plane + ih * g.in_w - g.pad_w + kw + begin, begin, end);
  }
}
// to[i] += from[i] for i < n: 16 lanes, then 8, then scalars (no masked store: see above; and
// `to` is the caller's gradient, whose neighbours another thread may be writing).
__attribute__((target("avx512f"), always_inline)) inline void add_row_avx512(float* to,
                                                                             const float* from,
                                                                             Index n) {
  Index i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(to + i, _mm512_add_ps(_mm512_loadu_ps(to + i), _mm512_loadu_ps(from + i)));
  if (i + 8 <= n) {
    _mm256_storeu_ps(to + i, _mm256_add_ps(_mm256_loadu_ps(to + i), _mm256_loadu_ps(from + i)));
    i += 8;
  }
  for (; i < n; ++i) to[i] += from[i];
}
// Narrow planes (W ≤ 16 and OW ≤ 16 at stride 1: LeNet's conv2 reads 14-wide rows and writes
// 10-wide ones): a whole input row fits one register, and the im2col row (c, kh, kw) for output row
// oh is that register shifted by kw − PW lanes, zero where the window reads padding:
//   out[ow] = x_row[ow + kw − PW]   if 0 ≤ ow + kw − PW < W,   else 0.
// So each output row is one load, one permute and one store; no per-row run arithmetic.
struct LaneShift {
  __m512i index;   // lane j reads lane index[j]
  __mmask16 keep;  // lanes whose source is inside the row (and the destination inside its row)
};
__attribute__((target("avx512f"))) LaneShift lane_shift(Index shift, Index src_w, Index dst_w) {
  alignas(64) std::int32_t index[16];
  unsigned keep = 0;
  for (Index j = 0; j < 16; ++j) {
    const Index from = j + shift;
    const bool ok = j < dst_w && from >= 0 && from < src_w;
    index[j] = ok ? static_cast<std::int32_t>(from) : 0;
    keep |= ok ? 1u << j : 0u;
  }
  return {_mm512_load_si512(index), static_cast<__mmask16>(keep)};
}
__attribute__((target("avx512f"))) void im2col_narrow_avx512(const float* x,
                                                             const WindowGeometry& g, float* cols) {
  // Geometry in locals: the stores below go through may-alias vector pointers, after which the
  // compiler would reload every field of g from memory.
  const Index H = g.in_h, W = g.in_w, OH = g.out_h, OW = g.out_w, KH = g.kernel_h, KW = g.kernel_w;
  const Index PH = g.pad_h, P = OH * OW;
  const __mmask16 row_in = first_lanes(W), row_out = first_lanes(OW);
  __m512i index[16];
  __mmask16 keep[16];
  for (Index kw = 0; kw < KW; ++kw) {
    const LaneShift s = lane_shift(kw - g.pad_w, W, OW);
    index[kw] = s.index;
    keep[kw] = s.keep;
  }
  const __m512 zero = _mm512_setzero_ps();
  const Index x_size = g.channels * H * W;
  for (Index c = 0; c < g.channels; ++c) {
    for (Index kh = 0; kh < KH; ++kh) {
      float* rows = cols + (c * KH + kh) * KW * P;  // the KW rows (c, kh, ·) of the matrix
      // Output rows whose input row ih = oh − PH + kh lies inside the plane.
      const Index oh_begin = std::clamp<Index>(PH - kh, 0, OH);
      const Index oh_end = std::clamp<Index>(H + PH - kh, oh_begin, OH);
      // One load of the input row serves all KW shifted copies. A full-width store spills into
      // the following output rows of the same matrix row (c, kh, kw), which later oh overwrite;
      // a store whose 16 lanes would leave that row's P elements is masked instead, as its spill
      // would land on row (c, kh, kw + 1), written already.
      for (Index oh = 0; oh < OH; ++oh) {
        const bool inside = oh >= oh_begin && oh < oh_end;
        // A plain 16-wide load where it stays inside the sample (lanes past W are dropped by the
        // permute's mask); masked loads are much slower on AMD's cores.
        const Index in_at = (c * H + oh - PH + kh) * W;  // the input row's first element
        __m512 in = zero;
        if (inside)
          in = in_at + 16 <= x_size ? _mm512_loadu_ps(x + in_at)
                                    : _mm512_maskz_loadu_ps(row_in, x + in_at);
        float* out = rows + oh * OW;
        const bool spill_ok = oh * OW + 16 <= P;
        for (Index kw = 0; kw < KW; ++kw) {
          const __m512 v = _mm512_maskz_permutexvar_ps(keep[kw], index[kw], in);
          if (spill_ok)
            _mm512_storeu_ps(out + kw * P, v);
          else
            _mm512_mask_storeu_ps(out + kw * P, row_out, v);
        }
      }
    }
  }
}
// The adjoint, gathered per input row so that each dx row is written once (no zeroing, no
// read-modify-write): dx_row(c, ih)[iw] = Σ_{kh, kw} dcols_row(c, kh, kw)[oh][iw − kw + PW] with
// oh = ih + PH − kh.
__attribute__((target("avx512f"))) void col2im_narrow_avx512(const float* dcols,
                                                             const WindowGeometry& g, float* dx) {
  const Index H = g.in_h, W = g.in_w, OH = g.out_h, OW = g.out_w, KH = g.kernel_h, KW = g.kernel_w;
  const Index PH = g.pad_h, P = OH * OW, C = g.channels;
  const __mmask16 row_in = first_lanes(W);
  __m512i index[16];
  __mmask16 keep[16];
  for (Index kw = 0; kw < KW; ++kw) {
    const LaneShift s = lane_shift(g.pad_w - kw, OW, W);
    index[kw] = s.index;
    keep[kw] = s.keep;
  }
  for (Index c = 0; c < C; ++c) {
    float* plane = dx + c * H * W;
    const float* channel_rows = dcols + c * KH * KW * P;
    for (Index ih = 0; ih < H; ++ih) {
      __m512 acc = _mm512_setzero_ps();
      // kh with 0 ≤ oh = ih + PH − kh < OH.
      const Index kh_begin = std::clamp<Index>(ih + PH - OH + 1, 0, KH);
      const Index kh_end = std::clamp<Index>(ih + PH + 1, kh_begin, KH);
      for (Index kh = kh_begin; kh < kh_end; ++kh) {
        const float* rows = channel_rows + kh * KW * P + (ih + PH - kh) * OW;
        for (Index kw = 0; kw < KW; ++kw) {
          // Lanes past OW (the next row, or the buffer's slack) are dropped by the permute's mask.
          const __m512 d = _mm512_loadu_ps(rows + kw * P);
          acc = _mm512_add_ps(acc, _mm512_maskz_permutexvar_ps(keep[kw], index[kw], d));
        }
      }
      // Rows are written in ascending order, so a full-width store's spill into the following
      // rows is overwritten later; stores within 16 elements of the sample's end are masked
      // (past it lies memory this call does not own).
      if ((c * H + ih) * W + 16 <= C * H * W)
        _mm512_storeu_ps(plane + ih * W, acc);
      else
        _mm512_mask_storeu_ps(plane + ih * W, row_in, acc);
    }
  }
}
bool narrow_stride1(const WindowGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.in_w <= 16 && g.out_w <= 16 && g.kernel_w <= 16;
}

// Not inlined: the shifted-row path calls it once per row of the matrix.
__attribute__((target("avx512f"))) void add_run_avx512(float* to, const float* from, Index n) {
  add_row_avx512(to, from, n);
}
// col2im's adjoint of im2col_rows_avx512: every valid run of row (c, kh, kw) added to its pixels.
__attribute__((target("avx512f"))) void col2im_rows_avx512(const float* row,
                                                           const WindowGeometry& g, Index kh,
                                                           Index kw, Index begin, Index end,
                                                           float* plane) {
  if (begin >= end) return;
  for (Index oh = 0; oh < g.out_h; ++oh) {
    const Index ih = oh * g.stride_h - g.pad_h + kh;
    if (ih < 0 || ih >= g.in_h) continue;
    add_row_avx512(plane + ih * g.in_w - g.pad_w + kw + begin, row + oh * g.out_w + begin,
                   end - begin);
  }
}
#endif

// One output row of im2col at stride 1: out[ow] = from[ow − begin] for ow in [begin, end), else 0.
template <typename T>
inline void copy_row(T* out, Index out_w, const T* from, Index begin, Index end) {
  std::fill(out, out + begin, T(0));
  for (Index ow = begin; ow < end; ++ow) out[ow] = from[ow - begin];
  std::fill(out + std::max(begin, end), out + out_w, T(0));
}

// to[i] += from[i] for i in [0, n): col2im's runs.
template <typename T>
inline void add_row(T* __restrict to, const T* __restrict from, Index n) {
#ifdef CNNDIAG_X86_KERNELS
  if constexpr (std::is_same_v<T, float>) {
    if (row_kernels_avx512()) return add_run_avx512(to, from, n);
  }
#endif
  for (Index i = 0; i < n; ++i) to[i] += from[i];
}

// "Same" convolutions (stride 1, OW = W, OH = H: a 3×3 kernel with pad 1, 5×5 with pad 2, …) have
// a shortcut: the row (c, kh, kw) of the im2col matrix is the whole input plane shifted by
//   shift = (kh − PH)·W + (kw − PW)
// flat elements, except for the wrapped-around columns (ow + kw − PW outside [0, W)) and the rows
// that fall outside the plane, which are padding. So each row is one long copy (or, for col2im,
// one long add) plus a few scalar fix-ups, instead of one short copy per output row.
struct ShiftedRow {
  Index shift;             // source index − destination index
  Index begin, end;        // destination range [begin, end) whose source lies inside the plane
  Index wrap_lo, wrap_hi;  // columns [0, wrap_lo) and [wrap_hi, W) read padding
};
bool same_shape_stride1(const WindowGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.out_w == g.in_w && g.out_h == g.in_h;
}
ShiftedRow shifted_row(const WindowGeometry& g, Index kh, Index kw) {
  const Index dh = kh - g.pad_h, dw = kw - g.pad_w, W = g.in_w, plane = g.in_plane();
  ShiftedRow r;
  r.shift = dh * W + dw;
  const Index oh_begin = std::clamp<Index>(-dh, 0, g.out_h);
  const Index oh_end = std::clamp<Index>(g.in_h - dh, oh_begin, g.out_h);
  r.begin = std::clamp<Index>(std::max(oh_begin * W, -r.shift), 0, plane);
  r.end = std::clamp<Index>(std::min(oh_end * W, plane - r.shift), r.begin, plane);
  r.wrap_lo = std::clamp<Index>(-dw, 0, W);
  r.wrap_hi = std::clamp<Index>(W - dw, r.wrap_lo, W);
  return r;
}

// shifted_row for every tap (kh, kw) of a kernel, computed once per call instead of once per
// (channel, tap): up to 64 taps in place, larger kernels compute them on the fly.
struct ShiftedRows {
  static constexpr Index kMaxTaps = 64;
  ShiftedRow rows[kMaxTaps];
  bool cached = false;
  explicit ShiftedRows(const WindowGeometry& g, bool shifted) {
    if (!shifted || g.kernel_h * g.kernel_w > kMaxTaps) return;
    for (Index kh = 0; kh < g.kernel_h; ++kh)
      for (Index kw = 0; kw < g.kernel_w; ++kw) rows[kh * g.kernel_w + kw] = shifted_row(g, kh, kw);
    cached = true;
  }
  ShiftedRow at(const WindowGeometry& g, Index kh, Index kw) const {
    return cached ? rows[kh * g.kernel_w + kw] : shifted_row(g, kh, kw);
  }
};

// im2col for one sample.  x: (C, H, W)  →  cols: (K, P), K = C·KH·KW rows ordered (c, kh, kw)
// like the weight's flattening, P = OH·OW columns ordered (oh, ow) like the output:
//   cols[(c, kh, kw), (oh, ow)] = x[c, oh·SH − PH + kh, ow·SW − PW + kw]   (0 in the padding)
// cols has kRowSlack writable elements past K·P, which may be overwritten.
template <typename T>
void im2col(const T* x, const WindowGeometry& g, T* cols) {
  const Index P = g.out_plane();
  const bool shifted = same_shape_stride1(g);
  const ShiftedRows taps(g, shifted);
#ifdef CNNDIAG_X86_KERNELS
  if constexpr (std::is_same_v<T, float>) {
    if (!shifted && narrow_stride1(g) && row_kernels_avx512())
      return im2col_narrow_avx512(x, g, cols);
  }
#endif
  for (Index c = 0; c < g.channels; ++c) {
    const T* plane = x + c * g.in_plane();
    for (Index kh = 0; kh < g.kernel_h; ++kh) {
      for (Index kw = 0; kw < g.kernel_w; ++kw) {
        T* row = cols + ((c * g.kernel_h + kh) * g.kernel_w + kw) * P;
        if (shifted) {
          const ShiftedRow r = taps.at(g, kh, kw);
          // (Empty ranges skip the library calls: most taps have nothing to zero, and these run
          // hundreds of times per sample.)
          if (r.begin > 0) std::fill(row, row + r.begin, T(0));
          std::memcpy(row + r.begin, plane + r.begin + r.shift,
                      static_cast<std::size_t>(r.end - r.begin) * sizeof(T));
          if (r.end < P) std::fill(row + r.end, row + P, T(0));
          if (r.wrap_lo > 0 || r.wrap_hi < g.out_w) {
            for (Index oh = 0; oh < g.out_h; ++oh) {
              T* out = row + oh * g.out_w;
              for (Index ow = 0; ow < r.wrap_lo; ++ow) out[ow] = T(0);
              for (Index ow = r.wrap_hi; ow < g.out_w; ++ow) out[ow] = T(0);
            }
          }
          continue;
        }
        const ValidRange cols_ok = valid_outputs(kw, g.out_w, g.in_w, g.stride_w, g.pad_w);
#ifdef CNNDIAG_X86_KERNELS
        if constexpr (std::is_same_v<T, float>) {
          if (g.stride_w == 1 && row_kernels_avx512()) {
            im2col_rows_avx512(plane, g, kh, kw, cols_ok.begin, cols_ok.end, row);
            continue;
          }
        }
#endif
        for (Index oh = 0; oh < g.out_h; ++oh) {
          T* out = row + oh * g.out_w;
          const Index ih = oh * g.stride_h - g.pad_h + kh;
          if (ih < 0 || ih >= g.in_h) {
            std::fill(out, out + g.out_w, T(0));
            continue;
          }
          // x[c, ih, iw] for iw = ow·SW − PW + kw sits at plane[base + ow·SW].
          const Index base = ih * g.in_w - g.pad_w + kw;
          if (g.stride_w == 1) {
            // The run starts at plane[base + begin] (base itself may be negative).
            const T* first = cols_ok.end > cols_ok.begin ? plane + base + cols_ok.begin : plane;
            copy_row(out, g.out_w, first, cols_ok.begin, cols_ok.end);
            continue;
          }
          std::fill(out, out + cols_ok.begin, T(0));
          for (Index ow = cols_ok.begin; ow < cols_ok.end; ++ow)
            out[ow] = plane[base + ow * g.stride_w];
          std::fill(out + cols_ok.end, out + g.out_w, T(0));
        }
      }
    }
  }
}

// col2im for one sample, the adjoint of im2col: every column entry is added back to the input
// pixel it was copied from (entries that came from padding are dropped).
//   dx[c, ih, iw] = Σ over (kh, kw, oh, ow) that read (ih, iw) of dcols[(c, kh, kw), (oh, ow)]
// dcols is scratch: the shifted-row path zeroes its padding entries in place before the add.
template <typename T>
void col2im(T* dcols, const WindowGeometry& g, T* dx) {
  const Index P = g.out_plane();
  const bool shifted = same_shape_stride1(g);
  const ShiftedRows taps(g, shifted);
#ifdef CNNDIAG_X86_KERNELS
  if constexpr (std::is_same_v<T, float>) {  // writes every element of dx itself
    if (!shifted && narrow_stride1(g) && row_kernels_avx512())
      return col2im_narrow_avx512(dcols, g, dx);
  }
#endif
  std::fill(dx, dx + g.channels * g.in_plane(), T(0));
  for (Index c = 0; c < g.channels; ++c) {
    T* plane = dx + c * g.in_plane();
    for (Index kh = 0; kh < g.kernel_h; ++kh) {
      for (Index kw = 0; kw < g.kernel_w; ++kw) {
        T* row = dcols + ((c * g.kernel_h + kh) * g.kernel_w + kw) * P;
        if (shifted) {
          // Entries of wrapped-around columns came from padding: drop them, then one long add.
          const ShiftedRow r = taps.at(g, kh, kw);
          if (r.wrap_lo > 0 || r.wrap_hi < g.out_w) {
            for (Index oh = 0; oh < g.out_h; ++oh) {
              T* src = row + oh * g.out_w;
              for (Index ow = 0; ow < r.wrap_lo; ++ow) src[ow] = T(0);
              for (Index ow = r.wrap_hi; ow < g.out_w; ++ow) src[ow] = T(0);
            }
          }
          add_row(plane + r.begin + r.shift, row + r.begin, r.end - r.begin);
          continue;
        }
        const ValidRange cols_ok = valid_outputs(kw, g.out_w, g.in_w, g.stride_w, g.pad_w);
#ifdef CNNDIAG_X86_KERNELS
        if constexpr (std::is_same_v<T, float>) {
          if (g.stride_w == 1 && row_kernels_avx512()) {
            col2im_rows_avx512(row, g, kh, kw, cols_ok.begin, cols_ok.end, plane);
            continue;
          }
        }
#endif
        for (Index oh = 0; oh < g.out_h; ++oh) {
          const Index ih = oh * g.stride_h - g.pad_h + kh;
          if (ih < 0 || ih >= g.in_h) continue;
          const T* src = row + oh * g.out_w;
          const Index base = ih * g.in_w - g.pad_w + kw;
          if (g.stride_w == 1 && cols_ok.end > cols_ok.begin) {
            add_row(plane + base + cols_ok.begin, src + cols_ok.begin, cols_ok.end - cols_ok.begin);
          } else {
            for (Index ow = cols_ok.begin; ow < cols_ok.end; ++ow)
              plane[base + ow * g.stride_w] += src[ow];
          }
        }
      }
    }
  }
}

}  // namespace

template <typename T>
Conv2d<T>::Conv2d(std::string name, Shape input_shape, const Conv2dOptions& options)
    : Layer<T>(std::move(name), input_shape), options_(options) {
  geometry_ = make_window_geometry(this->describe(), "kernel", input_shape, options.kernel_h,
                                   options.kernel_w, options.stride_h, options.stride_w,
                                   options.pad_h, options.pad_w);
  if (options.out_channels < 1)
    throw ShapeError(this->describe() + ": out_channels must be > 0, got " +
                     std::to_string(options.out_channels));
  const Index OC = options.out_channels, C = geometry_.channels;
  const Index KH = options.kernel_h, KW = options.kernel_w;
  params_.push_back(
      detail::make_param<T>("weight", Shape{OC, C, KH, KW}, false, C * KH * KW, OC * KH * KW));
  if (options.bias)
    params_.push_back(detail::make_param<T>("bias", Shape{OC}, true, C * KH * KW, OC * KH * KW));
  rotated_weight_.resize(static_cast<std::size_t>(OC * C * KH * KW));
  const Index macs_per_sample = OC * patch_size() * geometry_.out_plane();
  min_samples_per_chunk_ = std::max<Index>(1, ceil_div(kMinMacsPerChunk, macs_per_sample));
}

template <typename T>
Shape Conv2d<T>::output_shape() const {
  return Shape{options_.out_channels, geometry_.out_h, geometry_.out_w};
}

template <typename T>
bool Conv2d<T>::direct() const {
  return geometry_.stride_h == 1 && geometry_.stride_w == 1 &&
         geometry_.channels * options_.out_channels <= kMaxDirectChannelPairs;
}

template <typename T>
Index Conv2d<T>::patch_size() const {
  return geometry_.channels * geometry_.kernel_h * geometry_.kernel_w;
}

template <typename T>
void Conv2d<T>::ensure_scratch(int chunks) {
  if (chunks <= scratch_chunks_) return;
  // Per chunk: the im2col matrix (K, P), or for the direct path its padded planes.
  const auto cols = static_cast<std::size_t>(
      direct() ? detail::direct_conv_scratch(geometry_, options_.out_channels)
               : patch_size() * geometry_.out_plane());
  const auto partial = static_cast<std::size_t>(options_.out_channels * (patch_size() + 1));
  cols_stride_ = static_cast<Index>(cols) + kRowSlack;  // each chunk's im2col spill room
  cols_.resize(static_cast<std::size_t>(cols_stride_ * chunks));
  dcols_.resize(static_cast<std::size_t>(cols_stride_ * chunks));
  // The three products of forward and backward (see there): y_n, dW and dcols_n.
  const Index OC = options_.out_channels, K = patch_size(), P = geometry_.out_plane();
  gemm_workspace_ =
      std::max({detail::gemm_workspace_size<T>(OC, P, K), detail::gemm_workspace_size<T>(OC, K, P),
                detail::gemm_workspace_size<T>(K, P, OC)});
  gemm_scratch_.resize(static_cast<std::size_t>(gemm_workspace_ * chunks));
  // W packed once per call for the forward product, Wᵀ for the data gradient's (gemm_pack_lhs).
  packed_weight_.resize(static_cast<std::size_t>(detail::gemm_lhs_size<T>(OC, P, K)));
  packed_weight_t_.resize(static_cast<std::size_t>(detail::gemm_lhs_size<T>(K, P, OC)));
  partial_grads_.resize(partial * static_cast<std::size_t>(chunks - 1));
  scratch_chunks_ = chunks;
}

template <typename T>
void Conv2d<T>::reserve(Index n) {
  ensure_scratch(parallel_chunks(0, n, min_samples_per_chunk_));
}

// x: (N, C, H, W)   w: (OC, C, KH, KW) viewed as W (OC, K)   b: (OC)   y: (N, OC, OH, OW)
// Per sample n: cols_n = im2col(x_n) is (K, P), and the whole convolution is one GEMM,
//   y_n (OC, P) = W (OC, K) · cols_n (K, P)  + b broadcast along P,
// because column p of cols_n is exactly the window that output position p sees.
template <typename T>
void Conv2d<T>::forward(const Tensor<T>& x, Tensor<T>& y, bool /*training*/) {
  const WindowGeometry& g = geometry_;
  const Index N = x.dim(0), OC = options_.out_channels, K = patch_size(), P = g.out_plane();
  ensure_scratch(parallel_chunks(0, N, min_samples_per_chunk_));
  const T* weight = params_[0].value.data();
  const T* bias = options_.bias ? params_[1].value.data() : nullptr;
  if (direct()) {
    // y_n = b + Σ_c x_n[c] ⋆ w[:, c], sample by sample (conv2d_direct.hpp); cols_ holds each
    // chunk's padded planes.
    parallel_for(
        0, N,
        [&](Index begin, Index end, int chunk) {
          detail::direct_conv_forward(x.data() + begin * g.channels * g.in_plane(), end - begin,
                                      weight, bias, g, OC, y.data() + begin * OC * P,
                                      cols_.data() + chunk * cols_stride_);
        },
        min_samples_per_chunk_);
    return;
  }
  // W is the left operand of every sample's product: packed once here, shared by the chunks.
  const T* packed_w = detail::gemm_pack_lhs<T>(OC, P, K, {weight, K, 1}, packed_weight_.data())
                          ? packed_weight_.data()
                          : nullptr;
  parallel_for(
      0, N,
      [&](Index begin, Index end, int chunk) {
        T* cols = cols_.data() + chunk * cols_stride_;
        T* scratch = gemm_scratch_.data() + chunk * gemm_workspace_;
        for (Index n = begin; n < end; ++n) {
          im2col(x.data() + n * g.channels * g.in_plane(), g, cols);
          T* y_n = y.data() + n * OC * P;
          detail::gemm<T>(OC, P, K, {weight, K, 1}, {cols, P, 1}, y_n, P, false, scratch, packed_w);
          if (bias != nullptr)
            detail::MatrixMap<T>(y_n, OC, P).colwise() += detail::ConstVectorMap<T>(bias, OC);
        }
      },
      min_samples_per_chunk_);
}

// dy: (N, OC, OH, OW) viewed per sample as dy_n (OC, P)   dx: like x
// Differentiating y_n = W·cols_n + b:
//   dW += dy_n · cols_nᵀ            (OC, P)(P, K) → (OC, K), summed over the batch
//   db += Σ_p dy_n[:, p]            row sums, summed over the batch
//   dcols_n = Wᵀ · dy_n              (K, OC)(OC, P) → (K, P)
//   dx_n = col2im(dcols_n)          each window's gradient returned to the pixels it read
//
// kernel_not_flipped. Written without im2col, the correct data gradient is a "full" correlation
// of dy (dilated by the stride, padded by K−1−pad) with the kernel rotated by 180°:
//   dx[c, i, j] = Σ_{oc, kh, kw} w[oc, c, kh, kw] · dy[oc, (i + PH − kh)/SH, (j + PW − kw)/SW]
//               = Σ_{oc, kh', kw'} rot180(w)[oc, c, kh', kw'] · dy[oc, (i + PH − KH + 1 + kh')/SH,
//               …]
// The classic hand-written bug correlates dy with w as stored, i.e. it forgets the rotation.
// That is the same as running the correct backward-data with rot180(w) in place of w, which is
// how it is injected here: dcols_n = rot180(W)ᵀ · dy_n, where rot180 reverses each KH×KW kernel
// (w'[oc, c, kh, kw] = w[oc, c, KH−1−kh, KW−1−kw]) and keeps the (OC, C) channel transposition
// that any working backward needs. Weight and bias gradients stay correct. A kernel that is
// symmetric under 180° rotation (e.g. 1×1) makes the bug invisible.
template <typename T>
void Conv2d<T>::backward(const Tensor<T>& x, const Tensor<T>& /*y*/, const Tensor<T>& dy,
                         Tensor<T>* dx) {
  const WindowGeometry& g = geometry_;
  const Index N = x.dim(0), OC = options_.out_channels, K = patch_size(), P = g.out_plane();
  const int chunks = parallel_chunks(0, N, min_samples_per_chunk_);
  ensure_scratch(chunks);
  const bool has_bias = options_.bias;
  const bool bias_first_sample_only = this->fault_ == Fault::kBiasGradFirstSample;

  const T* weight_for_dx = params_[0].value.data();
  if (dx != nullptr && this->fault_ == Fault::kKernelNotFlipped) {
    const Index KH = g.kernel_h, KW = g.kernel_w;
    for (Index kernel = 0; kernel < OC * g.channels; ++kernel) {
      const T* src = params_[0].value.data() + kernel * KH * KW;
      T* dst = rotated_weight_.data() + kernel * KH * KW;
      for (Index i = 0; i < KH * KW; ++i) dst[i] = src[KH * KW - 1 - i];
    }
    weight_for_dx = rotated_weight_.data();
  }

  // Wᵀ is the left operand of every sample's data-gradient product: packed once, shared.
  const T* packed_wt =
      dx != nullptr && !direct() &&
              detail::gemm_pack_lhs<T>(K, P, OC, {weight_for_dx, 1, K}, packed_weight_t_.data())
          ? packed_weight_t_.data()
          : nullptr;

  const Index partial_size = OC * (K + 1);
  std::fill(partial_grads_.begin(), partial_grads_.begin() + std::max(0, chunks - 1) * partial_size,
            T(0));

  parallel_for(
      0, N,
      [&](Index begin, Index end, int chunk) {
        // Chunk 0 accumulates straight into the parameter gradients, the others into partials.
        T* dweight = chunk == 0 ? params_[0].grad.data()
                                : partial_grads_.data() + (chunk - 1) * partial_size;
        T* dbias = chunk == 0 ? (has_bias ? params_[1].grad.data() : nullptr) : dweight + OC * K;
        if (direct()) {
          // The direct path's adjoints (conv2d_direct.hpp), bias included: the fault sums only
          // sample 0, which belongs to the chunk that starts at 0.
          const Index in_size = g.channels * g.in_plane();
          const Index bias_samples = !bias_first_sample_only ? end - begin : begin == 0 ? 1 : 0;
          detail::direct_conv_backward(x.data() + begin * in_size, end - begin, weight_for_dx,
                                       dy.data() + begin * OC * P, g, OC, dweight,
                                       has_bias ? dbias : nullptr, bias_samples,
                                       dx != nullptr ? dx->data() + begin * in_size : nullptr,
                                       cols_.data() + chunk * cols_stride_);
          return;
        }
        T* cols = cols_.data() + chunk * cols_stride_;
        T* dcols = dcols_.data() + chunk * cols_stride_;
        T* scratch = gemm_scratch_.data() + chunk * gemm_workspace_;
        for (Index n = begin; n < end; ++n) {
          const T* dy_n = dy.data() + n * OC * P;
          im2col(x.data() + n * g.channels * g.in_plane(), g, cols);
          // dW (OC, K) += dy_n (OC, P) · cols_nᵀ (P, K): cols_nᵀ is cols read with swapped strides.
          detail::gemm<T>(OC, K, P, {dy_n, P, 1}, {cols, 1, P}, dweight, K, true, scratch);
          if (has_bias && (!bias_first_sample_only || n == 0))
            for (Index oc = 0; oc < OC; ++oc) dbias[oc] += sum_lanes(dy_n + oc * P, P);
          if (dx != nullptr) {
            // dcols_n (K, P) = Wᵀ (K, OC) · dy_n (OC, P).
            detail::gemm<T>(K, P, OC, {weight_for_dx, 1, K}, {dy_n, P, 1}, dcols, P, false, scratch,
                            packed_wt);
            col2im(dcols, g, dx->data() + n * g.channels * g.in_plane());
          }
        }
      },
      min_samples_per_chunk_);

  // Reduce the partials in chunk order: deterministic for a given thread count.
  for (int chunk = 1; chunk < chunks; ++chunk) {
    const T* partial = partial_grads_.data() + (chunk - 1) * partial_size;
    detail::VectorMap<T>(params_[0].grad.data(), OC * K) +=
        detail::ConstVectorMap<T>(partial, OC * K);
    if (has_bias)
      detail::VectorMap<T>(params_[1].grad.data(), OC) +=
          detail::ConstVectorMap<T>(partial + OC * K, OC);
  }
}

template class Conv2d<float>;
template class Conv2d<double>;

}  // namespace cnndiag
