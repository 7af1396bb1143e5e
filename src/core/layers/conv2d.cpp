#include "cnndiag/layers/conv2d.hpp"

#include <algorithm>
#include <cstring>

#include "cnndiag/errors.hpp"
#include "cnndiag/parallel.hpp"
#include "layers/eigen_maps.hpp"
#include "layers/conv2d_direct.hpp"
#include "layers/gemm.hpp"
#include "layers/param_util.hpp"

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

// im2col for one sample.  x: (C, H, W)  →  cols: (K, P), K = C·KH·KW rows ordered (c, kh, kw)
// like the weight's flattening, P = OH·OW columns ordered (oh, ow) like the output:
//   cols[(c, kh, kw), (oh, ow)] = x[c, oh·SH − PH + kh, ow·SW − PW + kw]   (0 in the padding)
template <typename T>
void im2col(const T* x, const WindowGeometry& g, T* cols) {
  const Index P = g.out_plane();
  for (Index c = 0; c < g.channels; ++c) {
    const T* plane = x + c * g.in_plane();
    for (Index kh = 0; kh < g.kernel_h; ++kh) {
      for (Index kw = 0; kw < g.kernel_w; ++kw) {
        T* row = cols + ((c * g.kernel_h + kh) * g.kernel_w + kw) * P;
        const ValidRange cols_ok = valid_outputs(kw, g.out_w, g.in_w, g.stride_w, g.pad_w);
        for (Index oh = 0; oh < g.out_h; ++oh) {
          T* out = row + oh * g.out_w;
          const Index ih = oh * g.stride_h - g.pad_h + kh;
          if (ih < 0 || ih >= g.in_h) {
            std::fill(out, out + g.out_w, T(0));
            continue;
          }
          // x[c, ih, iw] for iw = ow·SW − PW + kw sits at plane[base + ow·SW].
          const Index base = ih * g.in_w - g.pad_w + kw;
          std::fill(out, out + cols_ok.begin, T(0));
          if (g.stride_w == 1) {
            std::memcpy(out + cols_ok.begin, plane + base + cols_ok.begin,
                        static_cast<std::size_t>(cols_ok.end - cols_ok.begin) * sizeof(T));
          } else {
            for (Index ow = cols_ok.begin; ow < cols_ok.end; ++ow)
              out[ow] = plane[base + ow * g.stride_w];
          }
          std::fill(out + cols_ok.end, out + g.out_w, T(0));
        }
      }
    }
  }
}

// col2im for one sample, the adjoint of im2col: every column entry is added back to the input
// pixel it was copied from (entries that came from padding are dropped).
//   dx[c, ih, iw] = Σ over (kh, kw, oh, ow) that read (ih, iw) of dcols[(c, kh, kw), (oh, ow)]
template <typename T>
void col2im(const T* dcols, const WindowGeometry& g, T* dx) {
  const Index P = g.out_plane();
  std::fill(dx, dx + g.channels * g.in_plane(), T(0));
  for (Index c = 0; c < g.channels; ++c) {
    T* plane = dx + c * g.in_plane();
    for (Index kh = 0; kh < g.kernel_h; ++kh) {
      for (Index kw = 0; kw < g.kernel_w; ++kw) {
        const T* row = dcols + ((c * g.kernel_h + kh) * g.kernel_w + kw) * P;
        const ValidRange cols_ok = valid_outputs(kw, g.out_w, g.in_w, g.stride_w, g.pad_w);
        for (Index oh = 0; oh < g.out_h; ++oh) {
          const Index ih = oh * g.stride_h - g.pad_h + kh;
          if (ih < 0 || ih >= g.in_h) continue;
          const T* src = row + oh * g.out_w;
          const Index base = ih * g.in_w - g.pad_w + kw;
          for (Index ow = cols_ok.begin; ow < cols_ok.end; ++ow)
            plane[base + ow * g.stride_w] += src[ow];
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
  cols_.resize(cols * static_cast<std::size_t>(chunks));
  dcols_.resize(cols * static_cast<std::size_t>(chunks));
  // The three products of forward and backward (see there): y_n, dW and dcols_n.
  const Index OC = options_.out_channels, K = patch_size(), P = geometry_.out_plane();
  gemm_workspace_ = std::max({detail::gemm_workspace_size<T>(OC, P, K),
                              detail::gemm_workspace_size<T>(OC, K, P),
                              detail::gemm_workspace_size<T>(K, P, OC)});
  gemm_scratch_.resize(static_cast<std::size_t>(gemm_workspace_ * chunks));
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
    const Index scratch_size = detail::direct_conv_scratch(g, OC);
    parallel_for(
        0, N,
        [&](Index begin, Index end, int chunk) {
          detail::direct_conv_forward(x.data() + begin * g.channels * g.in_plane(), end - begin,
                                      weight, bias, g, OC, y.data() + begin * OC * P,
                                      cols_.data() + chunk * scratch_size);
        },
        min_samples_per_chunk_);
    return;
  }
  parallel_for(
      0, N,
      [&](Index begin, Index end, int chunk) {
        T* cols = cols_.data() + chunk * K * P;
        T* scratch = gemm_scratch_.data() + chunk * gemm_workspace_;
        for (Index n = begin; n < end; ++n) {
          im2col(x.data() + n * g.channels * g.in_plane(), g, cols);
          T* y_n = y.data() + n * OC * P;
          detail::gemm<T>(OC, P, K, {weight, K, 1}, {cols, P, 1}, y_n, P, false, scratch);
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
//               = Σ_{oc, kh', kw'} rot180(w)[oc, c, kh', kw'] · dy[oc, (i + PH − KH + 1 + kh')/SH, …]
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

  const Index partial_size = OC * (K + 1);
  std::fill(partial_grads_.begin(),
            partial_grads_.begin() + std::max(0, chunks - 1) * partial_size, T(0));

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
          detail::direct_conv_backward(
              x.data() + begin * in_size, end - begin, weight_for_dx, dy.data() + begin * OC * P,
              g, OC, dweight, has_bias ? dbias : nullptr, bias_samples,
              dx != nullptr ? dx->data() + begin * in_size : nullptr,
              cols_.data() + chunk * detail::direct_conv_scratch(g, OC));
          return;
        }
        T* cols = cols_.data() + chunk * K * P;
        T* dcols = dcols_.data() + chunk * K * P;
        T* scratch = gemm_scratch_.data() + chunk * gemm_workspace_;
        for (Index n = begin; n < end; ++n) {
          const T* dy_n = dy.data() + n * OC * P;
          im2col(x.data() + n * g.channels * g.in_plane(), g, cols);
          // dW (OC, K) += dy_n (OC, P) · cols_nᵀ (P, K): cols_nᵀ is cols read with swapped strides.
          detail::gemm<T>(OC, K, P, {dy_n, P, 1}, {cols, 1, P}, dweight, K, true,
                          scratch);
          if (has_bias && (!bias_first_sample_only || n == 0))
            for (Index oc = 0; oc < OC; ++oc) dbias[oc] += sum_lanes(dy_n + oc * P, P);
          if (dx != nullptr) {
            // dcols_n (K, P) = Wᵀ (K, OC) · dy_n (OC, P).
            detail::gemm<T>(K, P, OC, {weight_for_dx, 1, K}, {dy_n, P, 1}, dcols, P, false,
                            scratch);
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
