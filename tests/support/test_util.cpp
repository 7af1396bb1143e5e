#include "support/test_util.hpp"

#include <unistd.h>

#include <fstream>

namespace cnndiag::test {

std::filesystem::path scratch_dir(const std::string& name) {
  // ctest -j runs each test in its own process, possibly two with the same folder name at once:
  // the process id keeps their folders apart (tests within one process run one after another).
  const std::filesystem::path dir =
      std::filesystem::path(CNNDIAG_TEST_TMPDIR) / (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::filesystem::path write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::filesystem::path source_dir() { return CNNDIAG_SOURCE_DIR; }

}  // namespace cnndiag::test
