#include "dualcam/regress/html_report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"

namespace fs = std::filesystem;

namespace dualcam::regress {
namespace {

const char* kMarker = ".dualcam-regress-report";

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string safe_name(const std::string& s) {
  std::string o;
  for (char c : s) o += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return o.substr(0, 100);
}

std::string value_text(const Json& v) {
  if (v.is_number_float()) {
    char buf[64];
    const double x = v.get<double>();
    std::snprintf(buf, sizeof buf, std::abs(x) >= 1e4 || (x != 0 && std::abs(x) < 1e-3) ? "%.4g" : "%.4f", x);
    return buf;
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// Figures with the bound that applies to each (tolerance keys are min_X / max_X of figure X,
// or the rig's figure names themselves).
std::string figures_table(const OutputResult& o) {
  std::string h = "<table class=\"fig\"><tr><th>figure</th><th>measured</th><th>bound</th></tr>";
  if (!o.figures.is_object()) return "";
  for (const auto& item : o.figures.items()) {
    if (item.key() == "parameters") continue;
    std::string bound;
    for (const auto& t : o.tolerance.items()) {
      const std::string& k = t.key();
      if (k == "min_" + item.key() || k == "max_" + item.key() || k == item.key() ||
          (item.key() == "psnr_db" && k == "min_psnr_db") || (item.key() == "mae_px" && k == "max_mae_px"))
        bound = (k.rfind("min_", 0) == 0 ? "&ge; " : "&le; ") + esc(value_text(t.value()));
    }
    h += "<tr><td>" + esc(item.key()) + "</td><td>" + esc(value_text(item.value())) + "</td><td>" + bound + "</td></tr>";
  }
  h += "</table>";
  if (o.kind == OutputKind::Rig && o.figures.contains("parameters")) {
    h += "<details><summary>parameters</summary><table class=\"fig\"><tr><th>parameter</th><th>golden</th><th>new</th><th>"
         "difference</th></tr>";
    for (const auto& p : o.figures["parameters"])
      h += "<tr><td>" + esc(p.value("name", "")) + "</td><td>" + esc(value_text(p["golden"])) + "</td><td>" +
           esc(value_text(p["new"])) + "</td><td>" + esc(value_text(p["diff"])) + "</td></tr>";
    h += "</table></details>";
  }
  return h;
}

int rank(Status s) { return s == Status::Error ? 0 : s == Status::Fail ? 1 : 2; }

}  // namespace

void check_report_dir(const std::string& dir) {
  if (dir.empty()) throw_invalid("the HTML report needs a folder");
  std::error_code ec;
  const fs::path p(dir);
  if (!fs::exists(p, ec)) {
    check_output_path((p.has_filename() ? p : p.parent_path()).string());  // its parent must exist
    return;
  }
  if (!fs::is_directory(p, ec)) throw_io("the report folder '" + dir + "' exists and is not a folder");
  if (fs::is_empty(p, ec) || fs::exists(p / kMarker, ec)) return;
  throw_io("the report folder '" + dir + "' is neither empty nor an earlier dualcam regress report; "
           "refusing to replace it");
}

void write_html_report(const std::string& dir, const std::string& title, std::vector<CaseResult>& results) {
  check_report_dir(dir);
  fs::path target = fs::path(dir);
  if (!target.has_filename()) target = target.parent_path();
  const std::string suffix = std::to_string(::getpid());
  const fs::path tmp = target.string() + ".tmp-" + suffix;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec)) throw_io("cannot create '" + tmp.string() + "': " + ec.message());
  try {
    write_file_atomic((tmp / kMarker).string(), "written by dualcam regress --report; the folder is replaced on the next run\n");
    std::vector<std::size_t> order(results.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return rank(results[a].status) < rank(results[b].status); });
    const Summary s = summarize(results);
    char buf[512];
    std::string body;
    std::snprintf(buf, sizeof buf, "<p class=\"summary %s\">%d cases: %d passed, %d failed, %d errors (%.2f s)</p>",
                  s.ok() ? "pass" : "fail", s.cases, s.passed, s.failed, s.errors, s.seconds);
    body += buf;
    body += "<ul class=\"toc\">";
    for (std::size_t i : order)
      body += "<li class=\"" + std::string(to_string(results[i].status)) + "\"><a href=\"#" + esc(safe_name(results[i].name)) +
              "\">" + esc(results[i].name) + "</a> " + to_string(results[i].status) + "</li>";
    body += "</ul>";
    for (std::size_t i : order) {
      CaseResult& r = results[i];
      std::snprintf(buf, sizeof buf, "%.2f s", r.seconds);
      body += "<section class=\"case " + std::string(to_string(r.status)) + "\" id=\"" + esc(safe_name(r.name)) + "\">";
      body += "<h2><span class=\"badge\">" + std::string(r.status == Status::Pass ? "PASS" : r.status == Status::Fail ? "FAIL" : "ERROR") +
              "</span> " + esc(r.name) + " <small>" + esc(r.command) + ", " + buf + "</small></h2>";
      if (!r.description.empty()) body += "<p>" + esc(r.description) + "</p>";
      if (!r.error.empty()) body += "<p class=\"error\">" + esc(r.error) + "</p>";
      for (auto& o : r.outputs) {
        body += "<h3>" + esc(o.name) + " <small>golden " + esc(o.golden) + (o.update.empty() ? "" : ", " + esc(o.update)) +
                "</small></h3>";
        for (const auto& f : o.failures) body += "<p class=\"error\">" + esc(f) + "</p>";
        body += "<div class=\"row\"><div>" + figures_table(o) + "</div>";
        for (std::size_t k = 0; k < o.pictures.size(); ++k) {
          Picture& p = o.pictures[k];
          const std::string file = safe_name(r.name) + "__" + safe_name(o.name) + "__" + std::to_string(k) + ".png";
          if (!p.image.empty()) {
            write_image((tmp / file).string(), p.image);
          } else if (!p.file.empty() && fs::is_regular_file(p.file, ec)) {
            fs::copy_file(p.file, tmp / file, fs::copy_options::overwrite_existing, ec);
            if (ec) throw_io("cannot copy '" + p.file + "' into the report: " + ec.message());
          } else {
            continue;
          }
          p.file = (target / file).string();
          body += "<figure><img src=\"" + esc(file) + "\" alt=\"" + esc(p.label) + "\"><figcaption>" + esc(p.label) +
                  "</figcaption></figure>";
        }
        body += "</div>";
      }
      body += "</section>";
    }
    const std::string html =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"generator\" content=\"dualcam regress\">"
        "<title>dualcam regress: " + esc(title) + "</title><style>"
        "body{font-family:sans-serif;margin:16px;background:#fafafa;color:#222}"
        "h1{font-size:20px}h2{font-size:17px;margin:4px 0}h3{font-size:14px;margin:10px 0 4px}small{color:#666;font-weight:normal}"
        ".summary{font-size:16px;font-weight:bold;padding:6px 10px;border-radius:4px}.summary.pass{background:#d8f5d8}"
        ".summary.fail{background:#f8d0d0}.toc li.fail,.toc li.error{color:#b00}.toc{columns:3;font-size:13px}"
        ".case{border:1px solid #ccc;border-left:8px solid #3a3;background:#fff;margin:12px 0;padding:8px 12px}"
        ".case.fail,.case.error{border-left-color:#c22}.badge{font-size:12px;padding:2px 6px;border-radius:3px;background:#3a3;color:#fff}"
        ".case.fail .badge,.case.error .badge{background:#c22}.error{color:#b00;margin:2px 0}"
        ".row{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}figure{margin:0}"
        "img{max-width:300px;image-rendering:pixelated;border:1px solid #999;display:block}"
        "figcaption{font-size:12px;color:#444}table.fig{border-collapse:collapse;font-size:12px}"
        "table.fig td,table.fig th{border:1px solid #ddd;padding:2px 6px;text-align:left}"
        "</style></head><body><h1>dualcam regress: " + esc(title) + "</h1>\n" + body + "\n</body></html>\n";
    write_file_atomic((tmp / "index.html").string(), html);
    // Move into place: an existing report is set aside first and removed after.
    const fs::path old = target.string() + ".old-" + suffix;
    const bool had = fs::exists(target, ec);
    if (had) {
      fs::rename(target, old, ec);
      if (ec) throw_io("cannot replace '" + target.string() + "': " + ec.message());
    }
    fs::rename(tmp, target, ec);
    if (ec) {
      if (had) fs::rename(old, target, ec);
      throw_io("cannot move the report into '" + target.string() + "'");
    }
    if (had) fs::remove_all(old, ec);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace dualcam::regress
