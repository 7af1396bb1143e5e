#include "report_text.hpp"

#include <cmath>

#include "cli.hpp"
#include "table.hpp"

namespace cnndiag::cli {
namespace {

std::string num(const nlohmann::json& v) {
  return v.is_number() ? format_number(v.get<double>()) : "-";
}

std::string percent(const nlohmann::json& v) {
  if (!v.is_number()) return "-";
  char text[16];
  std::snprintf(text, sizeof text, "%.0f%%", 100.0 * v.get<double>());
  return text;
}

std::string shape_text(const nlohmann::json& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i].get<long long>());
  return s + ")";
}

const char* severity_style(Severity s) {
  return s == Severity::kError ? "red" : s == Severity::kWarning ? "yellow" : "dim";
}

}  // namespace

std::string render_findings(const std::vector<Finding>& findings, bool color, bool all) {
  if (findings.empty()) return "  none\n";
  std::string out;
  // Findings of one id are told once, with the other places they hold listed ("also on"),
  // unless every one is asked for (-v): the JSON report always has them all.
  std::vector<bool> told(findings.size(), false);
  for (std::size_t i = 0; i < findings.size(); ++i) {
    if (told[i]) continue;
    const Finding& f = findings[i];
    const std::string where = f.tensor.empty() ? f.layer : f.tensor;
    char head[64];
    std::snprintf(head, sizeof head, "%-7s ", std::string(to_string(f.severity)).c_str());
    out += "  " + paint(head, severity_style(f.severity), color) + paint(f.id, "bold", color) +
           (where.empty() ? "" : "  " + where) + "\n";
    out += "          " + f.message + "\n";
    std::string also;
    if (!all)
      for (std::size_t j = i + 1; j < findings.size(); ++j)
        if (!told[j] && findings[j].id == f.id && findings[j].severity == f.severity) {
          told[j] = true;
          const std::string w = findings[j].tensor.empty() ? findings[j].layer : findings[j].tensor;
          also += (also.empty() ? "" : ", ") + w;
        }
    if (!also.empty()) out += "          " + paint("also on: ", "dim", color) + also + "\n";
    if (!f.fix.empty()) out += "          " + paint("fix: ", "green", color) + f.fix + "\n";
  }
  return out;
}

std::string render_probe_text(const Report& r, bool color, bool all) {
  std::string out;
  const auto& x = r.extra;
  char head[256];
  std::snprintf(head, sizeof head, "Probe %s  (iteration %s, %s samples, loss %s)\n",
                r.inputs.empty() ? "" : r.inputs.back().c_str(),
                x.contains("iteration") && !x["iteration"].is_null() ? x["iteration"].dump().c_str() : "-",
                x.contains("samples") ? x["samples"].dump().c_str() : "?",
                x.contains("loss") ? format_number(x["loss"].get<double>()).c_str() : "?");
  out += paint(head, "bold", color);
  Table table({"layer", "type", "output", "rho", "dead", "saturated", "|w|", "|grad w|", "decay D"});
  if (x.contains("measurements") && x["measurements"].contains("collapse") &&
      x["measurements"]["collapse"].contains("input"))
    table.add({"input", "", "", num(x["measurements"]["collapse"]["input"]["rho"]), "", "", "", "", ""});
  for (const auto& row : r.layers)
    table.add({row.value("name", ""), row.value("type", ""), shape_text(row["output_shape"]),
               num(row["rho"]), percent(row["dead_fraction"]), percent(row["saturated_fraction"]),
               num(row["weight_norm"]), num(row["grad_norm"]), num(row["decay_dominance"])});
  out += table.render(2);

  if (x.contains("time_map")) {
    const auto& tm = x["time_map"];
    out += "\n" + paint("Spread rho across samples, by iteration (time × layer map)", "bold", color) + "\n";
    std::vector<std::string> header = {"iteration", "input"};
    for (const auto& name : tm["layer_order"]) header.push_back(name.get<std::string>());
    Table map(header);
    const double threshold = tm["threshold"].get<double>();
    for (std::size_t c = 0; c < tm["iterations"].size(); ++c) {
      std::vector<std::string> row = {tm["iterations"][c].dump(), num(tm["input"][c])};
      for (const auto& name : tm["layer_order"]) {
        const double rho = tm["layers"][name.get<std::string>()][c].get<double>();
        row.push_back(num(rho) + (rho < threshold ? "*" : ""));
      }
      map.add(row);
    }
    out += map.render(2);
    std::string onset;
    for (const auto& name : tm["collapse_order"])
      onset += (onset.empty() ? "" : ", ") + name.get<std::string>() + " at " +
               tm["first_collapse"][name.get<std::string>()].dump();
    out += "  * identical across samples (rho < " + format_number(threshold) + ")\n";
    out += "  first collapsed: " + (onset.empty() ? std::string("none") : onset) + "\n";
  }

  out += "\n" + paint("Findings", "bold", color) + "\n" + render_findings(r.findings, color, all);
  out += "\n" + paint("Verdict", "bold", color) + "\n  ";
  out += paint(r.verdict.collapsed ? "COLLAPSED from '" + r.verdict.first_collapsed_layer + "'"
                                   : std::string("NOT COLLAPSED"),
               r.verdict.collapsed ? "red" : "green", color) +
         "  " + r.verdict.summary + "\n";
  return out;
}

std::string render_check_text(const Report& r, bool color) {
  const bool all = true;
  std::string out = paint("Check " + (r.inputs.size() > 0 ? r.inputs[0] : "") + " against " +
                              (r.inputs.size() > 1 ? r.inputs[1] : ""),
                          "bold", color) +
                    "\n";
  Table table({"layer", "metric", "baseline", "now", "status"});
  for (const auto& row : r.layers)
    for (const auto& [metric, m] : row.items()) {
      if (metric == "name" || !m.is_object()) continue;
      const std::string status = m["status"].get<std::string>();
      if (status == "ok") continue;
      table.add({row["name"].get<std::string>(), metric, num(m["baseline"]), num(m["now"]),
                 paint(status, status == "regressed" ? "red" : "yellow", color)});
    }
  out += table.render(2);
  out += "\n" + paint("Findings", "bold", color) + "\n" + render_findings(r.findings, color, all);
  out += "\n" + r.verdict.summary + "\n";
  return out;
}

}  // namespace cnndiag::cli
