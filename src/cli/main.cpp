// cnndiag: the command-line entry point. Builds the CLI11 app from one file per command, runs the
// chosen command, and turns every error into one clear line and an exit code (DESIGN.md §2):
//   0 ran and found nothing at or above --fail-on    1 findings at or above --fail-on
//   2 usage error, bad input or internal error       130 interrupted (train writes a checkpoint)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "cli.hpp"
#include "cnndiag/errors.hpp"

int main(int argc, char** argv) {
  using namespace cnndiag::cli;
  CLI::App app{
      "cnndiag: finds out why a neural network gives the same output for every input, and proves "
      "it.\n\n"
      "Train a network described in TOML on a minibatch (HDF5 or MATLAB .mat), save HDF5\n"
      "checkpoints, and probe them: per-layer spread across samples, gradient checks that name\n"
      "the bug, weight-decay dominance, dead and saturated units, target signal; then a verdict\n"
      "with evidence and a fix, as text, JSON and an exit code CI can gate on.\n\n"
      "Quick start:\n"
      "  cnndiag inspect data/examples/seed/net.toml     # the network, its shapes and parameters\n"
      "  cnndiag train --config data/examples/seed/net.toml\n",
      "cnndiag"};
  app.set_version_flag("--version", std::string("cnndiag ") + CNNDIAG_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions global;
  add_global_options(app, global);

  std::vector<Command> commands;
  commands.push_back(make_inspect_command(app, global));
  commands.push_back(make_train_command(app, global));
  commands.push_back(make_probe_command(app, global));
  commands.push_back(make_check_command(app, global));
  commands.push_back(make_gradcheck_command(app, global));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  try {
    setup_logging(global);
    for (auto& c : commands)
      if (c.sub->parsed()) return c.run();
    return 2;
  } catch (const cnndiag::Error& e) {
    std::fprintf(stderr, "cnndiag: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cnndiag: internal error: %s (this is a bug in cnndiag; please report it)\n",
                 e.what());
    return 2;
  }
}
