#pragma once
// Running a regression manifest: each selected case is computed in this process by the library
// functions the subcommands call (fusion::fuse, fusion::compute_depth, fusion::render_bokeh,
// calibration::calibrate_stereo; inputs from files or from datasets::simulate /
// datasets::render_board_set), its outputs are compared with their goldens through engine's
// metrics (compare_images, disparity_errors) and judged against the tolerances, or, with
// `update`, written over the goldens.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/engine/report.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/regress/manifest.hpp"

namespace dualcam::regress {

// One output as a case produced it.
struct Produced {
  OutputKind kind = OutputKind::Image;
  cv::Mat image;         // Image: 8- or 16-bit sRGB-encoded, as the subcommand would write it
  cv::Mat disparity;     // Disparity: CV_32F px, NaN = unknown
  StereoRig rig;         // Rig
  RigMatrices matrices;  // Rig: the rectification matrices written beside it
};
using ProducedOutputs = std::map<std::string, Produced>;  // by output name

// A picture for the HTML report (golden, new, amplified difference), 8-bit BGR.
struct Picture {
  std::string label;
  cv::Mat image;     // in memory (a run), or
  std::string file;  // a file already written (a merged shard report)
};

struct OutputResult {
  std::string name;
  OutputKind kind = OutputKind::Image;
  std::string golden;           // as written in the manifest
  bool passed = false;
  Json figures;                 // measured: psnr_db, ssim, ... / bad1, ... / per-parameter deltas
  Json tolerance;               // the bounds checked
  std::vector<std::string> failures;  // one line per bound exceeded (or why it could not compare)
  // --update: whether the golden changed, and how (figures against the old golden).
  std::string update;           // "unchanged", "changed", "new"
  std::vector<Picture> pictures;
};

enum class Status { Pass, Fail, Error };
const char* to_string(Status status);

struct CaseResult {
  std::string name;
  std::string command;
  std::string description;
  Status status = Status::Pass;
  std::string error;  // Status::Error: why the case could not run
  double seconds = 0;
  std::vector<OutputResult> outputs;
};

struct RunOptions {
  bool update = false;  // write the new outputs over the goldens instead of judging them
  std::string filter;   // shell-style glob on case names (fnmatch); empty = all
  // Shard `shard_index` (1-based) of `shard_count`: the cases whose position in the manifest
  // (0-based, before --filter) is congruent to shard_index - 1 modulo shard_count.
  int shard_index = 1, shard_count = 1;
  int threads = 0;      // worker threads, 0 = all cores (results do not depend on it)
  bool pictures = false;  // make the report's pictures (golden, new, difference)
  // Called on every produced output before it is compared or written, with the case and output
  // name. For tests that perturb an algorithm's output on purpose (tests/regress); unset in the CLI.
  std::function<void(const std::string& case_name, const std::string& output_name, Produced& output)> post_process;
  // Called after each case (the CLI prints its line here).
  std::function<void(const CaseResult&)> on_case;
  void validate() const;
};

// The cases a shard and filter select, as indices into manifest.cases.
std::vector<std::size_t> select_cases(const Manifest& manifest, const RunOptions& options);

// Computes one case's outputs (no comparison). Throws dualcam::Error when it cannot.
ProducedOutputs compute_case(const Case& c, int threads = 0);

// Compares one produced output with its golden file against the spec's tolerances.
OutputResult compare_output(const OutputSpec& spec, const Produced& produced, bool pictures);

// Runs the selected cases in manifest order. A case that throws is recorded as Status::Error and
// the run goes on.
std::vector<CaseResult> run_manifest(const Manifest& manifest, const RunOptions& options);

// One line per case: "PASS name  figures" / "FAIL name  what failed" / "ERROR name: message".
std::string case_line(const CaseResult& r);

struct Summary {
  int cases = 0, passed = 0, failed = 0, errors = 0;
  int updated = 0;  // --update: goldens changed or new
  double seconds = 0;
  bool ok() const { return failed == 0 && errors == 0; }
};
Summary summarize(const std::vector<CaseResult>& results);
std::string summary_line(const Summary& s, bool update);

// JSON of a run (for CI and for --merge). `picture_base` is the folder picture file names are
// written relative to (the JSON file's folder); pictures without a file are left out.
Json results_to_json(const std::vector<CaseResult>& results, const std::string& picture_base);
// Reads a JSON written by results_to_json; picture files are resolved against `picture_base`.
// Throws Error(InvalidInput) naming `name` when it is not such a file.
std::vector<CaseResult> results_from_json(const Json& j, const std::string& name, const std::string& picture_base);

}  // namespace dualcam::regress
