#include "cnndiag/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "cnndiag/errors.hpp"
#include "cnndiag/spelling.hpp"

namespace cnndiag {

namespace fs = std::filesystem;

std::string SourceLocation::str() const {
  if (line <= 0) return file;
  std::string text = file + ":" + std::to_string(line);
  if (column > 0) text += ":" + std::to_string(column);
  return text;
}

namespace {

// ---------------------------------------------------------------------------------------------
// What a config may contain
// ---------------------------------------------------------------------------------------------

const std::vector<std::string> kTopLevelTables = {"data",  "layer",      "loss",  "optimizer",
                                                  "train", "checkpoint", "probe", "import"};

/// A layer type: the keys it accepts besides the common ones, and its parameters (what `init.*`
/// and `[import]` may name).
struct LayerKind {
  std::string type;
  std::vector<std::string> keys;
  std::vector<std::string> params;
};

const std::vector<std::string> kCommonLayerKeys = {"name", "type", "fault"};

const std::vector<LayerKind>& layer_kinds() {
  static const std::vector<LayerKind> kinds = {
      {"conv2d", {"out_channels", "kernel", "stride", "pad", "bias", "init"}, {"weight", "bias"}},
      {"maxpool", {"size", "stride", "pad"}, {}},
      {"avgpool", {"size", "stride", "pad"}, {}},
      {"relu", {}, {}},
      {"leaky_relu", {"negative_slope"}, {}},
      {"sigmoid", {}, {}},
      {"tanh", {}, {}},
      {"linear", {"out", "bias", "init"}, {"weight", "bias"}},
      {"batchnorm", {"eps", "momentum", "init"}, {"weight", "bias"}},
  };
  return kinds;
}

const LayerKind* find_layer_kind(std::string_view type) {
  for (const LayerKind& kind : layer_kinds()) {
    if (kind.type == type) return &kind;
  }
  return nullptr;
}

std::vector<std::string> layer_type_names() {
  std::vector<std::string> names;
  for (const LayerKind& kind : layer_kinds()) names.push_back(kind.type);
  return names;
}

/// The config's view of the fault catalogue (faults.hpp, DESIGN.md §7.2): each id and where it
/// may be injected ("loss" for the loss). It lives here so that parsing a config does not depend
/// on the fault implementations; the ids must stay equal to fault_catalogue()'s.
struct FaultRule {
  std::string id;
  std::vector<std::string> targets;
};

const std::vector<FaultRule>& fault_rules() {
  static const std::vector<FaultRule> rules = {
      {"sigmoid_derivative_on_wrong_tensor", {"sigmoid"}},
      {"derivative_omitted", {"sigmoid", "tanh", "relu", "leaky_relu"}},
      {"derivative_on_input", {"sigmoid", "tanh"}},
      {"derivative_reapplied", {"sigmoid", "tanh"}},
      {"relu_mask_from_grad", {"relu", "leaky_relu"}},
      {"missing_batch_mean", {"loss"}},
      {"kernel_not_flipped", {"conv2d"}},
      {"bias_grad_first_sample", {"conv2d", "linear"}},
      {"maxpool_route_first", {"maxpool"}},
  };
  return rules;
}

const FaultRule* find_fault_rule(std::string_view id) {
  for (const FaultRule& rule : fault_rules()) {
    if (rule.id == id) return &rule;
  }
  return nullptr;
}

std::vector<std::string> fault_ids() {
  std::vector<std::string> ids;
  for (const FaultRule& rule : fault_rules()) ids.push_back(rule.id);
  return ids;
}

/// What values a probe threshold may take; checked when a config overrides it.
enum class Range { kAny, kNonNegative, kPositive, kFraction, kCount };

struct ThresholdRule {
  ProbeThresholdInfo info;
  Range range;
};

// DESIGN.md §6 and §7.1; PROBES.md says where each default comes from.
const std::vector<ThresholdRule>& threshold_rules() {
  static const std::vector<ThresholdRule> rules = {
      {{"collapse_identical_rho", 1e-4,
        "spread ρ below which a layer's outputs count as identical across samples (error)"},
       Range::kFraction},
      {{"collapse_low_rho", 1e-2, "spread ρ below which a layer's spread is low (warning)"},
       Range::kFraction},
      {{"collapse_drop_factor", 100,
        "factor by which ρ may fall within one layer before a low-spread warning"},
       Range::kPositive},
      {{"decay_lr_lambda_error", 1,
        "lr·λ at or above which the decay step alone overshoots zero (error)"},
       Range::kPositive},
      {{"decay_dominance_error", 100,
        "decay dominance λ‖w‖/‖∇data‖ above which decay swamps the data gradient (error)"},
       Range::kPositive},
      {{"decay_dominance_warning", 2,
        "decay dominance above which decay outweighs the data gradient (warning)"},
       Range::kPositive},
      {{"vanishing_ratio", 1e-3,
        "first/last layer gradient-norm ratio below which, with vanishing_first_mean, "
        "gradients vanish"},
       Range::kPositive},
      {{"vanishing_first_mean", 1e-4,
        "first layer's mean |g| below which, with vanishing_ratio, gradients vanish"},
       Range::kPositive},
      {{"vanishing_mean", 1e-7, "mean |g| below which a tensor's gradient vanishes"},
       Range::kPositive},
      {{"exploding_ratio", 70,
        "first/last layer gradient-norm ratio above which gradients explode"},
       Range::kPositive},
      {{"exploding_mean", 1e6, "mean |g| above which a tensor's gradient explodes"},
       Range::kPositive},
      {{"update_ratio_low", 1e-5, "update ratio ‖Δw‖/‖w‖ below which a tensor barely moves"},
       Range::kPositive},
      {{"update_ratio_high", 1e-1, "update ratio ‖Δw‖/‖w‖ above which a step is too large"},
       Range::kPositive},
      {{"dead_fraction", 0.5,
        "fraction of a layer's ReLU units dead for every sample above which it warns"},
       Range::kFraction},
      {{"saturated_fraction", 0.5,
        "fraction of a layer's sigmoid/tanh entries saturated above which it warns"},
       Range::kFraction},
      {{"sigmoid_saturation_z", 6.9, "|z| above which a sigmoid is saturated (σ′ < 1e-3)"},
       Range::kPositive},
      {{"tanh_saturation_z", 3.8, "|z| above which a tanh is saturated (tanh′ < 1e-3)"},
       Range::kPositive},
      {{"linear_regime_z", 0.05,
        "|z| below which, for every sample, a sigmoid/tanh unit acts linearly (info)"},
       Range::kPositive},
      {{"init_std_ratio", 10,
        "factor by which a weight std may differ from its He/Glorot reference (warning)"},
       Range::kPositive},
      {{"targets_r2", 0,
        "cross-validated ridge R² of targets on inputs at or below which targets look "
        "unpredictable (warning)"},
       Range::kAny},
      {{"gradcheck_atol", 1e-8, "gradient check passes when |a − n| ≤ atol + rtol·|n|"},
       Range::kNonNegative},
      {{"gradcheck_rtol", 1e-5, "relative tolerance of the same test"}, Range::kNonNegative},
      {{"gradcheck_samples", 64, "coordinates checked per tensor in sampled mode"}, Range::kCount},
      {{"gradcheck_exhaustive_max", 4096,
        "tensors with at most this many elements are checked exhaustively by default"},
       Range::kCount},
  };
  return rules;
}

const ThresholdRule* find_threshold_rule(std::string_view key) {
  for (const ThresholdRule& rule : threshold_rules()) {
    if (rule.info.key == key) return &rule;
  }
  return nullptr;
}

/// Threshold pairs that must stay ordered (lower ≤ upper) when a config overrides either.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kOrderedThresholds{{
    {"collapse_identical_rho", "collapse_low_rho"},
    {"update_ratio_low", "update_ratio_high"},
    {"decay_dominance_warning", "decay_dominance_error"},
}};

constexpr std::array<std::pair<std::string_view, Layout>, 3> kLayoutNames{{
    {"auto", Layout::kAuto},
    {"nchw", Layout::kNchw},
    {"matlab", Layout::kMatlab},
}};

constexpr std::array<std::pair<std::string_view, Normalize>, 3> kNormalizeNames{{
    {"none", Normalize::kNone},
    {"minmax-per-sample", Normalize::kMinmaxPerSample},
    {"standardize", Normalize::kStandardize},
}};

template <typename E, std::size_t N>
std::vector<std::string> names_of(const std::array<std::pair<std::string_view, E>, N>& table) {
  std::vector<std::string> names;
  for (const auto& [name, value] : table) names.emplace_back(name);
  return names;
}

template <typename E, std::size_t N>
E value_of(const std::array<std::pair<std::string_view, E>, N>& table, std::string_view name) {
  for (const auto& [entry_name, value] : table) {
    if (entry_name == name) return value;
  }
  CNNDIAG_ASSERT(false, "name not in table: " + std::string(name));
  return table[0].second;
}

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<std::string_view, E>, N>& table, E value) {
  for (const auto& [name, entry_value] : table) {
    if (entry_value == value) return name;
  }
  CNNDIAG_ASSERT(false, "enum value not in table");
  return {};
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += separator;
    text += items[i];
  }
  return text;
}

/// `"a", "b" or "c"`: a list of choices as a user would type them.
std::string quoted_choices(const std::vector<std::string>& choices) {
  std::string text;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) text += i + 1 == choices.size() ? " or " : ", ";
    text += "\"" + choices[i] + "\"";
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// TOML text: literals for messages and for to_toml()
// ---------------------------------------------------------------------------------------------

/// The shortest decimal text that reads back as the same double (std::to_chars), marked as a
/// TOML float ("2.0", not "2").
std::string toml_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::array<char, 32> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  std::string text(buffer.data(), result.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        quoted += "\\\"";
        break;
      case '\\':
        quoted += "\\\\";
        break;
      case '\n':
        quoted += "\\n";
        break;
      case '\t':
        quoted += "\\t";
        break;
      case '\r':
        quoted += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          std::array<char, 8> code{};
          std::snprintf(code.data(), code.size(), "\\u%04x", static_cast<unsigned char>(c));
          quoted += code.data();
        } else {
          quoted += c;
        }
    }
  }
  return quoted + "\"";
}

std::string toml_bool(bool value) { return value ? "true" : "false"; }

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

/// A node as TOML text, for "got …" in messages.
std::string literal(const toml::node& node) {
  if (const auto* text = node.as_string()) return toml_string(text->get());
  if (const auto* integer = node.as_integer()) return std::to_string(integer->get());
  if (const auto* number = node.as_floating_point()) return toml_float(number->get());
  if (const auto* boolean = node.as_boolean()) return toml_bool(boolean->get());
  if (const auto* array = node.as_array()) {
    std::vector<std::string> items;
    for (const toml::node& item : *array) items.push_back(literal(item));
    return "[" + join(items, ", ") + "]";
  }
  if (const auto* table = node.as_table()) {
    std::vector<std::string> items;
    for (const auto& [key, value] : *table)
      items.push_back(std::string(key.str()) + " = " + literal(value));
    return items.empty() ? "{}" : "{ " + join(items, ", ") + " }";
  }
  std::ostringstream text;  // dates and times: toml++ prints them as TOML
  node.visit([&](const auto& value) {
    if constexpr (toml::is_date<decltype(value)> || toml::is_time<decltype(value)> ||
                  toml::is_date_time<decltype(value)>) {
      text << value;
    }
  });
  return text.str();
}

/// A value shown to the user: its literal, shortened when long.
std::string shown(const toml::node& node) {
  constexpr std::size_t kMaxChars = 60;
  std::string text = literal(node);
  if (text.size() > kMaxChars) text = text.substr(0, kMaxChars - 3) + "...";
  return text;
}

/// "float 3.0", "string \"abc\"": what a wrong-type value is.
std::string described(const toml::node& node) { return type_name(node) + " " + shown(node); }

// ---------------------------------------------------------------------------------------------
// Reading tables with precise messages
// ---------------------------------------------------------------------------------------------

/// The file name messages carry: the one the user passed, as given.
class Source {
 public:
  explicit Source(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }
  SourceLocation at(const toml::source_region& region) const {
    return {file_, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
  }
  SourceLocation whole_file() const { return {file_, 0, 0}; }

 private:
  std::string file_;
};

[[noreturn]] void fail_at(const SourceLocation& where, const std::string& message) {
  throw ConfigError(where.str() + ": " + message);
}

/// One TOML table being read into a struct. Getters assign only when the key is present (the
/// struct's initialisers are the defaults); checks point at the offending value and name it as
/// `<scope><separator><key>`: "optimizer.lr", "layer 'conv1' (conv2d): kernel".
class TableReader {
 public:
  TableReader(const toml::table& table, std::string scope, std::string separator,
              const Source& source)
      : table_(table),
        scope_(std::move(scope)),
        separator_(std::move(separator)),
        source_(source) {}

  const toml::table& table() const { return table_; }
  const std::string& scope() const { return scope_; }
  const Source& source() const { return source_; }
  std::string subject(std::string_view key) const { return scope_ + separator_ + std::string(key); }
  SourceLocation where() const { return source_.at(table_.source()); }
  SourceLocation where(std::string_view key) const {
    const toml::node* node = find(key);
    return node ? source_.at(node->source()) : where();
  }
  const toml::node* find(std::string_view key) const { return table_.get(key); }
  bool has(std::string_view key) const { return find(key) != nullptr; }

  /// The table under `key`, read with `scope.key` as its scope. The caller checked it is one.
  TableReader child(std::string_view key) const {
    const toml::node* node = find(key);
    CNNDIAG_ASSERT(node && node->is_table(), "child() of a non-table");
    return TableReader(*node->as_table(), subject(key), ".", source_);
  }

  /// "<where>: <scope>.<key>: <problem>"
  [[noreturn]] void fail(std::string_view key, const std::string& problem) const {
    fail_at(where(key), subject(key) + ": " + problem);
  }
  /// For a value of the wrong TOML type: "expected <what>, got <type> <value>".
  [[noreturn]] void fail_type(std::string_view key, const std::string& what) const {
    fail(key, "expected " + what + ", got " + described(*find(key)));
  }
  /// For a value of the right type out of range: "expected <what>, got <value>".
  void check(std::string_view key, bool ok, const std::string& what) const {
    if (has(key) && !ok) fail(key, "expected " + what + ", got " + shown(*find(key)));
  }
  void require(std::string_view key, const std::string& meaning) const {
    if (!has(key)) {
      fail_at(where(),
              scope_ + ": missing required key '" + std::string(key) + "' (" + meaning + ")");
    }
  }
  /// Every key must be one of `allowed`; the first that is not gets a "did you mean".
  void reject_unknown_keys(const std::vector<std::string>& allowed) const {
    for (const auto& [key, value] : table_) {
      if (contains(allowed, key.str())) continue;
      fail_at(source_.at(key.source()), scope_ + ": unknown key '" + std::string(key.str()) + "'" +
                                            did_you_mean(key.str(), allowed));
    }
  }

  void read(std::string_view key, std::string& out) const {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_string()) fail_type(key, "a string");
    out = node->as_string()->get();
  }
  void read(std::string_view key, bool& out) const {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_boolean()) fail_type(key, "true or false");
    out = node->as_boolean()->get();
  }
  /// Integer keys take TOML integers only: `kernel = 3.0` is a mistake worth reporting.
  void read(std::string_view key, std::int64_t& out) const {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_integer()) fail_type(key, "an integer");
    out = node->as_integer()->get();
  }
  void read(std::string_view key, std::uint64_t& out) const {
    std::int64_t value = 0;
    read(key, value);
    if (!has(key)) return;
    check(key, value >= 0, "an integer >= 0");
    out = static_cast<std::uint64_t>(value);
  }
  /// Number keys take integers too (`lr = 1`), but not inf or nan.
  void read(std::string_view key, double& out) const {
    const toml::node* node = find(key);
    if (!node) return;
    if (const auto* integer = node->as_integer()) {
      out = static_cast<double>(integer->get());
      return;
    }
    if (!node->is_floating_point()) fail_type(key, "a number");
    const double value = node->as_floating_point()->get();
    check(key, std::isfinite(value), "a finite number");
    out = value;
  }
  /// A string that must be one of `choices`; returns it when present.
  std::optional<std::string> read_choice(std::string_view key,
                                         const std::vector<std::string>& choices) const {
    if (!has(key)) return std::nullopt;
    std::string value;
    read(key, value);
    if (!contains(choices, value)) {
      fail(key, "expected " + quoted_choices(choices) + ", got " + toml_string(value) +
                    did_you_mean(value, choices));
    }
    return value;
  }
  /// A string that must not be empty.
  void read_name(std::string_view key, std::string& out) const {
    read(key, out);
    check(key, !out.empty(), "a non-empty string");
  }

 private:
  const toml::table& table_;
  std::string scope_;
  std::string separator_;
  const Source& source_;
};

/// The top-level table `name`, or nullptr when the file has none.
const toml::table* optional_table(const toml::table& root, std::string_view name,
                                  const Source& source) {
  const toml::node* node = root.get(name);
  if (!node) return nullptr;
  if (!node->is_table()) {
    fail_at(source.at(node->source()), std::string(name) + ": expected a table [" +
                                           std::string(name) + "], got " + described(*node));
  }
  return node->as_table();
}

void reject_unknown_top_level(const toml::table& root, const Source& source) {
  for (const auto& [key, value] : root) {
    if (contains(kTopLevelTables, key.str())) continue;
    const std::string what = value.is_table() || value.is_array_of_tables() ? "table" : "key";
    fail_at(source.at(key.source()), "unknown " + what + " '" + std::string(key.str()) + "'" +
                                         did_you_mean(key.str(), kTopLevelTables));
  }
}

fs::path resolve_path(const fs::path& folder, const std::string& text) {
  const fs::path path(text);
  return (path.is_absolute() ? path : folder / path).lexically_normal();
}

/// An integer node that must be at least `min`, inside an array: "kernel[1]: expected …".
std::int64_t array_integer(const TableReader& reader, std::string_view key, std::size_t index,
                           const toml::node& node, std::int64_t min, const std::string& what) {
  const std::string subject = reader.subject(key) + "[" + std::to_string(index) + "]";
  const auto* integer = node.as_integer();
  const SourceLocation where = reader.source().at(node.source());
  if (!integer) fail_at(where, subject + ": expected " + what + ", got " + described(node));
  if (integer->get() < min) fail_at(where, subject + ": expected " + what + ", got " + shown(node));
  return integer->get();
}

/// `kernel = 3` or `kernel = [3, 5]` into (h, w), each at least `min`; untouched when absent.
void read_pair(const TableReader& reader, std::string_view key, std::int64_t& h, std::int64_t& w,
               std::int64_t min) {
  const toml::node* node = reader.find(key);
  if (!node) return;
  const std::string what = min > 0 ? "a positive integer" : "an integer >= 0";
  if (node->is_integer()) {
    const std::int64_t value = node->as_integer()->get();
    reader.check(key, value >= min, what);
    h = w = value;
    return;
  }
  const toml::array* array = node->as_array();
  if (!array || array->size() != 2) reader.fail_type(key, what + " or [height, width]");
  h = array_integer(reader, key, 0, *array->get(0), min, what);
  w = array_integer(reader, key, 1, *array->get(1), min, what);
}

// ---------------------------------------------------------------------------------------------
// [data]
// ---------------------------------------------------------------------------------------------

TargetsSpec parse_targets(const TableReader& data) {
  TargetsSpec spec;
  const toml::node* node = data.find("targets");
  if (!node) return spec;
  if (node->is_string()) {
    data.read_name("targets", spec.dataset);
    return spec;
  }
  if (!node->is_table()) {
    data.fail_type("targets", "a dataset name or a table like { random = \"uniform\", seed = 7 }");
  }
  const TableReader random = data.child("targets");
  random.reject_unknown_keys({"random", "seed"});
  random.require("random", "the distribution of synthetic targets: \"uniform\" or \"normal\"");
  spec.random = true;
  spec.distribution = *random.read_choice("random", {"uniform", "normal"});
  random.read("seed", spec.seed);
  return spec;
}

std::optional<Shape> parse_shape(const TableReader& data) {
  const toml::node* node = data.find("shape");
  if (!node) return std::nullopt;
  const toml::array* array = node->as_array();
  if (!array || (array->size() != 1 && array->size() != 3)) {
    data.fail_type("shape", "[C, H, W] or [D]");
  }
  Shape shape;
  for (std::size_t i = 0; i < array->size(); ++i) {
    shape.push_back(array_integer(data, "shape", i, *array->get(i), 1, "a positive integer"));
  }
  return shape;
}

DataConfig parse_data(const toml::table& root, const Source& source, const fs::path& folder) {
  const toml::table* table = optional_table(root, "data", source);
  if (!table) {
    fail_at(source.whole_file(),
            "missing required table [data] (the file holding the inputs and targets)");
  }
  const TableReader data(*table, "data", ".", source);
  data.reject_unknown_keys(
      {"file", "inputs", "targets", "layout", "normalize", "shape", "label_base"});
  DataConfig config;
  config.where = data.where();
  data.require("file", "the .h5/.hdf5 or .mat file holding the inputs and targets");
  std::string file;
  data.read_name("file", file);
  config.file = resolve_path(folder, file);
  data.read_name("inputs", config.inputs);
  config.targets = parse_targets(data);
  if (auto name = data.read_choice("layout", names_of(kLayoutNames))) {
    config.layout = value_of(kLayoutNames, *name);
  }
  if (auto name = data.read_choice("normalize", names_of(kNormalizeNames))) {
    config.normalize = value_of(kNormalizeNames, *name);
  }
  config.shape = parse_shape(data);
  if (data.has("label_base")) {
    std::int64_t base = 0;
    data.read("label_base", base);
    data.check("label_base", base >= 0, "an integer >= 0");
    config.label_base = base;
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// [[layer]]
// ---------------------------------------------------------------------------------------------

const std::vector<std::string> kInitNames = {"he", "xavier", "default", "zeros", "ones"};
const std::vector<std::string> kInitTableNames = {"normal", "uniform", "constant", "he", "xavier"};
const std::string kInitExpected =
    "an initialiser: \"he\", \"xavier\", \"default\", \"zeros\", \"ones\" or a table like "
    "{ normal = { mean = 0, std = 0.01 } }";

InitSpec parse_init_string(const TableReader& init, std::string_view param) {
  std::string name;
  init.read(param, name);
  InitSpec spec;
  if (name == "he") {
    spec.kind = InitSpec::Kind::kHe;
  } else if (name == "xavier") {
    spec.kind = InitSpec::Kind::kXavier;
  } else if (name == "default") {
    spec.kind = InitSpec::Kind::kDefault;
  } else if (name == "zeros" || name == "ones") {
    spec.kind = InitSpec::Kind::kConstant;
    spec.value = name == "ones" ? 1.0 : 0.0;
  } else if (contains(kInitTableNames, name)) {
    init.fail(param, "\"" + name + "\" needs its numbers: write it as a table, like { " + name +
                         (name == "normal"    ? " = { mean = 0, std = 0.01 } }"
                          : name == "uniform" ? " = { low = -0.1, high = 0.1 } }"
                                              : " = 0.5 }"));
  } else {
    init.fail(param, "expected " + kInitExpected + ", got " + toml_string(name) +
                         did_you_mean(name, kInitNames));
  }
  return spec;
}

/// `{ he = { distribution = "uniform" } }` and the same for xavier.
bool parse_distribution(const TableReader& spec, std::string_view key) {
  if (!spec.find(key)->is_table()) {
    spec.fail_type(key, "a table like { distribution = \"normal\" }");
  }
  const TableReader options = spec.child(key);
  options.reject_unknown_keys({"distribution"});
  const auto distribution = options.read_choice("distribution", {"normal", "uniform"});
  return distribution == "uniform";
}

InitSpec parse_init_table(const TableReader& init, std::string_view param) {
  const TableReader spec = init.child(param);
  if (spec.table().size() != 1) {
    init.fail(param, "expected one initialiser (normal, uniform, constant, he or xavier), got " +
                         described(*init.find(param)));
  }
  // toml++'s iterator hands out a proxy that lives inside the iterator: keep the iterator alive.
  const auto first = spec.table().begin();
  const auto& [key, node] = *first;
  const std::string name(key.str());
  if (!contains(kInitTableNames, name)) {
    fail_at(spec.source().at(key.source()), spec.scope() + ": unknown initialiser '" + name + "'" +
                                                did_you_mean(name, kInitTableNames));
  }
  InitSpec result;
  if (name == "normal" || name == "uniform") {
    const bool normal = name == "normal";
    if (!node.is_table()) {
      spec.fail_type(name, normal ? "a table like { mean = 0, std = 0.01 }"
                                  : "a table like { low = -0.1, high = 0.1 }");
    }
    const TableReader numbers = spec.child(name);
    if (normal) {
      result.kind = InitSpec::Kind::kNormal;
      numbers.reject_unknown_keys({"mean", "std"});
      numbers.read("mean", result.mean);
      numbers.read("std", result.std);
      numbers.check("std", result.std >= 0, "a number >= 0");
    } else {
      result.kind = InitSpec::Kind::kUniform;
      numbers.reject_unknown_keys({"low", "high"});
      numbers.read("low", result.low);
      numbers.read("high", result.high);
      numbers.check("high", result.high >= result.low,
                    "a number >= low (" + toml_float(result.low) + ")");
      if (!numbers.has("high")) {
        numbers.check("low", result.low <= result.high,
                      "a number <= high (" + toml_float(result.high) + ")");
      }
    }
  } else if (name == "constant") {
    result.kind = InitSpec::Kind::kConstant;
    if (node.is_table()) {  // { constant = { value = 0.5 } }
      const TableReader constant = spec.child(name);
      constant.reject_unknown_keys({"value"});
      constant.require("value", "the constant");
      constant.read("value", result.value);
    } else {
      spec.read(name, result.value);
    }
  } else {
    result.kind = name == "he" ? InitSpec::Kind::kHe : InitSpec::Kind::kXavier;
    result.uniform_variant = parse_distribution(spec, name);
  }
  return result;
}

InitSpec parse_init_spec(const TableReader& init, std::string_view param) {
  const toml::node* node = init.find(param);
  if (node->is_string()) return parse_init_string(init, param);
  if (!node->is_table()) init.fail_type(param, kInitExpected);
  return parse_init_table(init, param);
}

/// `init.<param> = …` of one layer; every parameter of the layer ends up in the map, those not
/// given as Kind::kDefault, so that to_toml() can write them all.
std::map<std::string, InitSpec> parse_inits(const TableReader& layer, const LayerKind& kind,
                                            bool has_bias) {
  std::map<std::string, InitSpec> inits;
  if (const toml::node* node = layer.find("init")) {
    if (!node->is_table()) {
      layer.fail_type("init", "a table of initialisers by parameter, like init.weight = \"he\"");
    }
    const TableReader init = layer.child("init");
    for (const auto& [key, value] : init.table()) {
      const std::string param(key.str());
      if (!contains(kind.params, param)) {
        fail_at(layer.source().at(key.source()), init.subject(param) + ": " + kind.type +
                                                     " layers have no parameter '" + param + "'" +
                                                     did_you_mean(param, kind.params) +
                                                     "; they have " + join(kind.params, " and "));
      }
      if (param == "bias" && !has_bias) {
        fail_at(layer.source().at(key.source()),
                init.subject(param) + ": the layer has no bias (bias = false)");
      }
      inits[param] = parse_init_spec(init, param);
    }
  }
  for (const std::string& param : kind.params) {
    if (param != "bias" || has_bias) inits.try_emplace(param);
  }
  return inits;
}

/// Keys that do not belong to this layer type: another type's key says which types use it.
void reject_foreign_layer_keys(const TableReader& layer, const LayerKind& kind) {
  std::vector<std::string> allowed = kCommonLayerKeys;
  allowed.insert(allowed.end(), kind.keys.begin(), kind.keys.end());
  for (const auto& [key, value] : layer.table()) {
    const std::string name(key.str());
    if (contains(allowed, name)) continue;
    std::vector<std::string> users;
    std::vector<std::string> all_keys = kCommonLayerKeys;
    for (const LayerKind& other : layer_kinds()) {
      if (contains(other.keys, name)) users.push_back(other.type);
      all_keys.insert(all_keys.end(), other.keys.begin(), other.keys.end());
    }
    const SourceLocation where = layer.source().at(key.source());
    if (!users.empty()) {
      fail_at(where, layer.scope() + ": key '" + name + "' is not used by " + kind.type +
                         " layers (only by " + join(users, ", ") + ")");
    }
    std::string hint = did_you_mean(name, allowed);
    if (hint.empty()) hint = did_you_mean(name, all_keys);
    fail_at(where, layer.scope() + ": unknown key '" + name + "'" + hint);
  }
}

void parse_conv2d(const TableReader& layer, LayerConfig& config) {
  layer.require("out_channels", "the number of output channels");
  layer.read("out_channels", config.out_channels);
  layer.check("out_channels", config.out_channels >= 1, "a positive integer");
  layer.require("kernel", "the kernel size: kernel = 3 or [3, 5]");
  read_pair(layer, "kernel", config.kernel_h, config.kernel_w, 1);
  read_pair(layer, "stride", config.stride_h, config.stride_w, 1);
  read_pair(layer, "pad", config.pad_h, config.pad_w, 0);
  layer.read("bias", config.bias);
}

void parse_pooling(const TableReader& layer, LayerConfig& config) {
  layer.require("size", "the window size: size = 2 or [2, 3]");
  read_pair(layer, "size", config.size_h, config.size_w, 1);
  // Unless told otherwise, windows tile the input without overlap (PyTorch, MatConvNet).
  config.stride_h = config.size_h;
  config.stride_w = config.size_w;
  read_pair(layer, "stride", config.stride_h, config.stride_w, 1);
  read_pair(layer, "pad", config.pad_h, config.pad_w, 0);
  // A pad as large as the window would allow a window made only of padding.
  layer.check("pad", config.pad_h < config.size_h && config.pad_w < config.size_w,
              "a padding smaller than the window size");
}

void parse_linear(const TableReader& layer, LayerConfig& config) {
  layer.require("out", "the number of output units");
  layer.read("out", config.out);
  layer.check("out", config.out >= 1, "a positive integer");
  layer.read("bias", config.bias);
}

void parse_batchnorm(const TableReader& layer, LayerConfig& config) {
  layer.read("eps", config.eps);
  layer.check("eps", config.eps > 0, "a number > 0");
  layer.read("momentum", config.bn_momentum);
  layer.check("momentum", config.bn_momentum >= 0 && config.bn_momentum <= 1, "a number in [0, 1]");
}

void parse_layer_fault(const TableReader& layer, LayerConfig& config, const LayerConfig* previous) {
  if (!layer.has("fault")) return;
  layer.read("fault", config.fault);
  const FaultRule* rule = find_fault_rule(config.fault);
  if (!rule) {
    layer.fail("fault", "unknown fault " + toml_string(config.fault) +
                            did_you_mean(config.fault, fault_ids()));
  }
  if (rule->targets == std::vector<std::string>{"loss"}) {
    layer.fail("fault", "\"" + rule->id + "\" is a fault of the loss: set it in [loss] instead");
  }
  if (!contains(rule->targets, config.type)) {
    layer.fail("fault", "\"" + rule->id + "\" does not apply to " + config.type +
                            " layers (only to " + join(rule->targets, ", ") + ")");
  }
  if (rule->id == "bias_grad_first_sample" && !config.bias) {
    layer.fail("fault", "\"" + rule->id + "\" needs a bias, but the layer has bias = false");
  }
  // The seed's bug lives in the backward of the linear layer feeding the sigmoid: that layer
  // multiplies its input gradient by x⊙(1−x). Without a linear layer there, it cannot happen.
  if (rule->id == "sigmoid_derivative_on_wrong_tensor" &&
      (!previous || previous->type != "linear")) {
    layer.fail("fault",
               "\"" + rule->id +
                   "\" needs a linear layer right before the sigmoid (the bug sits in "
                   "that layer's backward), but " +
                   (previous ? "the previous layer '" + previous->name + "' is " + previous->type
                             : std::string("the sigmoid is the first layer")));
  }
}

bool is_valid_layer_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  });
}

/// One [[layer]] table. `ordinal` counts layers from 1; `seen_of_type` counts layers per type so
/// far, for default names; `previous` is the layer before, if any.
LayerConfig parse_layer(const toml::table& table, std::size_t ordinal,
                        std::map<std::string, int>& seen_of_type, const LayerConfig* previous,
                        const Source& source) {
  LayerConfig config;
  const TableReader unnamed(table, "layer #" + std::to_string(ordinal), ": ", source);
  config.where = unnamed.where();
  if (unnamed.has("name")) {
    unnamed.read("name", config.name);
    // The name becomes an HDF5 group (/params/<name>) and an [import] key ("<name>.weight").
    unnamed.check("name", is_valid_layer_name(config.name),
                  "a name of letters, digits, '_' and '-'");
  }
  const std::string label = config.name.empty() ? unnamed.scope() : "layer '" + config.name + "'";
  const TableReader untyped(table, label, ": ", source);

  untyped.require("type", "one of " + join(layer_type_names(), ", "));
  untyped.read("type", config.type);
  const LayerKind* kind = find_layer_kind(config.type);
  if (!kind) {
    fail_at(untyped.where("type"), label + ": unknown layer type '" + config.type + "'" +
                                       did_you_mean(config.type, layer_type_names()));
  }
  const int index_of_type = ++seen_of_type[config.type];
  if (config.name.empty()) config.name = config.type + std::to_string(index_of_type);

  const TableReader layer(table, label + " (" + config.type + ")", ": ", source);
  reject_foreign_layer_keys(layer, *kind);
  if (config.type == "conv2d") parse_conv2d(layer, config);
  if (config.type == "maxpool" || config.type == "avgpool") parse_pooling(layer, config);
  if (config.type == "linear") parse_linear(layer, config);
  if (config.type == "batchnorm") parse_batchnorm(layer, config);
  if (config.type == "leaky_relu") layer.read("negative_slope", config.negative_slope);
  config.init = parse_inits(layer, *kind, config.bias);
  parse_layer_fault(layer, config, previous);
  return config;
}

/// Layer names key the checkpoint's /params groups and [import]: they must be unique. The
/// message names both lines, and says when a name was a default one.
void check_unique_names(const std::vector<LayerConfig>& layers,
                        const std::vector<const toml::table*>& tables, const Source& source) {
  auto site = [&](std::size_t i) {
    const toml::node* name = tables[i]->get("name");
    const SourceLocation where = source.at(name ? name->source() : tables[i]->source());
    std::string text = "line " + std::to_string(where.line);
    if (!name) text += " (the default name of an unnamed " + layers[i].type + " layer)";
    return std::make_pair(where, text);
  };
  std::map<std::string, std::size_t> first_use;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto [it, inserted] = first_use.emplace(layers[i].name, i);
    if (inserted) continue;
    const auto [where, text] = site(i);
    fail_at(where, "layer name '" + layers[i].name + "' is used twice, at " +
                       site(it->second).second + " and " + text + ": layer names must be unique");
  }
}

std::vector<LayerConfig> parse_layers(const toml::table& root, const Source& source) {
  const toml::node* node = root.get("layer");
  const std::string none = "no layers: add at least one [[layer]] table";
  if (!node) fail_at(source.whole_file(), none);
  const toml::array* array = node->as_array();
  if (!array) {
    fail_at(source.at(node->source()),
            "layer: expected an array of tables (write [[layer]], with double brackets, for each "
            "layer), got " +
                type_name(*node));
  }
  if (array->empty()) fail_at(source.at(node->source()), none);
  std::vector<LayerConfig> layers;
  std::vector<const toml::table*> tables;
  std::map<std::string, int> seen_of_type;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    if (!item.is_table()) {
      fail_at(source.at(item.source()),
              "layer[" + std::to_string(i) + "]: expected a table, got " + described(item));
    }
    tables.push_back(item.as_table());
    const LayerConfig* previous = layers.empty() ? nullptr : &layers.back();
    LayerConfig layer = parse_layer(*item.as_table(), i + 1, seen_of_type, previous, source);
    layers.push_back(std::move(layer));
  }
  check_unique_names(layers, tables, source);
  return layers;
}

// ---------------------------------------------------------------------------------------------
// [loss], [optimizer], [train], [checkpoint], [probe]
// ---------------------------------------------------------------------------------------------

LossConfig parse_loss(const toml::table& root, const Source& source) {
  LossConfig config;
  config.where = source.whole_file();
  const toml::table* table = optional_table(root, "loss", source);
  if (!table) return config;
  const TableReader loss(*table, "loss", ".", source);
  config.where = loss.where();
  loss.reject_unknown_keys({"type", "reduction", "scale", "fault"});
  if (auto type = loss.read_choice("type", {"mse", "softmax_cross_entropy"})) config.type = *type;
  if (auto reduction = loss.read_choice("reduction", {"mean", "sum"}))
    config.reduction = *reduction;
  loss.read("scale", config.scale);
  loss.check("scale", config.scale > 0, "a number > 0");
  if (loss.has("fault")) {
    loss.read("fault", config.fault);
    const FaultRule* rule = find_fault_rule(config.fault);
    if (!rule) {
      loss.fail("fault", "unknown fault " + toml_string(config.fault) +
                             " (the loss takes only \"missing_batch_mean\")");
    }
    if (!contains(rule->targets, "loss")) {
      loss.fail("fault", "\"" + rule->id + "\" is a fault of " + join(rule->targets, ", ") +
                             " layers: set it on a [[layer]]; the loss takes only "
                             "\"missing_batch_mean\"");
    }
    if (config.reduction != "mean") {
      loss.fail("fault",
                "\"missing_batch_mean\" needs reduction = \"mean\" (with \"sum\" there "
                "is no batch mean to miss)");
    }
  }
  return config;
}

const std::vector<std::string> kSgdOnlyKeys = {"momentum", "nesterov"};
const std::vector<std::string> kAdamOnlyKeys = {"beta1", "beta2", "eps"};

OptimizerConfig parse_optimizer(const toml::table& root, const Source& source) {
  OptimizerConfig config;
  config.where = source.whole_file();
  const toml::table* table = optional_table(root, "optimizer", source);
  if (!table) return config;
  const TableReader opt(*table, "optimizer", ".", source);
  config.where = opt.where();
  opt.reject_unknown_keys({"type", "lr", "momentum", "nesterov", "weight_decay", "bias_decay",
                           "bias_lr_scale", "beta1", "beta2", "eps"});
  if (auto type = opt.read_choice("type", {"sgd", "adam", "adamw"})) config.type = *type;
  // A key the chosen optimizer ignores is a config that does not do what it says.
  const bool sgd = config.type == "sgd";
  for (const std::string& key : sgd ? kAdamOnlyKeys : kSgdOnlyKeys) {
    if (opt.has(key)) {
      opt.fail(key, sgd ? "used by adam and adamw only, not by sgd"
                        : "used by sgd only, not by " + config.type +
                              " (its moment decay rates are beta1 and beta2)");
    }
  }
  opt.read("lr", config.lr);
  opt.check("lr", config.lr > 0, "a number > 0");
  opt.read("momentum", config.momentum);
  opt.check("momentum", config.momentum >= 0 && config.momentum < 1, "a number in [0, 1)");
  opt.read("nesterov", config.nesterov);
  if (config.nesterov && config.momentum <= 0) {
    opt.fail("nesterov", "nesterov = true needs momentum > 0");
  }
  opt.read("weight_decay", config.weight_decay);
  opt.check("weight_decay", config.weight_decay >= 0, "a number >= 0");
  opt.read("bias_decay", config.bias_decay);
  opt.read("bias_lr_scale", config.bias_lr_scale);
  opt.check("bias_lr_scale", config.bias_lr_scale >= 0, "a number >= 0");
  opt.read("beta1", config.beta1);
  opt.check("beta1", config.beta1 >= 0 && config.beta1 < 1, "a number in [0, 1)");
  opt.read("beta2", config.beta2);
  opt.check("beta2", config.beta2 >= 0 && config.beta2 < 1, "a number in [0, 1)");
  opt.read("eps", config.eps);
  opt.check("eps", config.eps > 0, "a number > 0");
  return config;
}

TrainConfig parse_train(const toml::table& root, const Source& source) {
  TrainConfig config;
  config.where = source.whole_file();
  const toml::table* table = optional_table(root, "train", source);
  if (!table) return config;
  const TableReader train(*table, "train", ".", source);
  config.where = train.where();
  train.reject_unknown_keys({"iterations", "seed", "dtype", "batch_size", "threads", "log_every"});
  train.read("iterations", config.iterations);
  train.check("iterations", config.iterations >= 0, "an integer >= 0");
  train.read("seed", config.seed);
  if (auto dtype = train.read_choice("dtype", {"float32", "float64"})) config.dtype = *dtype;
  train.read("batch_size", config.batch_size);
  train.check("batch_size", config.batch_size >= 0, "an integer >= 0 (0: the full batch)");
  train.read("threads", config.threads);
  train.check("threads", config.threads >= 0, "an integer >= 0 (0: all cores)");
  train.read("log_every", config.log_every);
  train.check("log_every", config.log_every >= 0, "an integer >= 0 (0: every step)");
  return config;
}

CheckpointConfig parse_checkpoint(const toml::table& root, const Source& source,
                                  const fs::path& folder, const fs::path& stem) {
  CheckpointConfig config;
  config.where = source.whole_file();
  config.dir = (folder / "runs" / stem).lexically_normal();
  const toml::table* table = optional_table(root, "checkpoint", source);
  if (!table) return config;
  const TableReader checkpoint(*table, "checkpoint", ".", source);
  config.where = checkpoint.where();
  checkpoint.reject_unknown_keys({"dir", "every", "at"});
  if (checkpoint.has("dir")) {
    std::string dir;
    checkpoint.read_name("dir", dir);
    config.dir = resolve_path(folder, dir);
  }
  checkpoint.read("every", config.every);
  checkpoint.check("every", config.every >= 1, "an integer >= 1");
  if (const toml::node* node = checkpoint.find("at")) {
    const toml::array* array = node->as_array();
    if (!array) checkpoint.fail_type("at", "an array of iterations, like [1, 2, 5, 10]");
    for (std::size_t i = 0; i < array->size(); ++i)
      config.at.push_back(array_integer(checkpoint, "at", i, *array->get(i), 1, "an integer >= 1"));
    std::sort(config.at.begin(), config.at.end());
    config.at.erase(std::unique(config.at.begin(), config.at.end()), config.at.end());
  }
  return config;
}

bool in_range(double value, Range range) {
  switch (range) {
    case Range::kAny:
      return true;
    case Range::kNonNegative:
      return value >= 0;
    case Range::kPositive:
      return value > 0;
    case Range::kFraction:
      return value >= 0 && value <= 1;
    case Range::kCount:
      return value >= 1 && value == std::floor(value);
  }
  return false;
}

std::string range_text(Range range) {
  switch (range) {
    case Range::kAny:
      return "a number";
    case Range::kNonNegative:
      return "a number >= 0";
    case Range::kPositive:
      return "a number > 0";
    case Range::kFraction:
      return "a number in [0, 1]";
    case Range::kCount:
      return "a whole number >= 1";
  }
  return "";
}

ProbeConfig parse_probe(const toml::table& root, const Source& source) {
  ProbeConfig config;
  config.where = source.whole_file();
  for (const ThresholdRule& rule : threshold_rules()) {
    config.thresholds[std::string(rule.info.key)] = rule.info.default_value;
  }
  const toml::table* table = optional_table(root, "probe", source);
  if (!table) return config;
  const TableReader probe(*table, "probe", ".", source);
  config.where = probe.where();
  std::vector<std::string> keys;
  for (const ThresholdRule& rule : threshold_rules()) keys.emplace_back(rule.info.key);
  probe.reject_unknown_keys(keys);
  for (const auto& [key, value] : *table) {
    const ThresholdRule& rule = *find_threshold_rule(key.str());
    double& threshold = config.thresholds[std::string(key.str())];
    probe.read(key.str(), threshold);
    probe.check(key.str(), in_range(threshold, rule.range), range_text(rule.range));
  }
  for (const auto& [lower, upper] : kOrderedThresholds) {
    const double low = config.thresholds[std::string(lower)];
    const double high = config.thresholds[std::string(upper)];
    if (low <= high) continue;
    const std::string_view blamed = probe.has(upper) ? upper : lower;
    probe.fail(blamed, std::string(lower) + " (" + toml_float(low) + ") must not exceed " +
                           std::string(upper) + " (" + toml_float(high) + ")");
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// [import]
// ---------------------------------------------------------------------------------------------

/// One `"conv1.weight" = "w"` entry, with where it was written.
struct ImportEntry {
  std::string tensor;
  const toml::node* variable;
  SourceLocation where;
};

/// Entries of [import.params] or [import.grads]. Quoted keys ("conv1.weight") and dotted keys
/// (conv1.weight, which TOML makes a nested table) mean the same. toml++ keeps tables sorted by
/// key, so entries are put back in file order by their position.
void collect_import_entries(const toml::table& table, const std::string& prefix,
                            const Source& source, std::vector<ImportEntry>& entries) {
  for (const auto& [key, node] : table) {
    const std::string tensor =
        prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const toml::table* nested = node.as_table()) {
      collect_import_entries(*nested, tensor, source, entries);
    } else {
      entries.push_back({tensor, &node, source.at(key.source())});
    }
  }
}

/// What is wrong with a model tensor name, or "" when it names a tensor of the model.
std::string tensor_problem(std::string_view tensor, const std::vector<LayerConfig>& layers,
                           bool allow_output) {
  const std::size_t colon = tensor.find(':');
  const std::size_t dot = tensor.find('.');
  const std::size_t split = std::min(colon, dot);
  if (split == std::string_view::npos || split == 0) {
    return std::string("expected a model tensor \"<layer>.<param>\" like \"conv1.weight\"") +
           (allow_output ? " or a layer output \"<layer>:output\"" : "");
  }
  const std::string layer_name(tensor.substr(0, split));
  const std::string part(tensor.substr(split + 1));
  std::vector<std::string> names;
  const LayerConfig* layer = nullptr;
  for (const LayerConfig& candidate : layers) {
    names.push_back(candidate.name);
    if (candidate.name == layer_name) layer = &candidate;
  }
  if (!layer) return "no layer named '" + layer_name + "'" + did_you_mean(layer_name, names);
  if (split == colon) {
    if (!allow_output) return "a layer output gradient belongs in [import.grads], not here";
    if (part != "output") return "expected \"" + layer_name + ":output\"";
    return "";
  }
  const std::vector<std::string>& params = find_layer_kind(layer->type)->params;
  const std::string label = "layer '" + layer->name + "' (" + layer->type + ")";
  if (params.empty()) return label + " has no parameters";
  if (!contains(params, part)) {
    return label + " has no parameter '" + part + "'" + did_you_mean(part, params);
  }
  if (part == "bias" && !layer->bias) return label + " has no bias (bias = false)";
  return "";
}

std::vector<std::pair<std::string, std::string>> parse_import_map(
    const TableReader& import, std::string_view key, const std::vector<LayerConfig>& layers) {
  std::vector<std::pair<std::string, std::string>> map;
  const toml::node* node = import.find(key);
  if (!node) return map;
  if (!node->is_table()) {
    import.fail_type(key,
                     "a table like [import." + std::string(key) + "] \"conv1.weight\" = \"w\"");
  }
  std::vector<ImportEntry> entries;
  collect_import_entries(*node->as_table(), "", import.source(), entries);
  std::sort(entries.begin(), entries.end(), [](const ImportEntry& a, const ImportEntry& b) {
    return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
  });
  const bool grads = key == "grads";
  for (const ImportEntry& entry : entries) {
    const std::string subject = import.subject(key) + "." + toml_string(entry.tensor);
    const std::string problem = tensor_problem(entry.tensor, layers, grads);
    if (!problem.empty()) fail_at(entry.where, subject + ": " + problem);
    const bool twice = std::any_of(
        map.begin(), map.end(), [&](const auto& mapped) { return mapped.first == entry.tensor; });
    if (twice) fail_at(entry.where, subject + ": given twice");
    const auto* variable = entry.variable->as_string();
    if (!variable || variable->get().empty()) {
      fail_at(
          import.source().at(entry.variable->source()),
          subject + ": expected a variable name in the file, got " + described(*entry.variable));
    }
    map.emplace_back(entry.tensor, variable->get());
  }
  return map;
}

std::optional<ImportConfig> parse_import(const toml::table& root, const Source& source,
                                         const std::vector<LayerConfig>& layers) {
  const toml::table* table = optional_table(root, "import", source);
  if (!table) return std::nullopt;
  const TableReader import(*table, "import", ".", source);
  ImportConfig config;
  config.where = import.where();
  import.reject_unknown_keys({"layout", "grad_reduction", "params", "grads"});
  if (auto name = import.read_choice("layout", names_of(kLayoutNames))) {
    config.layout = value_of(kLayoutNames, *name);
  }
  if (auto reduction = import.read_choice("grad_reduction", {"sum", "mean"})) {
    config.grad_reduction = *reduction;
  }
  config.params = parse_import_map(import, "params", layers);
  config.grads = parse_import_map(import, "grads", layers);
  return config;
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// Public API
// -------------------------------------------------------------------------------------------------

const std::vector<ProbeThresholdInfo>& probe_threshold_defaults() {
  static const std::vector<ProbeThresholdInfo> defaults = [] {
    std::vector<ProbeThresholdInfo> infos;
    for (const ThresholdRule& rule : threshold_rules()) infos.push_back(rule.info);
    return infos;
  }();
  return defaults;
}

double Config::threshold(std::string_view key) const {
  if (const auto it = probe.thresholds.find(std::string(key)); it != probe.thresholds.end()) {
    return it->second;
  }
  const ThresholdRule* rule = find_threshold_rule(key);
  CNNDIAG_ASSERT(rule != nullptr, "unknown probe threshold '" + std::string(key) + "'");
  return rule->info.default_value;
}

Config parse_config(std::string_view text, const fs::path& path) {
  const Source source(path.string());
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(source.file()));
  } catch (const toml::parse_error& error) {
    fail_at(source.at(error.source()), "invalid TOML: " + std::string(error.description()));
  }
  reject_unknown_top_level(root, source);

  Config config;
  config.path = fs::absolute(path).lexically_normal();
  config.source_text = std::string(text);
  const fs::path folder = config.path.parent_path();
  config.data = parse_data(root, source, folder);
  config.layers = parse_layers(root, source);
  config.loss = parse_loss(root, source);
  config.optimizer = parse_optimizer(root, source);
  config.train = parse_train(root, source);
  config.checkpoint = parse_checkpoint(root, source, folder, path.stem());
  config.probe = parse_probe(root, source);
  config.import = parse_import(root, source, config.layers);
  return config;
}

Config load_config(const fs::path& path) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    throw IoError("cannot read config '" + path.string() + "': it is a folder");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read config '" + path.string() + "': " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError("cannot read config '" + path.string() + "': read failed");
  return parse_config(text.str(), path);
}

std::string_view to_string(Layout layout) { return name_of(kLayoutNames, layout); }

std::string_view to_string(Normalize normalize) { return name_of(kNormalizeNames, normalize); }

// -------------------------------------------------------------------------------------------------
// to_toml
// -------------------------------------------------------------------------------------------------

namespace {

/// Builds TOML text line by line, a blank line before each table header.
class TomlWriter {
 public:
  void header(std::string_view header) {
    if (!text_.empty()) text_ += "\n";
    text_ += std::string(header) + "\n";
  }
  void entry(std::string_view key, const std::string& value) {
    text_ += std::string(key) + " = " + value + "\n";
  }
  void comment(std::string_view comment) { text_ += "# " + std::string(comment) + "\n"; }
  std::string text() && { return std::move(text_); }

 private:
  std::string text_;
};

std::string toml_int(std::int64_t value) { return std::to_string(value); }

std::string toml_pair(std::int64_t h, std::int64_t w) {
  return "[" + toml_int(h) + ", " + toml_int(w) + "]";
}

std::string toml_seed(std::uint64_t seed) {
  CNNDIAG_ASSERT(seed <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
                 "seed does not fit a TOML integer");
  return std::to_string(seed);
}

/// Paths in the output are absolute whatever the struct holds.
std::string toml_path(const Config& config, const fs::path& path) {
  return toml_string(resolve_path(config.path.parent_path(), path.string()).string());
}

std::string toml_init(const InitSpec& spec) {
  const auto distribution = [&](std::string_view name) {
    return "{ " + std::string(name) +
           " = { distribution = " + (spec.uniform_variant ? "\"uniform\"" : "\"normal\"") + " } }";
  };
  switch (spec.kind) {
    case InitSpec::Kind::kDefault:
      return "\"default\"";
    case InitSpec::Kind::kNormal:
      return "{ normal = { mean = " + toml_float(spec.mean) + ", std = " + toml_float(spec.std) +
             " } }";
    case InitSpec::Kind::kUniform:
      return "{ uniform = { low = " + toml_float(spec.low) + ", high = " + toml_float(spec.high) +
             " } }";
    case InitSpec::Kind::kConstant:
      return "{ constant = " + toml_float(spec.value) + " }";
    case InitSpec::Kind::kHe:
      return distribution("he");
    case InitSpec::Kind::kXavier:
      return distribution("xavier");
  }
  return "\"default\"";
}

void write_data(TomlWriter& out, const Config& config) {
  const DataConfig& data = config.data;
  out.header("[data]");
  out.entry("file", toml_path(config, data.file));
  out.entry("inputs", toml_string(data.inputs));
  if (data.targets.random) {
    out.entry("targets", "{ random = " + toml_string(data.targets.distribution) +
                             ", seed = " + toml_seed(data.targets.seed) + " }");
  } else {
    out.entry("targets", toml_string(data.targets.dataset));
  }
  out.entry("layout", toml_string(to_string(data.layout)));
  out.entry("normalize", toml_string(to_string(data.normalize)));
  if (data.shape) {
    std::vector<std::string> dims;
    for (const Index dim : *data.shape) dims.push_back(toml_int(dim));
    out.entry("shape", "[" + join(dims, ", ") + "]");
  } else {
    out.comment("shape: taken from the data file");
  }
  if (data.label_base) {
    out.entry("label_base", toml_int(*data.label_base));
  } else {
    out.comment("label_base: 1 for the matlab layout, 0 otherwise");
  }
}

void write_layer(TomlWriter& out, const LayerConfig& layer) {
  out.header("[[layer]]");
  out.entry("name", toml_string(layer.name));
  out.entry("type", toml_string(layer.type));
  const std::string& type = layer.type;
  if (type == "conv2d") {
    out.entry("out_channels", toml_int(layer.out_channels));
    out.entry("kernel", toml_pair(layer.kernel_h, layer.kernel_w));
  }
  if (type == "maxpool" || type == "avgpool") {
    out.entry("size", toml_pair(layer.size_h, layer.size_w));
  }
  if (type == "conv2d" || type == "maxpool" || type == "avgpool") {
    out.entry("stride", toml_pair(layer.stride_h, layer.stride_w));
    out.entry("pad", toml_pair(layer.pad_h, layer.pad_w));
  }
  if (type == "linear") out.entry("out", toml_int(layer.out));
  if (type == "conv2d" || type == "linear") out.entry("bias", toml_bool(layer.bias));
  if (type == "leaky_relu") out.entry("negative_slope", toml_float(layer.negative_slope));
  if (type == "batchnorm") {
    out.entry("eps", toml_float(layer.eps));
    out.entry("momentum", toml_float(layer.bn_momentum));
  }
  // Parameters in their natural order (weight, then bias), not the map's alphabetical one.
  const LayerKind* kind = find_layer_kind(type);
  std::vector<std::string> params = kind ? kind->params : std::vector<std::string>{};
  for (const auto& [param, spec] : layer.init) {
    if (!contains(params, param)) params.push_back(param);
  }
  for (const std::string& param : params) {
    if (const auto it = layer.init.find(param); it != layer.init.end()) {
      out.entry("init." + param, toml_init(it->second));
    }
  }
  if (!layer.fault.empty()) out.entry("fault", toml_string(layer.fault));
}

void write_loss(TomlWriter& out, const LossConfig& loss) {
  out.header("[loss]");
  out.entry("type", toml_string(loss.type));
  out.entry("reduction", toml_string(loss.reduction));
  out.entry("scale", toml_float(loss.scale));
  if (!loss.fault.empty()) out.entry("fault", toml_string(loss.fault));
}

void write_optimizer(TomlWriter& out, const OptimizerConfig& opt) {
  out.header("[optimizer]");
  out.entry("type", toml_string(opt.type));
  out.entry("lr", toml_float(opt.lr));
  if (opt.type == "sgd") {
    out.entry("momentum", toml_float(opt.momentum));
    out.entry("nesterov", toml_bool(opt.nesterov));
  }
  out.entry("weight_decay", toml_float(opt.weight_decay));
  out.entry("bias_decay", toml_bool(opt.bias_decay));
  out.entry("bias_lr_scale", toml_float(opt.bias_lr_scale));
  if (opt.type != "sgd") {
    out.entry("beta1", toml_float(opt.beta1));
    out.entry("beta2", toml_float(opt.beta2));
    out.entry("eps", toml_float(opt.eps));
  }
}

void write_train(TomlWriter& out, const TrainConfig& train) {
  out.header("[train]");
  out.entry("iterations", toml_int(train.iterations));
  out.entry("seed", toml_seed(train.seed));
  out.entry("dtype", toml_string(train.dtype));
  out.entry("batch_size", toml_int(train.batch_size));
  out.entry("threads", toml_int(train.threads));
  out.entry("log_every", toml_int(train.log_every));
}

void write_import_map(TomlWriter& out, std::string_view header,
                      const std::vector<std::pair<std::string, std::string>>& map) {
  out.header(header);
  for (const auto& [tensor, variable] : map) out.entry(toml_string(tensor), toml_string(variable));
}

void write_import(TomlWriter& out, const ImportConfig& import) {
  out.header("[import]");
  out.entry("layout", toml_string(to_string(import.layout)));
  out.entry("grad_reduction", toml_string(import.grad_reduction));
  write_import_map(out, "[import.params]", import.params);
  write_import_map(out, "[import.grads]", import.grads);
}

}  // namespace

std::string to_toml(const Config& config) {
  TomlWriter out;
  out.comment("cnndiag resolved config: every key explicit, paths absolute");
  write_data(out, config);
  for (const LayerConfig& layer : config.layers) write_layer(out, layer);
  write_loss(out, config.loss);
  write_optimizer(out, config.optimizer);
  write_train(out, config.train);
  out.header("[checkpoint]");
  out.entry("dir", toml_path(config, config.checkpoint.dir));
  out.entry("every", toml_int(config.checkpoint.every));
  if (!config.checkpoint.at.empty()) {
    std::vector<std::string> at;
    for (const std::int64_t it : config.checkpoint.at) at.push_back(toml_int(it));
    out.entry("at", "[" + join(at, ", ") + "]");
  }
  out.header("[probe]");
  for (const ThresholdRule& rule : threshold_rules()) {
    const double value = config.threshold(rule.info.key);
    // Counts read better as integers; the parser accepts either.
    const bool whole = rule.range == Range::kCount && std::abs(value) < 1e15;
    out.entry(rule.info.key,
              whole ? toml_int(static_cast<std::int64_t>(value)) : toml_float(value));
  }
  if (config.import) write_import(out, *config.import);
  return std::move(out).text();
}

}  // namespace cnndiag
