#include "cnndiag/report.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "cnndiag/errors.hpp"

namespace cnndiag {
namespace {

// How directly a finding explains identical outputs, strongest first. A wrong gradient trains
// the network towards the wrong place; decayed weights erase the input's contribution outright;
// dead or saturated units cut it; unstable or vanishing gradients and a poor init make training
// fail more slowly. Collapse findings are the consequence, the targets' signal is context.
int cause_rank(const std::string& id) {
  static const std::vector<std::pair<std::string, int>> ranks = {
      {"gradcheck.mismatch", 0},        {"weight_decay.overshoot", 1},
      {"weight_decay.collapsed_norm", 1}, {"weight_decay.dominant", 2},
      {"units.dead", 3},                {"units.saturated", 4},
      {"loss_curve.nonfinite", 5},      {"loss_curve.diverging", 5},
      {"gradient_flow.exploding", 5},   {"gradient_flow.vanishing", 6},
      {"init.scale", 7},                {"gradient_flow.update_ratio", 8},
      {"loss_curve.oscillating", 9},    {"loss_curve.plateau", 9},
  };
  for (const auto& [prefix, rank] : ranks)
    if (id == prefix) return rank;
  return -1;  // not a cause (consequence, context, info)
}

bool is_context(const std::string& id) { return id.rfind("targets.", 0) == 0; }

std::string probe_of(const std::string& id) { return id.substr(0, id.find('.')); }

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

int exit_code_for(const std::vector<Finding>& findings, std::optional<Severity> fail_on) {
  if (!fail_on) return 0;
  for (const Finding& f : findings)
    if (static_cast<int>(f.severity) >= static_cast<int>(*fail_on)) return 1;
  return 0;
}

void sort_findings(std::vector<Finding>& findings) {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return static_cast<int>(a.severity) > static_cast<int>(b.severity);
  });
}

namespace {

// A few words for a cause, for the "Contributing:" list of the summary.
std::string cause_phrase(const std::string& id) {
  static const std::map<std::string, std::string> phrases = {
      {"gradcheck.mismatch", "a wrong backward pass"},
      {"weight_decay.overshoot", "a weight-decay step that overshoots zero"},
      {"weight_decay.collapsed_norm", "weights decayed to ~0"},
      {"weight_decay.dominant", "weight decay dominating the data gradient"},
      {"units.dead", "dead units"},
      {"units.saturated", "saturated units"},
      {"loss_curve.nonfinite", "a non-finite loss"},
      {"loss_curve.diverging", "a diverging loss"},
      {"gradient_flow.exploding", "exploding gradients"},
      {"gradient_flow.vanishing", "vanishing gradients"},
      {"init.scale", "an initialisation far from He/Glorot scale"},
      {"gradient_flow.update_ratio", "updates out of proportion to the weights"},
      {"loss_curve.oscillating", "an oscillating loss"},
      {"loss_curve.plateau", "a loss on a plateau"},
  };
  const auto it = phrases.find(id);
  return it == phrases.end() ? id : it->second;
}

// Adds a fix unless it is already said: an identical fix, or one that another contains.
void add_fix(std::vector<std::string>& fixes, const std::string& fix) {
  if (fix.empty()) return;
  for (std::string& known : fixes) {
    if (known.find(fix) != std::string::npos) return;
    if (fix.find(known) != std::string::npos) {
      known = fix;
      return;
    }
  }
  fixes.push_back(fix);
}

}  // namespace

Verdict make_verdict(const std::vector<Finding>& findings) {
  Verdict v;
  const Finding* collapse = nullptr;
  const Finding* context = nullptr;
  std::vector<const Finding*> causes;
  for (const Finding& f : findings) {
    if (f.id == "collapse.identical_outputs" && !collapse) collapse = &f;
    if (is_context(f.id) && f.severity != Severity::kInfo && !context) context = &f;
    if (f.severity != Severity::kInfo && cause_rank(f.id) >= 0) causes.push_back(&f);
  }
  std::stable_sort(causes.begin(), causes.end(), [](const Finding* a, const Finding* b) {
    if (cause_rank(a->id) != cause_rank(b->id)) return cause_rank(a->id) < cause_rank(b->id);
    return static_cast<int>(a->severity) > static_cast<int>(b->severity);
  });

  // Group the causes by id, keeping rank order: one id may hold on several tensors.
  std::vector<std::pair<std::string, std::vector<const Finding*>>> groups;
  for (const Finding* f : causes) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == f->id; });
    if (it == groups.end()) {
      groups.push_back({f->id, {f}});
    } else {
      it->second.push_back(f);
    }
  }
  auto places = [](const std::vector<const Finding*>& group) {
    std::string out;
    for (const Finding* f : group) {
      const std::string where = f->tensor.empty() ? f->layer : f->tensor;
      if (where.empty() || out.find(where) != std::string::npos) continue;
      out += (out.empty() ? "" : ", ") + where;
    }
    return out;
  };

  v.collapsed = collapse != nullptr;
  if (collapse) v.first_collapsed_layer = collapse->layer;
  for (const auto& [id, group] : groups) {
    v.causes.push_back(id);
    for (const Finding* f : group) add_fix(v.fixes, f->fix);
  }
  if (context) {
    v.causes.push_back(context->id);
    add_fix(v.fixes, context->fix);
  }

  // The chain in words: what happened, the strongest cause and where it holds, what else
  // contributes, the context, and the fixes that address the strongest cause and the context.
  std::string s = collapse ? collapse->message + "."
                           : std::string("No collapse: the outputs differ across samples at every layer.");
  if (!groups.empty()) {
    const auto& [top_id, top] = groups.front();
    const std::string where = places(top);
    s += (collapse ? " Cause: " : " Worth a look: ") + top.front()->message;
    if (!where.empty() && top.size() > 1) s += " (on " + where + ")";
    s += ".";
    std::string contributing;
    for (std::size_t g = 1; g < groups.size(); ++g) {
      const std::string on = places(groups[g].second);
      contributing += (contributing.empty() ? "" : "; ") + cause_phrase(groups[g].first) +
                      (on.empty() ? "" : " (" + on + ")");
    }
    if (!contributing.empty()) s += (collapse ? " Contributing: " : " Also: ") + contributing + ".";
  } else if (collapse) {
    s += " No probe found a cause; check the layer's weights and inputs by hand.";
  }
  if (context) s += " Note: " + context->message + ".";
  std::vector<std::string> headline_fixes;
  if (!groups.empty())
    for (const Finding* f : groups.front().second) add_fix(headline_fixes, f->fix);
  if (context) add_fix(headline_fixes, context->fix);
  if (!headline_fixes.empty()) {
    s += " Fix: ";
    for (std::size_t i = 0; i < headline_fixes.size(); ++i) s += (i ? "; " : "") + headline_fixes[i];
    s += ".";
  }
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  v.summary = s;
  return v;
}

nlohmann::json to_json(const Finding& f) {
  // An absent layer or tensor is null, not "": model-wide findings have neither.
  return {{"id", f.id},
          {"severity", std::string(to_string(f.severity))},
          {"layer", f.layer.empty() ? nlohmann::json() : nlohmann::json(f.layer)},
          {"tensor", f.tensor.empty() ? nlohmann::json() : nlohmann::json(f.tensor)},
          {"message", f.message},
          {"evidence", f.evidence},
          {"fix", f.fix}};
}

Finding finding_from_json(const nlohmann::json& j) {
  Finding f;
  f.id = j.at("id").get<std::string>();
  f.severity = parse_severity(j.at("severity").get<std::string>());
  f.layer = j.contains("layer") && j["layer"].is_string() ? j["layer"].get<std::string>() : "";
  f.tensor = j.contains("tensor") && j["tensor"].is_string() ? j["tensor"].get<std::string>() : "";
  f.message = j.value("message", "");
  f.evidence = j.value("evidence", nlohmann::json::object());
  f.fix = j.value("fix", "");
  return f;
}

nlohmann::json to_json(const Verdict& v) {
  return {{"collapsed", v.collapsed},
          {"first_collapsed_layer",
           v.first_collapsed_layer.empty() ? nlohmann::json() : nlohmann::json(v.first_collapsed_layer)},
          {"causes", v.causes},
          {"fixes", v.fixes},
          {"summary", v.summary}};
}

nlohmann::json to_json(const Report& r) {
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& f : r.findings) findings.push_back(to_json(f));
  nlohmann::json j = {{"schema", kReportSchema},
                      {"tool", {{"name", "cnndiag"}, {"version", CNNDIAG_VERSION}}},
                      {"command", r.command},
                      {"inputs", r.inputs},
                      {"layers", r.layers},
                      {"findings", findings},
                      {"verdict", to_json(r.verdict)},
                      {"exit_code", r.exit_code}};
  for (const auto& [key, value] : r.extra.items()) j[key] = value;
  return j;
}

Report report_from_json(const nlohmann::json& j, const std::string& source) {
  auto fail = [&](const std::string& what) {
    throw DataError(source + ": " + what);
  };
  if (!j.is_object()) fail("expected a JSON object (a cnndiag report)");
  if (!j.contains("schema")) fail("no \"schema\" field: not a cnndiag report");
  const std::string schema = j["schema"].is_string() ? j["schema"].get<std::string>() : "";
  if (schema != kReportSchema)
    fail("schema is \"" + schema + "\", expected \"" + kReportSchema + "\"");
  Report r;
  try {
    r.command = j.at("command").get<std::string>();
    r.inputs = j.value("inputs", std::vector<std::string>{});
    r.layers = j.at("layers");
    for (const auto& f : j.at("findings")) r.findings.push_back(finding_from_json(f));
    const auto& v = j.at("verdict");
    r.verdict.collapsed = v.at("collapsed").get<bool>();
    if (v.contains("first_collapsed_layer") && v["first_collapsed_layer"].is_string())
      r.verdict.first_collapsed_layer = v["first_collapsed_layer"].get<std::string>();
    r.verdict.causes = v.value("causes", std::vector<std::string>{});
    r.verdict.fixes = v.value("fixes", std::vector<std::string>{});
    r.verdict.summary = v.value("summary", "");
    r.exit_code = j.value("exit_code", 0);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("malformed report: ") + e.what());
  }
  for (const auto& [key, value] : j.items())
    if (key != "schema" && key != "tool" && key != "command" && key != "inputs" &&
        key != "layers" && key != "findings" && key != "verdict" && key != "exit_code")
      r.extra[key] = value;
  return r;
}

std::string to_junit(const Report& r) {
  // Suites are the probes that produced findings, plus one per probe in the report's "probes".
  std::map<std::string, std::vector<const Finding*>> by_probe;
  if (r.extra.contains("probes"))
    for (const auto& p : r.extra["probes"]) by_probe[p.get<std::string>()];
  for (const Finding& f : r.findings) by_probe[probe_of(f.id)].push_back(&f);
  std::size_t tests = 0, failures = 0;
  std::string body;
  for (const auto& [probe, findings] : by_probe) {
    std::size_t suite_failures = 0;
    std::string cases;
    if (findings.empty()) cases += "    <testcase classname=\"cnndiag." + xml_escape(probe) +
                                   "\" name=\"" + xml_escape(probe) + "\"/>\n";
    for (const Finding* f : findings) {
      const std::string name = f->id + (f->tensor.empty() ? (f->layer.empty() ? "" : " " + f->layer) : " " + f->tensor);
      cases += "    <testcase classname=\"cnndiag." + xml_escape(probe) + "\" name=\"" +
               xml_escape(name) + "\">\n";
      if (f->severity == Severity::kInfo) {
        cases += "      <system-out>" + xml_escape(f->message) + "</system-out>\n";
      } else {
        ++suite_failures;
        cases += "      <failure type=\"" + std::string(to_string(f->severity)) + "\" message=\"" +
                 xml_escape(f->message) + "\">" + xml_escape(f->evidence.dump()) +
                 (f->fix.empty() ? "" : "\nfix: " + xml_escape(f->fix)) + "</failure>\n";
      }
      cases += "    </testcase>\n";
    }
    const std::size_t n = std::max<std::size_t>(1, findings.size());
    tests += n;
    failures += suite_failures;
    body += "  <testsuite name=\"cnndiag." + xml_escape(probe) + "\" tests=\"" + std::to_string(n) +
            "\" failures=\"" + std::to_string(suite_failures) + "\">\n" + cases + "  </testsuite>\n";
  }
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cnndiag " +
         xml_escape(r.command) + "\" tests=\"" + std::to_string(tests) + "\" failures=\"" +
         std::to_string(failures) + "\">\n" + body + "</testsuites>\n";
}

}  // namespace cnndiag
