#pragma once
/// Tensors: dense, row-major (C order), owning.
///
/// Dimension legend used across cnndiag (PyTorch's conventions, DESIGN.md §4):
///   N  samples in the batch          C  channels           H, W  height, width
///   OC output channels               KH, KW  kernel height/width
///   D  features of a flat vector (a linear layer's input is flattened as C·H·W, row-major)
///   K  target components / classes
///
/// A batch of images is (N, C, H, W); a batch of vectors is (N, D). Layers talk about their
/// per-sample shape, the batch shape without N. Conv weights are (OC, C, KH, KW), linear weights
/// (out, in).
///
/// Shape has a fixed capacity (no heap), so passing shapes around in the training step never
/// allocates. Tensor::resize() keeps its buffer when the new size fits the capacity it has:
/// buffers are sized once per run and reused across steps.

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "cnndiag/errors.hpp"

namespace cnndiag {

using Index = std::int64_t;

class Shape {
 public:
  static constexpr int kMaxRank = 5;

  Shape() = default;
  Shape(std::initializer_list<Index> dims) {
    CNNDIAG_ASSERT(dims.size() <= kMaxRank, "rank too large");
    for (Index d : dims) dims_[rank_++] = d;
  }
  template <typename It>
  static Shape from(It first, It last) {
    Shape s;
    for (; first != last; ++first) s.push_back(static_cast<Index>(*first));
    return s;
  }

  int rank() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  Index operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  Index& operator[](int i) { return dims_[static_cast<std::size_t>(i)]; }
  const Index* begin() const { return dims_.data(); }
  const Index* end() const { return dims_.data() + rank_; }

  void push_back(Index d) {
    CNNDIAG_ASSERT(rank_ < kMaxRank, "rank too large");
    dims_[static_cast<std::size_t>(rank_++)] = d;
  }
  /// Number of elements (1 for rank 0).
  Index numel() const {
    Index n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
    return n;
  }
  /// This shape with a leading batch dimension: (n, dims...).
  Shape with_batch(Index n) const {
    Shape s;
    s.push_back(n);
    for (int i = 0; i < rank_; ++i) s.push_back(dims_[static_cast<std::size_t>(i)]);
    return s;
  }
  /// This shape without its leading dimension.
  Shape drop_first() const {
    Shape s;
    for (int i = 1; i < rank_; ++i) s.push_back(dims_[static_cast<std::size_t>(i)]);
    return s;
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
  }

  /// "(1,20,20)"; "()" for rank 0.
  std::string str() const;

 private:
  std::array<Index, kMaxRank> dims_{};
  int rank_ = 0;
};

template <typename T>
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(const Shape& shape, T fill = T(0)) : shape_(shape) {
    data_.assign(static_cast<std::size_t>(shape.numel()), fill);
  }

  const Shape& shape() const { return shape_; }
  Index dim(int i) const { return shape_[i]; }
  int rank() const { return shape_.rank(); }
  Index size() const { return static_cast<Index>(data_.size()); }
  bool empty() const { return data_.empty(); }

  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  std::span<T> span() { return {data_.data(), data_.size()}; }
  std::span<const T> span() const { return {data_.data(), data_.size()}; }
  T& operator[](Index i) { return data_[static_cast<std::size_t>(i)]; }
  const T& operator[](Index i) const { return data_[static_cast<std::size_t>(i)]; }

  /// Sets the shape. Reuses the buffer when it is large enough (no allocation in steady state);
  /// the contents are unspecified afterwards unless the size did not change.
  void resize(const Shape& shape) {
    shape_ = shape;
    data_.resize(static_cast<std::size_t>(shape.numel()));
  }
  /// Same element count, new shape (a view change, no data movement).
  void reshape(const Shape& shape) {
    CNNDIAG_ASSERT(shape.numel() == size(), "reshape to " + shape.str() + " from " + shape_.str());
    shape_ = shape;
  }
  void fill(T v) { std::fill(data_.begin(), data_.end(), v); }
  void zero() { fill(T(0)); }

  /// Element-wise converted copy (float <-> double).
  template <typename U>
  Tensor<U> cast() const {
    Tensor<U> out(shape_);
    for (std::size_t i = 0; i < data_.size(); ++i) out.data()[i] = static_cast<U>(data_[i]);
    return out;
  }

  std::vector<T>& storage() { return data_; }
  const std::vector<T>& storage() const { return data_; }

 private:
  Shape shape_;
  std::vector<T> data_;
};

}  // namespace cnndiag
