#include "cnndiag/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

namespace fs = std::filesystem;

const fs::path kConfigs = fs::path(CNNDIAG_SOURCE_DIR) / "tests" / "data" / "configs";

/// The message of the ConfigError that `parse` throws; a test failure when it throws none.
template <typename F>
std::string config_error(F&& parse) {
  try {
    parse();
  } catch (const ConfigError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

/// The error for a config text read as "net.toml" in the working directory.
std::string error_in(const std::string& text) {
  return config_error([&] { parse_config(text, "net.toml"); });
}

/// Two lines of valid [data], then `rest`: line numbers in `rest` start at 3.
std::string with_data(const std::string& rest) { return "[data]\nfile = \"d.h5\"\n" + rest; }

/// A valid config whose only layer is `layer` (its first line is line 4), then `rest`.
std::string with_layer(const std::string& layer, const std::string& rest = "") {
  return with_data("[[layer]]\n" + layer + "\n" + rest);
}

Config parse(const std::string& text) { return parse_config(text, "net.toml"); }

/// The config with its source locations and text cleared, for comparing settings only.
Config settings_of(Config config) {
  config.source_text.clear();
  config.data.where = {};
  for (LayerConfig& layer : config.layers) layer.where = {};
  config.loss.where = {};
  config.optimizer.where = {};
  config.train.where = {};
  config.checkpoint.where = {};
  config.probe.where = {};
  if (config.import) config.import->where = {};
  return config;
}

// -------------------------------------------------------------------------------------------------
// Valid configs
// -------------------------------------------------------------------------------------------------

TEST(LoadConfig, SeedExampleGivesEveryField) {
  const fs::path path = kConfigs / "seed.toml";
  const Config config = load_config(path);
  EXPECT_EQ(config.path, path.lexically_normal());
  EXPECT_FALSE(config.source_text.empty());

  EXPECT_EQ(config.data.file, kConfigs / "minibatch.h5");
  EXPECT_EQ(config.data.inputs, "X");
  EXPECT_FALSE(config.data.targets.random);
  EXPECT_EQ(config.data.targets.dataset, "y");
  EXPECT_EQ(config.data.layout, Layout::kMatlab);
  EXPECT_EQ(config.data.normalize, Normalize::kMinmaxPerSample);
  EXPECT_FALSE(config.data.shape.has_value());
  EXPECT_FALSE(config.data.label_base.has_value());
  EXPECT_EQ(config.data.where.line, 2);

  ASSERT_EQ(config.layers.size(), 4u);
  const LayerConfig& conv = config.layers[0];
  EXPECT_EQ(conv.name, "conv1");
  EXPECT_EQ(conv.type, "conv2d");
  EXPECT_EQ(conv.out_channels, 1);
  EXPECT_EQ(conv.kernel_h, 3);
  EXPECT_EQ(conv.kernel_w, 3);
  EXPECT_EQ(conv.stride_h, 1);
  EXPECT_EQ(conv.pad_h, 1);
  EXPECT_EQ(conv.pad_w, 1);
  EXPECT_TRUE(conv.bias);
  EXPECT_EQ(conv.init.at("weight").kind, InitSpec::Kind::kNormal);
  EXPECT_DOUBLE_EQ(conv.init.at("weight").mean, -0.0025);
  EXPECT_DOUBLE_EQ(conv.init.at("weight").std, 0.005);
  EXPECT_EQ(conv.init.at("bias").kind, InitSpec::Kind::kDefault);
  EXPECT_EQ(conv.where.line, 9);
  EXPECT_EQ(conv.where.column, 1);

  const LayerConfig& fc1 = config.layers[1];
  EXPECT_EQ(fc1.name, "fc1");
  EXPECT_EQ(fc1.out, 4);
  EXPECT_EQ(fc1.init.at("weight").kind, InitSpec::Kind::kUniform);
  EXPECT_DOUBLE_EQ(fc1.init.at("weight").low, -0.0025);
  EXPECT_DOUBLE_EQ(fc1.init.at("weight").high, 0.0025);
  EXPECT_EQ(config.layers[2].type, "sigmoid");
  EXPECT_TRUE(config.layers[2].init.empty());
  EXPECT_DOUBLE_EQ(config.layers[3].init.at("weight").high, 0.25);

  EXPECT_EQ(config.loss.type, "mse");
  EXPECT_EQ(config.loss.reduction, "mean");
  EXPECT_DOUBLE_EQ(config.loss.scale, 0.5);
  EXPECT_EQ(config.optimizer.type, "sgd");
  EXPECT_DOUBLE_EQ(config.optimizer.lr, 0.003);
  EXPECT_DOUBLE_EQ(config.optimizer.momentum, 0.0);
  EXPECT_DOUBLE_EQ(config.optimizer.weight_decay, 500.0);
  EXPECT_FALSE(config.optimizer.bias_decay);
  EXPECT_DOUBLE_EQ(config.optimizer.bias_lr_scale, 0.1);
  EXPECT_EQ(config.train.iterations, 10000);
  EXPECT_EQ(config.train.seed, 1u);
  EXPECT_EQ(config.checkpoint.dir, kConfigs / "runs" / "seed");
  EXPECT_EQ(config.checkpoint.every, 1000);

  ASSERT_TRUE(config.import.has_value());
  EXPECT_EQ(config.import->layout, Layout::kMatlab);
  EXPECT_EQ(config.import->grad_reduction, "sum");
  using Map = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(config.import->params, (Map{{"conv1.weight", "w"},
                                        {"conv1.bias", "b"},
                                        {"fc1.weight", "theta1"},
                                        {"fc1.bias", "beta1"},
                                        {"fc2.weight", "theta2"},
                                        {"fc2.bias", "beta2"}}));
  ASSERT_EQ(config.import->grads.size(), 7u);
  EXPECT_EQ(config.import->grads.front(),
            (std::pair<std::string, std::string>{"conv1.weight", "dzdw"}));
  EXPECT_EQ(config.import->grads.back(),
            (std::pair<std::string, std::string>{"conv1:output", "dzdx2"}));
}

TEST(LoadConfig, MissingKeysTakeTheirDefaults) {
  const Config config = load_config(kConfigs / "minimal.toml");
  const Config defaults;
  EXPECT_EQ(config.data.file, kConfigs / "data" / "train.h5");
  EXPECT_EQ(config.data.inputs, "X");
  EXPECT_EQ(config.data.targets, TargetsSpec{});
  EXPECT_EQ(config.data.layout, Layout::kAuto);
  EXPECT_EQ(config.data.normalize, Normalize::kNone);
  ASSERT_EQ(config.layers.size(), 1u);
  EXPECT_EQ(config.layers[0].name, "linear1");
  EXPECT_TRUE(config.layers[0].bias);
  EXPECT_EQ(config.layers[0].init.size(), 2u);
  EXPECT_EQ(config.layers[0].init.at("weight"), InitSpec{});
  EXPECT_TRUE(config.layers[0].fault.empty());
  EXPECT_EQ(settings_of(config).loss, defaults.loss);
  EXPECT_EQ(settings_of(config).optimizer, defaults.optimizer);
  EXPECT_EQ(settings_of(config).train, defaults.train);
  EXPECT_EQ(config.checkpoint.dir, kConfigs / "runs" / "minimal");
  EXPECT_EQ(config.checkpoint.every, 1000);
  EXPECT_FALSE(config.import.has_value());
  EXPECT_EQ(config.probe.thresholds.size(), probe_threshold_defaults().size());
  // Absent tables point at the file.
  EXPECT_EQ(config.loss.where.line, 0);
  EXPECT_NE(config.loss.where.file.find("minimal.toml"), std::string::npos);
}

TEST(LoadConfig, FullConfigReadsEveryFeature) {
  const Config config = load_config(kConfigs / "full.toml");
  EXPECT_EQ(config.data.file, fs::path("/abs/data/mnist.mat"));
  EXPECT_EQ(config.data.inputs, "/images/X");
  EXPECT_TRUE(config.data.targets.random);
  EXPECT_EQ(config.data.targets.distribution, "normal");
  EXPECT_EQ(config.data.targets.seed, 7u);
  EXPECT_EQ(config.data.layout, Layout::kNchw);
  EXPECT_EQ(config.data.normalize, Normalize::kStandardize);
  EXPECT_EQ(config.data.shape, (Shape{1, 28, 28}));
  EXPECT_EQ(config.data.label_base, 0);

  ASSERT_EQ(config.layers.size(), 11u);
  std::vector<std::string> names;
  for (const LayerConfig& layer : config.layers) names.push_back(layer.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv2d1", "batchnorm1", "leaky_relu1", "pool",
                                             "avgpool1", "conv2d2", "tanh1", "relu1", "hidden",
                                             "linear2", "sigmoid1"}));
  const LayerConfig& conv = config.layers[0];
  EXPECT_EQ(conv.kernel_h, 3);
  EXPECT_EQ(conv.kernel_w, 5);
  EXPECT_EQ(conv.stride_w, 2);
  EXPECT_EQ(conv.pad_w, 2);
  EXPECT_FALSE(conv.bias);
  EXPECT_EQ(conv.init.count("bias"), 0u);
  EXPECT_EQ(conv.init.at("weight").kind, InitSpec::Kind::kHe);
  EXPECT_FALSE(conv.init.at("weight").uniform_variant);

  const LayerConfig& bn = config.layers[1];
  EXPECT_DOUBLE_EQ(bn.eps, 1e-3);
  EXPECT_DOUBLE_EQ(bn.bn_momentum, 0.2);
  EXPECT_EQ(bn.init.at("weight").kind, InitSpec::Kind::kConstant);
  EXPECT_DOUBLE_EQ(bn.init.at("weight").value, 1.0);
  EXPECT_DOUBLE_EQ(bn.init.at("bias").value, 0.0);
  EXPECT_DOUBLE_EQ(config.layers[2].negative_slope, 0.2);

  const LayerConfig& maxpool = config.layers[3];
  EXPECT_EQ(maxpool.size_h, 2);
  EXPECT_EQ(maxpool.stride_h, 2);  // pooling stride defaults to the window size
  EXPECT_EQ(maxpool.stride_w, 2);
  const LayerConfig& avgpool = config.layers[4];
  EXPECT_EQ(avgpool.size_w, 1);
  EXPECT_EQ(avgpool.stride_h, 1);
  EXPECT_EQ(avgpool.pad_h, 1);

  const LayerConfig& conv2 = config.layers[5];
  EXPECT_EQ(conv2.init.at("weight").kind, InitSpec::Kind::kXavier);
  EXPECT_TRUE(conv2.init.at("weight").uniform_variant);
  EXPECT_EQ(conv2.init.at("bias").kind, InitSpec::Kind::kConstant);
  EXPECT_DOUBLE_EQ(conv2.init.at("bias").value, 0.5);
  EXPECT_EQ(conv2.fault, "kernel_not_flipped");
  EXPECT_EQ(config.layers[6].fault, "derivative_reapplied");
  EXPECT_EQ(config.layers[7].fault, "relu_mask_from_grad");
  EXPECT_TRUE(config.layers[8].init.at("weight").uniform_variant);
  EXPECT_DOUBLE_EQ(config.layers[8].init.at("bias").value, -1.0);
  EXPECT_DOUBLE_EQ(config.layers[9].init.at("weight").mean, 0.0);
  EXPECT_DOUBLE_EQ(config.layers[9].init.at("weight").std, 0.01);
  EXPECT_EQ(config.layers[10].fault, "sigmoid_derivative_on_wrong_tensor");

  EXPECT_EQ(config.loss.type, "softmax_cross_entropy");
  EXPECT_DOUBLE_EQ(config.loss.scale, 1.0);
  EXPECT_EQ(config.loss.fault, "missing_batch_mean");
  EXPECT_EQ(config.optimizer.type, "adamw");
  EXPECT_DOUBLE_EQ(config.optimizer.lr, 1e-3);
  EXPECT_TRUE(config.optimizer.bias_decay);
  EXPECT_DOUBLE_EQ(config.optimizer.bias_lr_scale, 2.0);
  EXPECT_DOUBLE_EQ(config.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(config.optimizer.beta2, 0.99);
  EXPECT_DOUBLE_EQ(config.optimizer.eps, 1e-7);
  EXPECT_EQ(config.train.iterations, 0);
  EXPECT_EQ(config.train.seed, 42u);
  EXPECT_EQ(config.train.dtype, "float64");
  EXPECT_EQ(config.train.batch_size, 16);
  EXPECT_EQ(config.train.threads, 2);
  EXPECT_EQ(config.train.log_every, 10);
  EXPECT_EQ(config.checkpoint.dir, kConfigs.parent_path() / "out" / "run 1");
  EXPECT_EQ(config.checkpoint.every, 5);

  EXPECT_DOUBLE_EQ(config.threshold("collapse_identical_rho"), 1e-5);
  EXPECT_DOUBLE_EQ(config.threshold("gradcheck_samples"), 128);
  EXPECT_DOUBLE_EQ(config.threshold("targets_r2"), -0.5);
  EXPECT_DOUBLE_EQ(config.threshold("collapse_low_rho"), 1e-2);  // not overridden

  ASSERT_TRUE(config.import.has_value());
  EXPECT_EQ(config.import->layout, Layout::kAuto);
  EXPECT_EQ(config.import->grad_reduction, "mean");
  // Dotted and quoted keys mix; the order is the file's, not toml++'s sorted one.
  using Map = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(config.import->params,
            (Map{{"hidden.weight", "W1"}, {"conv2d1.weight", "K"}, {"hidden.bias", "b1"}}));
  EXPECT_EQ(config.import->grads, (Map{{"linear2.weight", "dW2"}, {"pool:output", "dpool"}}));
}

TEST(ParseConfig, DefaultNamesCountLayersOfEachTypeFromOne) {
  const Config config = parse(with_data(R"(
[[layer]]
type = "conv2d"
out_channels = 1
kernel = 3
[[layer]]
type = "relu"
[[layer]]
name = "hidden"
type = "linear"
out = 3
[[layer]]
type = "linear"
out = 2
)"));
  ASSERT_EQ(config.layers.size(), 4u);
  EXPECT_EQ(config.layers[0].name, "conv2d1");
  EXPECT_EQ(config.layers[1].name, "relu1");
  EXPECT_EQ(config.layers[2].name, "hidden");
  EXPECT_EQ(config.layers[3].name, "linear2");  // the named linear layer counts too
}

TEST(ParseConfig, FloatKeysAcceptIntegers) {
  const Config config = parse(with_layer("type = \"relu\"", "[optimizer]\nlr = 1\n"));
  EXPECT_DOUBLE_EQ(config.optimizer.lr, 1.0);
}

TEST(ParseConfig, EveryCatalogueFaultIsAcceptedWhereItApplies) {
  // {fault, the layer it goes on}
  const std::vector<std::pair<std::string, std::string>> faults = {
      {"derivative_omitted", "type = \"relu\""},
      {"derivative_omitted", "type = \"leaky_relu\""},
      {"derivative_on_input", "type = \"tanh\""},
      {"derivative_reapplied", "type = \"sigmoid\""},
      {"relu_mask_from_grad", "type = \"relu\""},
      {"maxpool_route_first", "type = \"maxpool\"\nsize = 2"},
      {"kernel_not_flipped", "type = \"conv2d\"\nout_channels = 1\nkernel = 1"},
      {"bias_grad_first_sample", "type = \"linear\"\nout = 1"},
  };
  for (const auto& [fault, layer] : faults) {
    const Config config = parse(with_layer(layer + "\nfault = \"" + fault + "\""));
    EXPECT_EQ(config.layers[0].fault, fault);
  }
}

// -------------------------------------------------------------------------------------------------
// Paths
// -------------------------------------------------------------------------------------------------

TEST(ParseConfig, RelativePathsResolveAgainstTheConfigFolder) {
  const fs::path path = "/projects/exp/nets/net.toml";
  const Config config = parse_config(
      "[data]\nfile = \"../data/./x.h5\"\n[[layer]]\ntype = \"relu\"\n[checkpoint]\ndir = "
      "\"out\"\n",
      path);
  EXPECT_EQ(config.path, path);
  EXPECT_EQ(config.data.file, fs::path("/projects/exp/data/x.h5"));
  EXPECT_EQ(config.checkpoint.dir, fs::path("/projects/exp/nets/out"));
}

TEST(ParseConfig, AbsolutePathsStayAndTheDefaultCheckpointDirIsBesideTheConfig) {
  const Config config = parse_config("[data]\nfile = \"/data//x.h5\"\n[[layer]]\ntype = \"relu\"\n",
                                     "/projects/exp/seed.toml");
  EXPECT_EQ(config.data.file, fs::path("/data/x.h5"));
  EXPECT_EQ(config.checkpoint.dir, fs::path("/projects/exp/runs/seed"));
}

TEST(ParseConfig, ARelativeConfigPathBecomesAbsoluteButMessagesKeepItAsGiven) {
  const Config config = parse_config(with_layer("type = \"relu\""), "sub/net.toml");
  EXPECT_EQ(config.path, (fs::current_path() / "sub" / "net.toml").lexically_normal());
  EXPECT_EQ(config.data.file, (fs::current_path() / "sub" / "d.h5").lexically_normal());
  EXPECT_EQ(config.data.where.file, "sub/net.toml");
  EXPECT_EQ(config_error([] { parse_config("[data]\nfile = 3\n", "sub/net.toml"); }),
            "sub/net.toml:2:8: data.file: expected a string, got integer 3");
}

// -------------------------------------------------------------------------------------------------
// The bad configs under tests/data/configs/bad (also run end to end by tests/e2e)
// -------------------------------------------------------------------------------------------------

struct BadConfig {
  const char* file;
  /// The message after the file's path.
  const char* message;
};

const BadConfig kBadConfigs[] = {
    {"bad_fault.toml",
     ":27:9: layer 'sig1' (sigmoid): fault: unknown fault \"derivative_omited\" (did you mean "
     "'derivative_omitted'?)"},
    {"bad_import.toml",
     ":44:1: import.params.\"fc3.weight\": no layer named 'fc3' (did you mean 'fc1'?)"},
    {"bad_init.toml",
     ":23:17: layer 'fc1' (linear): init.weight: unknown initialiser 'normall' (did you mean "
     "'normal'?)"},
    {"duplicate_name.toml",
     ":29:8: layer name 'fc1' is used twice, at line 20 and line 29: layer names must be unique"},
    {"fault_wrong_layer.toml",
     ":23:9: layer 'fc1' (linear): fault: \"kernel_not_flipped\" does not apply to linear layers "
     "(only to conv2d)"},
    {"key_of_other_type.toml",
     ":18:1: layer 'pool1' (maxpool): key 'out_channels' is not used by maxpool layers (only by "
     "conv2d)"},
    {"malformed.toml",
     ":38:7: invalid TOML: Error while parsing table header: expected ']', saw '\\n'"},
    {"missing_data_file_key.toml",
     ":2:1: data: missing required key 'file' (the .h5/.hdf5 or .mat file holding the inputs and "
     "targets)"},
    {"missing_data_table.toml",
     ": missing required table [data] (the file holding the inputs and targets)"},
    {"missing_required_key.toml",
     ":7:1: layer 'conv1' (conv2d): missing required key 'out_channels' (the number of output "
     "channels)"},
    {"momentum_out_of_range.toml",
     ":39:12: optimizer.momentum: expected a number in [0, 1), got 1.0"},
    {"negative_lr.toml", ":38:6: optimizer.lr: expected a number > 0, got -0.1"},
    {"no_layers.toml", ": no layers: add at least one [[layer]] table"},
    {"unknown_key.toml", ":39:1: optimizer: unknown key 'momentom' (did you mean 'momentum'?)"},
    {"unknown_layer_type.toml",
     ":26:8: layer 'sig1': unknown layer type 'sigmod' (did you mean 'sigmoid'?)"},
    {"unknown_table.toml", ":36:2: unknown table 'optimiser' (did you mean 'optimizer'?)"},
    {"wrong_tensor_fault_after_pool.toml",
     ":22:9: layer 'sig1' (sigmoid): fault: \"sigmoid_derivative_on_wrong_tensor\" needs a linear "
     "layer right before the sigmoid (the bug sits in that layer's backward), but the previous "
     "layer 'pool1' is maxpool"},
    {"wrong_type.toml",
     ":11:10: layer 'conv1' (conv2d): kernel: expected a positive integer or [height, width], got "
     "float 3.0"},
};

class BadConfigFile : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigFile, NamesFileLineKeyExpectedAndFound) {
  const fs::path path = kConfigs / "bad" / GetParam().file;
  EXPECT_EQ(config_error([&] { load_config(path); }), path.string() + GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(Files, BadConfigFile, ::testing::ValuesIn(kBadConfigs),
                         [](const ::testing::TestParamInfo<BadConfig>& test) {
                           return fs::path(test.param.file).stem().string();
                         });

std::set<std::string> bad_config_files() {
  std::set<std::string> files;
  for (const auto& entry : fs::directory_iterator(kConfigs / "bad")) {
    files.insert(entry.path().filename().string());
  }
  return files;
}

TEST(BadConfigFiles, EachHasAnExpectedMessage) {
  std::set<std::string> listed;
  for (const BadConfig& bad : kBadConfigs) listed.insert(bad.file);
  EXPECT_EQ(bad_config_files(), listed);
}

/// tests/e2e/config_errors.cmake runs `cnndiag inspect` on every bad config; its MATCH regexes
/// must fit the messages checked above, or the end-to-end cases fail for the wrong reason.
TEST(BadConfigFiles, EndToEndCasesCoverEachFileAndMatchItsMessage) {
  std::ifstream in(fs::path(CNNDIAG_SOURCE_DIR) / "tests" / "e2e" / "config_errors.cmake");
  ASSERT_TRUE(in) << "tests/e2e/config_errors.cmake is missing";
  std::stringstream text;
  text << in.rdbuf();
  const std::string cmake = text.str();
  const std::regex test_case(R"re(bad/([a-z_]+\.toml)\s+EXIT 2\s+MATCH "([^"]*)")re");
  std::set<std::string> covered;
  for (auto it = std::sregex_iterator(cmake.begin(), cmake.end(), test_case);
       it != std::sregex_iterator(); ++it) {
    const std::string file = (*it)[1];
    const std::regex match((*it)[2].str());
    covered.insert(file);
    const std::string message = config_error([&] { load_config(kConfigs / "bad" / file); });
    EXPECT_TRUE(std::regex_search(message, match)) << file << ": " << message;
  }
  EXPECT_EQ(covered, bad_config_files());
}

// -------------------------------------------------------------------------------------------------
// Error messages, class by class
// -------------------------------------------------------------------------------------------------

TEST(ConfigErrors, MalformedTomlGivesToml_s_DescriptionAndPosition) {
  EXPECT_EQ(error_in("[data]\nfile = \n"),
            "net.toml:2:8: invalid TOML: Error while parsing key-value pair: expected value, saw "
            "'\\n'");
  EXPECT_EQ(error_in("a = 1\na = 2\n"),
            "net.toml:2:5: invalid TOML: Error while parsing key-value pair: cannot redefine "
            "existing integer 'a'");
}

TEST(ConfigErrors, UnknownTopLevelKeysAndTables) {
  // A key after a [[layer]] header belongs to that layer, so top-level keys come first.
  EXPECT_EQ(error_in("lr = 0.1\n" + with_layer("type = \"relu\"")),
            "net.toml:1:1: unknown key 'lr'");
  EXPECT_EQ(error_in(with_layer("type = \"relu\"", "[[layers]]\n")),
            "net.toml:5:3: unknown table 'layers' (did you mean 'layer'?)");
  EXPECT_EQ(error_in(with_layer("type = \"relu\"", "[trian]\n")),
            "net.toml:5:2: unknown table 'trian' (did you mean 'train'?)");
}

TEST(ConfigErrors, TablesOfTheWrongShape) {
  EXPECT_EQ(error_in("data = \"x.h5\"\n"),
            "net.toml:1:8: data: expected a table [data], got string \"x.h5\"");
  EXPECT_EQ(error_in(with_data("[layer]\ntype = \"relu\"\n")),
            "net.toml:3:1: layer: expected an array of tables (write [[layer]], with double "
            "brackets, for each layer), got table");
  EXPECT_EQ(error_in("layer = []\n" + with_data("")),
            "net.toml:1:9: no layers: add at least one [[layer]] table");
  EXPECT_EQ(error_in("layer = [1]\n" + with_data("")),
            "net.toml:1:10: layer[0]: expected a table, got integer 1");
}

TEST(ConfigErrors, WrongTypesShowTheTomlTypeAndValue) {
  const std::string layer = "type = \"relu\"";
  EXPECT_EQ(error_in(with_layer(layer, "[optimizer]\nlr = \"0.1\"\n")),
            "net.toml:6:6: optimizer.lr: expected a number, got string \"0.1\"");
  EXPECT_EQ(error_in(with_layer(layer, "[train]\niterations = 3.5\n")),
            "net.toml:6:14: train.iterations: expected an integer, got float 3.5");
  EXPECT_EQ(error_in(with_layer(layer, "[optimizer]\nbias_decay = 1\n")),
            "net.toml:6:14: optimizer.bias_decay: expected true or false, got integer 1");
  EXPECT_EQ(error_in(with_layer(layer, "[optimizer]\nlr = nan\n")),
            "net.toml:6:6: optimizer.lr: expected a finite number, got nan");
  EXPECT_EQ(error_in(with_layer(layer, "[train]\nseed = [1, 2]\n")),
            "net.toml:6:8: train.seed: expected an integer, got array [1, 2]");
  EXPECT_EQ(error_in(with_layer(layer, "[train]\nseed = 1979-05-27\n")),
            "net.toml:6:8: train.seed: expected an integer, got date 1979-05-27");
}

TEST(ConfigErrors, ValuesOutOfRange) {
  const std::string layer = "type = \"relu\"";
  const auto error_with = [&](const std::string& rest) {
    return error_in(with_layer(layer, rest));
  };
  EXPECT_EQ(error_with("[optimizer]\nlr = 0\n"),
            "net.toml:6:6: optimizer.lr: expected a number > 0, got 0");
  EXPECT_EQ(error_with("[optimizer]\nweight_decay = -1e-4\n"),
            "net.toml:6:16: optimizer.weight_decay: expected a number >= 0, got -1e-04");
  EXPECT_EQ(error_with("[optimizer]\ntype = \"adam\"\nbeta2 = 1\n"),
            "net.toml:7:9: optimizer.beta2: expected a number in [0, 1), got 1");
  EXPECT_EQ(error_with("[optimizer]\ntype = \"adam\"\neps = 0.0\n"),
            "net.toml:7:7: optimizer.eps: expected a number > 0, got 0.0");
  EXPECT_EQ(error_with("[loss]\nscale = -2\n"),
            "net.toml:6:9: loss.scale: expected a number > 0, got -2");
  EXPECT_EQ(error_with("[train]\niterations = -1\n"),
            "net.toml:6:14: train.iterations: expected an integer >= 0, got -1");
  EXPECT_EQ(error_with("[train]\nseed = -3\n"),
            "net.toml:6:8: train.seed: expected an integer >= 0, got -3");
  EXPECT_EQ(error_with("[checkpoint]\nevery = 0\n"),
            "net.toml:6:9: checkpoint.every: expected an integer >= 1, got 0");
  EXPECT_EQ(error_with("[train]\ndtype = \"float16\"\n"),
            "net.toml:6:9: train.dtype: expected \"float32\" or \"float64\", got \"float16\" (did "
            "you mean 'float32'?)");
  EXPECT_EQ(error_with("[loss]\ntype = \"cross_entropy\"\n"),
            "net.toml:6:8: loss.type: expected \"mse\" or \"softmax_cross_entropy\", got "
            "\"cross_entropy\"");
  EXPECT_EQ(error_with("[loss]\nreduction = \"avg\"\n"),
            "net.toml:6:13: loss.reduction: expected \"mean\" or \"sum\", got \"avg\"");
  EXPECT_EQ(error_with("[optimizer]\ntype = \"sdg\"\n"),
            "net.toml:6:8: optimizer.type: expected \"sgd\", \"adam\" or \"adamw\", got \"sdg\" "
            "(did you mean 'sgd'?)");
}

TEST(ConfigErrors, OptimizerKeysTheChosenOptimizerIgnores) {
  const std::string layer = "type = \"relu\"";
  EXPECT_EQ(error_in(with_layer(layer, "[optimizer]\ntype = \"adam\"\nmomentum = 0.9\n")),
            "net.toml:7:12: optimizer.momentum: used by sgd only, not by adam (its moment decay "
            "rates are beta1 and beta2)");
  EXPECT_EQ(error_in(with_layer(layer, "[optimizer]\nbeta1 = 0.9\n")),
            "net.toml:6:9: optimizer.beta1: used by adam and adamw only, not by sgd");
  EXPECT_EQ(error_in(with_layer(layer, "[optimizer]\nnesterov = true\n")),
            "net.toml:6:12: optimizer.nesterov: nesterov = true needs momentum > 0");
}

TEST(ConfigErrors, DataTable) {
  EXPECT_EQ(error_in("[data]\nfile = \"\"\n"),
            "net.toml:2:8: data.file: expected a non-empty string, got \"\"");
  EXPECT_EQ(error_in("[data]\nfile = \"d.h5\"\nlayout = \"NCHW\"\n"),
            "net.toml:3:10: data.layout: expected \"auto\", \"nchw\" or \"matlab\", got \"NCHW\" "
            "(did you mean 'nchw'?)");
  EXPECT_EQ(error_in("[data]\nfile = \"d.h5\"\nnormalize = \"minmax\"\n"),
            "net.toml:3:13: data.normalize: expected \"none\", \"minmax-per-sample\" or "
            "\"standardize\", got \"minmax\"");
  EXPECT_EQ(
      error_in("[data]\nfile = \"d.h5\"\ntargets = { random = \"gauss\" }\n"),
      "net.toml:3:22: data.targets.random: expected \"uniform\" or \"normal\", got \"gauss\"");
  EXPECT_EQ(error_in("[data]\nfile = \"d.h5\"\ntargets = { seed = 7 }\n"),
            "net.toml:3:11: data.targets: missing required key 'random' (the distribution of "
            "synthetic targets: \"uniform\" or \"normal\")");
  EXPECT_EQ(error_in("[data]\nfile = \"d.h5\"\ntargets = 4\n"),
            "net.toml:3:11: data.targets: expected a dataset name or a table like { random = "
            "\"uniform\", seed = 7 }, got integer 4");
  EXPECT_EQ(error_in("[data]\nfile = \"d.h5\"\nshape = [20, 20]\n"),
            "net.toml:3:9: data.shape: expected [C, H, W] or [D], got array [20, 20]");
  EXPECT_EQ(error_in("[data]\nfile = \"d.h5\"\nshape = [1, 0, 20]\n"),
            "net.toml:3:13: data.shape[1]: expected a positive integer, got 0");
  EXPECT_EQ(error_in("[data]\nfile = \"d.h5\"\nlabel_base = -1\n"),
            "net.toml:3:14: data.label_base: expected an integer >= 0, got -1");
  EXPECT_EQ(error_in("[data]\nfile = \"d.h5\"\ninput = \"X\"\n"),
            "net.toml:3:1: data: unknown key 'input' (did you mean 'inputs'?)");
}

TEST(ConfigErrors, LayerTypeAndName) {
  EXPECT_EQ(error_in(with_layer("name = \"c\"")),
            "net.toml:3:1: layer 'c': missing required key 'type' (one of conv2d, maxpool, "
            "avgpool, relu, leaky_relu, sigmoid, tanh, linear, batchnorm)");
  EXPECT_EQ(error_in(with_layer("type = \"conv\"")),
            "net.toml:4:8: layer #1: unknown layer type 'conv' (did you mean 'conv2d'?)");
  EXPECT_EQ(error_in(with_layer("type = \"softmax\"")),
            "net.toml:4:8: layer #1: unknown layer type 'softmax'");
  EXPECT_EQ(error_in(with_layer("name = \"fc.1\"\ntype = \"relu\"")),
            "net.toml:4:8: layer #1: name: expected a name of letters, digits, '_' and '-', got "
            "\"fc.1\"");
}

TEST(ConfigErrors, LayerKeys) {
  EXPECT_EQ(error_in(with_layer("type = \"conv2d\"\nout_channels = 1\nkernal = 3")),
            "net.toml:6:1: layer #1 (conv2d): unknown key 'kernal' (did you mean 'kernel'?)");
  EXPECT_EQ(error_in(with_layer("type = \"relu\"\ninit.weight = \"he\"")),
            "net.toml:5:1: layer #1 (relu): key 'init' is not used by relu layers (only by "
            "conv2d, linear, batchnorm)");
  EXPECT_EQ(error_in(with_layer("type = \"linear\"\nout = 2\nkernel = 3")),
            "net.toml:6:1: layer #1 (linear): key 'kernel' is not used by linear layers (only by "
            "conv2d)");
  EXPECT_EQ(error_in(with_layer("type = \"conv2d\"\nout_channels = 1\nkernel = 3\nmomentum = 0.1")),
            "net.toml:7:1: layer #1 (conv2d): key 'momentum' is not used by conv2d layers (only by "
            "batchnorm)");
  EXPECT_EQ(error_in(with_layer("type = \"linear\"")),
            "net.toml:3:1: layer #1 (linear): missing required key 'out' (the number of output "
            "units)");
  EXPECT_EQ(error_in(with_layer("type = \"maxpool\"")),
            "net.toml:3:1: layer #1 (maxpool): missing required key 'size' (the window size: size "
            "= 2 or [2, 3])");
}

TEST(ConfigErrors, LayerSizes) {
  EXPECT_EQ(error_in(with_layer("type = \"conv2d\"\nout_channels = 0\nkernel = 3")),
            "net.toml:5:16: layer #1 (conv2d): out_channels: expected a positive integer, got 0");
  EXPECT_EQ(error_in(with_layer("type = \"conv2d\"\nout_channels = 1\nkernel = [3, 0]")),
            "net.toml:6:14: layer #1 (conv2d): kernel[1]: expected a positive integer, got 0");
  EXPECT_EQ(error_in(with_layer("type = \"conv2d\"\nout_channels = 1\nkernel = [3]")),
            "net.toml:6:10: layer #1 (conv2d): kernel: expected a positive integer or [height, "
            "width], got array [3]");
  EXPECT_EQ(error_in(with_layer("type = \"conv2d\"\nout_channels = 1\nkernel = 3\npad = -1")),
            "net.toml:7:7: layer #1 (conv2d): pad: expected an integer >= 0, got -1");
  EXPECT_EQ(error_in(with_layer("type = \"maxpool\"\nsize = 2\npad = 2")),
            "net.toml:6:7: layer #1 (maxpool): pad: expected a padding smaller than the window "
            "size, got 2");
  EXPECT_EQ(error_in(with_layer("type = \"batchnorm\"\nmomentum = 1.5")),
            "net.toml:5:12: layer #1 (batchnorm): momentum: expected a number in [0, 1], got 1.5");
  EXPECT_EQ(error_in(with_layer("type = \"batchnorm\"\neps = 0")),
            "net.toml:5:7: layer #1 (batchnorm): eps: expected a number > 0, got 0");
}

TEST(ConfigErrors, DuplicateNamesGiveBothLines) {
  EXPECT_EQ(error_in(with_data(R"([[layer]]
type = "relu"
[[layer]]
name = "relu1"
type = "relu"
)")),
            "net.toml:6:8: layer name 'relu1' is used twice, at line 3 (the default name of an "
            "unnamed relu layer) and line 6: layer names must be unique");
}

TEST(ConfigErrors, InitSpecs) {
  const std::string linear = "type = \"linear\"\nout = 2\n";
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = \"xaiver\"")),
            "net.toml:6:15: layer #1 (linear): init.weight: expected an initialiser: \"he\", "
            "\"xavier\", \"default\", \"zeros\", \"ones\" or a table like { normal = { mean = 0, "
            "std = 0.01 } }, got \"xaiver\" (did you mean 'xavier'?)");
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = \"normal\"")),
            "net.toml:6:15: layer #1 (linear): init.weight: \"normal\" needs its numbers: write it "
            "as a table, like { normal = { mean = 0, std = 0.01 } }");
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = 0.1")),
            "net.toml:6:15: layer #1 (linear): init.weight: expected an initialiser: \"he\", "
            "\"xavier\", \"default\", \"zeros\", \"ones\" or a table like { normal = { mean = 0, "
            "std = 0.01 } }, got float 0.1");
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = { he = {}, xavier = {} }")),
            "net.toml:6:15: layer #1 (linear): init.weight: expected one initialiser (normal, "
            "uniform, constant, he or xavier), got table { he = {}, xavier = {} }");
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = { normal = { mean = 0, sd = 1 } }")),
            "net.toml:6:38: layer #1 (linear): init.weight.normal: unknown key 'sd' (did you mean "
            "'std'?)");
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = { normal = { std = -1 } }")),
            "net.toml:6:34: layer #1 (linear): init.weight.normal.std: expected a number >= 0, "
            "got -1");
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = { uniform = { low = 1, high = 0 } }")),
            "net.toml:6:45: layer #1 (linear): init.weight.uniform.high: expected a number >= low "
            "(1.0), got 0");
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = { normal = 0.1 }")),
            "net.toml:6:26: layer #1 (linear): init.weight.normal: expected a table like { mean = "
            "0, std = 0.01 }, got float 0.1");
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = { constant = { val = 1 } }")),
            "net.toml:6:30: layer #1 (linear): init.weight.constant: unknown key 'val' (did you "
            "mean 'value'?)");
  EXPECT_EQ(error_in(with_layer(linear + "init.weight = { he = { distribution = \"gaussian\" } }")),
            "net.toml:6:39: layer #1 (linear): init.weight.he.distribution: expected \"normal\" or "
            "\"uniform\", got \"gaussian\"");
  EXPECT_EQ(error_in(with_layer(linear + "init = \"he\"")),
            "net.toml:6:8: layer #1 (linear): init: expected a table of initialisers by parameter, "
            "like init.weight = \"he\", got string \"he\"");
}

TEST(ConfigErrors, InitParametersMustExist) {
  EXPECT_EQ(error_in(with_layer("type = \"batchnorm\"\ninit.gamma = \"ones\"")),
            "net.toml:5:6: layer #1 (batchnorm): init.gamma: batchnorm layers have no parameter "
            "'gamma'; they have weight and bias");
  EXPECT_EQ(error_in(with_layer("type = \"linear\"\nout = 2\ninit.wieght = \"he\"")),
            "net.toml:6:6: layer #1 (linear): init.wieght: linear layers have no parameter "
            "'wieght' (did you mean 'weight'?); they have weight and bias");
  EXPECT_EQ(error_in(with_layer("type = \"linear\"\nout = 2\nbias = false\ninit.bias = \"zeros\"")),
            "net.toml:7:6: layer #1 (linear): init.bias: the layer has no bias (bias = false)");
}

TEST(ConfigErrors, InitStringsAndConstantForms) {
  const Config config = parse(with_data(R"(
[[layer]]
type = "linear"
out = 2
init.weight = "zeros"
init.bias = "ones"
[[layer]]
type = "linear"
out = 2
init.weight = "xavier"
init.bias = { constant = { value = 0.25 } }
)"));
  const InitSpec zeros = config.layers[0].init.at("weight");
  EXPECT_EQ(zeros.kind, InitSpec::Kind::kConstant);
  EXPECT_DOUBLE_EQ(zeros.value, 0.0);
  EXPECT_DOUBLE_EQ(config.layers[0].init.at("bias").value, 1.0);
  EXPECT_EQ(config.layers[1].init.at("weight").kind, InitSpec::Kind::kXavier);
  EXPECT_FALSE(config.layers[1].init.at("weight").uniform_variant);
  EXPECT_DOUBLE_EQ(config.layers[1].init.at("bias").value, 0.25);
}

TEST(ConfigErrors, Faults) {
  EXPECT_EQ(error_in(with_layer("type = \"sigmoid\"\nfault = \"missing_batch_mean\"")),
            "net.toml:5:9: layer #1 (sigmoid): fault: \"missing_batch_mean\" is a fault of the "
            "loss: set it in [loss] instead");
  EXPECT_EQ(
      error_in(with_layer("type = \"sigmoid\"\nfault = \"sigmoid_derivative_on_wrong_tensor\"")),
      "net.toml:5:9: layer #1 (sigmoid): fault: \"sigmoid_derivative_on_wrong_tensor\" needs "
      "a linear layer right before the sigmoid (the bug sits in that layer's backward), but "
      "the sigmoid is the first layer");
  EXPECT_EQ(error_in(with_layer("type = \"linear\"\nout = 1\nbias = false\n"
                                "fault = \"bias_grad_first_sample\"")),
            "net.toml:7:9: layer #1 (linear): fault: \"bias_grad_first_sample\" needs a bias, but "
            "the layer has bias = false");
  EXPECT_EQ(error_in(with_layer("type = \"relu\"\nfault = \"derivative_on_input\"")),
            "net.toml:5:9: layer #1 (relu): fault: \"derivative_on_input\" does not apply to relu "
            "layers (only to sigmoid, tanh)");
}

TEST(ConfigErrors, LossFaults) {
  const std::string layer = "type = \"relu\"";
  EXPECT_EQ(error_in(with_layer(layer, "[loss]\nfault = \"missing_mean\"\n")),
            "net.toml:6:9: loss.fault: unknown fault \"missing_mean\" (the loss takes only "
            "\"missing_batch_mean\")");
  EXPECT_EQ(error_in(with_layer(layer, "[loss]\nfault = \"derivative_omitted\"\n")),
            "net.toml:6:9: loss.fault: \"derivative_omitted\" is a fault of sigmoid, tanh, relu, "
            "leaky_relu layers: set it on a [[layer]]; the loss takes only \"missing_batch_mean\"");
  EXPECT_EQ(
      error_in(with_layer(layer, "[loss]\nreduction = \"sum\"\nfault = \"missing_batch_mean\"\n")),
      "net.toml:7:9: loss.fault: \"missing_batch_mean\" needs reduction = \"mean\" (with "
      "\"sum\" there is no batch mean to miss)");
}

TEST(ConfigErrors, ProbeThresholds) {
  const std::string layer = "type = \"relu\"";
  EXPECT_EQ(error_in(with_layer(layer, "[probe]\ncollapse_identical = 1e-3\n")),
            "net.toml:6:1: probe: unknown key 'collapse_identical' (did you mean "
            "'collapse_identical_rho'?)");
  EXPECT_EQ(error_in(with_layer(layer, "[probe]\ndead_fraction = 1.5\n")),
            "net.toml:6:17: probe.dead_fraction: expected a number in [0, 1], got 1.5");
  EXPECT_EQ(error_in(with_layer(layer, "[probe]\ngradcheck_samples = 2.5\n")),
            "net.toml:6:21: probe.gradcheck_samples: expected a whole number >= 1, got 2.5");
  EXPECT_EQ(error_in(with_layer(layer, "[probe]\nexploding_ratio = 0\n")),
            "net.toml:6:19: probe.exploding_ratio: expected a number > 0, got 0");
  EXPECT_EQ(error_in(with_layer(layer, "[probe]\ncollapse_identical_rho = 0.5\n")),
            "net.toml:6:26: probe.collapse_identical_rho: collapse_identical_rho (0.5) must not "
            "exceed collapse_low_rho (0.01)");
}

TEST(ConfigErrors, ImportTables) {
  const std::string layers = R"([[layer]]
name = "conv1"
type = "conv2d"
out_channels = 1
kernel = 3
bias = false
[[layer]]
name = "act"
type = "relu"
[import]
)";
  const auto error_with = [&](const std::string& rest) {
    return error_in(with_data(layers + rest));
  };
  EXPECT_EQ(error_with("[import.params]\n\"conv1:output\" = \"dx\"\n"),
            "net.toml:14:1: import.params.\"conv1:output\": a layer output gradient belongs in "
            "[import.grads], not here");
  EXPECT_EQ(error_with("[import.grads]\n\"conv1:input\" = \"dx\"\n"),
            "net.toml:14:1: import.grads.\"conv1:input\": expected \"conv1:output\"");
  EXPECT_EQ(error_with("[import.params]\n\"conv1.wieght\" = \"w\"\n"),
            "net.toml:14:1: import.params.\"conv1.wieght\": layer 'conv1' (conv2d) has no "
            "parameter 'wieght' (did you mean 'weight'?)");
  EXPECT_EQ(error_with("[import.params]\n\"conv1.bias\" = \"b\"\n"),
            "net.toml:14:1: import.params.\"conv1.bias\": layer 'conv1' (conv2d) has no bias (bias "
            "= false)");
  EXPECT_EQ(error_with("[import.params]\n\"act.weight\" = \"w\"\n"),
            "net.toml:14:1: import.params.\"act.weight\": layer 'act' (relu) has no parameters");
  EXPECT_EQ(error_with("[import.params]\nw = \"w\"\n"),
            "net.toml:14:1: import.params.\"w\": expected a model tensor \"<layer>.<param>\" like "
            "\"conv1.weight\"");
  EXPECT_EQ(error_with("[import.params]\n\"conv1.weight\" = \"w\"\nconv1.weight = \"w2\"\n"),
            "net.toml:15:7: import.params.\"conv1.weight\": given twice");
  EXPECT_EQ(error_with("[import.params]\n\"conv1.weight\" = 3\n"),
            "net.toml:14:18: import.params.\"conv1.weight\": expected a variable name in the file, "
            "got integer 3");
  EXPECT_EQ(error_with("params = 1\n"),
            "net.toml:13:10: import.params: expected a table like [import.params] \"conv1.weight\" "
            "= \"w\", got integer 1");
  EXPECT_EQ(error_with("grad_reduction = \"avg\"\n"),
            "net.toml:13:18: import.grad_reduction: expected \"sum\" or \"mean\", got \"avg\"");
  EXPECT_EQ(error_with("param = {}\n"),
            "net.toml:13:1: import: unknown key 'param' (did you mean 'params'?)");
}

// -------------------------------------------------------------------------------------------------
// Probe thresholds
// -------------------------------------------------------------------------------------------------

TEST(ProbeThresholds, DefaultsFollowTheDesign) {
  const std::map<std::string, double> expected = {
      {"collapse_identical_rho", 1e-4}, {"collapse_low_rho", 1e-2},
      {"collapse_drop_factor", 100},    {"decay_lr_lambda_error", 1},
      {"decay_dominance_error", 100},   {"decay_dominance_warning", 2},
      {"vanishing_ratio", 1e-3},        {"vanishing_first_mean", 1e-4},
      {"vanishing_mean", 1e-7},         {"exploding_ratio", 70},
      {"exploding_mean", 1e6},          {"update_ratio_low", 1e-5},
      {"update_ratio_high", 1e-1},      {"dead_fraction", 0.5},
      {"saturated_fraction", 0.5},      {"sigmoid_saturation_z", 6.9},
      {"tanh_saturation_z", 3.8},       {"linear_regime_z", 0.05},
      {"init_std_ratio", 10},           {"targets_r2", 0},
      {"gradcheck_atol", 1e-8},         {"gradcheck_rtol", 1e-5},
      {"gradcheck_samples", 64},        {"gradcheck_exhaustive_max", 4096},
  };
  std::map<std::string, double> actual;
  for (const ProbeThresholdInfo& info : probe_threshold_defaults()) {
    EXPECT_FALSE(info.doc.empty()) << info.key;
    actual[std::string(info.key)] = info.default_value;
  }
  EXPECT_EQ(actual, expected);
}

TEST(ProbeThresholds, OverrideOrDefaultAndUnknownKeysAreBugs) {
  Config config = parse(with_layer("type = \"relu\"", "[probe]\ndead_fraction = 0.9\n"));
  EXPECT_DOUBLE_EQ(config.threshold("dead_fraction"), 0.9);
  EXPECT_DOUBLE_EQ(config.threshold("exploding_ratio"), 70);
  EXPECT_THROW(config.threshold("no_such_threshold"), InternalError);
  config.probe.thresholds.clear();  // a Config built in code: defaults still answer
  EXPECT_DOUBLE_EQ(config.threshold("dead_fraction"), 0.5);
}

// -------------------------------------------------------------------------------------------------
// to_toml
// -------------------------------------------------------------------------------------------------

class RoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(RoundTrip, ParsingTheResolvedTextGivesTheSameConfig) {
  const Config original = load_config(kConfigs / GetParam());
  const std::string text = to_toml(original);
  const Config back = parse_config(text, original.path);
  EXPECT_EQ(settings_of(back), settings_of(original)) << text;
  EXPECT_EQ(to_toml(back), text);  // a fixed point
}

INSTANTIATE_TEST_SUITE_P(Configs, RoundTrip,
                         ::testing::Values("seed.toml", "minimal.toml", "full.toml"),
                         [](const ::testing::TestParamInfo<const char*>& test) {
                           return fs::path(test.param).stem().string();
                         });

TEST(ToToml, WritesEveryKeyWithAbsolutePaths) {
  const Config config = load_config(kConfigs / "minimal.toml");
  const std::string text = to_toml(config);
  for (const std::string& line :
       {"file = " + std::string("\"") + (kConfigs / "data" / "train.h5").string() + "\"",
        std::string("name = \"linear1\""), std::string("bias = true"),
        std::string("init.weight = \"default\""), std::string("[loss]"),
        std::string("type = \"sgd\""), std::string("lr = 0.01"), std::string("momentum = 0.0"),
        std::string("iterations = 1000"), std::string("dtype = \"float32\""),
        "dir = \"" + (kConfigs / "runs" / "minimal").string() + "\"",
        std::string("collapse_identical_rho = 1e-04"), std::string("gradcheck_samples = 64")}) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << "\n" << text;
  }
  EXPECT_EQ(text.find("[import]"), std::string::npos);
}

TEST(ToToml, EscapesStringsAndKeepsDoublesExact) {
  Config config = parse_config(with_layer("type = \"relu\""), "/tmp/net.toml");
  config.data.inputs = "a \"quoted\"\\name\twith\x01 control";
  config.optimizer.lr = 0.1 + 0.2;  // 0.30000000000000004
  config.optimizer.weight_decay = 1e-300;
  config.import = ImportConfig{};
  config.import->grads = {{"relu1:output", "dx \"1\""}};
  const Config back = parse_config(to_toml(config), config.path);
  EXPECT_EQ(back.data.inputs, config.data.inputs);
  EXPECT_EQ(back.optimizer.lr, config.optimizer.lr);
  EXPECT_EQ(back.optimizer.weight_decay, 1e-300);
  EXPECT_EQ(back.import->grads, config.import->grads);
}

// -------------------------------------------------------------------------------------------------
// Small pieces
// -------------------------------------------------------------------------------------------------

TEST(SourceLocation, PrintsWhatItKnows) {
  EXPECT_EQ((SourceLocation{"net.toml", 12, 7}).str(), "net.toml:12:7");
  EXPECT_EQ((SourceLocation{"net.toml", 12, 0}).str(), "net.toml:12");
  EXPECT_EQ((SourceLocation{"net.toml", 0, 0}).str(), "net.toml");
}

TEST(EnumNames, MatchTheConfigSpelling) {
  EXPECT_EQ(to_string(Layout::kAuto), "auto");
  EXPECT_EQ(to_string(Layout::kNchw), "nchw");
  EXPECT_EQ(to_string(Layout::kMatlab), "matlab");
  EXPECT_EQ(to_string(Normalize::kNone), "none");
  EXPECT_EQ(to_string(Normalize::kMinmaxPerSample), "minmax-per-sample");
  EXPECT_EQ(to_string(Normalize::kStandardize), "standardize");
}

TEST(LoadConfig, UnreadableFilesAreIoErrors) {
  try {
    load_config(kConfigs / "no_such.toml");
    ADD_FAILURE() << "expected an IoError";
  } catch (const IoError& error) {
    EXPECT_NE(std::string(error.what()).find("no_such.toml': No such file or directory"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(load_config(kConfigs), IoError);
}

}  // namespace
}  // namespace cnndiag
