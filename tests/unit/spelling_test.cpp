#include "cnndiag/spelling.hpp"

#include <gtest/gtest.h>

namespace cnndiag {
namespace {

TEST(EditDistance, KnownAnswers) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);  // k→s, e→i, +g
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);       // -f, +n
  EXPECT_EQ(edit_distance("optimiser", "optimizer"), 1u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
}

TEST(EditDistance, IsSymmetric) {
  EXPECT_EQ(edit_distance("sigmod", "sigmoid"), edit_distance("sigmoid", "sigmod"));
  EXPECT_EQ(edit_distance("conv", "conv2d"), 2u);
}

TEST(ClosestMatch, FindsTheNearestCandidate) {
  const std::vector<std::string> tables = {"data", "layer", "loss", "optimizer", "train"};
  EXPECT_EQ(closest_match("optimiser", tables), "optimizer");
  EXPECT_EQ(closest_match("lyer", tables), "layer");
  EXPECT_EQ(closest_match("loss", tables), "loss");
}

TEST(ClosestMatch, AllowsAtLeastTwoEditsThenOnePerThreeLetters) {
  // "ab" (2 letters) may be 2 edits away; a 9-letter word 3 edits, not 4.
  EXPECT_EQ(closest_match("ab", {"abcd"}), "abcd");
  EXPECT_EQ(closest_match("ab", {"abcde"}), std::nullopt);
  EXPECT_EQ(closest_match("abcdefghi", {"abcdefXYZ"}), "abcdefXYZ");
  EXPECT_EQ(closest_match("abcdefghi", {"abcdeWXYZ"}), std::nullopt);
  EXPECT_EQ(closest_match("lr", {"eps"}), std::nullopt);
}

TEST(ClosestMatch, TiesKeepTheEarlierCandidate) {
  EXPECT_EQ(closest_match("cat", {"bat", "hat"}), "bat");
  EXPECT_EQ(closest_match("cat", {"hat", "bat"}), "hat");
  EXPECT_EQ(closest_match("cat", {"cats", "ca"}), "cats");
}

TEST(ClosestMatch, NothingFromNoCandidates) {
  EXPECT_EQ(closest_match("anything", {}), std::nullopt);
}

TEST(DidYouMean, FormatsASuffixOrNothing) {
  EXPECT_EQ(did_you_mean("momentom", {"lr", "momentum"}), " (did you mean 'momentum'?)");
  EXPECT_EQ(did_you_mean("zzzzzz", {"lr", "momentum"}), "");
}

}  // namespace
}  // namespace cnndiag
