// dualcam regress: run a manifest of cases against golden outputs (regress/), or merge shard
// results into one report.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <map>
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
int finish(const RegressCli& c, const std::string& title, std::vector<regress::CaseResult>& results, bool update,
           const std::vector<std::string>& merge_problems = {}) {
  if (!c.report.empty()) regress::write_html_report(c.report, title, results);
  if (!c.json.empty()) {
    Json j = regress::results_to_json(results, folder_of(c.json));
    j["manifest"] = title;
    if (c.resolved) {
      j["shard"] = c.resolved->label();
      j["shard_source"] = c.resolved->source;
    }
    if (!c.filter.empty()) j["filter"] = c.filter;
    j["update"] = update;
    if (!c.merge.empty()) j["merge_problems"] = merge_problems;
    write_file_atomic(c.json, j.dump(2) + "\n");
  }
  const regress::Summary s = regress::summarize(results);
  std::printf("%s\n", regress::summary_line(s, update).c_str());
  if (!c.report.empty()) std::printf("report: %s/index.html\n", c.report.c_str());
  std::fflush(stdout);
  return s.ok() ? 0 : 3;
}

// One shard's results file: its cases and the shard it says it ran ("I/N", absent in old files).
struct ShardFile {
  std::string path;
  std::vector<regress::CaseResult> results;
  std::optional<regress::Shard> shard;  // none: the file does not say
};

ShardFile read_shard_file(const std::string& file) {
  const Json j = read_json_file(file);
  return {file, regress::results_from_json(j, file, folder_of(file)), regress::recorded_shard(j, file)};
}

// Joins shard results. What no shard reported is named, never silently dropped: a shard of the
// N the files declare that has no file, a manifest case (with the manifest given) in no file, and
// a case in two files. Each makes the exit code 3, like a failed case.
int run_merge(const RegressCli& c) {
  if (c.update || !c.shard.empty() || c.shard_count != 0 || !c.filter.empty())
    throw_invalid("--merge cannot be combined with --update, --shard, --shard-count or --filter");
  if (c.report.empty() && c.json.empty()) throw_invalid("--merge needs --report DIR and/or --json OUT.json");
  if (!c.json.empty()) check_output_path(c.json);
  if (!c.report.empty()) regress::check_report_dir(c.report);
  std::vector<ShardFile> files;
  for (const auto& file : c.merge) files.push_back(read_shard_file(file));
  std::vector<std::pair<std::string, std::optional<regress::Shard>>> shards;
  for (const auto& f : files) shards.emplace_back(f.path, f.shard);
  const regress::ShardCoverage coverage = regress::check_shard_coverage(shards);
  const int count = coverage.count;
  std::vector<std::string> problems = coverage.problems;
  std::vector<regress::CaseResult> all;
  std::map<std::string, std::string> case_file;
  for (auto& f : files)
    for (auto& r : f.results) {
      if (const auto [it, fresh] = case_file.emplace(r.name, f.path); !fresh) {
        problems.push_back("DUPLICATE case '" + r.name + "': reported by " + it->second + " and " + f.path);
        continue;
      }
      std::printf("%s\n", regress::case_line(r).c_str());
      all.push_back(std::move(r));
    }
  std::string title = "merged";
  if (!c.manifest.empty()) {
    regress::ManifestReadOptions mo;
    mo.check_goldens = false;
    const regress::Manifest manifest = regress::read_manifest(c.manifest, mo);
    for (std::size_t i = 0; i < manifest.cases.size(); ++i) {
      const std::string& name = manifest.cases[i].name;
      if (case_file.count(name)) continue;
      regress::CaseResult missing;
      missing.name = name;
      missing.status = regress::Status::Error;
      missing.error = "no shard reported this case" +
                      (count ? " (manifest position " + std::to_string(i) + ", shard " +
                                   std::to_string(i % std::size_t(count) + 1) + "/" + std::to_string(count) + ")"
                             : std::string());
      std::printf("%s\n", regress::case_line(missing).c_str());
      all.push_back(std::move(missing));
    }
    title = c.manifest;
  }
  for (const auto& f : c.merge) title += " " + fs::path(f).filename().string();
  for (const auto& p : problems) std::printf("%s\n", p.c_str());
  const int code = finish(c, title, all, false, problems);
  return problems.empty() ? code : 3;
}

}  // namespace

Command register_regress(CLI::App& root) {
  auto c = std::make_shared<RegressCli>();
  CLI::App* app = root.add_subcommand("regress", "run a regression manifest against golden outputs (or merge shard results)");
  app->add_option("manifest", c->manifest,
                  "the manifest (JSON; see docs/regress.md); with --merge, the cases no shard reported are named");
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
                      "  dualcam regress suite.json --merge s1.json s2.json --report out/regress\n"
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
