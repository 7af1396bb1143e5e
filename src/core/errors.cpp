#include "cnndiag/errors.hpp"

namespace cnndiag {

void assert_fail(const char* expr, const char* file, int line, const std::string& msg) {
  throw InternalError(std::string("internal error: ") + file + ":" + std::to_string(line) +
                      ": assertion `" + expr + "` failed" + (msg.empty() ? "" : ": " + msg) +
                      " (this is a bug in cnndiag; please report it)");
}

}  // namespace cnndiag
