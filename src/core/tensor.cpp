#include "cnndiag/tensor.hpp"

namespace cnndiag {

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ",";
    s += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  return s + ")";
}

}  // namespace cnndiag
