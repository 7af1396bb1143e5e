#pragma once
// Shared pieces of the command-line layer: global options, logging setup, colour, and the shape of
// a command (one file per command, each thin: parse, call the library, format, exit code).

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "cnndiag/model.hpp"

namespace cnndiag::cli {

struct GlobalOptions {
  int verbose = 0;         // -v, -vv
  bool quiet = false;      // -q: errors only
  std::string log_file;    // --log-file: full debug log besides the console
  bool no_color = false;   // --no-color (NO_COLOR in the environment does the same)
  int threads = 0;         // --threads: 0 = the config's value, else all cores
};

struct Command {
  CLI::App* sub = nullptr;
  std::function<int()> run;
};

/// Keeps the first paragraph of a subcommand's description as its description (what
/// `cnndiag --help` lists) and moves the rest to its footer (shown by `cnndiag CMD --help`).
void split_help(CLI::App& sub);

/// Adds -v/-q/--log-file/--no-color to an app or subcommand.
void add_global_options(CLI::App& app, GlobalOptions& options);
/// Configures spdlog: a console sink on stderr at the chosen verbosity, an optional file sink.
void setup_logging(const GlobalOptions& options);
/// Whether stdout gets colour: a TTY, no --no-color, no NO_COLOR.
bool use_color(const GlobalOptions& options);
/// Whether stderr is a terminal (progress bars) and not quiet.
bool stderr_is_tty();

/// Wraps text in an ANSI style when `on`: style is "bold", "red", "yellow", "green", "dim", "cyan".
std::string paint(const std::string& text, const char* style, bool on);

/// The network table: layer, type, output shape, parameter count, total.
void print_network_summary(const std::string& title, const std::vector<LayerSummary>& rows,
                           const Shape& input, bool color);

Command make_inspect_command(CLI::App& app, GlobalOptions& global);
Command make_train_command(CLI::App& app, GlobalOptions& global);
Command make_probe_command(CLI::App& app, GlobalOptions& global);
Command make_check_command(CLI::App& app, GlobalOptions& global);
Command make_gradcheck_command(CLI::App& app, GlobalOptions& global);

}  // namespace cnndiag::cli
