// dualcam regress: run a manifest of cases against golden outputs (regress/), or merge shard
// results into one report.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>

#include "common.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/regress/html_report.hpp"
#include "dualcam/regress/manifest.hpp"
#include "dualcam/regress/runner.hpp"
#include "dualcam/regress/shard.hpp"

namespace fs = std::filesystem;

namespace dualcam::app {
namespace {

struct RegressCli {
  std::string manifest, report, shard, json, filter;
  std::vector<std::string> merge;
  bool update = false;
  int threads = 0;
  int shard_count = 0;       // --shard-count (0 = not given)
  std::optional<regress::Shard> resolved;  // the shard this run takes, once --shard is resolved
};

std::string folder_of(const std::string& path) {
  const std::string d = fs::path(path).parent_path().string();
  return d.empty() ? "." : d;
}

// Report, JSON, summary and exit code, shared by a run and a merge.
int finish(const RegressCli& c, const std::string& title, std::vector<regress::CaseResult>& results, bool update) {
  if (!c.report.empty()) regress::write_html_report(c.report, title, results);
  if (!c.json.empty()) {
    Json j = regress::results_to_json(results, folder_of(c.json));
    j["manifest"] = title;
    if (c.resolved) {
      j["shard"] = std::to_string(c.resolved->index) + "/" + std::to_string(c.resolved->count);
      j["shard_source"] = c.resolved->source;
    }
    if (!c.filter.empty()) j["filter"] = c.filter;
    j["update"] = update;
    write_file_atomic(c.json, j.dump(2) + "\n");
  }
  const regress::Summary s = regress::summarize(results);
  std::printf("%s\n", regress::summary_line(s, update).c_str());
  if (!c.report.empty()) std::printf("report: %s/index.html\n", c.report.c_str());
  std::fflush(stdout);
  return s.ok() ? 0 : 3;
}

int run_merge(const RegressCli& c) {
  if (!c.manifest.empty()) throw_invalid("--merge takes shard JSON files, not a manifest");
  if (c.update || !c.shard.empty() || c.shard_count != 0 || !c.filter.empty())
    throw_invalid("--merge cannot be combined with --update, --shard, --shard-count or --filter");
  if (c.report.empty() && c.json.empty()) throw_invalid("--merge needs --report DIR and/or --json OUT.json");
  if (!c.json.empty()) check_output_path(c.json);
  if (!c.report.empty()) regress::check_report_dir(c.report);
  std::vector<regress::CaseResult> all;
  std::set<std::string> names;
  for (const auto& file : c.merge) {
    const auto bytes = read_file_bytes(file);
    Json j;
    try {
      j = Json::parse(bytes.begin(), bytes.end());
    } catch (const Json::exception& e) {
      throw_invalid(file + ": not valid JSON: " + e.what());
    }
    for (auto& r : regress::results_from_json(j, file, folder_of(file))) {
      if (!names.insert(r.name).second) throw_invalid(file + ": case '" + r.name + "' is also in another shard's results");
      std::printf("%s\n", regress::case_line(r).c_str());
      all.push_back(std::move(r));
    }
  }
  std::string title = "merged";
  for (const auto& f : c.merge) title += " " + fs::path(f).filename().string();
  return finish(c, title, all, false);
}

}  // namespace

Command register_regress(CLI::App& root) {
  auto c = std::make_shared<RegressCli>();
  CLI::App* app = root.add_subcommand("regress", "run a regression manifest against golden outputs (or merge shard results)");
  app->add_option("manifest", c->manifest, "the manifest (JSON; see docs/regress.md)");
  app->add_flag("--update", c->update, "write the new outputs over the goldens of the selected cases, saying which changed");
  app->add_option("--report", c->report, "write an HTML report into this folder (index.html + PNGs), failures first");
  app->add_option("--shard", c->shard,
                  "run shard I of N (1-based): the cases at positions I-1, I-1+N, ... of the manifest; 'auto' reads "
                  "it from a Slurm array job, a Kubernetes Indexed Job (with --shard-count) or GitLab's parallel jobs");
  app->add_option("--shard-count", c->shard_count, "the number of shards, for --shard auto where the scheduler does not "
                  "say it (Kubernetes: the job's completions); checked against it where it does")
      ->check(CLI::Range(1, 100000));
  app->add_option("--json", c->json, "write the results as JSON (for CI, and for --merge)");
  app->add_option("--filter", c->filter, "only cases whose name matches this shell pattern (e.g. 'fuse-*')");
  app->add_option("--merge", c->merge, "merge these shard JSON files into one report (with --report and/or --json)")
      ->expected(1, -1);
  app->add_option("--threads", c->threads, "worker threads (0 = all cores; results do not depend on it)")
      ->check(CLI::Range(0, 1024));
  app->footer(example("dualcam regress datasets/golden/manifest.json --report out/regress --json out/regress.json\n"
                      "  dualcam regress suite.json --shard 1/2 --json s1.json && dualcam regress suite.json --shard 2/2 "
                      "--json s2.json\n"
                      "  dualcam regress --merge s1.json s2.json --report out/regress\n"
                      "Exit code: 0 every case passed, 3 a case failed or could not run, 2 a bad manifest or option, "
                      "4 a file that cannot be read or written."));
  Action action = [c]() -> int {
    if (!c->merge.empty()) return run_merge(*c);
    if (c->manifest.empty()) throw_invalid("give the manifest (dualcam regress MANIFEST.json) or --merge A.json B.json ...");
    regress::RunOptions ro;
    ro.update = c->update;
    ro.filter = c->filter;
    ro.threads = c->threads;
    ro.pictures = !c->report.empty();
    if (c->shard_count != 0 && c->shard.empty()) throw_invalid("--shard-count goes with --shard auto (or I/N)");
    if (!c->shard.empty()) {
      c->resolved = regress::resolve_shard(c->shard, c->shard_count, [](const char* n) { return std::getenv(n); });
      ro.shard_index = c->resolved->index;
      ro.shard_count = c->resolved->count;
    }
    ro.validate();
    if (!c->json.empty()) check_output_path(c->json);
    if (!c->report.empty()) regress::check_report_dir(c->report);
    regress::ManifestReadOptions mo;
    mo.check_goldens = !c->update;
    const regress::Manifest manifest = regress::read_manifest(c->manifest, mo);
    const auto selected = regress::select_cases(manifest, ro);
    if (selected.empty())
      throw_invalid("no case of '" + c->manifest + "' is selected" + (c->filter.empty() ? "" : " by --filter '" + c->filter + "'") +
                    (c->resolved ? " in shard " + c->resolved->source : ""));
    ro.on_case = [](const regress::CaseResult& r) {
      std::printf("%s\n", regress::case_line(r).c_str());
      std::fflush(stdout);
    };
    std::vector<regress::CaseResult> results = regress::run_manifest(manifest, ro);
    return finish(*c, c->manifest, results, c->update);
  };
  return {app, action};
}

}  // namespace dualcam::app
