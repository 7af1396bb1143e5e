#pragma once
/// "Did you mean" suggestions for unknown names (the idea of Ninja's SpellcheckString).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cnndiag {

/// Levenshtein distance between a and b (insert, delete, substitute: cost 1 each).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The closest candidate within a small distance (≤ max(2, |word|/3)), if any. Case differences
/// do not count ("NCHW" finds "nchw"); among equally close candidates the earlier one wins.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

/// " (did you mean 'x'?)" or "" — ready to append to a message.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace cnndiag
