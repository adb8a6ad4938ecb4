#include "dualcam/regress/runner.hpp"

#include <cstdio>
#include <filesystem>

#include "dualcam/engine/error.hpp"
#include "runner_internal.hpp"

namespace fs = std::filesystem;

namespace dualcam::regress {

using detail::figures_text;
using detail::fmt;

std::string case_line(const CaseResult& r) {
  char head[64];
  const bool updated = !r.outputs.empty() && !r.outputs[0].update.empty();
  std::snprintf(head, sizeof head, "%-6s",
                r.status == Status::Error ? "ERROR" : updated ? "UPDATE" : r.status == Status::Pass ? "PASS" : "FAIL");
  std::string s = std::string(head) + " " + r.name + " (" + r.command + ", " + fmt("%.2f s", r.seconds, 0) + ")";
  if (r.status == Status::Error) return s + ": " + r.error;
  for (const auto& o : r.outputs) {
    s += "  " + o.name + ": ";
    if (!o.update.empty()) s += o.update + (o.update == "new" ? "" : " (against the old golden: " + figures_text(o) + ")");
    else s += figures_text(o);
    for (const auto& f : o.failures) s += " [" + f + "]";
  }
  return s;
}

Summary summarize(const std::vector<CaseResult>& results) {
  Summary s;
  for (const auto& r : results) {
    ++s.cases;
    s.passed += r.status == Status::Pass;
    s.failed += r.status == Status::Fail;
    s.errors += r.status == Status::Error;
    s.seconds += r.seconds;
    for (const auto& o : r.outputs) s.updated += o.update == "changed" || o.update == "new";
  }
  return s;
}

std::string summary_line(const Summary& s, bool update) {
  char buf[256];
  if (update)
    std::snprintf(buf, sizeof buf, "regress: %d cases run, %d goldens written (changed or new), %d errors in %.2f s", s.cases,
                  s.updated, s.errors, s.seconds);
  else
    std::snprintf(buf, sizeof buf, "regress: %d cases, %d passed, %d failed, %d errors in %.2f s: %s", s.cases, s.passed,
                  s.failed, s.errors, s.seconds, s.ok() ? "PASS" : "FAIL");
  return buf;
}

Json results_to_json(const std::vector<CaseResult>& results, const std::string& picture_base) {
  Json cases = Json::array();
  for (const auto& r : results) {
    Json c = {{"name", r.name}, {"command", r.command}, {"status", to_string(r.status)}, {"seconds", r.seconds}};
    if (!r.description.empty()) c["description"] = r.description;
    if (!r.error.empty()) c["error"] = r.error;
    Json outs = Json::array();
    for (const auto& o : r.outputs) {
      Json jo = {{"name", o.name},           {"kind", to_string(o.kind)}, {"golden", o.golden}, {"passed", o.passed},
                 {"figures", o.figures},     {"tolerance", o.tolerance},  {"failures", o.failures}};
      if (!o.update.empty()) jo["update"] = o.update;
      Json pics = Json::array();
      for (const auto& p : o.pictures)
        if (!p.file.empty()) {
          std::error_code ec;
          fs::path rel = fs::relative(fs::absolute(p.file, ec), fs::absolute(picture_base.empty() ? "." : picture_base, ec), ec);
          pics.push_back({{"label", p.label}, {"file", (ec || rel.empty() ? fs::absolute(p.file) : rel).string()}});
        }
      if (!pics.empty()) jo["pictures"] = pics;
      outs.push_back(jo);
    }
    c["outputs"] = outs;
    cases.push_back(c);
  }
  const Summary s = summarize(results);
  return {{"dualcam_regress_results", 1},
          {"cases", cases},
          {"summary",
           {{"cases", s.cases}, {"passed", s.passed}, {"failed", s.failed}, {"errors", s.errors}, {"seconds", s.seconds}, {"ok", s.ok()}}}};
}

std::vector<CaseResult> results_from_json(const Json& j, const std::string& name, const std::string& picture_base) {
  auto bad = [&](const std::string& what) -> void { throw_invalid(name + ": not a dualcam regress --json file (" + what + ")"); };
  if (!j.is_object() || !j.contains("dualcam_regress_results") || !j.contains("cases") || !j["cases"].is_array())
    bad("no dualcam_regress_results / cases");
  std::vector<CaseResult> out;
  try {
    for (const auto& c : j["cases"]) {
      CaseResult r;
      r.name = c.at("name").get<std::string>();
      r.command = c.at("command").get<std::string>();
      r.description = c.value("description", "");
      const std::string st = c.at("status").get<std::string>();
      r.status = st == "pass" ? Status::Pass : st == "fail" ? Status::Fail : Status::Error;
      if (st != "pass" && st != "fail" && st != "error") bad("status '" + st + "'");
      r.error = c.value("error", "");
      r.seconds = c.at("seconds").get<double>();
      for (const auto& o : c.at("outputs")) {
        OutputResult x;
        x.name = o.at("name").get<std::string>();
        const std::string kind = o.at("kind").get<std::string>();
        x.kind = kind == "image" ? OutputKind::Image : kind == "disparity" ? OutputKind::Disparity : OutputKind::Rig;
        x.golden = o.at("golden").get<std::string>();
        x.passed = o.at("passed").get<bool>();
        x.figures = o.at("figures");
        x.tolerance = o.at("tolerance");
        x.failures = o.at("failures").get<std::vector<std::string>>();
        x.update = o.value("update", "");
        if (o.contains("pictures"))
          for (const auto& p : o["pictures"]) {
            fs::path f = p.at("file").get<std::string>();
            if (f.is_relative()) f = fs::path(picture_base) / f;
            x.pictures.push_back({p.at("label").get<std::string>(), cv::Mat(), f.lexically_normal().string()});
          }
        r.outputs.push_back(std::move(x));
      }
      out.push_back(std::move(r));
    }
  } catch (const Json::exception& e) {
    bad(e.what());
  }
  return out;
}

}  // namespace dualcam::regress
