#include "cnndiag/spelling.hpp"

#include <algorithm>
#include <cctype>
#include <numeric>

namespace cnndiag {

// Wagner–Fischer with a single row: row[j] holds the distance between the first i characters of
// a and the first j characters of b; `diagonal` carries row[j-1] from the previous i.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

namespace {

std::string lower_case(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

}  // namespace

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
  // Short words tolerate two typos; longer ones one typo per three letters, so that "lr" does
  // not suggest "eps" while "optimiser" still finds "optimizer". Case is no typo: "NCHW" is
  // one step from nowhere but plainly means "nchw".
  const std::size_t max_distance = std::max<std::size_t>(2, word.size() / 3);
  const std::string lower_word = lower_case(word);
  std::optional<std::string> best;
  std::size_t best_distance = max_distance + 1;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = edit_distance(lower_word, lower_case(candidate));
    if (distance < best_distance) {  // strict: ties keep the earlier candidate
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::optional<std::string> match = closest_match(word, candidates);
  return match ? " (did you mean '" + *match + "'?)" : std::string();
}

}  // namespace cnndiag
