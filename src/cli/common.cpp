#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "cli.hpp"
#include "table.hpp"

namespace cnndiag::cli {

void split_help(CLI::App& sub) {
  const std::string text = sub.get_description();
  const auto cut = text.find("\n\n");
  if (cut == std::string::npos) return;
  sub.description(text.substr(0, cut));
  sub.footer("\n" + text.substr(cut + 2));
}

void add_global_options(CLI::App& app, GlobalOptions& options) {
  app.add_flag("-v,--verbose", options.verbose, "More detail in the log (-vv for debug)");
  app.add_flag("-q,--quiet", options.quiet, "Only errors on the console");
  app.add_option("--log-file", options.log_file, "Also write a full debug log to this file");
  app.add_flag("--no-color", options.no_color, "No colour (NO_COLOR in the environment does the same)");
}

void setup_logging(const GlobalOptions& options) {
  std::vector<spdlog::sink_ptr> sinks;
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
      (options.no_color || std::getenv("NO_COLOR")) ? spdlog::color_mode::never
                                                   : spdlog::color_mode::automatic);
  console->set_level(options.quiet          ? spdlog::level::err
                     : options.verbose >= 2 ? spdlog::level::debug
                     : options.verbose == 1 ? spdlog::level::info
                                            : spdlog::level::info);
  console->set_pattern("%^%l%$: %v");
  sinks.push_back(console);
  if (!options.log_file.empty()) {
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.log_file, true);
    file->set_level(spdlog::level::debug);
    file->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    sinks.push_back(file);
  }
  auto logger = std::make_shared<spdlog::logger>("cnndiag", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::debug);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

bool use_color(const GlobalOptions& options) {
  if (options.no_color) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  return isatty(STDOUT_FILENO) != 0;
}

bool stderr_is_tty() { return isatty(STDERR_FILENO) != 0; }

std::string paint(const std::string& text, const char* style, bool on) {
  if (!on) return text;
  std::string code = std::string(style) == "bold"     ? "1"
                     : std::string(style) == "red"    ? "31"
                     : std::string(style) == "yellow" ? "33"
                     : std::string(style) == "green"  ? "32"
                     : std::string(style) == "cyan"   ? "36"
                     : std::string(style) == "dim"    ? "2"
                                                      : "0";
  return "\033[" + code + "m" + text + "\033[0m";
}

void print_network_summary(const std::string& title, const std::vector<LayerSummary>& rows,
                           const Shape& input, bool color) {
  std::printf("%s\n", paint("Network " + title, "bold", color).c_str());
  Table table({"layer", "type", "output", "params", ""});
  table.add({"input", "", input.str(), "", ""});
  Index total = 0;
  for (const auto& r : rows) {
    table.add({r.name, r.type, r.output_shape.str(), std::to_string(r.params),
               r.fault.empty() ? "" : "fault: " + r.fault});
    total += r.params;
  }
  table.add({"total", "", "", std::to_string(total), ""});
  std::printf("%s", table.render(2).c_str());
}

}  // namespace cnndiag::cli
